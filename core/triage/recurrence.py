"""Recurrence found for the triager: earlier related reports and the cluster a report is in.

"Is this a repeat theme?" should be a fact, not a memory: the portal lists earlier reports that
share the person, the location, the route, or the type within the same service, over a
configurable window, and names the cluster episode the report is part of (the cluster rule,
core.triage.cluster_rule, run at filing by core.triage.episodes).

A reviewer can also link an earlier report by hand (core.triage.links, offered among the
reports that read alike, core.review.related): a linked earlier report is listed too and counts
as a recurrence whatever its type, place or age, because a person judged it the same theme.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, union
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.config import Settings
from core.organisation.models import Location, Region, Service
from core.reports.models import NearMissReport
from core.taxonomy.models import NearMissType
from core.triage.episodes import episode_of_report
from core.triage.models import ReportLink
from core.triage.vocabulary import Recurrence
from core.weeks import local_midnight_utc


@dataclass(frozen=True)
class RelatedReport:
    """An earlier report that shares something with the one being triaged."""

    id: int
    reference: str
    occurred_at: datetime
    type_name: str
    location: str
    status: str
    same_person: bool
    same_location: bool
    same_route: bool
    same_type: bool
    linked: bool = False  # a reviewer linked it as related (core.triage.links)

    @property
    def matches(self) -> list[str]:
        found = [label for flag, label in (
            (self.linked, "linked as related"),
            (self.same_person, "same person"), (self.same_location, "same location"),
            (self.same_route, "same route"), (self.same_type, "same type")) if flag]
        return found

    @property
    def recurs(self) -> bool:
        """Whether it counts as a recurrence: the same type in the service, the same person
        or location, or linked by a person (then whatever its type)."""
        return self.linked or self.same_type or self.same_person or self.same_location


@dataclass(frozen=True)
class ClusterHit:
    """The cluster rule fired: `count` reports of one type in one service or region."""

    type_key: str
    scope: str  # "service" or "region"
    scope_name: str
    count: int  # the most reports in one window
    window_start: datetime  # the episode's first and last days (stored UTC moments)
    window_end: datetime
    report_ids: tuple[int, ...]
    window_days: int = 14
    usual: float = 0.0

    @property
    def description(self) -> str:
        return (f"{self.count} reports of this type in {self.scope} {self.scope_name} "
                f"within {self.window_days} days, where {self.usual:g} is usual")


def related_reports(session: Session, report: NearMissReport, *, window_days: int,
                    service_ids: frozenset[int] | None = None,
                    limit: int = 50) -> list[RelatedReport]:
    """Earlier reports within the window sharing person, location, route, or type + service,
    and the earlier reports a person linked to it (any age or type), newest first.

    `service_ids` limits the answer to the viewer's services (None: every service).
    """
    since = report.occurred_at - timedelta(days=window_days)
    criteria = [NearMissReport.location_id == report.location_id,
                and_(NearMissReport.type_key == report.type_key,
                     NearMissReport.service_id == report.service_id)]
    if report.person_id is not None:
        criteria.append(NearMissReport.person_id == report.person_id)
    if report.route_id is not None:
        criteria.append(NearMissReport.route_id == report.route_id)
    # One indexed lookup per criterion, each already cut to the newest `limit`: an OR of the
    # four would read every report in the window (160,000 at a million reports).
    branches = []
    for criterion in criteria:
        branch = (select(NearMissReport.id, NearMissReport.occurred_at)
                  .where(criterion, NearMissReport.occurred_at >= since,
                         NearMissReport.occurred_at <= report.occurred_at))
        if report.id is not None:  # None: a report about to be filed, not stored yet
            branch = branch.where(NearMissReport.id != report.id)
        if service_ids is not None:
            branch = branch.where(NearMissReport.service_id.in_(service_ids))
        newest = branch.order_by(NearMissReport.occurred_at.desc()).limit(limit).subquery()
        branches.append(select(newest.c.id))
    linked_ids: set[int] = set()
    if report.id is not None:
        linked = select(ReportLink.earlier_id).where(ReportLink.report_id == report.id)
        if service_ids is not None:
            linked = linked.join(NearMissReport, NearMissReport.id == ReportLink.earlier_id) \
                .where(NearMissReport.service_id.in_(service_ids))
        # Few, chosen by people: always listed, whatever the window or the limit.
        linked_ids = set(session.scalars(linked))
        if linked_ids:
            branches.append(select(NearMissReport.id).where(NearMissReport.id.in_(linked_ids)))
    candidates = union(*branches).subquery()
    query = (
        select(NearMissReport.id, NearMissReport.reference, NearMissReport.occurred_at,
               NearMissType.name, Location.name, NearMissReport.status,
               NearMissReport.person_id, NearMissReport.location_id, NearMissReport.route_id,
               NearMissReport.type_key, NearMissReport.service_id)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .join(Location, Location.id == NearMissReport.location_id)
        .where(NearMissReport.id.in_(select(candidates.c.id)))
        .order_by(NearMissReport.occurred_at.desc(), NearMissReport.id.desc())
    )
    found = []
    for row in session.execute(query):
        if len(found) >= limit and row[0] not in linked_ids:
            continue
        found.append(RelatedReport(
            id=row[0], reference=row[1], occurred_at=row[2], type_name=row[3], location=row[4],
            status=row[5],
            same_person=report.person_id is not None and row[6] == report.person_id,
            same_location=row[7] == report.location_id,
            same_route=report.route_id is not None and row[8] == report.route_id,
            same_type=row[9] == report.type_key and row[10] == report.service_id,
            linked=row[0] in linked_ids,
        ))
    return found


def find_cluster(session: Session, report: NearMissReport, *, rules: Settings,
                 service_ids: frozenset[int] | None = None) -> ClusterHit | None:
    """The cluster episode a stored report is part of (core.triage.episodes keeps them
    current from filing), with its reports among `service_ids` (None: every service)."""
    episode = episode_of_report(session, report, rules)
    if episode is None:
        return None
    if episode.scope == "region":
        region = session.get(Region, episode.region_id)
        name = region.name if region else "?"
        services = select(Service.id).where(Service.region_id == episode.region_id)
        condition: ColumnElement[bool] = NearMissReport.service_id.in_(services)
    else:
        service = session.get(Service, episode.service_id)
        name = service.name if service else "?"
        condition = NearMissReport.service_id == episode.service_id
    if service_ids is not None:
        condition = and_(condition, NearMissReport.service_id.in_(service_ids))
    start = local_midnight_utc(episode.first_day, rules.zone)
    end = local_midnight_utc(episode.last_day + timedelta(days=1), rules.zone)
    ids = tuple(session.scalars(
        select(NearMissReport.id).where(
            NearMissReport.type_key == report.type_key, condition,
            NearMissReport.occurred_at >= start, NearMissReport.occurred_at < end)
        .order_by(NearMissReport.occurred_at)))
    return ClusterHit(report.type_key, episode.scope, name, episode.peak, start, end, ids,
                      rules.triage.cluster_window_days, episode.usual)


def recurrence_count(related: list[RelatedReport]) -> int:
    """How many earlier reports count as recurrences of this one (RelatedReport.recurs): the
    same type in its service, the same person or location within the window, or linked by a
    person."""
    return sum(1 for r in related if r.recurs)


def propose_recurrence(related: list[RelatedReport], cluster: ClusterHit | None) -> Recurrence:
    """What the evidence suggests: cluster if the rule fired, repeat if an earlier report
    counts as a recurrence (recurrence_count: a linked one whatever its type), otherwise
    single."""
    if cluster is not None:
        return Recurrence.CLUSTER
    if recurrence_count(related):
        return Recurrence.REPEAT
    return Recurrence.SINGLE
