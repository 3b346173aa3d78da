"""Cluster episodes as the board, the governance pages and the digest show them: each with the
references of its reports and the most advanced status of an action serving them.

The episodes themselves are found and kept by `core.triage.episodes`; reading them here, above
triage, is what lets an episode show the plan that answers it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, event, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.actions.models import Action, ActionPlanReport
from core.actions.vocabulary import best_status
from core.auth.actor import Actor
from core.auth.models import User
from core.config import Settings
from core.db import union_rows
from core.organisation.models import Region, Service
from core.reports.models import NearMissDayCount, NearMissReport
from core.reports.rollup import usable
from core.taxonomy.models import NearMissType
from core.triage.episodes import watched
from core.triage.models import ClusterEpisode
from core.triage.vocabulary import EpisodeStatus
from core.weeks import local_midnight_utc


def serving_plan(session: Session, report_ids: list[int]) -> int | None:
    """The first action plan that links any of these reports (a cluster episode found over them
    is born linked to it): what `core.triage.episodes`' scans are handed."""
    return session.scalar(select(func.min(ActionPlanReport.plan_id)).where(
        ActionPlanReport.report_id.in_(report_ids)))


@dataclass(frozen=True)
class EpisodeView:
    """A cluster episode as the board, the governance pages and the digest show it."""

    episode_id: int
    version: int
    type_key: str
    type_name: str
    scope: str  # service | region
    scope_id: int
    scope_name: str
    start: date  # the first day of the first window that fired
    opened_on: date
    end: date  # the latest day it fired
    peak: int
    usual: float
    threshold: int
    window_days: int
    status: EpisodeStatus
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    plan_id: int | None
    references: tuple[str, ...]  # empty unless listed `with_references`
    report_count: int
    latest: tuple[str, ...]  # its latest `latest` references, newest first (when asked)
    action_status: str | None  # the most advanced status of an action serving its reports
    ongoing: bool  # it fired within the last window
    services: tuple[int, ...]

    @property
    def label(self) -> str:
        return (f"{self.type_name} in {self.scope_name} ({self.scope}): {self.peak} in "
                f"{self.window_days} days where {self.usual:g} is usual, "
                f"{self.start:%d %b}–{self.end:%d %b}")


def _per_episode(session: Session, spans: Mapping[int, EpisodeSpan],
                 term: Callable[[int, EpisodeSpan], Select]) -> list[Any]:
    """The rows of `term(episode id, its span)` for every episode, a hundred episodes to a
    statement (`core.db.union_rows`)."""
    return union_rows(session, (term(i, span) for i, span in spans.items()))


def _report_counts(session: Session, spans: dict[int, EpisodeSpan], zone: Any,
                   ) -> dict[int, int]:
    """Per episode, how many reports it holds: summed from the day counts when they are built
    for the zone (an episode is whole local days: a few dozen counts, not thousands of
    reports), else counted from the reports."""
    if spans and usable(session, zone):
        day = NearMissDayCount.day
        return {episode: int(n or 0) for episode, n in _per_episode(
            session, spans, lambda i, span: select(
                literal(i).label("episode"), func.sum(NearMissDayCount.reports)).where(
                NearMissDayCount.type_key == span.type_key,
                NearMissDayCount.service_id.in_(span.service_ids),
                day >= span.first_day, day <= span.last_day))}
    return {episode: n for episode, n in _per_episode(
        session, spans, lambda i, span: select(literal(i).label("episode"), func.count())
        .select_from(NearMissReport).where(*span.conditions()))}


