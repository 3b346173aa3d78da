"""Cluster episodes: found by the cluster rule, kept current, decided on by people.

The rule itself is pure (`core.triage.cluster_rule`); this module feeds it the counts and
keeps its findings in `cluster_episodes`:

- **At filing**, in the filing transaction: the windows that hold the new report are scanned
  (cheap counts first; most reports cannot make a cluster and stop there). A new burst opens an
  episode; a burst that goes on extends its episode; an acknowledged or dismissed episode that
  has grown well past what was seen opens again (`cluster_rule.has_grown`).
- **After bulk loads** (CSV import, demo data) `recompute_episodes` scans the whole history the
  same way and merges what it finds with the stored episodes, keeping their statuses.
- **People** acknowledge an episode, dismiss it with a reason, or build an action plan from it
  (or from its reports), which links it. Supervisors decide for the services they cover,
  quality leads for every service; each decision is audited (core.triage.episode_decisions).

A region episode stands for a burst across services; a service episode it turned out to be
part of points at it and is listed inside it, never beside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.auth.actor import Actor
from core.auth.roles import Role
from core.clock import to_local
from core.config import Settings, TriageRules
from core.db import storable_id
from core.errors import (
    PermissionDenied,
    ValidationFailed,
)
from core.organisation.models import Service
from core.reports.models import NearMissReport
from core.reports.rollup import day_count_rows, service_sums, usable
from core.taxonomy.models import NearMissType
from core.triage import cluster_rule
from core.triage.cluster_rule import Episode, TypeDays
from core.triage.models import ClusterEpisode
from core.triage.service import mark_cluster
from core.triage.vocabulary import EpisodeStatus
from core.uow import UnitOfWork
from core.weeks import as_date, day_sql, local_midnight_utc

# The statuses a growing episode leaves to open again; a linked one has a plan answering it.
REOPEN_ON_GROWTH = frozenset({EpisodeStatus.ACKNOWLEDGED, EpisodeStatus.DISMISSED})


# -- what is watched -------------------------------------------------------------------------


@dataclass(frozen=True)
class Watched:
    """The series the rule watches: every type in every service and in every region."""

    services: tuple[int, ...]
    regions: dict[int, tuple[int, ...]]  # regions of two or more services (watched as such)
    region_of: dict[int, int]  # each service of such a region: its region
    types: int
    region_members: dict[int, tuple[int, ...]] = field(default_factory=dict)  # every region

    def budget(self, rules: TriageRules) -> float:
        """Chance alerts a year each series may raise (see cluster_rule.series_budget)."""
        return cluster_rule.series_budget(
            rules, services=len(self.services),
            series=cluster_rule.watched_series(self.types, len(self.services),
                                               len(self.regions)))

    def members(self, scope: str, scope_id: int) -> tuple[int, ...]:
        """The services of a service or region episode."""
        return self.region_members.get(scope_id, ()) if scope == "region" else (scope_id,)

    def scopes_of(self, service_id: int) -> tuple[int, ...]:
        """The service and the other services of its region (the reports that can cluster
        with one of this service's)."""
        region = self.region_of.get(service_id)
        return self.regions[region] if region is not None else (service_id,)


def watched(session: Session) -> Watched:
    """Every service (active or not: its reports still count) and live type."""
    rows = session.execute(select(Service.id, Service.region_id).order_by(Service.id)).all()
    regions: dict[int, list[int]] = defaultdict(list)
    for service_id, region_id in rows:
        if region_id is not None:
            regions[region_id].append(service_id)
    types = session.scalar(select(func.count()).select_from(NearMissType).where(
        NearMissType.active.is_(True))) or 1
    return Watched(tuple(r[0] for r in rows),
                   {r: tuple(m) for r, m in regions.items() if len(m) >= 2},
                   {s: r for s, r in rows if r is not None and len(regions[r]) >= 2}, types,
                   {r: tuple(m) for r, m in regions.items()})


# -- counts for the rule ---------------------------------------------------------------------


def _first_report_day(session: Session, rules: Settings) -> date | None:
    first = session.scalar(select(func.min(NearMissReport.occurred_at)))
    return to_local(first, rules.zone).date() if first is not None else None


def _local_days(session: Session, rules: Settings,
                ) -> tuple[ColumnElement[Any], Callable[[object], date]]:
    """SQL that groups reports by local day, and the local day of each group's key.

    SQLite groups per UTC hour (a prefix of the stored text) and each hour goes to the local
    day of its middle: exact wherever the offset is whole hours, and many times faster than a
    local-time expression per report. PostgreSQL converts each report exactly.
    """
    if session.get_bind().dialect.name == "postgresql":
        return day_sql(session, NearMissReport.occurred_at, rules.zone), as_date

    def local_day(key: object) -> date:
        text = str(key)  # "YYYY-MM-DD HH"
        hour = datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), 30)
        return to_local(hour, rules.zone).date()

    return func.substr(NearMissReport.occurred_at, 1, 13), local_day


