"""Recurrence found for the triager: earlier related reports and the cluster rule.

"Is this a repeat theme?" should be a fact, not a memory: the portal lists earlier reports that
share the person, the location, the route, or the type within the same service, over a
configurable window, and applies the cluster rule (e.g. 3 or more of one type in one service or
region within 14 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, union
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.config import TriageRules
from core.organisation.models import Location, Region, Service
from core.reports.models import NearMissReport
from core.taxonomy.models import NearMissType
from core.triage.cluster_rule import is_cluster
from core.triage.vocabulary import Recurrence


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

    @property
    def matches(self) -> list[str]:
        found = [label for flag, label in (
            (self.same_person, "same person"), (self.same_location, "same location"),
            (self.same_route, "same route"), (self.same_type, "same type")) if flag]
        return found


@dataclass(frozen=True)
class ClusterHit:
    """The cluster rule fired: `count` reports of one type in one service or region."""

    type_key: str
    scope: str  # "service" or "region"
    scope_name: str
    count: int
    window_start: datetime
    window_end: datetime
    report_ids: tuple[int, ...]

    @property
    def description(self) -> str:
        days = (self.window_end - self.window_start).days
        return (f"{self.count} reports of this type in {self.scope} {self.scope_name} "
                f"within {days} days")


def related_reports(session: Session, report: NearMissReport, *, window_days: int,
                    service_ids: frozenset[int] | None = None,
                    limit: int = 50) -> list[RelatedReport]:
    """Earlier reports within the window sharing person, location, route, or type + service.

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
        .limit(limit)
    )
    found = []
    for row in session.execute(query):
        found.append(RelatedReport(
            id=row[0], reference=row[1], occurred_at=row[2], type_name=row[3], location=row[4],
            status=row[5],
            same_person=report.person_id is not None and row[6] == report.person_id,
            same_location=row[7] == report.location_id,
            same_route=report.route_id is not None and row[8] == report.route_id,
            same_type=row[9] == report.type_key and row[10] == report.service_id,
        ))
    return found


def find_cluster(session: Session, *, type_key: str, service_id: int, occurred_at: datetime,
                 rules: TriageRules, include_unsaved: bool = False) -> ClusterHit | None:
    """Apply the cluster rule to the window ending at `occurred_at` (service, then region).

    The rule is core.triage.cluster_rule.is_cluster; `include_unsaved` counts a report about
    to be filed.
    """
    start = occurred_at - timedelta(days=rules.cluster_window_days)
    baseline_start = start - timedelta(days=rules.cluster_baseline_days)
    of_type = NearMissReport.type_key == type_key
    in_window = and_(of_type, NearMissReport.occurred_at >= start,
                     NearMissReport.occurred_at <= occurred_at)
    in_baseline = and_(of_type, NearMissReport.occurred_at >= baseline_start,
                       NearMissReport.occurred_at < start)
    windows_in_baseline = rules.cluster_baseline_days / rules.cluster_window_days
    service = session.get(Service, service_id)
    scopes: list[tuple[str, str, ColumnElement[bool]]] = [
        ("service", service.name if service else "?", NearMissReport.service_id == service_id)]
    if service is not None and service.region_id is not None:
        region = session.get(Region, service.region_id)
        region_services = select(Service.id).where(Service.region_id == service.region_id)
        scopes.append(("region", region.name if region else "?",
                       NearMissReport.service_id.in_(region_services)))
    for scope, name, condition in scopes:
        count = (session.scalar(select(func.count()).where(in_window, condition)) or 0) + int(
            include_unsaved)
        if count < rules.cluster_min_reports:
            continue
        usual = 0.0
        if rules.cluster_baseline_factor > 0:
            usual = (session.scalar(select(func.count()).where(in_baseline, condition)) or 0
                     ) / windows_in_baseline
        if not is_cluster(count, usual, rules):
            continue
        ids = tuple(session.scalars(
            select(NearMissReport.id).where(in_window, condition)
            .order_by(NearMissReport.occurred_at)))
        return ClusterHit(type_key, scope, name, count, start, occurred_at, ids)
    return None


def propose_recurrence(related: list[RelatedReport], cluster: ClusterHit | None) -> Recurrence:
    """What the evidence suggests: cluster if the rule fired, repeat if a related report
    shares the type, the person or the location, otherwise single."""
    if cluster is not None:
        return Recurrence.CLUSTER
    if any(r.same_type or r.same_person or r.same_location for r in related):
        return Recurrence.REPEAT
    return Recurrence.SINGLE