def _latest_references(session: Session, spans: dict[int, EpisodeSpan], latest: int,
                       ) -> dict[int, list[str]]:
    """Per episode, the references of its `latest` newest reports, newest first."""
    def newest(i: int, span: EpisodeSpan) -> Select:
        found = (select(NearMissReport.reference, NearMissReport.occurred_at,
                        NearMissReport.id)
                 .where(*span.conditions())
                 .order_by(NearMissReport.occurred_at.desc(), NearMissReport.id.desc())
                 .limit(latest).subquery())
        return select(literal(i).label("episode"), found.c.occurred_at, found.c.id,
                      found.c.reference)

    by_episode: dict[int, list[tuple[datetime, int, str]]] = {}
    for episode, *found in _per_episode(session, spans, newest):
        by_episode.setdefault(episode, []).append(tuple(found))
    # Sorted here: a union keeps no order.
    return {episode: [ref for *_, ref in sorted(found, reverse=True)]
            for episode, found in by_episode.items()}


@dataclass(frozen=True, slots=True)
class EpisodeSpan:
    """An episode's reports: its type, the services seen, its local days (first and last)
    and the stored moments [start, end) they make."""

    type_key: str
    service_ids: tuple[int, ...]
    first_day: date
    last_day: date
    start: datetime
    end: datetime

    @classmethod
    def of(cls, type_key: str, service_ids: Sequence[int], first_day: date, last_day: date,
           zone: Any) -> EpisodeSpan:
        return cls(type_key, tuple(service_ids), first_day, last_day,
                   local_midnight_utc(first_day, zone),
                   local_midnight_utc(last_day + timedelta(days=1), zone))

    def conditions(self) -> tuple[ColumnElement[bool], ...]:
        """The conditions on near_miss_reports that select the episode's reports. Join on
        them rather than list the reports' ids: at a million reports an episode holds
        thousands, and a literal list of them costs more to send (and for psycopg to parse)
        than the database takes to find them."""
        return (NearMissReport.type_key == self.type_key,
                NearMissReport.service_id.in_(self.service_ids),
                NearMissReport.occurred_at >= self.start, NearMissReport.occurred_at < self.end)


# Reads a session keeps in `session.info` under (KEPT_FOR_THE_SESSION, name, ...) keys, for
# the pages that ask twice; any flush drops them.
KEPT_FOR_THE_SESSION = "kept for the session"
PLAN_LINKS = "plan links"
T = TypeVar("T")

# What `linked_actions` can say of an action serving an episode.
ACTION_FIELDS = ("strength_category", "strength", "status")


def kept_for_the_session(session: Session, name: Hashable, read: Callable[[], T]) -> T:
    """`read()`, kept in the session under (KEPT_FOR_THE_SESSION, name) until its next flush
    (`name` says what was read, and for whom when that matters)."""
    key = (KEPT_FOR_THE_SESSION, name)
    if key not in session.info:
        session.info[key] = read()
    return session.info[key]  # type: ignore[no-any-return]


def plan_links(session: Session) -> list[tuple[int, str, int, datetime]]:
    """Every report an action plan links, as (plan id, type, service, when it occurred). Kept
    for the session: plans link few reports (24,528 at a million), and the evidence page
    reads them for the episodes' actions, the register's themes and each action's theme, where
    each was a join of the links to the reports."""
    return kept_for_the_session(session, PLAN_LINKS, lambda: _plan_links_where(session))


def _plan_links_where(session: Session, *conditions: ColumnElement[bool],
                      ) -> list[tuple[int, str, int, datetime]]:
    """The plans' links meeting `conditions` (on the links, which carry their reports' type,
    service and day), as (plan id, type, service, when it occurred)."""
    return [tuple(row) for row in session.execute(
        select(ActionPlanReport.plan_id, ActionPlanReport.type_key, ActionPlanReport.service_id,
               ActionPlanReport.occurred_at).where(*conditions))]


LinkedByPlace = dict[tuple[str, int], tuple[list[datetime], list[tuple[Any, ...]]]]


