"""The "Making Data Count" variation and assurance icons, drawn as our own inline SVG.

Core decides which icon applies (core.spc_icons.chart_icons); this module only draws it. Every
drawing is built from the constants below when the module loads, so the HTML handed to
st.markdown(unsafe_allow_html=True) never holds anything a user typed: an icon is looked up by
its key, and an unknown key is refused. Each icon carries a letter (H, L, P, F, ?) so colour is
never the only signal, a <title> and an aria-label for screen readers, and a short caption.
"""

from __future__ import annotations

from html import escape

from core.spc_icons import (
    ICON_BLUE,
    ICON_GREY,
    ICON_INK,
    ICON_ORANGE,
    ICON_PURPLE,
    Icon,
    run_points,
)

# The chart's colours (ui.governance.COLOURS), shared with the governance PDF (core.spc):
# blue improvement, orange concern, purple neither, grey common cause; assurance blue pass,
# orange fail, grey hit and miss.
BLUE, ORANGE, PURPLE, GREY, INK = ICON_BLUE, ICON_ORANGE, ICON_PURPLE, ICON_GREY, ICON_INK

_VARIATION = {
    # key: (ring colour, side, caption, words)
    "variation:common cause": (GREY, "", "Common cause",
                               "Common cause variation: no signal, the latest point is within "
                               "the usual range"),
    "variation:improvement:high": (BLUE, "high", "Special cause: higher, improvement",
                                   "Special cause variation, higher: improvement"),
    "variation:improvement:low": (BLUE, "low", "Special cause: lower, improvement",
                                  "Special cause variation, lower: improvement"),
    "variation:concern:high": (ORANGE, "high", "Special cause: higher, concern",
                               "Special cause variation, higher: concern"),
    "variation:concern:low": (ORANGE, "low", "Special cause: lower, concern",
                              "Special cause variation, lower: concern"),
    "variation:neither:high": (PURPLE, "high", "Special cause: higher",
                               "Special cause variation, higher: neither improvement nor "
                               "concern"),
    "variation:neither:low": (PURPLE, "low", "Special cause: lower",
                              "Special cause variation, lower: neither improvement nor "
                              "concern"),
}
_ASSURANCE = {
    "assurance:pass": (BLUE, "P", "Passes the target", "Assurance: consistently passes the "
                                                       "target"),
    "assurance:fail": (ORANGE, "F", "Fails the target", "Assurance: consistently fails the "
                                                        "target"),
    "assurance:hit and miss": (GREY, "?", "Hit and miss",
                               "Assurance: hit and miss, the target is met only sometimes"),
}


def _svg(body: str, words: str, colour: str) -> str:
    label = escape(words, quote=True)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" role="img" '
            f'aria-label="{label}" width="100%" height="100%"><title>{label}</title>'
            f'<circle cx="50" cy="50" r="44" fill="#ffffff" stroke="{colour}" '
            f'stroke-width="8"/>{body}</svg>')


def _variation_svg(colour: str, side: str, words: str) -> str:
    # Seven points of a run chart in the lower half; for a special cause the last three
    # leave the line (up for higher, down for lower), in the icon's colour (core.spc).
    points = run_points(side)
    line = " ".join(f"{x},{y}" for x, y in points)
    dots = "".join(
        f'<circle cx="{x}" cy="{y}" r="4.5" fill="{colour if side and i >= 4 else GREY}"/>'
        for i, (x, y) in enumerate(points))
    letter = ""
    if side:
        # The letter sits in the upper half, clear of the points below it.
        letter = (f'<text x="50" y="40" text-anchor="middle" font-family="Arial, sans-serif" '
                  f'font-weight="700" font-size="34" fill="{INK}">'
                  f'{"H" if side == "high" else "L"}</text>')
    return _svg(f'<polyline points="{line}" fill="none" stroke="{GREY}" stroke-width="2.5"/>'
                f'{dots}{letter}', words, colour)


def _assurance_svg(colour: str, letter: str, words: str) -> str:
    return _svg(f'<line x1="14" y1="72" x2="86" y2="72" stroke="{colour}" stroke-width="4" '
                f'stroke-dasharray="8 5"/>'
                f'<text x="50" y="60" text-anchor="middle" font-family="Arial, sans-serif" '
                f'font-weight="700" font-size="44" fill="{INK}">{escape(letter)}</text>',
                words, colour)


# Every drawing, built once from the constants above: (svg, caption).
DRAWINGS: dict[str, tuple[str, str]] = {
    **{key: (_variation_svg(colour, side, words), caption)
       for key, (colour, side, caption, words) in _VARIATION.items()},
    **{key: (_assurance_svg(colour, letter, words), caption)
       for key, (colour, letter, caption, words) in _ASSURANCE.items()},
}


def icon_html(icon: Icon, *, size: int) -> str:
    """One icon and its caption as HTML, from the fixed drawings (an unknown key raises)."""
    svg, caption = DRAWINGS[icon.key]
    return (f'<figure style="margin:0;width:{int(size) * 2}px;text-align:center">'
            f'<div style="width:{int(size)}px;height:{int(size)}px;margin:0 auto">{svg}</div>'
            f'<figcaption style="font-size:{_caption_px(size)}px;line-height:1.25;'
            f'color:{INK};margin-top:4px">{escape(caption)}</figcaption></figure>')


def icons_html(icons: list[Icon | None], *, size: int = 64, note: str | None = None) -> str:
    """The icons beside a chart, stacked, as one HTML block. `note` is one of the fixed notes
    below (why there is no assurance icon), never user text."""
    if note is not None and note not in NOTES:
        raise ValueError("only a fixed note may sit beside the icons")
    parts = [icon_html(icon, size=size) for icon in icons if icon is not None]
    if note is not None:
        parts.append(f'<p style="font-size:{_caption_px(size)}px;line-height:1.25;'
                     f'color:{INK};margin:0;text-align:center;width:{int(size) * 2}px">'
                     f'{escape(NOTES[note])}</p>')
    return ('<div class="spc-icons" style="display:flex;flex-direction:column;gap:14px;'
            'align-items:center">' + "".join(parts) + "</div>")


NOTES = {
    "no target": "No target set: no assurance icon",
    "no direction": "No assurance icon: neither direction is better",
}


def _caption_px(size: int) -> int:
    return 16 if size < 96 else 20
