"""The "Making Data Count" icons a chart shows, read from an XmR chart (`core.spc.xmr`).

`chart_icons` gives both icons as a chart shows them: the letter drawn inside (H or L for a
special cause higher or lower; P, F or ? for pass, fail, hit and miss) and the same in words,
so that colour is never the only signal. When neither direction is better (a count of near
misses mixes how often hazards happen with how willing staff are to report them), a special
cause is "neither" improvement nor concern (purple in "Making Data Count"), and there is no
assurance icon: without a better direction a target cannot be passed or failed.

Both the web page (ui/spc_icons.py draws the SVG) and the governance PDF (core.exports.pack_pdf)
draw an icon from `icon_shape`, so the two always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from core.spc import (
    COMMON_CAUSE,
    CONCERN,
    FAIL,
    HIGH,
    HIT_AND_MISS,
    IMPROVEMENT,
    IMPROVEMENT_DIRECTIONS,
    LOW,
    NEITHER,
    PASS,
    assurance_icon,
    require_xmr_columns,
)


@dataclass(frozen=True)
class Icon:
    """A "Making Data Count" icon as a chart shows it.

    `group` is "variation" or "assurance". `kind`: for variation "common cause",
    "improvement", "concern" or "neither"; for assurance "pass", "fail" or "hit and miss".
    `side` is "high" or "low" for a special cause, else "". `letter` is drawn inside the icon
    (H, L, P, F, ? or "" for common cause, whose flat line is its own sign) and `text` says the
    same in words for a screen reader and beside the icon. Every field comes from the fixed
    vocabulary here, never from what a user typed.
    """

    group: Literal["variation", "assurance"]
    kind: str
    side: str
    letter: str
    text: str

    @property
    def key(self) -> str:
        """Which drawing shows this icon: "variation:concern:high", "assurance:pass"."""
        return ":".join(part for part in (self.group, self.kind, self.side) if part)


_VARIATION_WORDS = {IMPROVEMENT: "improvement", CONCERN: "concern",
                    NEITHER: "neither improvement nor concern"}
_ASSURANCE_WORDS = {PASS: ("P", "Assurance: consistently passes the target"),
                    FAIL: ("F", "Assurance: consistently fails the target"),
                    HIT_AND_MISS: ("?", "Assurance: hit and miss, the target is met only "
                                        "sometimes")}


def variation_of(frame: pd.DataFrame,
                 improvement: Literal["down", "up", "neither"] | None = None) -> Icon:
    """The variation icon for the latest point, with its letter and words.

    Common cause unless the latest point is part of a special-cause pattern. A special cause
    is "improvement" or "concern" when a direction is better (`improvement` "down" or "up",
    by default the one the frame was built with), and "neither" when `improvement` is
    "neither". Its side (H or L) is the way the pattern points; a point in patterns pointing
    both ways reads by its value against the mean.
    """
    require_xmr_columns(frame, ("special_cause", "direction", "side"))
    improvement = improvement if improvement is not None else frame.attrs.get("improvement")
    if improvement not in (*IMPROVEMENT_DIRECTIONS, NEITHER):
        raise ValueError("say which way is better: improvement='down', 'up' or 'neither' (the "
                         "frame does not record it)")
    latest = frame.iloc[-1] if not frame.empty else None
    side = str(latest["side"]) if latest is not None and bool(latest["special_cause"]) else ""
    if side not in (HIGH, LOW):
        return Icon("variation", COMMON_CAUSE, "", "",
                    "Common cause variation: no signal, the latest point is within the usual "
                    "range")
    if improvement == NEITHER:
        kind = NEITHER
    else:
        kind = IMPROVEMENT if side == (LOW if improvement == "down" else HIGH) else CONCERN
    return Icon("variation", kind, side, "H" if side == HIGH else "L",
                f"Special cause variation, {'higher' if side == HIGH else 'lower'}: "
                f"{_VARIATION_WORDS[kind]}")


def assurance_of(frame: pd.DataFrame, target: float | None,
                 improvement: Literal["down", "up", "neither"] | None = None) -> Icon | None:
    """The assurance icon (P, F or ?) for `target`, or None when there is nothing to assure:
    no target, no limits yet, or neither direction better (then no value passes or fails)."""
    improvement = improvement if improvement is not None else frame.attrs.get("improvement")
    if improvement == NEITHER:
        return None
    kind = assurance_icon(frame, target, improvement=improvement)
    if kind is None:
        return None
    letter, text = _ASSURANCE_WORDS[kind]
    return Icon("assurance", kind, "", letter, text)


def chart_icons(frame: pd.DataFrame, *, target: float | None,
                improvement: Literal["down", "up", "neither"]) -> tuple[Icon, Icon | None]:
    """Both icons beside a chart: (variation, assurance or None)."""
    return variation_of(frame, improvement), assurance_of(frame, target, improvement)


# --- how an icon is drawn (the web page's SVG and the governance PDF share it) ----------------

# "Making Data Count" colours: blue improvement or pass, orange concern or fail, purple a
# special cause that is neither, grey common cause or hit and miss.
ICON_BLUE, ICON_ORANGE, ICON_PURPLE, ICON_GREY = "#1f77b4", "#e8710a", "#7b3fa0", "#6b7672"
ICON_INK = "#0b1f1a"  # letters are dark on white: readable whatever the colour
ICON_COLOURS = {IMPROVEMENT: ICON_BLUE, CONCERN: ICON_ORANGE, NEITHER: ICON_PURPLE,
                COMMON_CAUSE: ICON_GREY, PASS: ICON_BLUE, FAIL: ICON_ORANGE,
                HIT_AND_MISS: ICON_GREY}


@dataclass(frozen=True)
class IconShape:
    """An icon's drawing in a 100 x 100 box (y grows downwards), from its key alone.

    A ring in the icon's colour; a variation icon has a run of seven points in the lower half
    (for a special cause the last three leave the line, up for H and down for L, drawn in the
    ring's colour) and its letter in the upper half; an assurance icon has a dashed target line
    and its letter (P, F, ?) above it. Nothing here comes from what a user typed.
    """

    ring: str
    letter: str
    letter_y: int  # the letter's baseline
    letter_size: int
    points: tuple[tuple[int, int], ...] = ()  # the run line (variation icons)
    coloured_from: int = 7  # points from this index on are drawn in the ring's colour
    target_line: bool = False  # a dashed line at y=72 from x=14 to x=86 (assurance icons)


def run_points(side: str) -> tuple[tuple[int, int], ...]:
    """The seven points of a variation icon's run line: flat for common cause, the last three
    rising ("high") or falling ("low") for a special cause."""
    xs = (24, 32, 40, 48, 56, 64, 72)
    base = {HIGH: 70, LOW: 58}.get(side, 56)
    lift = {HIGH: (-8, -12, -16), LOW: (8, 12, 16)}.get(side, (0, 0, 0))
    wobble = (0, 3, -2, 2, -1, 0, 0)
    ys = [base + wobble[i] for i in range(4)] + [base + lift[i] for i in range(3)]
    return tuple(zip(xs, ys, strict=True))


def icon_shape(icon: Icon) -> IconShape:
    """How `icon` is drawn (see `IconShape`); the letter is the icon's own (H, L, P, F, ?)."""
    ring = ICON_COLOURS[icon.kind]
    if icon.group == "assurance":
        return IconShape(ring, icon.letter, letter_y=60, letter_size=44, target_line=True)
    side = icon.side if icon.side in (HIGH, LOW) else ""
    return IconShape(ring, icon.letter if side else "", letter_y=40, letter_size=34,
                     points=run_points(side), coloured_from=4 if side else 7)


def special_cause_icon(kind: str, side: str, text: str) -> Icon:
    """A variation icon for a signal found another way than a chart's latest point (a cluster,
    a special cause inside a period): `kind` improvement, concern or neither; `side` high or
    low; `text` the fixed words a screen reader and the reader see."""
    if kind not in (IMPROVEMENT, CONCERN, NEITHER) or side not in (HIGH, LOW):
        raise ValueError(f"no special-cause icon for {kind!r}, {side!r}")
    return Icon("variation", kind, side, "H" if side == HIGH else "L", text)


def assurance_icon_of(kind: str, text: str) -> Icon:
    """An assurance icon (P, F or ?) with fixed words of the caller's (a verdict, a check)."""
    letter = {PASS: "P", FAIL: "F", HIT_AND_MISS: "?"}.get(kind)
    if letter is None:
        raise ValueError(f"no assurance icon for {kind!r}")
    return Icon("assurance", kind, "", letter, text)