def _linked_reports(session: Session, type_keys: frozenset[str], start: datetime,
                    end: datetime) -> LinkedByPlace:
    """The reports plans link, of these types in [start, end), by (type, service): when each
    occurred, in order, and each linked action's ACTION_FIELDS (distinct) at the same place
    in a second list. Kept for the session, and reused for any later ask it covers: the
    evidence page asks for its clusters' statuses, then for some of their actions."""
    key = (KEPT_FOR_THE_SESSION, "linked reports")
    kept: list[tuple[frozenset[str], datetime, datetime, LinkedByPlace]] = \
        session.info.setdefault(key, [])
    for kept_types, kept_start, kept_end, by_place in kept:
        if type_keys <= kept_types and kept_start <= start and end <= kept_end:
            return by_place
    actions: dict[int, list[tuple[Any, ...]]] = {}
    for plan_id, *values in session.execute(
            select(Action.plan_id, *(getattr(Action, name) for name in ACTION_FIELDS))):
        actions.setdefault(plan_id, []).append(tuple(values))
    # Every link when the session keeps them already (the evidence page); else only the links
    # of these types and days (the triage board's clusters of the last weeks).
    links = session.info.get((KEPT_FOR_THE_SESSION, PLAN_LINKS)) or _plan_links_where(
        session, ActionPlanReport.type_key.in_(type_keys), ActionPlanReport.occurred_at >= start,
        ActionPlanReport.occurred_at < end)
    found: set[tuple[str, int, datetime, tuple[Any, ...]]] = set()
    for plan_id, type_key, service_id, occurred_at in links:
        if type_key in type_keys and start <= occurred_at < end and plan_id in actions:
            found.update((type_key, service_id, occurred_at, values)
                         for values in actions[plan_id])
    by_place: LinkedByPlace = {}
    for type_key, service_id, occurred_at, values in sorted(found, key=lambda f: f[2]):
        moments, linked = by_place.setdefault((type_key, service_id), ([], []))
        moments.append(occurred_at)
        linked.append(values)
    kept.append((type_keys, start, end, by_place))
    return by_place


@event.listens_for(Session, "after_flush")
def _forget_kept_reads(session: Session, _flush: Any) -> None:
    """A session that writes reads afresh after each flush what it kept (KEPT_FOR_THE_SESSION)."""
    for key in [k for k in session.info
                if isinstance(k, tuple) and k[:1] == (KEPT_FOR_THE_SESSION,)]:
        del session.info[key]


def linked_actions(session: Session, spans: Mapping[int, EpisodeSpan],
                   *fields: str) -> dict[int, set[tuple[Any, ...]]]:
    """Per episode, the distinct `fields` (of ACTION_FIELDS) of the actions whose plans link
    one of its reports.

    Plans link few reports (tens of thousands at a million) and an episode holds thousands:
    so the linked reports of the episodes' types and days are read once, from the links, and
    each episode takes those that fall in its span, where a join per episode from its reports
    took 0.7 s at a million."""
    if not spans:
        return {}
    by_place = _linked_reports(session, frozenset(s.type_key for s in spans.values()),
                               min(s.start for s in spans.values()),
                               max(s.end for s in spans.values()))
    at = [ACTION_FIELDS.index(name) for name in fields]
    found: dict[int, set[tuple[Any, ...]]] = {}
    for episode, span in spans.items():
        for service_id in span.service_ids:
            moments, linked = by_place.get((span.type_key, service_id), ([], []))
            for values in linked[bisect_left(moments, span.start):
                                 bisect_left(moments, span.end)]:
                found.setdefault(episode, set()).add(tuple(values[i] for i in at))
    return found


def _visible_episodes(session: Session, actor: Actor, start: date | None, end: date | None,
                      ) -> Iterator[tuple[ClusterEpisode, tuple[int, ...], list[int]]]:
    """Episodes that fired on a day in [start, end) among the actor's services (a region's
    not inside another's), each with its services and those the actor sees."""
    query = select(ClusterEpisode).where(ClusterEpisode.part_of_id.is_(None))
    if start is not None:
        query = query.where(ClusterEpisode.last_day >= start)
    if end is not None:
        query = query.where(ClusterEpisode.opened_on < end)
    w = watched(session)
    for row in session.scalars(query):
        scope_id = row.region_id if row.scope == "region" else row.service_id
        assert scope_id is not None
        services = w.members(row.scope, scope_id)
        visible = [s for s in services if actor.covers_service(s)]
        if visible:
            yield row, services, visible