def _between(lo: date, hi: date, rules: Settings) -> ColumnElement[bool]:
    """Reports that happened on local days lo .. hi (inclusive)."""
    return and_(NearMissReport.occurred_at >= local_midnight_utc(lo, rules.zone),
                NearMissReport.occurred_at < local_midnight_utc(hi + timedelta(days=1),
                                                                rules.zone))


def _history(session: Session, origin: date, end: date, w: Watched, first: date,
             rules: Settings) -> dict[str, TypeDays]:
    """Daily counts per type and service over local days [origin, end), one SQL aggregate."""
    bucket, local_day = _local_days(session, rules)
    query = (select(NearMissReport.type_key, NearMissReport.service_id, bucket, func.count())
             .where(_between(origin, end - timedelta(days=1), rules))
             .group_by(NearMissReport.type_key, NearMissReport.service_id, bucket))
    length = (end - origin).days
    counts: dict[str, dict[int, list[int]]] = defaultdict(
        lambda: {s: [0] * length for s in w.services})
    days: dict[object, date] = {}
    for type_key, service_id, key, count in session.execute(query):
        when = days.get(key) or days.setdefault(key, local_day(key))
        offset = (when - origin).days
        if 0 <= offset < length and service_id in counts[type_key]:
            counts[type_key][service_id][offset] += count
    first_offset = max(0, (first - origin).days)
    return {t: TypeDays(by_service, w.regions, length, first_offset)
            for t, by_service in counts.items()}


def _filing_history(session: Session, type_key: str, day: date, last: date, w: Watched,
                    first: date, service_id: int, rules: Settings) -> tuple[date, TypeDays]:
    """Counts of one type in a service and its region, enough to scan the windows ending on
    `day` .. `last`, with the new report (not stored yet) on `day`.

    Those windows and both ends of their baselines are read day by day; the stretch that every
    baseline holds whole is one count per service, put on its first day; the type's rate
    across all services is one count, over the first window's baseline.
    """
    rule = rules.triage
    window, baseline = rule.cluster_window_days, rule.cluster_baseline_days
    origin = day - timedelta(days=window + baseline - 1)
    length = (last - origin).days + 1
    early_end = day - timedelta(days=baseline)  # the last day a baseline may start on
    recent_start = day - timedelta(days=window)  # the first day a baseline may end on
    exact: list[tuple[date, date]] = [(origin, last)]
    lumped: tuple[date, date] | None = None
    if first <= origin and (recent_start - early_end).days > 2:
        exact = [(origin, early_end), (recent_start, last)]
        lumped = (early_end + timedelta(days=1), recent_start - timedelta(days=1))
    members = w.scopes_of(service_id)
    counts = {s: [0] * length for s in members}
    for lo, hi in exact:
        for member, day_, count in _per_service_day(session, type_key, members, lo, hi, rules):
            offset = (day_ - origin).days
            if 0 <= offset < length:
                counts[member][offset] += count
    base_start = max(origin, first)
    base_days = (recent_start - base_start).days + 1
    # The lumped stretch in the service and its region, and the type in every service over
    # the first window's baseline: one statement.
    in_lump, in_base = _sums_by_service(
        session, type_key, w.services,
        [lumped or (day, origin), (base_start, recent_start)], rules)  # (day, origin): none
    if lumped is not None:
        for member in members:
            counts[member][(lumped[0] - origin).days] += in_lump.get(member, 0)
    counts[service_id][(day - origin).days] += 1
    type_rate = 0.0
    if base_days > 0:
        type_rate = sum(in_base.values()) / (base_days * len(w.services))
    regions = {r: m for r, m in w.regions.items() if m == members}
    return origin, TypeDays(counts, regions, length, max(0, (first - origin).days),
                            type_per_service_day=type_rate)


