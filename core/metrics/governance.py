"""Governance figures, each one SQL aggregate (never every report loaded into memory).

Breakdowns by type, service, location, week, day of week, hour, staff group, route, person
(pseudonymised), barrier class and interface flag; weekly series for SPC; repeats; reporting
culture; control strength. Every query is scoped to the actor's services.
"""

from __future__ import annotations

import hashlib
import hmac
import statistics
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

import pandas as pd
from sqlalchemy import Integer, Select, case, cast, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.actions.episodes import kept_for_the_session
from core.actions.models import Action, ActionPlan, ActionPlanReport
from core.actions.vocabulary import KINDS_BY_KEY, ActionStatus, best_status
from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.config import Settings
from core.escalation.models import Escalation
from core.organisation.models import Location, Route, Service, StaffGroup
from core.reports.models import NearMissReport
from core.reports.rollup import (
    by_week,
    day_count_rows,
    repeat_week_rows,
    reporter_week_rows,
    timings_version,
    usable,
)
from core.reports.vocabulary import BARRIER_LABELS, Barrier
from core.taxonomy.models import NearMissType
from core.weeks import (
    as_date,
    day_sql,
    local_midnight_utc,
    local_sql,
    week_start_of,
    week_start_sql,
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Scope:
    """The period and the slice of the provider a governance view looks at."""

    start: date
    end: date  # exclusive
    service_ids: tuple[int, ...] = ()
    type_keys: tuple[str, ...] = ()

    def conditions(self, actor: Actor, zone: Any, on: Any = NearMissReport,
                   ) -> list[ColumnElement[bool]]:
        """The period, the viewer's services and the slice, as conditions on `on`: the
        reports, or the plans' links to them, which carry their day, service and type."""
        conditions: list[ColumnElement[bool]] = [
            on.occurred_at >= local_midnight_utc(self.start, zone),
            on.occurred_at < local_midnight_utc(self.end, zone)]
        if actor.service_ids is not None:
            conditions.append(on.service_id.in_(actor.service_ids))
        if self.service_ids:
            conditions.append(on.service_id.in_(self.service_ids))
        if self.type_keys:
            conditions.append(on.type_key.in_(self.type_keys))
        return conditions

    def day_counts(self, session: Session, actor: Actor, zone: Any, group_by: tuple[str, ...],
                   ) -> list[tuple[Any, ...]] | None:
        """The scope's near misses summed by `group_by` from the day counts
        (core/reports/rollup.py), or None when they are not built for `zone`."""
        if not usable(session, zone):
            return None
        return day_count_rows(session, group_by, start=self.start, end=self.end,
                              service_sets=self._service_sets(actor),
                              type_keys=self.type_keys)

    def _service_sets(self, actor: Actor) -> tuple[Any, Any]:
        """The services a rollup is narrowed to: the viewer's (None: all) and the slice's."""
        return actor.service_ids, self.service_ids or None

    def _whole_weeks(self) -> tuple[date, date]:
        """The first Monday in the period and the Monday of its last week: the weeks between
        are whole, and the rollups by week can answer for them."""
        return self.start + timedelta(days=(7 - self.start.weekday()) % 7), week_start_of(self.end)

    def _cut_ends(self, first: date, last: date) -> list[Scope]:
        """The cut first and last weeks of a period that is not whole weeks (a quarter), each
        a scope of its own, counted from the reports."""
        return [replace(self, start=start, end=end)
                for start, end in ((self.start, first), (last, self.end)) if start < end]

    def reporter_weeks(self, session: Session, actor: Actor, zone: Any,
                       ) -> list[tuple[date, int | None, int | None, int]] | None:
        """The scope's near misses by (week, staff group, reporter): the whole weeks from the
        reporter weeks (core/reports/rollup.py), the cut first and last weeks of a period
        that is not whole weeks (a quarter) from the reports. None when the reporter weeks
        are not built for `zone`, or the period has no whole week."""
        first, last = self._whole_weeks()
        if first >= last or not usable(session, zone):
            return None

        def read() -> list[tuple[date, int | None, int | None, int]]:
            rows = reporter_week_rows(session, start=first, end=last,
                                      service_sets=self._service_sets(actor),
                                      type_keys=self.type_keys)
            week = week_start_sql(session, NearMissReport.occurred_at, zone)
            for part in self._cut_ends(first, last):
                rows.extend((as_date(w), g, r, n) for w, g, r, n in session.execute(
                    select(week, NearMissReport.staff_group_id, NearMissReport.reporter_id,
                           func.count()).where(*part.conditions(actor, zone))
                    .group_by(week, NearMissReport.staff_group_id, NearMissReport.reporter_id)))
            return rows

        # Kept for the session: the culture figures and the feedback measures both read them
        # (14 ms each at 100k reports on SQLite) when a page asks for both in one read.
        return kept_for_the_session(
            session, ("reporter weeks", self, actor.service_ids, str(zone)), read)

    def repeat_weeks(self, session: Session, actor: Actor, zone: Any, kind: str,
                     ) -> Counter[Any] | None:
        """The scope's near misses by place (`kind` "location") or person ("person"): the
        whole weeks from the place or person weeks (core/reports/rollup.py), the cut first
        and last weeks of a period that is not whole weeks from the reports. None when they
        are not built for `zone`, the period has no whole week, or the scope is narrowed to
        types and the person weeks do not keep them."""
        first, last = self._whole_weeks()
        if (first >= last or (kind == "person" and self.type_keys)
                or not usable(session, zone)):
            return None
        counts: Counter[Any] = Counter(dict(repeat_week_rows(
            session, kind, start=first, end=last,
            service_sets=self._service_sets(actor),
            type_keys=self.type_keys)))
        column = NearMissReport.location_id if kind == "location" else NearMissReport.person_id
        for part in self._cut_ends(first, last):
            counts.update(dict(session.execute(
                select(column, func.count())
                .where(*part.conditions(actor, zone), column.is_not(None))
                .group_by(column)).all()))
        return counts


def pseudonym(salt: str, person_id: int) -> str:
    """A person's pseudonym, stable within one view (same salt), never their reference."""
    digest = hmac.new(salt.encode(), str(person_id).encode(), hashlib.sha256).hexdigest()
    return f"Person {digest[:6].upper()}"


DIMENSIONS: dict[str, str] = {
    "type": "Type",
    "service": "Service",
    "location": "Location",
    "week": "Week",
    "weekday": "Day of week",
    "hour": "Hour of day",
    "staff_group": "Staff group",
    "route": "Route",
    "person": "Person supported (pseudonymised)",
    "barrier": "What stopped harm",
    "interface": "Interface",
}


def _dimension_query(session: Session, dimension: str, zone: Any,
                     ) -> tuple[Select, ColumnElement]:
    """The query selecting the grouping column (labelled "key"), and that column."""
    r = NearMissReport
    if dimension == "type":
        return select(NearMissType.name.label("key")).join(
            NearMissType, NearMissType.key == r.type_key), NearMissType.name
    if dimension == "service":
        return select(Service.name.label("key")).join(
            Service, Service.id == r.service_id), Service.name
    if dimension == "location":
        label = Service.name + literal(" · ") + Location.name
        return (select(label.label("key")).join(Location, Location.id == r.location_id)
                .join(Service, Service.id == r.service_id)), label
    if dimension == "week":
        week = week_start_sql(session, r.occurred_at, zone)
        return select(week.label("key")), week
    if dimension in ("weekday", "hour"):
        local = _local_parts(session, r.occurred_at, zone, dimension)
        return select(local.label("key")), local
    if dimension == "staff_group":
        name = func.coalesce(StaffGroup.name, literal("Not recorded"))
        return select(name.label("key")).outerjoin(
            StaffGroup, StaffGroup.id == r.staff_group_id), name
    if dimension == "route":
        name = func.coalesce(Route.name, literal("No route"))
        return select(name.label("key")).outerjoin(Route, Route.id == r.route_id), name
    if dimension == "person":
        return select(r.person_id.label("key")).where(r.person_id.is_not(None)), r.person_id
    if dimension == "barrier":
        return select(r.barrier.label("key")), r.barrier
    if dimension == "interface":
        name = func.coalesce(r.interface_flag, literal("none"))
        return select(name.label("key")), name
    raise ValueError(f"unknown dimension {dimension!r}")


def _local_parts(session: Session, column: ColumnElement, zone: Any,
                 part: str) -> ColumnElement:
    local = local_sql(session, column, zone)
    if session.get_bind().dialect.name == "postgresql":
        field_name = "isodow" if part == "weekday" else "hour"
        return cast(func.extract(field_name, local), Integer)
    shifted = local
    # SQLite: %w is 0 for Sunday; make it ISO (Monday 1 .. Sunday 7).
    if part == "weekday":
        return case((func.strftime("%w", shifted) == "0", 7),
                    else_=cast(func.strftime("%w", shifted), Integer))
    return cast(func.strftime("%H", shifted), Integer)


def breakdown(session: Session, actor: Actor, scope: Scope, dimension: str, *,
              salt: str = "", interface_labels: dict[str, str] | None = None,
              rules: Settings) -> pd.DataFrame:
    """Counts of near misses by one dimension: columns `key` (the label shown) and `count`."""
    require(actor, Capability.VIEW_GOVERNANCE)
    rows = _breakdown_from_day_counts(session, actor, scope, dimension, rules)
    if rows is None:
        query, key_column = _dimension_query(session, dimension, rules.zone)
        rows = session.execute(
            query.add_columns(func.count().label("count")).select_from(NearMissReport)
            .where(*scope.conditions(actor, rules.zone)).group_by(key_column)
            .order_by(func.count().desc())).all()
    frame = pd.DataFrame([(row[0], row[1]) for row in rows], columns=["key", "count"])
    if dimension == "week":
        frame["key"] = [as_date(k) for k in frame["key"]]
        frame = frame.sort_values("key").reset_index(drop=True)
    elif dimension == "weekday":
        frame["key"] = [WEEKDAYS[int(float(k)) - 1] for k in frame["key"]]
        frame["order"] = [WEEKDAYS.index(k) for k in frame["key"]]
        frame = frame.groupby("key", as_index=False).agg(count=("count", "sum"),
                                                         order=("order", "first"))
        frame = frame.sort_values("order").drop(columns="order").reset_index(drop=True)
    elif dimension == "hour":
        frame["key"] = [int(float(k)) for k in frame["key"]]
        frame = frame.groupby("key", as_index=False)["count"].sum().sort_values("key")
        frame = frame.reset_index(drop=True)
    elif dimension == "person":
        frame["key"] = [pseudonym(salt, int(k)) for k in frame["key"]]
    elif dimension == "barrier":
        frame["key"] = [BARRIER_LABELS[Barrier(k)] if k in Barrier._value2member_map_ else k
                        for k in frame["key"]]
    elif dimension == "interface":
        labels = {"none": "No interface", **(interface_labels or {})}
        frame["key"] = [labels.get(k, k) for k in frame["key"]]
    return frame


# Breakdowns the day counts answer: the column each groups by.
_DAY_COUNT_DIMENSIONS = {"type": "type_key", "service": "service_id", "week": "day",
                         "weekday": "day", "barrier": "barrier"}


def _breakdown_from_day_counts(session: Session, actor: Actor, scope: Scope, dimension: str,
                               rules: Settings) -> list[tuple[Any, int]] | None:
    """(key, count) rows as the breakdown's own query gives them (most first; a week as its
    Monday, a weekday as its ISO number), from the day counts; None when they cannot answer."""
    if dimension == "interface":
        return _interfaces_from_day_counts(session, actor, scope, rules)
    column = _DAY_COUNT_DIMENSIONS.get(dimension)
    rows = None if column is None else scope.day_counts(session, actor, rules.zone, (column,))
    if rows is None:
        return None
    names: dict[Any, Any] = {}
    if dimension == "type":
        names = dict(session.execute(select(NearMissType.key, NearMissType.name)).all())
    elif dimension == "service":
        names = dict(session.execute(select(Service.id, Service.name)).all())
    totals: dict[Any, int] = {}
    for key, count in rows:
        if dimension == "week":
            key = week_start_of(key)
        elif dimension == "weekday":
            key = key.isoweekday()
        else:
            key = names.get(key, key)
        totals[key] = totals.get(key, 0) + count
    return sorted(totals.items(), key=lambda pair: -pair[1])


def _interfaces_from_day_counts(session: Session, actor: Actor, scope: Scope,
                                rules: Settings) -> list[tuple[Any, int]] | None:
    """(flag, count) rows, "none" for the reports with no interface: the flagged few counted
    from the reports (a partial index holds them), the rest as the day counts' total less
    them. None when the day counts cannot answer."""
    totals = scope.day_counts(session, actor, rules.zone, ())
    if totals is None:
        return None
    flag = NearMissReport.interface_flag
    flagged = [(key, int(n)) for key, n in session.execute(
        select(flag, func.count()).where(*scope.conditions(actor, rules.zone),
                                         flag.is_not(None)).group_by(flag))]
    unflagged = sum(n for (n,) in totals) - sum(n for _key, n in flagged)
    rows = flagged + ([("none", unflagged)] if unflagged else [])
    return sorted(rows, key=lambda pair: -pair[1])


def weekly_series(session: Session, actor: Actor, scope: Scope, *,
                  rules: Settings,
                  extra: list[ColumnElement[bool]] | None = None) -> pd.Series:
    """Near misses per local week over the scope, every week present (zeros included)."""
    require(actor, Capability.VIEW_GOVERNANCE)
    days = None if extra else scope.day_counts(session, actor, rules.zone, ("day",))
    if days is not None:
        counts = by_week(days)
    else:
        week = week_start_sql(session, NearMissReport.occurred_at, rules.zone)
        counts = {as_date(w): n for w, n in session.execute(select(week, func.count()).where(
            *scope.conditions(actor, rules.zone), *(extra or [])).group_by(week))}
    weeks = []
    monday = week_start_of(scope.start)
    while monday < scope.end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return pd.Series([counts.get(w, 0) for w in weeks], index=pd.DatetimeIndex(weeks),
                     name="near misses", dtype="int64")


def barrier_mix(session: Session, actor: Actor, scope: Scope, *,
                rules: Settings) -> pd.DataFrame:
    """Near misses per month by what stopped harm (staff recovery vs designed controls)."""
    require(actor, Capability.VIEW_GOVERNANCE)
    rows = scope.day_counts(session, actor, rules.zone, ("day", "barrier"))
    if rows is None:
        day = day_sql(session, NearMissReport.occurred_at, rules.zone)
        rows = session.execute(select(day, NearMissReport.barrier, func.count()).where(
            *scope.conditions(actor, rules.zone)).group_by(day, NearMissReport.barrier)).all()
    frame = pd.DataFrame([(as_date(d), b, n) for d, b, n in rows],
                         columns=["day", "barrier", "count"])
    if frame.empty:
        return pd.DataFrame(columns=["month", "barrier", "count"])
    frame["month"] = [d.replace(day=1) for d in frame["day"]]
    frame["barrier"] = [BARRIER_LABELS[Barrier(b)] for b in frame["barrier"]]
    return frame.groupby(["month", "barrier"], as_index=False)["count"].sum()


@dataclass(frozen=True)
class Culture:
    """Do staff feel safe to report? (seed 1, "What governance should review")."""

    reports: int
    distinct_reporters: int
    anonymous_share: float
    median_hours_to_triage: float | None
    median_minutes_to_acknowledge: float | None
    acknowledged_late_share: float | None
    by_staff_group: pd.DataFrame = field(repr=False)
    monthly: pd.DataFrame = field(repr=False)


def _hours_between(session: Session, start: ColumnElement, end: ColumnElement
                   ) -> ColumnElement:
    """SQL for the hours from one stored timestamp to another."""
    if session.get_bind().dialect.name == "postgresql":
        # date_part gives a double; EXTRACT gives a numeric since PostgreSQL 14, and sorting
        # 700,000 numerics for a median took 0.2 s more.
        return func.date_part("epoch", end - start) / 3600.0
    return (func.julianday(end) - func.julianday(start)) * 24.0


# Days from filing to triage, as migration 0027's SQLite index holds it (the same expression, or
# SQLite will not use the index).
DAYS_TO_TRIAGE = func.julianday(NearMissReport.triaged_at) - func.julianday(
    NearMissReport.reported_at)
DAYS_TO_TRIAGE_INDEX = "ix_near_miss_reports_days_to_triage"
REPORTS_BY_ID_INDEX = "ix_near_miss_reports_by_id"  # by id, with the columns a scope narrows by
# Up to this many triaged reports, their days are read and sorted here (about 10 ms on SQLite);
# the index walk passes over the reports outside the scope too, so it pays only for a scope
# that holds a good share of them (at 100k reports a year of the provider: 70,000 times, 134 ms
# read and sorted, 22 ms walked; one service's quarter: 3,400 times, 11 ms read, 13 ms walked).
SORTED_HERE_UP_TO = 10_000


def _median_hours_to_triage(session: Session, where: list[ColumnElement[bool]]
                            ) -> float | None:
    """The median hours from filing to triage of the reports matching `where`."""
    triaged = NearMissReport.triaged_at.is_not(None)
    if session.get_bind().dialect.name == "postgresql":  # its own ordered-set aggregate
        median = session.scalar(select(func.percentile_cont(0.5).within_group(
            _hours_between(session, NearMissReport.reported_at, NearMissReport.triaged_at)))
            .where(*where, triaged))
        return None if median is None else float(median)
    # SQLite has no ordered-set aggregate. Count the triaged reports first.
    count = session.scalar(select(func.count()).where(*where, triaged)) or 0
    if not count:
        return None
    days = select(DAYS_TO_TRIAGE).where(*where, triaged)
    if count <= SORTED_HERE_UP_TO:
        return statistics.median(session.scalars(days)) * 24.0
    # Many: walk the index of days to triage, in order, to the middle one or two, leaving out
    # on the way those outside the scope (the index holds every column a scope narrows by).
    # The planner would rather sort the period's rows, so the index is named.
    middle = list(session.scalars(
        days.with_hint(NearMissReport, f"INDEXED BY {DAYS_TO_TRIAGE_INDEX}", "sqlite")
        .order_by(DAYS_TO_TRIAGE).offset((count - 1) // 2).limit(2 - count % 2)))
    return statistics.fmean(middle) * 24.0


def _acknowledgements(session: Session, where: list[ColumnElement[bool]]
                      ) -> tuple[float | None, int, int]:
    """Escalations of the period's reports: median hours to acknowledge, how many were
    acknowledged, how many of those late."""
    hours = _hours_between(session, Escalation.raised_at, Escalation.acknowledged_at)
    acknowledged = Escalation.acknowledged_at.is_not(None)
    late_count = func.count().filter(Escalation.acknowledged_at > Escalation.due_at)
    if session.get_bind().dialect.name == "postgresql":
        # One pass over the join, which is as large as the period's escalations.
        median, count, late = session.execute(
            select(func.percentile_cont(0.5).within_group(hours), func.count(), late_count)
            .select_from(NearMissReport)
            .join(Escalation, Escalation.report_id == NearMissReport.id)
            .where(*where, acknowledged)).one()
        return (None if median is None else float(median)), count or 0, late or 0
    # SQLite: each acknowledgement's hours and whether it was late, in one read; the median
    # and the count of late ones taken here. Read from the escalations (about one for nine
    # reports), each report found by its id in the index that holds the scope's columns:
    # the planner would rather look up escalations for every report of the period (a year at
    # 100k reports, 8,122 acknowledgements: 21.5 ms in SQLite, against 13.3 ms this way).
    rows = session.execute(select(hours, Escalation.acknowledged_at > Escalation.due_at)
                           .select_from(NearMissReport)
                           .with_hint(NearMissReport, f"INDEXED BY {REPORTS_BY_ID_INDEX}",
                                      "sqlite")
                           .join(Escalation, Escalation.report_id == NearMissReport.id)
                           .where(*where, acknowledged)).all()
    values = [float(v) for v, _late in rows if v is not None]
    return ((statistics.median(values) if values else None), len(rows),
            sum(1 for _v, late in rows if late))


# Figures that read every triaged report or every feedback link of a period (the medians of
# time to triage, to acknowledge and to first feedback: 0.3-0.7 s each at a million), kept by
# (what, database, timings version, scope, the viewer's services, zone). A filed report moves
# the data version but not them: the timings version moves only with what they read
# (core/reports/rollup.py).
T = TypeVar("T")
_TIMINGS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_TIMINGS_KEPT = 64
_TIMINGS_LOCK = threading.Lock()


def forget_timings() -> None:
    """Empty the kept medians (benchmarks timing a cold page)."""
    with _TIMINGS_LOCK:
        _TIMINGS.clear()


def kept_by_timings(session: Session, what: str, actor: Actor, scope: Scope, rules: Settings,
                    compute: Callable[[], T]) -> T:
    """`compute()`, kept until the timings version moves (computed afresh each time while the
    rollups are not built, as nothing keeps that version then)."""
    version = timings_version(session)  # read first: a later write can only make it newer
    if version is None:
        return compute()
    key = (what, str(session.get_bind().url), version, scope, actor.service_ids,
           rules.zone.key)
    with _TIMINGS_LOCK:
        if key in _TIMINGS:
            _TIMINGS.move_to_end(key)
            return _TIMINGS[key]  # type: ignore[no-any-return]
    found = compute()
    with _TIMINGS_LOCK:
        _TIMINGS[key] = found
        while len(_TIMINGS) > _TIMINGS_KEPT:
            _TIMINGS.popitem(last=False)
    return found


def _timings(session: Session, actor: Actor, scope: Scope, where: list[ColumnElement[bool]],
             rules: Settings) -> tuple[float | None, tuple[float | None, int, int]]:
    """(median hours to triage, (median hours to acknowledge, acknowledged, late))."""
    def compute() -> tuple[float | None, tuple[float | None, int, int]]:
        return _median_hours_to_triage(session, where), _acknowledgements(session, where)

    return kept_by_timings(session, "culture", actor, scope, rules, compute)


def reporting_culture(session: Session, actor: Actor, scope: Scope, *,
                      rules: Settings) -> Culture:
    """Volume, reporters, anonymity, time to triage, time to acknowledge escalations."""
    require(actor, Capability.VIEW_GOVERNANCE)
    where = scope.conditions(actor, rules.zone)
    # The period's near misses by (week, staff group, reporter), from the reporter weeks (or
    # one pass over the reports): the totals, the distinct reporters overall, by staff group
    # and by week all follow from these few rows, where separate COUNT(DISTINCT) queries
    # would each read the period again.
    rows = scope.reporter_weeks(session, actor, rules.zone)
    if rows is None:
        week = week_start_sql(session, NearMissReport.occurred_at, rules.zone)
        rows = session.execute(
            select(week, NearMissReport.staff_group_id, NearMissReport.reporter_id,
                   func.count()).where(*where)
            .group_by(week, NearMissReport.staff_group_id, NearMissReport.reporter_id)).all()
    grouped = pd.DataFrame(rows, columns=["week", "staff_group_id", "reporter_id", "reports"])
    total = int(grouped["reports"].sum())
    reporters = int(grouped["reporter_id"].nunique())
    anonymous = int(grouped.loc[grouped["reporter_id"].isna(), "reports"].sum())
    triage_hours, (ack_hours, acknowledged, late) = _timings(session, actor, scope, where,
                                                             rules)
    group_names = dict(session.execute(select(StaffGroup.id, StaffGroup.name)).all())
    grouped["staff group"] = grouped["staff_group_id"].map(
        lambda group: group_names.get(group, "Not recorded") if pd.notna(group)
        else "Not recorded")
    groups = (grouped.groupby("staff group", sort=False)
              .agg(reports=("reports", "sum"), reporters=("reporter_id", "nunique"))
              .reset_index()
              .sort_values(["reports", "staff group"], ascending=[False, True]))
    grouped["week"] = grouped["week"].map(as_date)
    weekly = (grouped.groupby("week")
              .agg(reports=("reports", "sum"), reporters=("reporter_id", "nunique"))
              .reset_index().sort_values("week"))
    return Culture(
        reports=total, distinct_reporters=reporters,
        anonymous_share=anonymous / total if total else 0.0,
        median_hours_to_triage=triage_hours,
        median_minutes_to_acknowledge=ack_hours * 60 if ack_hours is not None else None,
        acknowledged_late_share=late / acknowledged if acknowledged else None,
        by_staff_group=groups.reset_index(drop=True),
        monthly=weekly.reset_index(drop=True))


@dataclass(frozen=True)
class ControlStrength:
    actions_by_strength: dict[str, int]
    verified_effective: int
    verdicts: int
    overdue: int
    open_actions: int

    @property
    def verified_share(self) -> float | None:
        return self.verified_effective / self.verdicts if self.verdicts else None


def control_strength(session: Session, actor: Actor, *, today: date) -> ControlStrength:
    """Actions by strength, share of verdicts that were "effective", overdue actions."""
    require(actor, Capability.VIEW_GOVERNANCE)
    visible = (Action.service_id.in_(actor.service_ids) | Action.service_id.is_(None)
               if actor.service_ids is not None else Action.id.is_not(None))
    by_strength = dict(session.execute(select(Action.strength, func.count()).where(
        visible).group_by(Action.strength)).all())
    statuses = dict(session.execute(select(Action.status, func.count()).where(
        visible).group_by(Action.status)).all())
    overdue = session.scalar(select(func.count()).select_from(Action).where(
        visible, Action.deadline < today,
        Action.status.in_((ActionStatus.PLANNED.value, ActionStatus.IN_PROGRESS.value)))) or 0
    effective = statuses.get(ActionStatus.VERIFIED_EFFECTIVE.value, 0)
    verdicts = effective + statuses.get(ActionStatus.NOT_EFFECTIVE.value, 0)
    open_count = sum(statuses.get(s.value, 0) for s in ActionStatus if s.open)
    return ControlStrength(by_strength, effective, verdicts, overdue, open_count)


@dataclass(frozen=True)
class Repeat:
    """Something near misses keep happening to or at, and what is being done about it."""

    kind: str  # person | location | type
    label: str
    count: int
    last: datetime
    action_status: str | None  # the most advanced action status among linked plans, if any
    key: Any = None  # the person's, location's or type's own key (never shown)


def with_pseudonyms(found: Sequence[Repeat], salt: str) -> list[Repeat]:
    """The repeats with each person's label made from `salt`: the figures can be computed
    once for everyone who looks, and each view still gets pseudonyms of its own."""
    return [replace(r, label=pseudonym(salt, int(r.key))) if r.kind == "person" else r
            for r in found]


def repeats(session: Session, actor: Actor, scope: Scope, *, minimum: int = 3,
            salt: str = "", limit: int = 20, rules: Settings) -> list[Repeat]:
    """Repeating near misses by person (pseudonymised), location and type in the period."""
    require(actor, Capability.VIEW_GOVERNANCE)
    where = scope.conditions(actor, rules.zone)
    columns = {"person": NearMissReport.person_id, "location": NearMissReport.location_id,
               "type": NearMissReport.type_key}
    # The statuses of the actions serving the period's reports, by person, place and type: one
    # read of the plans' links (few), which carry their reports' details, not a join from the
    # period's reports per kind.
    statuses: dict[tuple[str, Any], set[str]] = {}
    for person, location, type_key, status in session.execute(
            select(ActionPlanReport.person_id, ActionPlanReport.location_id,
                   ActionPlanReport.type_key, Action.status).distinct()
            .join(Action, Action.plan_id == ActionPlanReport.plan_id)
            .where(*scope.conditions(actor, rules.zone, on=ActionPlanReport))):
        for kind, key in (("person", person), ("location", location), ("type", type_key)):
            statuses.setdefault((kind, key), set()).add(status)
    labels = _repeat_labels(session)
    found: list[Repeat] = []
    for kind, column in columns.items():
        # Counted from the day counts (types) or the place and person weeks; None when
        # those cannot say, and the reports are counted below.
        counted = (scope.day_counts(session, actor, rules.zone, ("type_key",)) if kind == "type"
                   else scope.repeat_weeks(session, actor, rules.zone, kind))
        rows = None if counted is None else _most_repeated(
            session, where, column, dict(counted), minimum, limit)
        if rows is None:
            rows = session.execute(
                select(column, func.count(), func.max(NearMissReport.occurred_at))
                .where(*where, column.is_not(None)).group_by(column)
                .having(func.count() >= minimum).order_by(func.count().desc(), column)
                .limit(limit)).all()
        for key, count, last in rows:
            label = (pseudonym(salt, int(key)) if kind == "person"
                     else labels[kind].get(key, "? · ?" if kind == "location" else str(key)))
            found.append(Repeat(kind, label, count, last,
                                best_status(statuses.get((kind, key), set())), key))
    return found


def _most_repeated(session: Session, where: list[ColumnElement[bool]], column: Any,
                   counted: Mapping[Any, int], minimum: int, limit: int,
                   ) -> list[tuple[Any, int, datetime]]:
    """The `limit` keys of `column` counted at least `minimum` times, as (key, count, latest),
    most first (ties in key order), each one's latest report found by its own index."""
    repeating = sorted(((key, n) for key, n in counted.items() if n >= minimum),
                       key=lambda pair: (-pair[1], pair[0]))[:limit]
    if not repeating:
        return []
    latest = dict(session.execute(union_all(*(
        select(literal(key).label("key"), func.max(NearMissReport.occurred_at))
        .where(*where, column == key) for key, _ in repeating))).all())
    return [(key, n, latest[key]) for key, n in repeating]


def _repeat_labels(session: Session) -> dict[str, dict[Any, str]]:
    """How the repeats name places ("Service · Location") and types, read once (one read per
    repeat took a fifth of the repeats' time)."""
    places = {location_id: f"{service} · {location}" for location_id, service, location in
              session.execute(select(Location.id, Service.name, Location.name)
                              .join(Service, Service.id == Location.service_id))}
    types = dict(session.execute(select(NearMissType.key, NearMissType.name)).all())
    return {"location": places, "type": types}


def drill_down(session: Session, actor: Actor, scope: Scope, dimension: str, key: Any, *,
               salt: str = "", limit: int = 200, interface_labels: dict[str, str] | None = None,
               rules: Settings) -> pd.DataFrame:
    """The reports behind one bar of a breakdown (for roles that may open reports)."""
    require(actor, Capability.VIEW_REPORT)
    where = scope.conditions(actor, rules.zone)
    if dimension == "person":
        people = session.scalars(select(NearMissReport.person_id).where(
            *where, NearMissReport.person_id.is_not(None)).distinct())
        wanted = [p for p in people if pseudonym(salt, p) == key]
        where.append(NearMissReport.person_id.in_(wanted))
    elif dimension in ("barrier", "interface"):
        labels = ({b.value: b.label for b in Barrier} if dimension == "barrier"
                  else {"none": "No interface", **(interface_labels or {})})
        raw = next((k for k, label in labels.items() if label == key), key)
        column = NearMissReport.barrier if dimension == "barrier" else func.coalesce(
            NearMissReport.interface_flag, literal("none"))
        where.append(column == raw)
    elif dimension in ("type", "service", "location", "staff_group", "route"):
        _query, column = _dimension_query(session, dimension, rules.zone)
        where.append(column == key)
    else:
        raise ValueError(f"no drill-down by {dimension!r}")
    rows = session.execute(
        select(NearMissReport.reference, NearMissReport.occurred_at, NearMissType.name,
               Service.name + literal(" · ") + Location.name, NearMissReport.barrier,
               NearMissReport.status)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .join(Service, Service.id == NearMissReport.service_id)
        .join(Location, Location.id == NearMissReport.location_id)
        .outerjoin(StaffGroup, StaffGroup.id == NearMissReport.staff_group_id)
        .outerjoin(Route, Route.id == NearMissReport.route_id)
        .where(*where).order_by(NearMissReport.occurred_at.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=["reference", "occurred", "type", "location",
                                        "barrier", "status"])
    frame["barrier"] = [BARRIER_LABELS[Barrier(b)] for b in frame["barrier"]]
    return frame


# A chart numbers its go-lives and a table below names them (core.metrics.go_lives); more
# than this many numbers and the table stops being read in a meeting.
MARKED_CONTROLS = 12


class ControlMark(NamedTuple):
    """A control's go-live as a chart marks it: the day, the label (action title and plan
    title: user text, for the legend table only) and the action's strength."""

    day: date
    label: str
    strength: str = ""


@dataclass(frozen=True)
class ControlMarks:
    """Controls that went live in a period, as a chart marks them: `marks` in date order, at
    most MARKED_CONTROLS of them; `total` how many went live in all."""

    marks: list[ControlMark]
    total: int


def control_rows(session: Session, scope: Scope, service_ids: tuple[int, ...] | None,
                 ) -> list[tuple[date, str, str, str, int]]:
    """Actions that went live in the scope's period, relevant to its slice: (go-live date,
    action title, plan title, kind, reports the plan links), the best evidenced first.

    Relevant means: provider-wide or at one of the slice's services (and `service_ids`, the
    viewer's, when not None), and, for a slice of types, a plan that links one of them."""
    linked = (select(ActionPlanReport.plan_id, func.count().label("reports"))
              .group_by(ActionPlanReport.plan_id).subquery())
    query = (select(Action.go_live_date, Action.title, ActionPlan.title,
                    Action.strength_category, func.coalesce(linked.c.reports, 0))
             .join(ActionPlan, ActionPlan.id == Action.plan_id)
             .outerjoin(linked, linked.c.plan_id == Action.plan_id)
             .where(Action.go_live_date.is_not(None), Action.go_live_date >= scope.start,
                    Action.go_live_date < scope.end))
    for services in (service_ids, scope.service_ids or None):
        if services is not None:
            query = query.where(Action.service_id.in_(services) | Action.service_id.is_(None))
    if scope.type_keys:
        query = query.where(
            select(ActionPlanReport.report_id)
            .where(ActionPlanReport.plan_id == Action.plan_id,
                   ActionPlanReport.type_key.in_(scope.type_keys)).exists()
            | ActionPlan.cluster_type_key.in_(scope.type_keys))
    rows = [(d, t, p, k, int(n)) for d, t, p, k, n in session.execute(query)]
    # Strongest evidence first: most linked reports, then the later go-live.
    rows.sort(key=lambda row: (-row[4], -row[0].toordinal()))
    return rows


def marks_of(rows: list[Any], total: int | None = None) -> ControlMarks:
    """The first MARKED_CONTROLS of `rows` ((day, label, ...), already best first), in date
    order (same-day marks by label, so a chart numbers them alike on either database)."""
    kept = sorted(rows[:MARKED_CONTROLS], key=lambda mark: (mark[0], mark[1]))
    return ControlMarks(kept, len(rows) if total is None else total)


def go_live_dates(session: Session, actor: Actor, scope: Scope) -> ControlMarks:
    """Controls that went live in the period, to mark on charts and rebase at: those that
    concern the chart's services and types, at most MARKED_CONTROLS (the best evidenced)."""
    require(actor, Capability.VIEW_GOVERNANCE)
    rows = control_rows(session, scope, actor.service_ids)
    return marks_of([ControlMark(d, f"{t} ({p})", KINDS_BY_KEY[kind].strength.label
                                 if kind in KINDS_BY_KEY else "")
                     for d, t, p, kind, _n in rows])