def episode_totals(session: Session, actor: Actor, *, start: date) -> tuple[int, int]:
    """How many of the episodes `list_episodes` gives from `start` are open, and how many
    there are: what the board's closed cluster section says, without counting any episode's
    reports or reading its actions (14 ms at 100k reports)."""
    statuses = [row.status for row, _services, _visible in
                _visible_episodes(session, actor, start, None)]
    return sum(1 for status in statuses if status == EpisodeStatus.OPEN.value), len(statuses)


def list_episodes(session: Session, actor: Actor, *, start: date | None = None,
                  end: date | None = None, today: date, rules: Settings,
                  with_references: bool = True, latest: int = 0) -> list[EpisodeView]:
    """Episodes that fired on a day in [start, end) among the actor's services: open ones
    first, then acknowledged, linked and dismissed, each the latest first. Service episodes
    that are part of a region's are inside it, not listed.

    Without `with_references` each episode's references are left empty and only counted
    (`report_count`): at a million reports a year's episodes hold half a million. `latest`
    asks for each episode's newest few references, to name a few where all would be a wall."""
    type_names = dict(session.execute(select(NearMissType.key, NearMissType.name)).all())
    service_names = dict(session.execute(select(Service.id, Service.name)).all())
    region_names = dict(session.execute(select(Region.id, Region.name)).all())
    deciders = dict(session.execute(select(User.id, User.display_name)).all())
    shown: list[tuple[ClusterEpisode, tuple[int, ...]]] = []
    spans: dict[int, EpisodeSpan] = {}
    for row, services, visible in _visible_episodes(session, actor, start, end):
        shown.append((row, services))
        spans[row.id] = EpisodeSpan.of(row.type_key, visible, row.first_day, row.last_day,
                                       rules.zone)
    counts = _report_counts(session, spans, rules.zone)
    newest = _latest_references(session, spans, latest) if latest else {}
    statuses = {episode: {status for (status,) in found}
                for episode, found in linked_actions(session, spans, "status").items()}
    plans = {row.plan_id for row, _ in shown if row.plan_id is not None}
    plan_statuses: dict[int, set[str]] = {}
    for plan_id, status in session.execute(select(Action.plan_id, Action.status).distinct()
                                           .where(Action.plan_id.in_(plans))):
        plan_statuses.setdefault(plan_id, set()).add(status)
    views = []
    for row, services in shown:
        scope_id = row.region_id if row.scope == "region" else row.service_id
        assert scope_id is not None
        refs = (tuple(session.scalars(select(NearMissReport.reference).where(
            *spans[row.id].conditions()).order_by(NearMissReport.occurred_at)))
            if with_references else ())
        actions = statuses.get(row.id, set()) | plan_statuses.get(row.plan_id or -1, set())
        views.append(EpisodeView(
            episode_id=row.id, version=row.version_id, type_key=row.type_key,
            type_name=type_names.get(row.type_key, row.type_key), scope=row.scope,
            scope_id=scope_id,
            scope_name=(region_names if row.scope == "region" else service_names).get(
                scope_id, "?"),
            start=row.first_day, opened_on=row.opened_on, end=row.last_day, peak=row.peak,
            usual=round(row.usual, 1), threshold=row.threshold,
            window_days=rules.triage.cluster_window_days, status=EpisodeStatus(row.status),
            reason=row.reason, decided_by=deciders.get(row.decided_by_id or -1),
            decided_at=row.decided_at, plan_id=row.plan_id,
            references=refs, report_count=counts.get(row.id, 0),
            latest=tuple(newest.get(row.id, ())),
            action_status=best_status(actions),
            ongoing=(today - row.last_day).days < rules.triage.cluster_window_days,
            services=services))
    views.sort(key=lambda v: (v.end, v.peak), reverse=True)
    views.sort(key=lambda v: v.status.rank)
    return views