# The counts a filing's scan needs come from the day counts when they are built for the zone
# (core/reports/rollup.py: kept in the same transaction as every report written), else from
# the reports. At a million reports the reports' counts took 28 ms of each filing.

def _per_service_day(session: Session, type_key: str, services: Iterable[int], lo: date,
                     hi: date, rules: Settings) -> list[tuple[int, date, int]]:
    """(service, local day, reports) of a type on local days lo .. hi (inclusive)."""
    if usable(session, rules.zone):
        return [(member, day_, int(count)) for member, day_, count in day_count_rows(
            session, ("service_id", "day"), start=lo, end=hi + timedelta(days=1),
            service_sets=(tuple(services),), type_keys=(type_key,))]
    bucket, local_day = _local_days(session, rules)
    return [(member, local_day(key), count) for member, key, count in session.execute(
        select(NearMissReport.service_id, bucket, func.count())
        .where(_members(type_key, services, lo, hi, rules))
        .group_by(NearMissReport.service_id, bucket))]


def _per_service_in_reports(session: Session, type_key: str, services: Iterable[int], lo: date,
                            hi: date, rules: Settings) -> list[tuple[int, int]]:
    """(service, reports) of a type on local days lo .. hi (inclusive), counted from the
    reports (the day counts' sums are `_sums_by_service`'s)."""
    return [(member, count) for member, count in session.execute(
        select(NearMissReport.service_id, func.count())
        .where(_members(type_key, services, lo, hi, rules))
        .group_by(NearMissReport.service_id))]


def _cannot_fire(session: Session, report: NearMissReport, day: date, last: date, w: Watched,
                 budget: float, rules: Settings) -> bool:
    """True when no window holding this report can reach its threshold, from a few counts:
    the most any such window can hold against the least its threshold can be (its own usual
    rate and the floor; borrowing only raises a threshold)."""
    rule = rules.triage
    window, baseline = rule.cluster_window_days, rule.cluster_baseline_days
    lo = day - timedelta(days=window - 1)
    floor = rule.cluster_usual_floor_per_week / 7 * window
    scopes = [(report.service_id,)]
    if report.service_id in w.region_of:
        scopes.append(w.scopes_of(report.service_id))
    # Every baseline of those windows holds these days.
    common_lo = last - timedelta(days=window + baseline - 1)
    common_hi = day - timedelta(days=window)
    recent, common = _sums_by_service(session, report.type_key, scopes[-1],
                                      [(lo, last), (common_lo, common_hi)], rules)
    for members in reversed(scopes):  # the region first: it holds the service's reports too
        most = sum(recent.get(member, 0) for member in members) + 1
        if most < cluster_rule.threshold(floor, budget, rule):
            return True  # nor can the service's, with fewer reports
        usual = max(sum(common.get(member, 0) for member in members) / baseline * window,
                    floor * len(members))
        if most >= cluster_rule.threshold(usual, budget, rule):
            return False
    return True


def _sums_by_service(session: Session, type_key: str, services: tuple[int, ...],
                     spans: list[tuple[date, date]], rules: Settings) -> list[dict[int, int]]:
    """Reports of a type by service on local days lo .. hi (inclusive; none where hi < lo)
    of each span: from the day counts in one statement, else from the reports."""
    if usable(session, rules.zone):
        sums = service_sums(session, type_key, services,
                            [(lo, hi + timedelta(days=1)) for lo, hi in spans])
        return [{member: counts[i] for member, counts in sums.items() if counts[i]}
                for i in range(len(spans))]
    return [dict(_per_service_in_reports(session, type_key, services, lo, hi, rules))
            if lo <= hi else {} for lo, hi in spans]


# -- storing what the rule found -------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    row: ClusterEpisode
    change: str  # opened | extended | grew | unchanged
    before: dict[str, Any] | None  # the stored episode before it was merged with this one


def _scope_filter(scope: str, scope_id: int) -> Any:
    if scope == "region":
        return and_(ClusterEpisode.scope == "region", ClusterEpisode.region_id == scope_id)
    return and_(ClusterEpisode.scope == "service", ClusterEpisode.service_id == scope_id)


def _members(type_key: str, services: Iterable[int], first: date, last: date,
             rules: Settings) -> ColumnElement[bool]:
    """The reports of a type in some services on local days first .. last (an episode's, or
    a window's the scan counts)."""
    return and_(NearMissReport.type_key == type_key,
                NearMissReport.service_id.in_(list(services)), _between(first, last, rules))


