"""XmR charts and the Making Data Count rules (core.spc): hand-worked, pure, no database."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.spc import COLUMNS, SpcRules, assurance_icon, variation_icon, xmr
from core.spc_icons import assurance_of, chart_icons, variation_of

# The worked example used throughout.
#   values   5  7  6  8  5  6  7  9  4  6  7  5      sum 75, n 12 -> mean 75/12 = 6.25
#   mR          2  1  2  3  1  1  2  5  2  1  2      sum 22, 11 ranges -> mR-bar 2.0
#   limits   6.25 ± 2.66 × 2.0 = 6.25 ± 5.32 -> lower 0.93, upper 11.57
#   sigma    2.0 / 1.128 = 1.7730; 2σ lines at 6.25 ± 3.5461 -> 2.7039 and 9.7961
WORKED = [5, 7, 6, 8, 5, 6, 7, 9, 4, 6, 7, 5]


def flagged(frame: pd.DataFrame, rule: str | None = None) -> list[int]:
    """Positions of special-cause points (optionally only those of one rule)."""
    marks = frame["special_cause"] if rule is None else frame["rule"].str.contains(rule)
    return [i for i, mark in enumerate(marks) if mark]


# --- limits ----------------------------------------------------------------------------------


def test_worked_example_mean_moving_ranges_and_limits():
    frame = xmr(WORKED)
    assert list(frame.columns) == list(COLUMNS)
    assert frame["value"].tolist() == [float(v) for v in WORKED]
    assert frame["mean"].tolist() == pytest.approx([6.25] * 12)
    assert math.isnan(frame["moving_range"].iloc[0])
    assert frame["moving_range"].iloc[1:].tolist() == [2, 1, 2, 3, 1, 1, 2, 5, 2, 1, 2]
    assert frame["mr_bar"].iloc[0] == pytest.approx(2.0)
    assert frame["lower"].iloc[0] == pytest.approx(0.93, abs=1e-9)
    assert frame["upper"].iloc[0] == pytest.approx(11.57, abs=1e-9)
    assert frame["segment"].tolist() == [0] * 12
    assert not frame["provisional"].any()  # exactly 12 points: not provisional
    assert not frame["special_cause"].any()
    assert frame["rule"].tolist() == [""] * 12
    assert frame["direction"].tolist() == [""] * 12
    assert frame["target"].isna().all()
    assert variation_icon(frame) == "common cause"


def test_accepts_numpy_and_series_and_keeps_a_series_index():
    from_array = xmr(np.array(WORKED, dtype=np.int64))
    assert from_array["upper"].iloc[0] == pytest.approx(11.57)
    series = pd.Series(WORKED, index=[f"m{i}" for i in range(12)], name="near misses")
    frame = xmr(series)
    assert list(frame.index) == list(series.index)
    assert frame.loc["m7", "value"] == 9
    # PostgreSQL returns rates as Decimal.
    assert xmr([Decimal(v) for v in WORKED])["upper"].iloc[0] == pytest.approx(11.57)


def test_fewer_than_twelve_points_are_provisional():
    frame = xmr(WORKED[:11])
    assert frame["provisional"].all()
    assert not xmr(WORKED[:11], rules=SpcRules(provisional_below=10))["provisional"].any()


def test_lower_limit_not_clipped_by_default_but_can_be():
    # 4 7 4 7 ... : mean 5.5, mR-bar 3 -> limits 5.5 ± 7.98 -> lower -2.48.
    values = [4, 7] * 6
    assert xmr(values)["lower"].iloc[0] == pytest.approx(-2.48)
    clipped = xmr(values, rules=SpcRules(clip_lower_at_zero=True))
    assert clipped["lower"].iloc[0] == 0.0
    assert clipped["upper"].iloc[0] == pytest.approx(13.48)


def test_constant_series_has_limits_equal_to_the_mean_and_no_signal():
    frame = xmr([4] * 15)
    assert frame["mr_bar"].iloc[0] == 0
    assert (frame["lower"] == 4).all()
    assert (frame["upper"] == 4).all()
    assert not frame["special_cause"].any()  # every point on the mean: no run, no trend
    assert assurance_icon(frame, 4) == "pass"
    assert assurance_icon(frame, 3) == "fail"


def test_constant_fractional_series_is_not_beyond_its_own_limits():
    frame = xmr([0.1] * 13)
    assert frame["mean"].iloc[0] == 0.1
    assert not frame["special_cause"].any()


def test_empty_input_gives_an_empty_frame_with_the_columns():
    frame = xmr([])
    assert frame.empty
    assert list(frame.columns) == list(COLUMNS)
    assert variation_icon(frame) == "common cause"
    assert assurance_icon(frame, 3) is None


def test_a_single_value_has_a_mean_but_no_limits():
    frame = xmr([3])
    row = frame.iloc[0]
    assert row["mean"] == 3
    assert math.isnan(row["lower"])
    assert math.isnan(row["upper"])
    assert math.isnan(row["mr_bar"])
    assert bool(row["provisional"])
    assert not bool(row["special_cause"])
    assert variation_icon(frame) == "common cause"
    assert assurance_icon(frame, 5) is None


@pytest.mark.parametrize("gap", [float("nan"), None, np.nan])
def test_missing_values_are_refused_naming_the_position(gap):
    with pytest.raises(ValueError, match="position 2"):
        xmr([1, 2, gap, 4])


def test_missing_value_in_a_dated_series_names_the_label():
    series = pd.Series([1.0, np.nan, 3.0], index=pd.date_range("2024-01-01", periods=3, freq="W"))
    with pytest.raises(ValueError, match=r"position 1 \(label Timestamp\('2024-01-14"):
        xmr(series)


def test_nullable_integer_gap_is_refused():
    with pytest.raises(ValueError, match="position 1"):
        xmr(pd.Series([1, None, 3], dtype="Int64"))


@pytest.mark.parametrize("bad", [["1", 2], [1, float("inf")], [True, 2]])
def test_non_numbers_and_infinities_are_refused(bad):
    with pytest.raises(ValueError, match="position"):
        xmr(bad)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="improvement"):
        xmr(WORKED, improvement="sideways")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        xmr("5678")
    with pytest.raises(ValueError, match="shift_length"):
        SpcRules(shift_length=1)
    with pytest.raises(ValueError, match="trend_length"):
        SpcRules(trend_length=7.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target"):
        xmr(WORKED, target=float("nan"))


# --- rule 1: beyond limit --------------------------------------------------------------------


def test_a_point_above_the_upper_limit():
    # 4 8 4 8 4 8 4 8 4 8 4 30: sum 94 -> mean 7.8333; mR ten 4s and 26 -> 66/11 = 6.0
    # upper 7.8333 + 15.96 = 23.7933 -> 30 is beyond; nothing else is.
    frame = xmr([4, 8] * 5 + [4, 30])
    assert frame["upper"].iloc[0] == pytest.approx(23.7933, abs=1e-4)
    assert flagged(frame) == [11]
    assert frame["rule"].iloc[11] == "beyond limit"
    assert frame["direction"].iloc[11] == "concern"  # more is worse by default
    assert xmr([4, 8] * 5 + [4, 30], improvement="up")["direction"].iloc[11] == "improvement"


def test_a_point_below_the_lower_limit():
    # The mirror image (40 - x): mean 32.1667, mR-bar 6.0, lower 16.2067 -> 10 is beyond.
    frame = xmr([36, 32] * 5 + [36, 10])
    assert frame["lower"].iloc[0] == pytest.approx(16.2067, abs=1e-4)
    assert flagged(frame) == [11]
    assert frame["rule"].iloc[11] == "beyond limit"
    assert frame["direction"].iloc[11] == "improvement"


def test_rules_can_be_switched_off():
    frame = xmr([4, 8] * 5 + [4, 30], rules=SpcRules(beyond_limit=False))
    assert not frame["special_cause"].any()


# --- rule 2: shift ---------------------------------------------------------------------------

# 3 7 3 7 3 7 3 then seven 6s: sum 75, n 14 -> mean 5.357; every 6 is above it, the 3 before
# is below: a run of exactly 7. mR-bar 27/13 = 2.077, so no point nears a limit.
SEVEN_ABOVE = [3, 7, 3, 7, 3, 7, 3, 6, 6, 6, 6, 6, 6, 6]


def test_seven_points_above_the_mean_are_all_flagged():
    frame = xmr(SEVEN_ABOVE)
    assert frame["mean"].iloc[0] == pytest.approx(75 / 14)
    assert flagged(frame) == list(range(7, 14))
    assert set(frame["rule"].iloc[7:]) == {"shift"}
    assert set(frame["direction"].iloc[7:]) == {"concern"}


def test_six_points_above_the_mean_are_not_a_shift():
    frame = xmr(SEVEN_ABOVE[:-1])  # mean 69/13 = 5.308, six 6s above it
    assert not frame["special_cause"].any()


def test_a_point_exactly_on_the_mean_breaks_the_run():
    # Both series sum to 70 over 14 points: mean exactly 5.
    unbroken = [1, 9, 1, 7, 1, 8, 1, 6, 6, 6, 6, 6, 6, 6]
    broken = [1, 9, 1, 7, 1, 9, 1, 6, 6, 6, 5, 6, 6, 6]  # the 5 sits on the mean
    assert xmr(unbroken)["mean"].iloc[0] == 5
    assert flagged(xmr(unbroken)) == list(range(7, 14))
    assert xmr(broken)["mean"].iloc[0] == 5
    assert not xmr(broken)["special_cause"].any()


def test_shift_length_is_configurable():
    eight = SpcRules(shift_length=8)
    assert not xmr(SEVEN_ABOVE, rules=eight)["special_cause"].any()
    frame = xmr([*SEVEN_ABOVE, 6], rules=eight)  # mean 81/15 = 5.4; eight 6s above it
    assert flagged(frame) == list(range(7, 15))
    assert set(frame["rule"].iloc[7:]) == {"shift"}


# --- rule 3: trend ---------------------------------------------------------------------------


def test_seven_rising_points_are_a_trend():
    # 1..7 at positions 4-10 (the 6 before falls to 1, the 7 after falls to 4).
    # mean 62/14 = 4.43, mR-bar 24/13 = 1.85: no limit, run or two-of-three signal.
    frame = xmr([4, 6, 4, 6, 1, 2, 3, 4, 5, 6, 7, 4, 6, 4])
    assert flagged(frame) == list(range(4, 11))
    assert set(frame["rule"].iloc[4:11]) == {"trend"}
    assert set(frame["direction"].iloc[4:11]) == {"concern"}


def test_six_rising_points_are_not_a_trend():
    frame = xmr([4, 6, 4, 6, 1, 2, 3, 4, 5, 6, 4, 6, 4])
    assert not frame["special_cause"].any()


def test_seven_falling_points_are_a_trend_of_improvement_when_down_is_better():
    values = [4, 2, 4, 2, 7, 6, 5, 4, 3, 2, 1, 4, 2, 4]
    frame = xmr(values)
    assert flagged(frame, "trend") == list(range(4, 11))
    assert set(frame["direction"].iloc[4:11]) == {"improvement"}


def test_an_equal_value_breaks_a_trend():
    # 1 2 3 4 4 5 6 7 8: eight rising values but split by the repeated 4 into 4 and 5.
    frame = xmr([4, 6, 4, 6, 1, 2, 3, 4, 4, 5, 6, 7, 8, 4, 6, 4])
    assert flagged(frame, "trend") == []
    assert not frame["special_cause"].any()


def test_trend_length_is_configurable():
    frame = xmr([4, 6, 4, 6, 1, 2, 3, 4, 5, 6, 4, 6, 4], rules=SpcRules(trend_length=6))
    assert flagged(frame) == list(range(4, 10))


# --- rule 4: two of three beyond 2σ ----------------------------------------------------------


def test_two_of_three_beyond_two_sigma_on_the_same_side():
    # 5 6 x8, then 10 6 10, then 5 6 5 6: sum 136, n 23 -> mean 5.9130
    # mR: fifteen 1s, then 4 4 4 5 1 1 1 -> 35 / 22 = 1.5909; σ = 1.5909 / 1.128 = 1.4104
    # 2σ line 5.9130 + 2.8208 = 8.7338; upper limit 5.9130 + 4.2318 = 10.1449
    # So both 10s are beyond 2σ but inside the limit; the 6 between them is not marked.
    values = [5, 6] * 8 + [10, 6, 10] + [5, 6] * 2
    frame = xmr(values)
    assert frame["mean"].iloc[0] == pytest.approx(136 / 23)
    assert frame["mr_bar"].iloc[0] == pytest.approx(35 / 22)
    assert frame["upper"].iloc[0] == pytest.approx(10.1449, abs=1e-4)
    assert flagged(frame) == [16, 18]
    assert frame["rule"].iloc[16] == "two of three"
    assert frame["direction"].iloc[16] == "concern"
    assert not xmr(values, rules=SpcRules(two_of_three=False))["special_cause"].any()


def test_two_beyond_two_sigma_on_opposite_sides_are_not_flagged():
    # 5 6 x8, then 9 6 2, then 5 6 5 6: sum 127 -> mean 5.5217; mR 31/22 = 1.4091
    # 2σ = 2.4984: 9 is above 8.0201 and 2 below 3.0233, but on opposite sides;
    # the limits 1.7736 .. 9.2699 hold both.
    frame = xmr([5, 6] * 8 + [9, 6, 2] + [5, 6] * 2)
    assert frame["lower"].iloc[0] == pytest.approx(1.7736, abs=1e-4)
    assert frame["upper"].iloc[0] == pytest.approx(9.2699, abs=1e-4)
    assert not frame["special_cause"].any()


def test_a_point_in_several_patterns_lists_every_rule_and_conflicts_read_as_concern():
    # A rising trend 1..7 whose first two points are far below the mean (two of three low).
    values = [6, 8, 6, 8, 1, 2, 3, 4, 5, 6, 7, 6, 8, 6]
    down = xmr(values)  # rising = concern, low = improvement -> concern (cautious)
    assert down["rule"].iloc[4] == "trend, two of three"
    assert down["direction"].iloc[4] == "concern"
    assert down["direction"].iloc[6] == "concern"
    up = xmr(values, improvement="up")  # rising = improvement, low = concern -> concern
    assert up["direction"].iloc[4] == "concern"
    assert up["direction"].iloc[6] == "improvement"


# --- rebasing --------------------------------------------------------------------------------

AFTER = [2, 3, 2, 4, 3, 2, 3, 2]


def test_rebasing_recalculates_mean_and_limits_for_the_new_segment():
    # Segment 1: 2 3 2 4 3 2 3 2 -> sum 21, mean 2.625; mR 1 1 2 1 1 1 1 -> 8/7 = 1.142857
    # limits 2.625 ± 2.66 × 1.142857 = 2.625 ± 3.04 -> -0.415 .. 5.665
    frame = xmr(WORKED + AFTER, rebase_at=[12])
    first, second = frame.iloc[:12], frame.iloc[12:]
    assert frame["segment"].tolist() == [0] * 12 + [1] * 8
    assert first["mean"].tolist() == pytest.approx([6.25] * 12)
    assert first["upper"].tolist() == pytest.approx([11.57] * 12)
    assert second["mean"].tolist() == pytest.approx([2.625] * 8)
    assert second["mr_bar"].iloc[0] == pytest.approx(8 / 7)
    assert second["lower"].iloc[0] == pytest.approx(-0.415, abs=1e-9)
    assert second["upper"].iloc[0] == pytest.approx(5.665, abs=1e-9)
    assert math.isnan(frame["moving_range"].iloc[12])  # no range across the rebase
    assert not first["provisional"].any()
    assert second["provisional"].all()  # 8 points
    assert not frame["special_cause"].any()
    # Unrebased, one overall mean of 96/20 = 4.8: the first eight values (5 7 6 8 5 6 7 9) sit
    # above it and the last eight below it, two shifts that are really one change.
    assert flagged(xmr(WORKED + AFTER), "shift") == [*range(8), *range(12, 20)]
    # Position 0 and repeats change nothing; a single position may be given bare.
    same = xmr(WORKED + AFTER, rebase_at=(0, 12, 12))
    assert same["segment"].tolist() == frame["segment"].tolist()
    assert xmr(WORKED + AFTER, rebase_at=12)["segment"].tolist() == frame["segment"].tolist()


def test_runs_and_trends_do_not_cross_a_rebase():
    values = [4, 6, 4, 6, 4, 6, 1, 2, 3, 4, 5, 6, 7, 5, 7, 5, 7]
    whole = xmr(values)
    assert flagged(whole, "trend") == list(range(6, 13))  # 1..7 is a trend
    assert flagged(whole, "shift") == list(range(10, 17))
    rebased = xmr(values, rebase_at=[10])  # 1 2 3 4 | 5 6 7 ...
    assert not rebased["special_cause"].any()


def test_rebase_positions_out_of_range_are_refused():
    with pytest.raises(ValueError, match="outside"):
        xmr(WORKED, rebase_at=[12])
    with pytest.raises(ValueError, match="outside"):
        xmr(WORKED, rebase_at=[-1])
    with pytest.raises(ValueError, match="position"):
        xmr(WORKED, rebase_at=["2024-01-01"])


def _weekly(values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=len(values), freq="W-MON"))


def test_dated_series_rebased_at_a_date():
    series = _weekly(WORKED + AFTER)  # Mondays from 1 January 2024; position 12 is 25 March
    go_live = pd.Timestamp("2024-03-25")
    expected = xmr(WORKED + AFTER, rebase_at=[12])
    for rebase in ("2024-03-25", go_live, date(2024, 3, 25), np.datetime64("2024-03-25"), 12):
        frame = xmr(series, rebase_at=[rebase])
        assert frame.index.equals(series.index)
        assert frame["segment"].tolist() == expected["segment"].tolist()
        assert frame.loc[go_live, "mean"] == pytest.approx(2.625)
    # A go-live mid-week rebases from the first full week after it.
    midweek = xmr(series, rebase_at=["2024-03-20"])
    assert midweek["segment"].tolist() == expected["segment"].tolist()
    with pytest.raises(ValueError, match="after the last period"):
        xmr(series, rebase_at=["2030-01-01"])
    with pytest.raises(ValueError, match="not a date"):
        xmr(series, rebase_at=["soon"])


def test_integer_labelled_series_rebases_by_label():
    series = pd.Series(WORKED + AFTER, index=range(100, 120))
    frame = xmr(series, rebase_at=[112])
    assert frame.loc[112, "segment"] == 1
    assert frame.loc[111, "segment"] == 0
    with pytest.raises(ValueError, match="not in the index"):
        xmr(series, rebase_at=[12])


def test_text_labelled_series_rebases_by_label_or_position():
    series = pd.Series(WORKED + AFTER, index=[f"p{i}" for i in range(20)])
    by_label = xmr(series, rebase_at=["p12"])
    by_position = xmr(series, rebase_at=[12])
    assert by_label["segment"].tolist() == by_position["segment"].tolist()
    assert by_label.loc["p12", "segment"] == 1
    with pytest.raises(ValueError, match="not in the index"):
        xmr(series, rebase_at=["p99"])


# --- icons -----------------------------------------------------------------------------------

# 8 12 x4 then seven 7s: mean 8.6; the 7s are a shift below it.
DROP = [8, 12, 8, 12, 8, 12, 8, 12, 7, 7, 7, 7, 7, 7, 7]


def test_variation_icon_improvement_for_a_downward_shift_when_down_is_better():
    frame = xmr(DROP)
    assert flagged(frame, "shift") == list(range(8, 15))
    assert variation_icon(frame) == "improvement"


def test_variation_icon_concern_for_the_same_shift_when_up_is_better():
    assert variation_icon(xmr(DROP, improvement="up")) == "concern"


def test_variation_icon_reads_only_the_latest_point():
    # The shift ends with a return to normal: the latest point is common cause again.
    assert variation_icon(xmr([*DROP, 10])) == "common cause"
    assert variation_icon(xmr([4, 8] * 5 + [4, 30])) == "concern"


@pytest.mark.parametrize(
    ("improvement", "target", "icon"),
    [
        # WORKED limits: 0.93 .. 11.57.
        ("down", 12, "pass"),         # target above the upper limit, lower is better
        ("down", 11.57, "pass"),      # on the limit: every expected value is at most the target
        ("down", 0.5, "fail"),        # target below the lower limit
        ("down", 6, "hit and miss"),
        ("up", 0.5, "pass"),
        ("up", 12, "fail"),
        ("up", 6, "hit and miss"),
    ],
)
def test_assurance_icon(improvement, target, icon):
    frame = xmr(WORKED, improvement=improvement)
    assert assurance_icon(frame, target) == icon


def test_assurance_icon_needs_a_target_and_remembers_the_one_given_to_xmr():
    assert assurance_icon(xmr(WORKED), None) is None
    frame = xmr(WORKED, target=12)
    assert frame["target"].tolist() == [12.0] * 12
    assert assurance_icon(frame) == "pass"
    assert assurance_icon(frame, 0.5) == "fail"  # an explicit target wins
    assert assurance_icon(frame, 12, improvement="up") == "fail"


def test_assurance_icon_uses_the_latest_segment():
    frame = xmr(WORKED + AFTER, rebase_at=[12])  # latest limits -0.415 .. 5.665
    assert assurance_icon(frame, 6) == "pass"
    assert assurance_icon(xmr(WORKED), 6) == "hit and miss"


def test_assurance_icon_without_a_recorded_direction_must_be_told():
    bare = pd.DataFrame(xmr(WORKED).to_dict())  # attrs lost
    with pytest.raises(ValueError, match="improvement"):
        assurance_icon(bare, 12)
    assert assurance_icon(bare, 12, improvement="down") == "pass"


# --- icons as a chart shows them: letter and words ------------------------------------------

RISE = [8, 12, 8, 12, 8, 12, 8, 12, 13, 13, 13, 13, 13, 13, 13]  # a shift above the mean


@pytest.mark.parametrize(
    ("values", "improvement", "kind", "letter", "text"),
    [
        (DROP, "down", "improvement", "L", "Special cause variation, lower: improvement"),
        (DROP, "up", "concern", "L", "Special cause variation, lower: concern"),
        (DROP, "neither", "neither", "L",
         "Special cause variation, lower: neither improvement nor concern"),
        (RISE, "down", "concern", "H", "Special cause variation, higher: concern"),
        (RISE, "up", "improvement", "H", "Special cause variation, higher: improvement"),
        (RISE, "neither", "neither", "H",
         "Special cause variation, higher: neither improvement nor concern"),
        (WORKED, "down", "common cause", "",
         "Common cause variation: no signal, the latest point is within the usual range"),
    ],
)
def test_the_variation_icon_has_a_letter_for_its_side_and_words(values, improvement, kind,
                                                                 letter, text):
    icon = variation_of(xmr(values), improvement)
    assert (icon.kind, icon.letter, icon.text) == (kind, letter, text)


def test_a_single_point_beyond_the_upper_limit_reads_high():
    frame = xmr([4, 8] * 5 + [4, 30])
    assert frame["side"].iloc[-1] == "high"
    assert variation_of(frame, "down").key == "variation:concern:high"
    assert frame["side"].iloc[0] == ""  # not special cause: no side


def test_a_point_in_patterns_pointing_both_ways_reads_by_its_value():
    # A rising trend of seven that ends below the mean of a series shifted high before it:
    # the last point is in the trend (up) and in a downward run (below the mean).
    values = [20] * 8 + [1, 2, 3, 4, 5, 6, 7]
    frame = xmr(values, rules=SpcRules(beyond_limit=False, two_of_three=False))
    last = frame.iloc[-1]
    assert last["direction"] == "concern" and last["value"] < last["mean"]
    assert last["side"] == "low"
    assert variation_of(frame, "neither").letter == "L"


@pytest.mark.parametrize(
    ("improvement", "target", "letter", "text"),
    [
        ("down", 12, "P", "Assurance: consistently passes the target"),
        ("down", 0.5, "F", "Assurance: consistently fails the target"),
        ("up", 6, "?", "Assurance: hit and miss, the target is met only sometimes"),
    ],
)
def test_the_assurance_icon_has_a_letter_and_words(improvement, target, letter, text):
    icon = assurance_of(xmr(WORKED), target, improvement)
    assert icon is not None and (icon.letter, icon.text) == (letter, text)


def test_no_assurance_icon_without_a_target_or_a_better_direction():
    frame = xmr(WORKED)
    assert assurance_of(frame, None, "down") is None
    # With neither direction better no value passes or fails a target.
    assert assurance_of(frame, 12, "neither") is None
    variation, assurance = chart_icons(frame, target=12, improvement="neither")
    assert variation.kind == "common cause" and assurance is None
    assert chart_icons(xmr([5]), target=6, improvement="down")[1] is None  # no limits yet


def test_an_empty_chart_is_common_cause_and_the_direction_must_be_known():
    assert variation_of(xmr([]), "down").kind == "common cause"
    bare = pd.DataFrame(xmr(DROP).to_dict())  # attrs lost
    with pytest.raises(ValueError, match="improvement"):
        variation_of(bare)
    assert variation_of(bare, "down").kind == "improvement"


# --- invariants ------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=40), min_size=0, max_size=40),
    st.sets(st.integers(min_value=0, max_value=39), max_size=3),
    st.sampled_from(["down", "up"]),
)
def test_invariants(values, rebases, improvement):
    rebase_at = sorted(p for p in rebases if p < len(values))
    frame = xmr(values, rebase_at=rebase_at, improvement=improvement)
    assert len(frame) == len(values)
    assert (frame["special_cause"] == (frame["rule"] != "")).all()
    assert (frame["special_cause"] == (frame["direction"] != "")).all()
    limited = frame.dropna(subset=["lower", "upper"])
    assert ((limited["lower"] <= limited["mean"]) & (limited["mean"] <= limited["upper"])).all()
    assert np.allclose(limited["upper"] - limited["mean"], limited["mean"] - limited["lower"])
    assert frame["segment"].is_monotonic_increasing
    assert variation_icon(frame) in ("common cause", "improvement", "concern")
