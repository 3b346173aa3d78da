"""Statistical process control (SPC): is a change in a measure a real signal or everyday noise?

The method follows NHS England's "Making Data Count" guidance, in plain words:

* Every measure (near misses a week, a rate a month) goes up and down a little on its own. That
  everyday wobble is *common-cause variation*; reacting to it wastes effort.
* An XmR chart ("individuals and moving range") draws the values in time order with a centre
  line (the average) and two *process limits*. The limits come from how much the value usually
  moves from one period to the next: the average of the moving ranges (the gaps between
  neighbouring values, ignoring their sign), called mR-bar. The limits are
  average ± 2.66 × mR-bar. Nearly every value of a stable process falls between them.
* Four patterns are very unlikely to happen by chance, so they signal *special-cause
  variation*, something worth looking into:
    1. "beyond limit": a single point above the upper or below the lower process limit;
    2. "shift": a run of 7 or more points in a row all above, or all below, the average (a
       point exactly on the average breaks the run);
    3. "trend": 7 or more points in a row each higher than the one before, or each lower (an
       equal value breaks the trend);
    4. "two of three": two out of three points in a row more than two-thirds of the way from
       the average to the same process limit (beyond average ± 2σ, where σ = mR-bar / 1.128).
  Every point in the pattern is marked, not only the last one. For "two of three" the two
  points beyond the line are marked; the third point of the three, nearer the average, is not.
  The run and trend lengths and which rules apply are settings (`SpcRules`).
* Whether a signal is good or bad depends on the measure: the caller says whether a lower
  value is better (`improvement="down"`) or a higher one (`improvement="up"`). For near misses
  either can be right: fewer near misses is better, but a rise in *reporting* can be a sign of
  a healthy safety culture.
* When the process is known to have changed (an action went live), the chart is *rebased*:
  from that period on, the average and limits are calculated afresh from the new values only,
  and runs and trends start again. Each piece is a *segment*.
* Limits from fewer than 12 points are *provisional*: useful, but likely to move as more data
  arrive.
* The *variation icon* summarises the latest point: special cause improvement, special cause
  concern, or common cause. The *assurance icon* compares a target with the latest limits: if
  the target lies outside the limits on the good side the process will consistently pass; on
  the bad side it will consistently fail; between them it will sometimes hit and sometimes miss.
* How a chart shows the icons (letters, words, colours, drawings) is `core.spc_icons`.

Decisions worth knowing:

* Missing values (None, NaN) and infinities are refused with a ValueError naming the position:
  a gap would silently join two periods that are not neighbours and distort the moving ranges.
  Fill a genuinely empty period with 0 (a count) or leave it out on purpose before calling.
* The lower limit is not clipped at zero unless `SpcRules(clip_lower_at_zero=True)`; clipping
  only changes the `lower` column shown, the rules use the calculated limit.
* A segment of a single point has no moving range, so its limits (and `mr_bar`) are NaN and
  no rule can flag it.
* A segment whose values are all equal has mR-bar 0, so its limits equal its average; no point
  is special cause (no division by zero happens anywhere).
* "Exactly on the average" and "equal value" are judged with a tolerance of one part in a
  billion, so that floating-point noise in rates does not break or make a run.
* Where one point belongs to patterns pointing opposite ways (a rising trend that ends below
  the average in a downward shift), its direction is "concern": the cautious reading.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd

# NHS "Making Data Count": process limits are mean ± 2.66 × mR-bar (2.66 ≈ 3 / 1.128).
LIMIT_FACTOR = 2.66
# d2 for moving ranges of two points: sigma is estimated as mR-bar / 1.128.
D2 = 1.128

RULE_BEYOND_LIMIT = "beyond limit"
RULE_SHIFT = "shift"
RULE_TREND = "trend"
RULE_TWO_OF_THREE = "two of three"
RULE_ORDER = (RULE_BEYOND_LIMIT, RULE_SHIFT, RULE_TREND, RULE_TWO_OF_THREE)

IMPROVEMENT = "improvement"
CONCERN = "concern"
COMMON_CAUSE = "common cause"

PASS = "pass"
FAIL = "fail"
HIT_AND_MISS = "hit and miss"

IMPROVEMENT_DIRECTIONS = ("down", "up")
NEITHER = "neither"  # neither direction is better: a special cause is only higher or lower
HIGH = "high"
LOW = "low"

COLUMNS = (
    "value", "mean", "lower", "upper", "moving_range", "mr_bar", "segment", "provisional",
    "special_cause", "rule", "direction", "target", "side",
)

_REL_TOL = 1e-9


@dataclass(frozen=True)
class SpcRules:
    """Which special-cause rules apply, and their lengths (the `spc:` block of the settings)."""

    beyond_limit: bool = True
    shift: bool = True
    shift_length: int = 7
    trend: bool = True
    trend_length: int = 7
    two_of_three: bool = True
    # NHS charts of counts often show a negative lower limit as 0; display only.
    clip_lower_at_zero: bool = False
    # A segment with fewer points than this has provisional limits.
    provisional_below: int = 12

    def __post_init__(self) -> None:
        for name in ("beyond_limit", "shift", "trend", "two_of_three", "clip_lower_at_zero"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"SpcRules.{name} must be true or false")
        for name, low, high in (("shift_length", 3, 50), ("trend_length", 3, 50),
                                ("provisional_below", 2, 1000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"SpcRules.{name} must be a whole number from {low} to {high}, "
                                 f"not {value!r}")


def xmr(
    values: Sequence[Any] | np.ndarray | pd.Series,
    *,
    rebase_at: Iterable[Any] | Any = (),
    rules: SpcRules | None = None,
    target: float | None = None,
    improvement: Literal["down", "up"] = "down",
) -> pd.DataFrame:
    """An XmR chart of `values` (one number per period, in time order), one row per point.

    `rebase_at` lists where the process changed; a new segment, with its own average and
    limits, starts at each. Entries are 0-based positions, or index labels when `values` is a
    pandas Series: with an integer index (including the default 0..n-1) an integer is a label;
    with any other index (dates, text) an integer is a position and anything else a label. With
    a sorted DatetimeIndex a date that is not itself a period label rebases at the first period
    on or after it (a go-live mid-week rebases from the next week). Position 0 and repeats are
    harmless.

    `improvement` says which way is better: "down" (fewer is better) or "up".
    `target`, if given, is copied to the `target` column and kept for `assurance_icon`.

    Columns: value, mean, lower, upper (process limits; NaN for a one-point segment),
    moving_range (NaN for a segment's first point), mr_bar, segment (0, 1, ... by rebase),
    provisional (the segment is shorter than `rules.provisional_below`), special_cause, rule
    ("" or the rules the point is part of, joined with ", "), direction ("improvement",
    "concern" or "" when not special cause), target, side ("high" or "low": which way the
    special cause points; "" when not special cause). A Series keeps its index. The frame's
    `attrs` record `improvement`, `target` and `rules`.
    """
    rules = SpcRules() if rules is None else rules
    if not isinstance(rules, SpcRules):
        raise TypeError(f"rules must be an SpcRules, not {type(rules).__name__}")
    if improvement not in IMPROVEMENT_DIRECTIONS:
        raise ValueError(f"improvement must be 'down' or 'up', not {improvement!r}")
    target = _check_target(target)
    index, data = _as_numbers(values)
    n = len(data)
    starts = sorted({0, *_rebase_positions(values, index, rebase_at, n)}) if n else [0]
    bounds = list(zip(starts, [*starts[1:], n], strict=True)) if n else []

    limits, found = _segment_limits(data, bounds, rules)
    rule_text, direction, high_or_low = _read_points(found, data, limits["mean"], improvement)

    frame = pd.DataFrame(
        {
            "value": data,
            **limits,
            "special_cause": np.array([bool(point) for point in found], dtype=bool),
            "rule": pd.Series(rule_text, index=index, dtype=str),
            "direction": pd.Series(direction, index=index, dtype=str),
            "target": np.full(n, np.nan if target is None else target),
            "side": pd.Series(high_or_low, index=index, dtype=str),
        },
        index=index,
        columns=list(COLUMNS),
    )
    frame.attrs.update({"improvement": improvement, "target": target, "rules": rules})
    return frame


def variation_icon(frame: pd.DataFrame) -> str:
    """The variation icon for the latest point: "improvement", "concern" or "common cause".

    Special cause improvement or concern when the latest point is part of a special-cause
    pattern (in the direction `xmr` gave it), otherwise common cause; an empty chart has no
    signal, so common cause.
    """
    require_xmr_columns(frame, ("special_cause", "direction"))
    if frame.empty:
        return COMMON_CAUSE
    latest = frame.iloc[-1]
    if bool(latest["special_cause"]) and latest["direction"] in (IMPROVEMENT, CONCERN):
        return str(latest["direction"])
    return COMMON_CAUSE


def assurance_icon(
    frame: pd.DataFrame,
    target: float | None = None,
    *,
    improvement: Literal["down", "up"] | None = None,
) -> str | None:
    """Will the process meet `target`? "pass", "fail", "hit and miss", or None.

    Compares the target with the process limits of the latest segment (the last row's `lower`
    and `upper`, so a clipped lower limit counts as shown). Meeting the target means a value at
    or below it when improvement is "down", at or above it when "up". Target beyond the limits
    on the good side: every expected value meets it ("pass"); beyond them on the bad side: none
    does ("fail"); otherwise "hit and miss". `target` and `improvement` default to the ones the
    frame was built with; None when there is no target, no data, or the latest segment has no
    limits (a single point).
    """
    require_xmr_columns(frame, ("lower", "upper"))
    if target is None:
        target = frame.attrs.get("target")
    target = _check_target(target)
    if target is None or frame.empty:
        return None
    improvement = improvement if improvement is not None else frame.attrs.get("improvement")
    if improvement not in IMPROVEMENT_DIRECTIONS:
        raise ValueError("say which way is better: improvement='down' or 'up' (the frame does "
                         "not record it)")
    low, high = float(frame["lower"].iloc[-1]), float(frame["upper"].iloc[-1])
    if math.isnan(low) or math.isnan(high):
        return None
    if improvement == "down":
        if high <= target:
            return PASS
        return FAIL if low > target else HIT_AND_MISS
    if low >= target:
        return PASS
    return FAIL if high < target else HIT_AND_MISS


# --- internals -------------------------------------------------------------------------------


def _check_target(target: Any) -> float | None:
    if target is None:
        return None
    if not _is_number(target):
        raise ValueError(f"the target must be a number, not {target!r}")
    if not math.isfinite(float(target)):
        raise ValueError(f"the target must be a finite number, not {target!r}")
    return float(target)


def _is_number(item: Any) -> bool:
    """Real numbers, including numpy's and Decimal (what PostgreSQL returns); not booleans."""
    if isinstance(item, bool | np.bool_):
        return False
    return isinstance(item, numbers.Real | Decimal)


def require_xmr_columns(frame: pd.DataFrame, names: Iterable[str]) -> None:
    """Refuse anything but a frame `xmr` returned (one that has the `names` columns)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError("expected the DataFrame returned by xmr()")
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ValueError(f"not an xmr() frame: missing column(s) {', '.join(missing)}")


def _as_numbers(values: Any) -> tuple[pd.Index, np.ndarray]:
    """The index to keep and the values as floats; refuses gaps and non-numbers by position."""
    if isinstance(values, pd.DataFrame):
        raise TypeError("values must be one column of numbers (a Series), not a DataFrame")
    if isinstance(values, str | bytes):
        raise TypeError("values must be a sequence of numbers, not text")
    if isinstance(values, pd.Series):
        index, items = values.index, values.to_numpy(dtype=object)
    else:
        items = np.asarray(values if isinstance(values, np.ndarray) else list(values),
                           dtype=object)
        if items.ndim != 1:
            raise ValueError(f"values must be one-dimensional, not of shape {items.shape}")
        index = pd.RangeIndex(len(items))
    data = np.empty(len(items), dtype=float)
    for position, item in enumerate(items):
        where = _where(index, position)
        if item is None or item is pd.NA or item is pd.NaT:
            raise ValueError(f"missing value at {where}: fill or drop it before charting")
        if not _is_number(item):
            raise ValueError(f"value at {where} is not a number: {item!r}")
        number = float(item)
        if math.isnan(number):
            raise ValueError(f"missing value (NaN) at {where}: fill or drop it before charting")
        if math.isinf(number):
            raise ValueError(f"value at {where} is infinite")
        data[position] = number
    return index, data


def _where(index: pd.Index, position: int) -> str:
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return f"position {position}"
    return f"position {position} (label {index[position]!r})"


_SCALARS = (str, bytes, int, float, date, datetime, pd.Timestamp, np.integer, np.datetime64)


def _rebase_positions(values: Any, index: pd.Index, rebase_at: Any, n: int) -> set[int]:
    items = [rebase_at] if isinstance(rebase_at, _SCALARS) else list(rebase_at)
    labelled = isinstance(values, pd.Series)
    integer_index = pd.api.types.is_integer_dtype(index.dtype)
    positions: set[int] = set()
    for item in items:
        is_int = isinstance(item, int | np.integer) and not isinstance(item, bool | np.bool_)
        if not labelled or (is_int and not integer_index):
            if not is_int:
                raise ValueError(f"rebase_at {item!r}: give a 0-based position (a whole number)"
                                 " or pass a pandas Series to rebase at an index label")
            position = int(item)
        else:
            position = _label_position(index, item)
        if not 0 <= position < n:
            raise ValueError(f"rebase_at {item!r}: position {position} is outside the "
                             f"{n} value(s)")
        positions.add(position)
    return positions


def _label_position(index: pd.Index, label: Any) -> int:
    if isinstance(index, pd.DatetimeIndex):
        try:
            stamp = pd.Timestamp(label)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"rebase_at {label!r} is not a date") from exc
        if index.tz is not None and stamp.tz is None:
            stamp = stamp.tz_localize(index.tz)
        elif index.tz is None and stamp.tz is not None:
            raise ValueError(f"rebase_at {label!r} has a time zone but the index does not")
        if stamp not in index:
            if not index.is_monotonic_increasing:
                raise ValueError(f"rebase_at {label!r} is not in the index (and the index is "
                                 "not in date order, so the next period cannot be found)")
            position = int(index.searchsorted(stamp, side="left"))
            if position >= len(index):
                raise ValueError(f"rebase_at {label!r} is after the last period")
            return position
        label = stamp
    try:
        found = index.get_loc(label)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"rebase_at {label!r} is not in the index") from exc
    if not isinstance(found, int | np.integer):
        raise ValueError(f"rebase_at {label!r} appears more than once in the index")
    return int(found)


def _segment_limits(
    data: np.ndarray, bounds: list[tuple[int, int]], rules: SpcRules,
) -> tuple[dict[str, np.ndarray], list[dict[str, set[int]]]]:
    """Each segment's average, limits, moving ranges and provisional flag, point by point
    (the columns mean .. provisional), and the special-cause patterns every point is part of
    (rule -> sides, +1 high and -1 low)."""
    n = len(data)
    mean = np.full(n, np.nan)
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    moving_range = np.full(n, np.nan)
    mr_bar = np.full(n, np.nan)
    segment = np.zeros(n, dtype=np.int64)
    provisional = np.zeros(n, dtype=bool)
    found: list[dict[str, set[int]]] = [{} for _ in range(n)]

    for number, (start, stop) in enumerate(bounds):
        x = data[start:stop]
        centre, spread, ranges = _segment_stats(x)
        low, high = centre - LIMIT_FACTOR * spread, centre + LIMIT_FACTOR * spread
        shown_low = max(low, 0.0) if rules.clip_lower_at_zero and not math.isnan(low) else low
        mean[start:stop] = centre
        lower[start:stop] = shown_low
        upper[start:stop] = high
        moving_range[start + 1:stop] = ranges
        mr_bar[start:stop] = spread
        segment[start:stop] = number
        provisional[start:stop] = (stop - start) < rules.provisional_below
        for offset, rule, side in _special_causes(x, centre, spread, rules):
            found[start + offset].setdefault(rule, set()).add(side)
    limits = {"mean": mean, "lower": lower, "upper": upper, "moving_range": moving_range,
              "mr_bar": mr_bar, "segment": segment, "provisional": provisional}
    return limits, found


def _read_points(
    found: list[dict[str, set[int]]], data: np.ndarray, mean: np.ndarray,
    improvement: Literal["down", "up"],
) -> tuple[list[str], list[str], list[str]]:
    """For each point: the rules it is part of (in `RULE_ORDER`), its direction (improvement,
    concern or "") and the side its special cause points ("high", "low" or "")."""
    improvement_side = -1 if improvement == "down" else 1
    rule_text: list[str] = []
    direction: list[str] = []
    high_or_low: list[str] = []
    for position, point in enumerate(found):
        rule_text.append(", ".join(rule for rule in RULE_ORDER if rule in point))
        sides = set().union(*point.values()) if point else set()
        if not sides:
            direction.append("")
        elif sides == {improvement_side}:
            direction.append(IMPROVEMENT)
        else:
            direction.append(CONCERN)
        high_or_low.append(_side_of(sides, data[position], mean[position]))
    return rule_text, direction, high_or_low


def _side_of(sides: set[int], value: float, centre: float) -> str:
    """"high", "low" or "" for a point's special-cause sides (+1 above, -1 below)."""
    if not sides:
        return ""
    if len(sides) == 1:
        return HIGH if sides == {1} else LOW
    # Patterns pointing both ways (a rising trend ending below the mean): read the value.
    return LOW if value < centre and not _close(value, centre) else HIGH


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_REL_TOL)