def _member_ids(session: Session, type_key: str, services: Iterable[int], first: date,
                last: date, rules: Settings) -> list[int]:
    return list(session.scalars(select(NearMissReport.id).where(
        _members(type_key, services, first, last, rules))
        .order_by(NearMissReport.occurred_at, NearMissReport.id)))


# The action plan already serving some of these reports, or None. Action plans sit above
# triage, so whoever calls the scans hands this in (core.actions.episodes.serving_plan): a
# new episode is born linked to that plan.
ServingPlan = Callable[[Session, list[int]], int | None]


def _store(session: Session, w: Watched, type_key: str, found: Episode, origin: date,
           now: datetime, rules: Settings, serving_plan: ServingPlan) -> Stored:
    """Merge one episode the rule found with the stored one it continues, or store it."""
    first = origin + timedelta(days=found.first_day)
    opened_on = origin + timedelta(days=found.opened_on)
    last = origin + timedelta(days=found.last_day)
    same_series = and_(ClusterEpisode.type_key == type_key,
                       _scope_filter(found.scope, found.scope_id),
                       ClusterEpisode.first_day <= last, ClusterEpisode.last_day >= first)
    row = session.scalar(select(ClusterEpisode).where(same_series)
                         .order_by(ClusterEpisode.first_day).limit(1).with_for_update()
                         .execution_options(populate_existing=True))
    if row is None and found.scope == "service" and found.scope_id in w.region_of:
        # Part of a burst across the region already stored: listed inside it.
        region_row = session.scalar(select(ClusterEpisode).where(
            ClusterEpisode.type_key == type_key, ClusterEpisode.part_of_id.is_(None),
            _scope_filter("region", w.region_of[found.scope_id]),
            ClusterEpisode.first_day <= last, ClusterEpisode.last_day >= first).limit(1))
    else:
        region_row = None
    if row is None:
        row = ClusterEpisode(
            type_key=type_key, scope=found.scope,
            service_id=found.scope_id if found.scope == "service" else None,
            region_id=found.scope_id if found.scope == "region" else None,
            first_day=first, opened_on=opened_on, last_day=last, peak=found.peak,
            usual=round(found.usual, 3), threshold=found.threshold, seen_peak=found.peak,
            status=EpisodeStatus.OPEN.value, opened_at=now, alerted_at=now,
            part_of_id=region_row.id if region_row is not None else None)
        members = _member_ids(session, type_key, found.services, first, last, rules)
        plan = serving_plan(session, members) if members else None
        if plan is not None:
            row.status, row.plan_id = EpisodeStatus.LINKED.value, plan
        session.add(row)
        session.flush()
        change, before = "opened", None
    else:
        before = episode_snapshot(row)
        grew = found.peak > row.peak
        moved = last > row.last_day or first < row.first_day or grew
        row.first_day, row.opened_on = min(row.first_day, first), min(row.opened_on, opened_on)
        row.last_day, row.peak = max(row.last_day, last), max(row.peak, found.peak)
        change = "extended" if moved else "unchanged"
        if row.part_of_id is not None:
            region_row = session.get(ClusterEpisode, row.part_of_id)
            if region_row is not None and region_row.last_day < first:
                row.part_of_id = None  # the region's burst is over; this service's goes on
        if (EpisodeStatus(row.status) in REOPEN_ON_GROWTH
                and cluster_rule.has_grown(row.peak, row.seen_peak)):
            row.status, row.alerted_at, row.seen_peak = EpisodeStatus.OPEN.value, now, row.peak
            change = "grew"
    if found.scope == "region":
        # The service episodes inside a burst across the region are part of it.
        for inside in session.scalars(select(ClusterEpisode).where(
                ClusterEpisode.type_key == type_key, ClusterEpisode.scope == "service",
                ClusterEpisode.service_id.in_(found.services), ClusterEpisode.part_of_id.is_(None),
                ClusterEpisode.first_day <= last, ClusterEpisode.last_day >= first)):
            inside.part_of_id = row.id
    return Stored(row, change, before)


def episode_snapshot(row: ClusterEpisode) -> dict[str, Any]:
    """What an audit event records of an episode, before and after a change."""
    return {"type_key": row.type_key, "scope": row.scope, "service_id": row.service_id,
            "region_id": row.region_id, "first_day": row.first_day.isoformat(),
            "last_day": row.last_day.isoformat(), "peak": row.peak, "usual": row.usual,
            "threshold": row.threshold, "seen_peak": row.seen_peak, "status": row.status,
            "reason": row.reason, "plan_id": row.plan_id, "part_of_id": row.part_of_id}


