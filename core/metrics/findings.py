"""What each chart shows, in one sentence: the chart's text alternative (WCAG 2.2 AA, 1.1.1).

Pages draw a chart, its data table and, right before it, the sentence one of these functions
returns. The sentences are rules ("is this week unusual?", "what stopped most harm?"), so they
live here and not in the pages. They weigh chance the way the charts do: a control chart's
sentence reads the special-cause rules of `core.spc`, and says so when the data are too few to
tell. Names in a sentence (a type, a service, a clock) are as configured or typed: pages send
the sentence through `ui.text` like any other text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pandas as pd

# Fewer points than this and a control chart cannot tell usual from unusual at all.
MIN_POINTS = 2
STAFF_RECOVERY = "Staff noticed and recovered it"
DESIGNED_CONTROL = ("A designed check or control caught it (checklist, alert, "
                    "pre-transfer check)")


def number(value: float) -> str:
    """A count as a whole number, any other value to one decimal place."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def spc_finding(frame: pd.DataFrame, *, what: str = "Near misses per week",
                unit: str = "week", improvement: str = "neither") -> str:
    """The control chart's reading of its latest point: the value, the usual range (the
    process limits) and whether it is a signal; "too few to tell" when it cannot be read.

    `frame` is `core.spc.xmr`'s frame; `improvement` "up", "down" or "neither" (which way is
    better) names a signal an improvement or a concern."""
    if frame.empty:
        return f"{what}: no data in the period, so there is nothing to tell yet."
    latest = frame.iloc[-1]
    value = number(float(latest["value"]))
    segment = frame[frame["segment"] == latest["segment"]]
    lower, upper = latest["lower"], latest["upper"]
    if len(segment) < MIN_POINTS or pd.isna(lower) or pd.isna(upper):
        return (f"{what}: {value} in the latest {unit}; {_plural(len(segment), unit)} of data "
                "are too few to tell whether that is usual.")
    usual = f"{number(round(max(float(lower), 0.0), 1))} to {number(round(float(upper), 1))}"
    provisional = bool(latest["provisional"])
    earlier = int(segment["special_cause"].iloc[:-1].sum())
    if bool(latest["special_cause"]):
        side = "higher" if float(latest["value"]) > float(latest["mean"]) else "lower"
        kind = "a signal"
        if improvement in ("up", "down") and latest["direction"] in ("improvement", "concern"):
            kind = f"a signal of {latest['direction']}"
        text = (f"{what}: {value} in the latest {unit}, {side} than usual (the usual range is "
                f"{usual}); {kind} ({latest['rule']}).")
        if provisional:
            text = text[:-1] + (f", read against provisional limits from "
                                f"{_plural(len(segment), unit)}.")
        return text
    if provisional:
        return (f"{what}: {value} in the latest {unit}, within the provisional range of "
                f"{usual}; {_plural(len(segment), unit)} are too few to tell whether there is "
                "a signal.")
    text = f"{what}: {value} in the latest {unit}, within the usual range of {usual}; no signal"
    if earlier:
        text += f" (an earlier {unit} showed one)" if earlier == 1 else \
            f" ({earlier} earlier {unit}s showed one)"
    return text + "."


def spc_signal_column(frame: pd.DataFrame, improvement: str = "neither") -> list[str]:
    """A signal in words for each point of a control chart's table: colour is never the only
    signal. The direction (improvement, concern) is named when a direction is better."""
    words = []
    for _, row in frame.iterrows():
        if not bool(row["special_cause"]):
            words.append("")
            continue
        side = "higher" if float(row["value"]) > float(row["mean"]) else "lower"
        direction = (f", {row['direction']}" if row["direction"]
                     and improvement in ("up", "down") else "")
        words.append(f"Signal: {side}{direction}")
    return words


def breakdown_finding(rows: Iterable[tuple[str, float]], *, by: str, hidden: int = 0) -> str:
    """The largest group of a breakdown and its share: "Near misses by type: the largest group
    is Falls (12 of 40, 30%), of 5 groups." `by` names the grouping ("type"); `hidden` counts
    groups too small to show (a commissioner's suppression), left out of the sentence too."""
    rows = [(str(label), float(count)) for label, count in rows]
    total = sum(count for _, count in rows)
    left_out = (f"; {_plural(hidden, 'group')} too small to show "
                f"{'is' if hidden == 1 else 'are'} left out") if hidden else ""
    if not rows or total <= 0:
        return f"Near misses by {by}: none to show in the period{left_out}."
    top = max(count for _, count in rows)
    leaders = [label for label, count in rows if count == top]
    share = f"{top / total:.0%}"
    if len(rows) == 1:
        return f"Near misses by {by}: all {number(total)} are in one group, {leaders[0]}" \
               f"{left_out}."
    if len(leaders) == 1:
        return (f"Near misses by {by}: the largest group is {leaders[0]} ({number(top)} of "
                f"{number(total)}, {share}), of {len(rows)} groups{left_out}.")
    named = ", ".join(leaders[:-1]) + " and " + leaders[-1]
    return (f"Near misses by {by}: {named} are the largest groups, {number(top)} each of "
            f"{number(total)}, of {len(rows)} groups{left_out}.")


