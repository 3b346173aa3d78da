"""Each chart's one-sentence finding (its text alternative): a signal, no signal, too little
data to tell, and the plain counts of the other charts."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from core.metrics import findings
from core.spc import xmr


def weekly(values):
    return pd.Series(values, index=pd.date_range("2026-01-05", periods=len(values), freq="7D"),
                     dtype=float)


STEADY = [10, 12, 9, 11, 10, 13, 9, 12, 10, 11, 12, 10, 11, 9, 12, 10]


def test_no_signal_names_the_latest_week_and_the_usual_range():
    text = findings.spc_finding(xmr(weekly(STEADY)))
    assert text.startswith("Near misses per week: 10 in the latest week, within the usual "
                           "range of ")
    assert text.endswith("; no signal.")


def test_a_point_beyond_the_limit_is_a_signal_of_concern_when_fewer_is_better():
    frame = xmr(weekly([*STEADY, 40]), improvement="down")
    text = findings.spc_finding(frame, improvement="down")
    assert "40 in the latest week, higher than usual" in text
    assert "a signal of concern" in text
    neutral = findings.spc_finding(xmr(weekly([*STEADY, 40])), improvement="neither")
    assert "; a signal (" in neutral and "concern" not in neutral


def test_too_little_data_says_so():
    assert "too few to tell whether that is usual" in findings.spc_finding(xmr(weekly([4])))
    short = findings.spc_finding(xmr(weekly([4, 6, 5, 5])))
    assert "within the provisional range" in short and "too few to tell" in short
    assert "no data in the period" in findings.spc_finding(xmr(weekly([])))


def test_a_month_chart_says_month_and_the_table_names_signals_in_words():
    frame = xmr(weekly([*STEADY, 40]))
    assert "in the latest month" in findings.spc_finding(frame, what="Near misses per month",
                                                         unit="month")
    column = findings.spc_signal_column(frame)
    assert column[-1] == "Signal: higher" and column[0] == ""
    assert findings.spc_signal_column(frame, "down")[-1] == "Signal: higher, concern"


def test_breakdown_names_the_largest_group_or_a_tie():
    assert findings.breakdown_finding([("Falls", 6), ("Medication", 3), ("Transport", 1)],
                                      by="type") == (
        "Near misses by type: the largest group is Falls (6 of 10, 60%), of 3 groups.")
    assert "Falls and Medication are the largest groups, 2 each of 4" in \
        findings.breakdown_finding([("Falls", 2), ("Medication", 2)], by="type")
    assert findings.breakdown_finding([], by="type", hidden=2) == (
        "Near misses by type: none to show in the period; 2 groups too small to show are "
        "left out.")


def test_barrier_strength_culture_updates_on_time_timeline_and_measure():
    mix = pd.DataFrame({"month": ["2026-01", "2026-01", "2026-02"],
                        "barrier": [findings.STAFF_RECOVERY, findings.DESIGNED_CONTROL,
                                    findings.STAFF_RECOVERY], "count": [3, 1, 0]})
    assert "75% of the 4 near misses in the period were stopped by staff noticing and " \
           "recovering, 25% by a designed check" in findings.barrier_finding(mix)
    assert findings.strength_finding([("Stronger", 1), ("Weaker", 3)]) == (
        "Actions by strength: of 4 actions, 1 stronger, 3 weaker; 25% are stronger.")
    culture = pd.DataFrame({"week": [date(2026, 1, 5), date(2026, 1, 12)],
                            "reports": [5, 2], "reporters": [3, 1]})
    assert "7 near misses in the 2 weeks with a report; the latest of them had 2 from 1 " \
           "reporter, the busiest (week of 05 Jan 2026) had 5" \
           in findings.weekly_reporting_finding(culture)
    updates = pd.DataFrame({"month": [date(2026, 1, 1), date(2026, 2, 1)], "updates": [1, 3]})
    assert findings.updates_finding(updates) == (
        "“What changed” updates: 4 published over 2 months, most in Feb 2026 (3).")
    clocks = pd.DataFrame({"clock": ["Report in 24 hours"] * 2,
                           "month": [date(2026, 1, 1), date(2026, 2, 1)], "due": [4, 5],
                           "on_time": [4, 3], "share": [1.0, 0.6]})
    assert findings.on_time_finding(clocks, 0.9) == (
        "Deadlines met on time: 7 of 9 (78%) against a target of 90%; below target: "
        "Report in 24 hours in Feb 2026.")
    assert findings.timeline_finding(["overdue", "due_soon", "", ""]) == (
        "Deadlines of open actions: 4 actions shown, 1 overdue, 1 due soon, 2 later.")
    go_live = date(2026, 2, 2)
    series = {go_live + timedelta(weeks=w): c for w, c in zip(range(-3, 3), [4, 5, 6, 1, 2, 0],
                                                               strict=True)}
    assert findings.measure_finding(series, go_live=go_live,
                                    window_end=go_live + timedelta(weeks=4)) == (
        "Near misses that count, per week: 5 on average in the 3 weeks before go-live, 1 in "
        "the 3 weeks since.")
    assert "too few weeks" in findings.measure_finding({}, go_live=go_live, window_end=go_live)