@dataclass(frozen=True)
class FilingClusters:
    """What the cluster rule made of a report being filed."""

    in_cluster: bool
    member_ids: list[int]  # earlier reports newly flagged as part of the cluster
    episodes: list[dict[str, Any]]  # for the report's audit event


def assess_at_filing(uow: UnitOfWork, who: Actor | None, report: NearMissReport, *,
                     now: datetime, rules: Settings, serving_plan: ServingPlan) -> FilingClusters:
    """Scan the windows holding a report about to be filed; open, extend or re-open the
    episodes they make. Call inside the filing's `with uow:` before the report is added."""
    session = uow.session
    rule = rules.triage
    day = to_local(report.occurred_at, rules.zone).date()
    last = min(day + timedelta(days=rule.cluster_window_days - 1),
               max(day, to_local(now, rules.zone).date()))
    w = watched(session)
    budget = w.budget(rule)
    if report.service_id not in w.services or _cannot_fire(session, report, day, last, w,
                                                           budget, rules):
        return FilingClusters(False, [], [])
    # Two reports of one type filed at once must not open two episodes for one burst: the
    # second waits here and then sees the first's (PostgreSQL; SQLite writes one at a time).
    session.execute(select(NearMissType.key).where(NearMissType.key == report.type_key)
                    .with_for_update(key_share=True))
    first = min(_first_report_day(session, rules) or day, day)
    origin, history = _filing_history(session, report.type_key, day, last, w, first,
                                      report.service_id, rules)
    found = [e for e in cluster_rule.scan(history, start=(day - origin).days,
                                          end=(last - origin).days + 1, budget=budget,
                                          rules=rule)
             if report.service_id in e.services]
    members: list[ColumnElement[bool]] = []
    described = []
    for episode in found:
        stored = _store(session, w, report.type_key, episode, origin, now, rules, serving_plan)
        row = stored.row
        if stored.change == "opened":
            uow.record(who, "cluster_episode.opened", "cluster_episode", row.id, at=now,
                       after={**episode_snapshot(row), "by_report": report.reference})
        elif stored.change == "grew":
            uow.record(who, "cluster_episode.grew", "cluster_episode", row.id, at=now,
                       before=stored.before,
                       after={**episode_snapshot(row), "by_report": report.reference})
        described.append({"episode": row.id, "change": stored.change, "peak": row.peak,
                          "last_day": row.last_day.isoformat(), "status": row.status})
        members.append(_members(report.type_key, episode.services,
                                origin + timedelta(days=episode.first_day), last, rules))
    changed = mark_cluster(uow, or_(*members)) if members else []
    return FilingClusters(bool(found), changed, described)


# -- recomputing after bulk loads ------------------------------------------------------------


def earliest_day(engine: Engine, references: list[str], *, rules: Settings) -> date | None:
    """The local day of the earliest of these reports (where a recompute after their import
    starts)."""
    earliest: datetime | None = None
    with Session(engine) as session:
        for at in range(0, len(references), 500):
            found = session.scalar(select(func.min(NearMissReport.occurred_at)).where(
                NearMissReport.reference.in_(references[at:at + 500])))
            if found is not None and (earliest is None or found < earliest):
                earliest = found
    return to_local(earliest, rules.zone).date() if earliest is not None else None


@dataclass(frozen=True)
class Recomputed:
    opened: int
    extended: int
    reopened: int
    episodes: int


