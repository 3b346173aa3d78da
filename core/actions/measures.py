"""Verification measures: which near misses count, the baseline before a control went live,
the rate during its test window, and the verdict the numbers suggest (a person confirms).

Counting is SQL aggregation by week; the verdict is a pure function tested on crafted data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.actions.models import ActivityCount
from core.config import settings
from core.metrics.weeks import as_date, local_midnight_utc, week_start_of, week_start_sql
from core.reports.models import NearMissReport

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


def _start(day: date) -> datetime:
    """A local day's start as stored (windows and weeks are the provider's local ones)."""
    return local_midnight_utc(day, settings().zone)


def count_between(session: Session, filters: MeasureFilters, start: date, end: date) -> int:
    """Reports that count, occurred in [start, end)."""
    return session.scalar(select(func.count()).select_from(NearMissReport).where(
        *filters.conditions(), NearMissReport.occurred_at >= _start(start),
        NearMissReport.occurred_at < _start(end))) or 0


def weekly_counts(session: Session, filters: MeasureFilters, start: date, end: date,
                  ) -> dict[date, int]:
    """Reports that count per week (Monday-based), every week in [start, end) present."""
    week = week_start_sql(session, NearMissReport.occurred_at, settings().zone)
    rows = session.execute(
        select(week.label("week"), func.count()).where(
            *filters.conditions(), NearMissReport.occurred_at >= _start(start),
            NearMissReport.occurred_at < _start(end))
        .group_by(week))
    counts = {as_date(w): n for w, n in rows}
    series: dict[date, int] = {}
    monday = week_start_of(start)
    while monday < end:
        series[monday] = counts.get(monday, 0)
        monday += timedelta(days=7)
    return series


def activity_between(session: Session, service_ids: tuple[int, ...], start: date, end: date,
                     per: str) -> int | None:
    """Visits or shifts delivered in the weeks starting in [start, end); None when unknown."""
    column = ActivityCount.visits if per == "100_visits" else ActivityCount.shifts
    query = select(func.sum(column)).where(ActivityCount.week_start >= start,
                                           ActivityCount.week_start < end)
    if service_ids:
        query = query.where(ActivityCount.service_id.in_(service_ids))
    total = session.scalar(query)
    return int(total) if total else None


def rate(session: Session, filters: MeasureFilters, start: date, end: date, per: str,
         ) -> float | None:
    """The measure over [start, end): per week, or per 100 visits/shifts (None: no data)."""
    count = count_between(session, filters, start, end)
    if per == "week":
        weeks = (end - start).days / 7
        return count / weeks if weeks > 0 else None
    activity = activity_between(session, filters.service_ids, week_start_of(start), end, per)
    if not activity:
        return None
    return 100 * count / activity


@dataclass(frozen=True)
class Verdict:
    verdict: str  # effective | not_effective | insufficient_data
    reason: str


def propose_verdict(baseline: float | None, observed: float | None, *, direction: str,
                    target: float | None, min_improvement: float) -> Verdict:
    """What the numbers suggest. A person confirms with a note; this only proposes."""
    if baseline is None or observed is None:
        return Verdict("insufficient_data", "There is no baseline or no observed rate yet "
                                            "(for a rate, activity counts are needed).")
    if direction == "decrease":
        if baseline == 0:
            return Verdict("insufficient_data", "No near misses counted before go-live: a fall "
                                                "cannot be shown.")
        improved = observed <= baseline * (1 - min_improvement)
        meets = target is None or observed <= target
    else:
        improved = observed >= baseline * (1 + min_improvement) if baseline else observed > 0
        meets = target is None or observed >= target
    change = (observed - baseline) / baseline * 100 if baseline else 0.0
    detail = f"{baseline:.2f} before, {observed:.2f} during the test ({change:+.0f}%)"
    if target is not None:
        detail += f"; target {target:g}"
    if improved and meets:
        return Verdict("effective", f"The rate improved: {detail}.")
    if not improved:
        return Verdict("not_effective", f"The rate did not improve by "
                                        f"{min_improvement:.0%}: {detail}.")
    return Verdict("not_effective", f"Improved, but the target is not met: {detail}.")


@dataclass(frozen=True)
class Evaluation:
    baseline: float | None
    observed: float | None
    baseline_start: date
    window_end: date
    proposal: Verdict
    window_over: bool


def evaluate(session: Session, filters: MeasureFilters, *, per: str, direction: str,
             target: float | None, go_live: date, window_days: int, baseline_weeks: int,
             min_improvement: float, today: date) -> Evaluation:
    """Baseline (the weeks before go-live) against the test window after it."""
    baseline_start = go_live - timedelta(weeks=baseline_weeks)
    window_end = go_live + timedelta(days=window_days)
    baseline = rate(session, filters, baseline_start, go_live, per)
    observed_end = min(window_end, today) if today > go_live else go_live
    observed = rate(session, filters, go_live, observed_end, per) if today > go_live else None
    return Evaluation(baseline, observed, baseline_start, window_end,
                      propose_verdict(baseline, observed, direction=direction, target=target,
                                      min_improvement=min_improvement),
                      window_over=today >= window_end)
