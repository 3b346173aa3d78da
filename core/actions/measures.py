"""Verification measures: which near misses count, the baseline before a control went live,
the rate during its test window, and the verdict the numbers suggest (a person confirms).

Counting is SQL aggregation; whether a change is evidence or chance is decided by the pure
functions of `core.actions.evidence` (an exact test of two Poisson rates, with exposure in
weeks or in hundreds of visits or shifts), tested on simulated data.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.actions.evidence import Counts, Verdict, VerdictRules, describe_counts, propose
from core.actions.models import ActivityCount, VerificationMeasure
from core.config import ActionRules, Settings
from core.organisation.models import Service
from core.reports.models import NearMissReport
from core.reports.rollup import (
    by_week,
    day_count_rows,
    day_count_rows_by_key,
    day_count_stretch_sums,
    day_count_sums,
    usable,
)
from core.taxonomy.models import NearMissType
from core.weeks import as_date, local_midnight_utc, week_start_of, week_start_sql

PER_LABELS = {"week": "per week", "100_visits": "per 100 visits", "100_shifts": "per 100 shifts"}
DIRECTION_LABELS = {"decrease": "Fewer is better", "increase": "More is better"}


@dataclass(frozen=True)
class MeasureFilters:
    """Which reports count. Empty lists mean "any"; `capture` matches a capture field value
    (e.g. source_of_discrepancy = "Care plan vs family note")."""

    type_keys: tuple[str, ...] = ()
    service_ids: tuple[int, ...] = ()
    location_ids: tuple[int, ...] = ()
    route_ids: tuple[int, ...] = ()
    staff_group_ids: tuple[int, ...] = ()
    interface_flags: tuple[str, ...] = ()
    capture: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"type_keys": list(self.type_keys), "service_ids": list(self.service_ids),
                "location_ids": list(self.location_ids), "route_ids": list(self.route_ids),
                "staff_group_ids": list(self.staff_group_ids),
                "interface_flags": list(self.interface_flags), "capture": dict(self.capture)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MeasureFilters:
        return cls(
            type_keys=tuple(data.get("type_keys", ())),
            service_ids=tuple(int(i) for i in data.get("service_ids", ())),
            location_ids=tuple(int(i) for i in data.get("location_ids", ())),
            route_ids=tuple(int(i) for i in data.get("route_ids", ())),
            staff_group_ids=tuple(int(i) for i in data.get("staff_group_ids", ())),
            interface_flags=tuple(data.get("interface_flags", ())),
            capture=dict(data.get("capture", {})),
        )

    @property
    def counted_by_day(self) -> bool:
        """Whether the day counts keep what these filters select (types and services only)."""
        return not (self.location_ids or self.route_ids or self.staff_group_ids
                    or self.interface_flags or self.capture)

    def day_counts(self, session: Session, start: date, end: date, group_by: tuple[str, ...],
                   rules: Settings) -> list[tuple[Any, ...]] | None:
        """The reports that count on local days in [start, end), summed by `group_by`, from
        the day counts (core/reports/rollup.py); None when they cannot answer: not built for
        the zone, or a filter on something they do not keep (location, route, ...)."""
        if not self.counted_by_day or not usable(session, rules.zone):
            return None
        return day_count_rows(session, group_by, start=start, end=end,
                              service_sets=(self.service_ids or None,),
                              type_keys=self.type_keys)

    def conditions(self) -> list[ColumnElement[bool]]:
        """SQL conditions selecting the reports that count."""
        conditions: list[ColumnElement[bool]] = []
        pairs = ((NearMissReport.type_key, self.type_keys),
                 (NearMissReport.service_id, self.service_ids),
                 (NearMissReport.location_id, self.location_ids),
                 (NearMissReport.route_id, self.route_ids),
                 (NearMissReport.staff_group_id, self.staff_group_ids),
                 (NearMissReport.interface_flag, self.interface_flags))
        for column, values in pairs:
            if values:
                conditions.append(column.in_(values))
        for key, value in self.capture.items():
            conditions.append(NearMissReport.capture_fields[key].as_string() == value)
        return conditions


def _start(day: date, rules: Settings) -> datetime:
    """A local day's start as stored (windows and weeks are the provider's local ones)."""
    return local_midnight_utc(day, rules.zone)


def count_between(session: Session, filters: MeasureFilters, start: date, end: date, *,
                  rules: Settings) -> int:
    """Reports that count, occurred in [start, end)."""
    days = filters.day_counts(session, start, end, (), rules)
    if days is not None:
        return sum(count for (count,) in days)
    return session.scalar(select(func.count()).select_from(NearMissReport).where(
        *filters.conditions(), NearMissReport.occurred_at >= _start(start, rules),
        NearMissReport.occurred_at < _start(end, rules))) or 0


def count_between_each(session: Session,
                       spans: Sequence[tuple[MeasureFilters, date, date]], *,
                       rules: Settings) -> list[int]:
    """`count_between` for each (filters, start, end): those the day counts can answer summed
    a hundred to a statement (`day_count_sums`), the rest one at a time."""
    by_day = usable(session, rules.zone)
    answered = iter(day_count_sums(session, [
        (start, end, filters.service_ids or None, filters.type_keys)
        for filters, start, end in spans if by_day and filters.counted_by_day]))
    return [next(answered) if by_day and filters.counted_by_day
            else count_between(session, filters, start, end, rules=rules)
            for filters, start, end in spans]


def counts_around(session: Session, filters: MeasureFilters, go_live: date, days: int, *,
                  rules: Settings) -> tuple[int, int]:
    """Reports that count in the `days` before `go_live` and in the `days` from it: the same
    as two `count_between` calls, in one pass over the reports (the evidence page asks this
    for every action with a measure, about 1,500 at a million reports)."""
    return counts_around_each(session, [(filters, go_live, days)], rules=rules)[0]


def _counts_around_in_reports(session: Session, filters: MeasureFilters, go_live: date,
                              days: int, *, rules: Settings) -> tuple[int, int]:
    """`counts_around` counted from the reports themselves, in one pass."""
    start, middle, end = (_start(day, rules) for day in (
        go_live - timedelta(days=days), go_live, go_live + timedelta(days=days)))
    before, after = session.execute(select(
        func.count().filter(NearMissReport.occurred_at < middle),
        func.count().filter(NearMissReport.occurred_at >= middle)).where(
        *filters.conditions(), NearMissReport.occurred_at >= start,
        NearMissReport.occurred_at < end)).one()
    return before or 0, after or 0


class _DaySeries:
    """Each (type, service)'s day counts over a span as running totals, so that any window's
    count is two lookups. A row may stand for a stretch of days under its first day
    (`day_count_stretch_sums`): then only windows from one stretch's start to another's are
    counted right, the windows the stretches were cut at."""

    def __init__(self, rows: Iterable[tuple[str, int, date, int]]):
        days: dict[tuple[str, int], list[tuple[date, int]]] = {}
        for type_key, service_id, day, n in rows:
            days.setdefault((type_key, service_id), []).append((day, n))
        self.types = {type_key for type_key, _ in days}
        self.services = {service_id for _, service_id in days}
        self._series: dict[tuple[str, int], tuple[list[date], list[int]]] = {}
        for key, counted in days.items():
            counted.sort()
            totals = [0]
            for _day, n in counted:
                totals.append(totals[-1] + n)
            self._series[key] = ([day for day, _ in counted], totals)

    def count(self, filters: MeasureFilters, start: date, end: date) -> int:
        """The reports the filters select on local days in [start, end)."""
        total = 0
        for type_key in filters.type_keys or self.types:
            for service_id in filters.service_ids or self.services:
                series = self._series.get((type_key, service_id))
                if series is not None:
                    days, totals = series
                    total += totals[bisect_left(days, end)] - totals[bisect_left(days, start)]
        return total


def counts_around_each(session: Session, windows: Sequence[tuple[MeasureFilters, date, int]],
                       *, rules: Settings) -> list[tuple[int, int]]:
    """`counts_around` for each (filters, go-live, days). Where the day counts can answer, one
    query reads them over all the windows' days (the evidence page asks for about 1,500
    windows at a million reports: a query each took 3.6 s); else one window at a time."""
    by_day = [filters.counted_by_day for filters, _, _ in windows]
    series = None
    if any(by_day) and usable(session, rules.zone):
        series = _DaySeries(_day_counts_around(session, [
            window for window, counted in zip(windows, by_day, strict=True) if counted]))
    return [(series.count(filters, go_live - timedelta(days=days), go_live),
             series.count(filters, go_live, go_live + timedelta(days=days)))
            if series is not None and counted
            else _counts_around_in_reports(session, filters, go_live, days, rules=rules)
            for (filters, go_live, days), counted in zip(windows, by_day, strict=True)]


def _day_counts_around(session: Session, windows: Sequence[tuple[MeasureFilters, date, int]],
                       ) -> list[tuple[str, int, date, int]]:
    """(type, service, day, near misses) to count the windows from (`_DaySeries`).

    Where each type in each service has its windows' days in at most half of every type's in
    every service from the first window to the last (at 100k reports 45%), each is read over
    its own windows alone. On SQLite as sums of the stretches between its windows' edges, each
    under its first day (`day_count_stretch_sums`; the windows ask about no other days): the
    day rows took longer to hand to Python than to find (the evidence per action's counts at
    100k reports: 23 ms with 7,572 day rows, 6 ms with 420 sums). On PostgreSQL as its day
    rows (`day_count_rows_by_key`): there the sums took 35 ms, planning a hundred terms a
    statement, against 25 ms. Where the windows cover more (83% at a million), one read of
    every day's rows: the searches by key were slower (83 against 77 ms on PostgreSQL; the
    sums 135 ms)."""
    types = tuple(session.scalars(select(NearMissType.key)))
    services = tuple(session.scalars(select(Service.id)))
    edges: dict[tuple[str, int], set[date]] = {}
    for filters, go_live, days in windows:
        window = (go_live - timedelta(days=days), go_live, go_live + timedelta(days=days))
        for type_key in filters.type_keys or types:
            for service_id in filters.service_ids or services:
                edges.setdefault((type_key, service_id), set()).update(window)
    if not edges:  # no type or no service to count
        return []
    spans = {key: (min(days), max(days)) for key, days in edges.items()}
    first = min(start for start, _ in spans.values())
    last = max(end for _, end in spans.values())
    by_key = sum((end - start).days for start, end in spans.values())
    if by_key * 2 <= len(types) * len(services) * (last - first).days:
        if session.get_bind().dialect.name == "sqlite":
            return day_count_stretch_sums(session, edges)
        return day_count_rows_by_key(session, spans)
    return day_count_rows(session, ("type_key", "service_id", "day"),  # type: ignore[return-value]
                          start=first, end=last)


def weekly_counts(session: Session, filters: MeasureFilters, start: date, end: date, *,
                  rules: Settings) -> dict[date, int]:
    """Reports that count per week (Monday-based), every week in [start, end) present."""
    by_day = filters.day_counts(session, start, end, ("day",), rules)
    if by_day is not None:
        counts = by_week(by_day)
    else:
        week = week_start_sql(session, NearMissReport.occurred_at, rules.zone)
        counts = {as_date(w): n for w, n in session.execute(
            select(week.label("week"), func.count()).where(
                *filters.conditions(), NearMissReport.occurred_at >= _start(start, rules),
                NearMissReport.occurred_at < _start(end, rules))
            .group_by(week))}
    series: dict[date, int] = {}
    monday = week_start_of(start)
    while monday < end:
        series[monday] = counts.get(monday, 0)
        monday += timedelta(days=7)
    return series


def exposure_between(session: Session, service_ids: tuple[int, ...], start: date, end: date,
                     per: str) -> float | None:
    """Visits or shifts delivered in [start, end), in hundreds: the exposure of a rate "per 100
    visits/shifts". A week's count is shared out by its days inside the period (a test from a
    Wednesday takes 5/7 of that week). None when a week in the period has no count."""
    column = ActivityCount.visits if per == "100_visits" else ActivityCount.shifts
    first = week_start_of(start)
    query = (select(ActivityCount.week_start, func.sum(column))
             .where(ActivityCount.week_start >= first, ActivityCount.week_start < end)
             .group_by(ActivityCount.week_start))
    if service_ids:
        query = query.where(ActivityCount.service_id.in_(service_ids))
    weekly = {as_date(week): total for week, total in session.execute(query)
              if total is not None}
    delivered = 0.0
    monday = first
    while monday < end:
        if monday not in weekly:
            return None
        inside = (min(end, monday + timedelta(days=7)) - max(start, monday)).days
        delivered += weekly[monday] * inside / 7
        monday += timedelta(days=7)
    return delivered / 100 if delivered > 0 else None


def exposure(session: Session, filters: MeasureFilters, start: date, end: date, per: str,
             ) -> float | None:
    """The exposure of [start, end): weeks for a rate per week, else hundreds of visits or
    shifts (None: no activity counts)."""
    if per == "week":
        return (end - start).days / 7
    return exposure_between(session, filters.service_ids, start, end, per)


def look_rules(rules: ActionRules, look: str) -> VerdictRules:
    """The thresholds of a look: the end of the test window, or the sustainment check."""
    alpha = rules.evidence_alpha_sustainment if look == "sustainment" else \
        rules.evidence_alpha_window
    return VerdictRules(alpha=alpha, min_improvement=rules.min_improvement,
                        planned_change=rules.planned_change, power=rules.evidence_power)


@dataclass(frozen=True)
class Evaluation:
    """A measure evaluated on a day: the baseline, the period looked at and the proposal.

    `look` is "running" (the test window has not ended: counts so far, no verdict),
    "window" (its end: the window's counts) or "sustainment" (from the still-in-place check's
    date: every week since go-live)."""

    baseline: float | None
    observed: float | None
    baseline_start: date
    window_end: date
    proposal: Verdict
    window_over: bool
    look: str = "window"
    evidence_end: date | None = None  # the end of the period the observed figures cover
    sustainment_end: date | None = None  # when the evidence is looked at the second time


def sustainment_date(go_live: date, window_days: int, rules: ActionRules) -> date:
    """The still-in-place check's date: the second look at the evidence."""
    return go_live + timedelta(days=window_days + rules.sustainment_after_days)