def recompute_episodes(uow: UnitOfWork, actor: Actor, *, since: date | None = None,
                       now: datetime, rules: Settings, serving_plan: ServingPlan) -> Recomputed:
    """Scan the history (from `since`, default all of it) and merge every episode found with
    the stored ones, keeping their statuses. For imports and demo data, which are stored in
    bulk without the filing's own scan; running it twice changes nothing."""
    if not actor.roles & {Role.QUALITY, Role.ADMIN}:
        raise PermissionDenied("Only a quality lead or an administrator recomputes clusters.")
    rule = rules.triage
    with uow:
        session = uow.session
        first = _first_report_day(session, rules)
        counts = {"opened": 0, "extended": 0, "grew": 0, "unchanged": 0}
        if first is not None:
            w = watched(session)
            start = max(since or first, first)
            origin = start - timedelta(days=rule.cluster_window_days + rule.cluster_baseline_days)
            end = max(to_local(now, rules.zone).date(), start) + timedelta(days=1)
            for type_key, history in sorted(_history(session, origin, end, w, first,
                                                     rules).items()):
                for found in cluster_rule.scan(history, start=(start - origin).days,
                                               budget=w.budget(rule), rules=rule):
                    stored = _store(session, w, type_key, found, origin, now, rules, serving_plan)
                    counts[stored.change] += 1
        result = Recomputed(counts["opened"], counts["extended"], counts["grew"],
                            sum(counts.values()))
        uow.record(actor, "cluster_episodes.recomputed", "cluster_episode", None, at=now,
                   after={"since": since.isoformat() if since else None,
                          "opened": result.opened, "extended": result.extended,
                          "reopened": result.reopened, "found": result.episodes})
        uow.commit()
        return result


# -- the action plan answering an episode ------------------------------------------------


def link_plan(uow: UnitOfWork, actor: Actor, plan_id: int, reports: list[NearMissReport], *,
              episode_id: int | None, now: datetime, rules: Settings) -> list[int]:
    """Link to a new action plan the episode it was built from and every episode holding one of
    its reports. Call inside the plan's unit of work; returns the episodes linked."""
    session = uow.session
    rows: dict[int, ClusterEpisode] = {}
    w = watched(session)
    # A filing of the same type may be extending these episodes right now: wait for it on the
    # lock the filing takes (the type's row), then read the episodes as it left them.
    # (Episodes are loaded only after the wait: an instance read before it would be stale.)
    fresh = {"populate_existing": True}
    chosen = storable_id(episode_id) if episode_id is not None else False
    types = {r.type_key for r in reports}
    if chosen:
        types |= set(session.scalars(select(ClusterEpisode.type_key).where(
            ClusterEpisode.id == episode_id)))
    if types:
        session.execute(select(NearMissType.key).where(NearMissType.key.in_(sorted(types)))
                        .order_by(NearMissType.key).with_for_update(key_share=True))
    if episode_id is not None:
        row = session.get(ClusterEpisode, episode_id, populate_existing=True,
                          with_for_update=True) if chosen else None
        scope_id = (row.region_id if row.scope == "region" else row.service_id) if row else None
        if row is None or scope_id is None or not any(
                actor.covers_service(s) for s in w.members(row.scope, scope_id)):
            raise ValidationFailed({"cluster": "That cluster is not among your services."})
        rows[row.id] = row
    for report in reports:
        day = to_local(report.occurred_at, rules.zone).date()
        region = w.region_of.get(report.service_id)
        scope = _scope_filter("service", report.service_id)
        if region is not None:
            scope = or_(scope, _scope_filter("region", region))
        for row in session.scalars(select(ClusterEpisode).where(
                ClusterEpisode.type_key == report.type_key, scope,
                ClusterEpisode.first_day <= day, ClusterEpisode.last_day >= day)
                .order_by(ClusterEpisode.id).with_for_update().execution_options(**fresh)):
            rows[row.id] = row
    linked = []
    for row in rows.values():
        if row.status == EpisodeStatus.LINKED.value:
            continue
        before = episode_snapshot(row)
        row.status, row.plan_id = EpisodeStatus.LINKED.value, plan_id
        uow.record(actor, "cluster_episode.linked", "cluster_episode", row.id, at=now,
                   before=before, after=episode_snapshot(row))
        linked.append(row.id)
    return linked


# -- reading ---------------------------------------------------------------------------------


def episode_of_report(session: Session, report: NearMissReport,
                      rules: Settings) -> ClusterEpisode | None:
    """The episode a report is part of (a region's before its service's), if any."""
    day = to_local(report.occurred_at, rules.zone).date()
    region = watched(session).region_of.get(report.service_id)
    scope = _scope_filter("service", report.service_id)
    if region is not None:
        scope = or_(scope, _scope_filter("region", region))
    return session.scalar(select(ClusterEpisode).where(
        ClusterEpisode.type_key == report.type_key, scope, ClusterEpisode.part_of_id.is_(None),
        ClusterEpisode.first_day <= day, ClusterEpisode.last_day >= day)
        .order_by(ClusterEpisode.scope, ClusterEpisode.last_day.desc()).limit(1))
