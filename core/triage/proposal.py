"""What the portal proposes to the triager: the facts behind each of the four questions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.config import Settings
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.taxonomy.service import type_version
from core.triage.recurrence import (
    ClusterHit,
    RelatedReport,
    find_cluster,
    propose_recurrence,
    related_reports,
)
from core.triage.vocabulary import Recurrence, ReviewLevel, Route


@dataclass(frozen=True)
class TriageProposal:
    related: list[RelatedReport]
    cluster: ClusterHit | None
    recurrence: Recurrence
    route: Route
    safeguarding_trigger: bool
    at_risk_now: bool


def proposed_route(report: NearMissReport, route_to: str) -> Route:
    """Safeguarding signals go to the safeguarding lead; interface failures to operations."""
    if report.safeguarding:
        return Route.SAFEGUARDING
    if report.interface_flag and route_to == "supervisor":
        return Route.OPERATIONS
    return Route(route_to)


def propose_triage(session: Session, actor: Actor, reference: str,
                   *, rules: Settings) -> TriageProposal:
    """Related earlier reports, the cluster rule's verdict and the proposed answers."""
    require(actor, Capability.TRIAGE)
    report = get_in_scope(session, actor, reference)
    spec = type_version(session, report.type_key, report.type_version)
    related = related_reports(session, report, window_days=rules.triage.recurrence_window_days,
                              service_ids=actor.service_ids)
    cluster = find_cluster(session, report, rules=rules, service_ids=actor.service_ids)
    return TriageProposal(
        related=related, cluster=cluster, recurrence=propose_recurrence(related, cluster),
        route=proposed_route(report, spec.route_to), safeguarding_trigger=report.safeguarding,
        at_risk_now=report.still_at_risk,
    )


def investigation_options(matrix_level: ReviewLevel | None) -> list[ReviewLevel]:
    """The investigations a triager may choose: the matrix's level or deeper."""
    floor = matrix_level.depth if matrix_level else 0
    return [level for level in ReviewLevel if level.depth >= floor]