def barrier_finding(mix: pd.DataFrame) -> str:
    """What stopped harm over the period (rows `month`, `barrier`, `count`)."""
    totals = mix.groupby("barrier")["count"].sum() if not mix.empty else pd.Series(dtype=int)
    total = float(totals.sum())
    if total <= 0:
        return "What stopped harm: no near misses in the period."
    recovery = float(totals.get(STAFF_RECOVERY, 0)) / total
    designed = float(totals.get(DESIGNED_CONTROL, 0)) / total
    months = mix["month"].nunique()
    text = (f"What stopped harm: {recovery:.0%} of the {number(total)} near misses in the "
            f"period were stopped by staff noticing and recovering, {designed:.0%} by a "
            "designed check or control")
    if months < 2:
        text += "; one month is too little to show a change"
    return text + "."


def strength_finding(counts: Sequence[tuple[str, int]]) -> str:
    """Actions by strength, strongest first: how many of the actions are of each strength."""
    total = sum(count for _, count in counts)
    if total <= 0:
        return "Actions by strength: no actions yet."
    parts = ", ".join(f"{count} {label.lower()}" for label, count in counts)
    strongest = counts[0][1] / total
    return f"Actions by strength: of {_plural(total, 'action')}, {parts}; {strongest:.0%} " \
           f"are {counts[0][0].lower()}."


def weekly_reporting_finding(weekly: pd.DataFrame) -> str:
    """Reports and reporters per week (rows `week`, `reports`, `reporters`)."""
    if weekly.empty:
        return "Reports and reporters per week: no weeks in the period."
    reports, weeks = int(weekly["reports"].sum()), len(weekly)
    latest = weekly.iloc[-1]
    busiest = weekly.loc[weekly["reports"].idxmax()]
    return (f"Reports and reporters per week: {reports} near misses in the "
            f"{_plural(weeks, 'week')} with a report; the latest of them had "
            f"{int(latest['reports'])} from "
            f"{_plural(int(latest['reporters']), 'reporter')}, the busiest "
            f"(week of {_day(busiest['week'])}) had {int(busiest['reports'])}.")


def updates_finding(monthly: pd.DataFrame) -> str:
    """“What changed” updates published per month (rows `month`, `updates`)."""
    total = int(monthly["updates"].sum()) if not monthly.empty else 0
    if total == 0:
        return "“What changed” updates: none published in the period."
    busiest = monthly.loc[monthly["updates"].idxmax()]
    return (f"“What changed” updates: {total} published over "
            f"{_plural(len(monthly), 'month')}, most in {_month(busiest['month'])} "
            f"({int(busiest['updates'])}).")


def on_time_finding(counted: pd.DataFrame, target: float) -> str:
    """Regulator deadlines met on time (rows `clock`, `month`, `due`, `on_time`, `share` of the
    months a deadline fell due) against the target share."""
    if counted.empty:
        return "Deadlines met on time: none fell due in the period."
    due, on_time = int(counted["due"].sum()), int(counted["on_time"].sum())
    below = counted[counted["share"] < target]
    text = (f"Deadlines met on time: {on_time} of {due} ({on_time / due:.0%}) against a "
            f"target of {target:.0%}; ")
    if below.empty:
        return text + "every month met the target."
    places = "; ".join(f"{row['clock']} in {_month(row['month'])}"
                       for _, row in below.head(3).iterrows())
    more = f" and {len(below) - 3} more" if len(below) > 3 else ""
    return text + f"below target: {places}{more}."


def timeline_finding(states: Sequence[str]) -> str:
    """The open actions' deadlines drawn on the register's timeline (each "overdue",
    "due_soon" or "")."""
    if not states:
        return "Deadlines of open actions: none to show."
    overdue = sum(1 for s in states if s == "overdue")
    soon = sum(1 for s in states if s == "due_soon")
    return (f"Deadlines of open actions: {_plural(len(states), 'action')} shown, "
            f"{overdue} overdue, {soon} due soon, {len(states) - overdue - soon} later.")


def measure_finding(series: dict[date, int], *, go_live: date, window_end: date) -> str:
    """An action's measure week by week: the weekly mean before go-live and since."""
    before = [count for week, count in series.items() if week < go_live]
    after = [count for week, count in series.items() if go_live <= week <= window_end]
    if not before or not after:
        return ("Near misses that count, per week: too few weeks before and after go-live "
                "to compare.")
    return (f"Near misses that count, per week: {number(round(sum(before) / len(before), 1))} "
            f"on average in the {_plural(len(before), 'week')} before go-live, "
            f"{number(round(sum(after) / len(after), 1))} in the {_plural(len(after), 'week')} "
            "since.")


def _day(value: Any) -> str:
    return f"{pd.Timestamp(value):%d %b %Y}"


def _month(value: Any) -> str:
    return f"{pd.Timestamp(value):%b %Y}"