@dataclass(frozen=True)
class MeasureToEvaluate:
    """A verification measure and its action's test window, as `evaluate_each` takes them."""

    filters: MeasureFilters
    per: str
    direction: str
    target: float | None
    go_live: date
    window_days: int
    baseline_weeks: int

    @classmethod
    def of(cls, measure: VerificationMeasure, go_live: date,
           window_days: int) -> MeasureToEvaluate:
        """A stored measure, for an action live from `go_live` with a test window of
        `window_days`."""
        return cls(MeasureFilters.from_json(measure.filters), measure.per, measure.direction,
                   measure.target, go_live, window_days, measure.baseline_weeks)


def evaluate(session: Session, filters: MeasureFilters, *, per: str, direction: str,
             target: float | None, go_live: date, window_days: int, baseline_weeks: int,
             today: date, rules: Settings) -> Evaluation:
    """Baseline (the weeks before go-live) against the test: during the window the counts so
    far; from its end the window; from the still-in-place check's date every week since
    go-live (the evidence accumulates, with a stricter threshold for the second look)."""
    return evaluate_each(session, [MeasureToEvaluate(
        filters, per, direction, target, go_live, window_days, baseline_weeks)],
        today=today, rules=rules)[0]


def evaluate_each(session: Session, measures: Sequence[MeasureToEvaluate], *, today: date,
                  rules: Settings) -> list[Evaluation]:
    """`evaluate` for each measure, their near misses counted together (`count_between_each`,
    a hundred spans to a statement where the day counts answer): the evidence page evaluates
    every action in test, and one at a time each took two or three statements."""
    if not measures:
        return []  # not even the day counts' readiness to ask about
    looks = []
    spans: list[tuple[MeasureFilters, date, date]] = []
    for measure in measures:
        go_live = measure.go_live
        baseline_start = go_live - timedelta(weeks=measure.baseline_weeks)
        window_end = go_live + timedelta(days=measure.window_days)
        second = sustainment_date(go_live, measure.window_days, rules.actions)
        if today < window_end:
            look, end = "running", max(go_live, today)
        elif today < second:
            look, end = "window", window_end
        else:
            look, end = "sustainment", second
        before = exposure(session, measure.filters, baseline_start, go_live, measure.per)
        during = (exposure(session, measure.filters, go_live, end, measure.per)
                  if end > go_live else None)
        # Only what is used is counted: the baseline needs exposure before go-live, the test
        # exposure on both sides.
        if before:
            spans.append((measure.filters, baseline_start, go_live))
            if during:
                spans.append((measure.filters, go_live, end))
        looks.append((measure, baseline_start, window_end, second, look, end, before, during))
    counted = iter(count_between_each(session, spans, rules=rules))
    evaluations = []
    for measure, baseline_start, window_end, second, look, end, before, during in looks:
        baseline_count = next(counted) if before else 0
        counts = Counts(baseline_count, before, next(counted), during,
                        baseline_weeks=measure.baseline_weeks,
                        test_days=(end - measure.go_live).days,
                        per=measure.per) if before and during else None
        baseline = baseline_count / before if before else None
        observed = counts.observed_rate if counts is not None else None
        if look == "running":
            so_far = (f"So far: {describe_counts(counts)}." if counts is not None else
                      "No counts yet.")
            proposal = Verdict("running", f"{so_far} The numbers are judged when the test "
                                          f"window ends, on {window_end:%d %b %Y}.", counts)
        else:
            proposal = propose(counts, direction=measure.direction, target=measure.target,
                               rules=look_rules(rules.actions, look),
                               later_look=f"{second:%d %b %Y}" if look == "window" else None)
        evaluations.append(Evaluation(baseline, observed, baseline_start, window_end, proposal,
                                      window_over=today >= window_end, look=look,
                                      evidence_end=end, sustainment_end=second))
    return evaluations