def _segment_stats(x: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Centre line, mR-bar (NaN for one point) and the moving ranges of one segment."""
    ranges = np.abs(np.diff(x))
    if np.all(x == x[0]):
        return float(x[0]), (0.0 if len(x) > 1 else math.nan), ranges
    centre = math.fsum(x) / len(x)
    return centre, math.fsum(ranges) / len(ranges), ranges


def _special_causes(
    x: np.ndarray, centre: float, spread: float, rules: SpcRules,
) -> list[tuple[int, str, int]]:
    """(offset in segment, rule, side) for every point in a special-cause pattern."""
    hits: list[tuple[int, str, int]] = []
    side = [0 if _close(value, centre) else (1 if value > centre else -1) for value in x]
    has_limits = not math.isnan(spread) and spread > 0

    if rules.beyond_limit and has_limits:
        reach = LIMIT_FACTOR * spread
        for offset, value in enumerate(x):
            if abs(value - centre) > reach and not _close(abs(value - centre), reach):
                hits.append((offset, RULE_BEYOND_LIMIT, side[offset]))

    if rules.shift:
        for begin, end, run_side in _runs(side):
            if run_side and end - begin >= rules.shift_length:
                hits.extend((offset, RULE_SHIFT, run_side) for offset in range(begin, end))

    if rules.trend and len(x) > 1:
        steps = [0 if _close(b, a) else (1 if b > a else -1) for a, b in itertools.pairwise(x)]
        for begin, end, step in _runs(steps):
            # Steps begin..end-1 join points begin..end: (end - begin) steps, one more point.
            if step and end - begin + 1 >= rules.trend_length:
                hits.extend((offset, RULE_TREND, step) for offset in range(begin, end + 1))

    if rules.two_of_three and has_limits:
        reach = 2 * spread / D2
        far = [side[i] if abs(v - centre) > reach and not _close(abs(v - centre), reach) else 0
               for i, v in enumerate(x)]
        marked: set[tuple[int, int]] = set()
        for begin in range(max(len(x) - 2, 0)):
            for wanted in (1, -1):
                window = [i for i in range(begin, begin + 3) if far[i] == wanted]
                if len(window) >= 2:
                    marked.update((i, wanted) for i in window)
        hits.extend((offset, RULE_TWO_OF_THREE, wanted) for offset, wanted in sorted(marked))
    return hits


def _runs(signs: Sequence[int]) -> list[tuple[int, int, int]]:
    """Maximal runs of equal signs as (begin, end exclusive, sign)."""
    runs: list[tuple[int, int, int]] = []
    begin = 0
    for i in range(1, len(signs) + 1):
        if i == len(signs) or signs[i] != signs[begin]:
            runs.append((begin, i, signs[begin]))
            begin = i
    return runs
