"""One near miss in full, for the people who triage and review it (scoped to their services)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.audit.models import AuditEvent
from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.escalation.models import Escalation
from core.escalation.rules import EscalationKind, is_overdue
from core.organisation.models import Location, PersonSupported, Region, Route, Service, StaffGroup
from core.reports.models import NearMissReport, ReportTransition
from core.reports.repository import get_in_scope
from core.reports.vocabulary import BARRIER_LABELS, Barrier, ReportStatus
from core.review.history import HistoryEntry, user_names
from core.taxonomy.schema import NearMissTypeSpec
from core.taxonomy.service import live_taxonomy, type_version
from core.triage.models import TriageRecord

ACTION_LABELS: dict[str, str] = {
    "report.filed": "Reported",
    "report.imported": "Imported",
    "report.triaged": "Triaged",
    "report.moved": "Moved",
    "escalation.raised": "Escalated",
    "escalation.acknowledged": "Escalation acknowledged",
    "escalation.decided": "Escalation decided",
    "review.started": "Review started",
    "review.saved": "Review saved",
    "review.gate_checked": "Gate ticked",
    "review.evidence_recorded": "Validation evidence recorded",
    "review.communication_recorded": "Communication decision recorded",
    "review.closed": "Closed",
    "review.reopened": "Reopened",
    "rca.report_linked": "Grouped into a root cause analysis",
    "rca.report_unlinked": "Removed from a root cause analysis",
    "report.related_linked": "Linked as related",
    "report.related_unlinked": "Related link removed",
}


@dataclass(frozen=True)
class EscalationView:
    id: int
    kind: EscalationKind
    reason: str
    raised_at: datetime
    due_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    decided_at: datetime | None
    decided_by: str | None
    decision: dict[str, Any] | None
    overdue: bool


@dataclass(frozen=True)
class ReportDetail:
    id: int
    reference: str
    version: int
    status: ReportStatus
    type_spec: NearMissTypeSpec
    description: str
    occurred_at: datetime
    reported_at: datetime
    service_id: int
    service: str
    region: str | None
    location: str
    person: str | None
    person_id: int | None
    route: str | None
    staff_group: str | None
    interface_flag: str | None
    barrier: str
    still_at_risk: bool
    immediate_safeguards: str | None
    capture: list[tuple[str, str]]
    reporter: str
    flags: dict[str, bool]
    severity: str | None
    review_level: str | None
    routed_to: str | None
    triage: TriageRecord | None
    escalations: list[EscalationView]
    history: list[HistoryEntry]


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _history(session: Session, report: NearMissReport, escalation_ids: list[int],
             names: dict[int, str]) -> list[HistoryEntry]:
    events = session.scalars(
        select(AuditEvent).where(or_(
            (AuditEvent.entity_type == "near_miss_report")
            & (AuditEvent.entity_id == str(report.id)),
            (AuditEvent.entity_type == "escalation")
            & AuditEvent.entity_id.in_([str(i) for i in escalation_ids]),
        )).order_by(AuditEvent.seq)
    ).all()
    entries = []
    for event in events:
        after = json.loads(event.after_json) if event.after_json else {}
        who = names.get(event.actor_id or -1, event.actor)
        detail = ""
        if event.action == "report.moved":
            detail = (f"{ReportStatus(after['status']).label}"
                      + (f": {after['reason']}" if after.get("reason") else ""))
        elif event.action.startswith("escalation."):
            detail = EscalationKind(after.get("kind", "safeguarding")).label
        elif event.action in ("review.gate_checked", "review.evidence_recorded"):
            detail = after.get("label", "")
        elif event.action == "review.reopened":
            detail = after.get("reason", "")
        elif event.action in ("report.related_linked", "report.related_unlinked"):
            detail = after.get("other", "")
        entries.append(HistoryEntry(event.occurred_at, who,
                                    ACTION_LABELS.get(event.action, event.action), detail))
    if not any(e.what in ("Reported", "Imported") for e in entries):
        # Loaded in bulk (demo data): the audit trail holds one event per batch, so tell the
        # story from the workflow's own records instead.
        entries.extend(_history_from_records(session, report, names))
        entries.sort(key=lambda e: e.at)
    return entries


def _history_from_records(session: Session, report: NearMissReport,
                          names: dict[int, str]) -> list[HistoryEntry]:
    reporter = names.get(report.reporter_id or -1, "Reported without a name")
    entries = [HistoryEntry(report.reported_at, reporter, "Reported", "")]
    for move in session.scalars(select(ReportTransition).where(
            ReportTransition.report_id == report.id).order_by(ReportTransition.at)):
        entries.append(HistoryEntry(
            move.at, names.get(move.actor_id or -1, "?"), "Moved",
            ReportStatus(move.to_status).label + (f": {move.reason}" if move.reason else "")))
    for escalation in session.scalars(select(Escalation).where(
            Escalation.report_id == report.id)):
        kind = EscalationKind(escalation.kind).label
        entries.append(HistoryEntry(escalation.raised_at, "System", "Escalated", kind))
        if escalation.acknowledged_at:
            entries.append(HistoryEntry(escalation.acknowledged_at,
                                        names.get(escalation.acknowledged_by_id or -1, "?"),
                                        "Escalation acknowledged", kind))
        if escalation.decided_at:
            entries.append(HistoryEntry(escalation.decided_at,
                                        names.get(escalation.decided_by_id or -1, "?"),
                                        "Escalation decided", kind))
    return entries


def report_detail(session: Session, actor: Actor, reference: str, *,
                  now: datetime) -> ReportDetail:
    """Everything about one report the actor may see; NotFound outside their services."""
    require(actor, Capability.VIEW_REPORT)
    report = get_in_scope(session, actor, reference)
    spec = type_version(session, report.type_key, report.type_version)
    service = session.get(Service, report.service_id)
    region = session.get(Region, service.region_id) if service and service.region_id else None
    location = session.get(Location, report.location_id)
    person = session.get(PersonSupported, report.person_id) if report.person_id else None
    route = session.get(Route, report.route_id) if report.route_id else None
    group = session.get(StaffGroup, report.staff_group_id) if report.staff_group_id else None
    taxonomy = live_taxonomy(session)
    escalations = list(session.scalars(select(Escalation).where(
        Escalation.report_id == report.id).order_by(Escalation.raised_at, Escalation.id)))
    triage = session.scalar(select(TriageRecord).where(TriageRecord.report_id == report.id))
    people_ids = {report.reporter_id or -1}
    for e in escalations:
        people_ids |= {e.acknowledged_by_id or -1, e.decided_by_id or -1}
    people_ids |= set(session.scalars(select(ReportTransition.actor_id).where(
        ReportTransition.report_id == report.id)))
    names = user_names(session, (i for i in people_ids if i and i > 0))
    capture_labels = {f.key: f.label for f in spec.fields}
    return ReportDetail(
        id=report.id, reference=report.reference, version=report.version_id,
        status=ReportStatus(report.status), type_spec=spec, description=report.description,
        occurred_at=report.occurred_at, reported_at=report.reported_at,
        service_id=report.service_id, service=service.name if service else "?",
        region=region.name if region else None, location=location.name if location else "?",
        person=(f"{person.local_ref} · {person.display_name}" if person and person.display_name
                else person.local_ref if person else None),
        person_id=report.person_id,
        route=route.name if route else None, staff_group=group.name if group else None,
        interface_flag=taxonomy.interface_flag_label(report.interface_flag)
        if report.interface_flag else None,
        barrier=BARRIER_LABELS[Barrier(report.barrier)], still_at_risk=report.still_at_risk,
        immediate_safeguards=report.immediate_safeguards,
        capture=[(capture_labels.get(k, k), _format_value(v))
                 for k, v in (report.capture_fields or {}).items()],
        reporter=names.get(report.reporter_id or -1, "Reported without a name")
        if report.reporter_id else "Reported without a name",
        flags={"still_at_risk": report.still_at_risk, "safeguarding": report.safeguarding,
               "stop_the_line": report.stop_the_line, "cluster": report.in_cluster,
               "repeat": report.is_repeat,
               "interface": bool(report.interface_flag) or spec.route_to == "operations"},
        severity=report.severity, review_level=report.review_level,
        routed_to=report.routed_to, triage=triage,
        escalations=[EscalationView(
            id=e.id, kind=EscalationKind(e.kind), reason=e.reason, raised_at=e.raised_at,
            due_at=e.due_at, acknowledged_at=e.acknowledged_at,
            acknowledged_by=names.get(e.acknowledged_by_id or -1),
            decided_at=e.decided_at, decided_by=names.get(e.decided_by_id or -1),
            decision=e.decision,
            overdue=is_overdue(due=e.due_at, acknowledged_at=e.acknowledged_at, now=now),
        ) for e in escalations],
        history=_history(session, report, [e.id for e in escalations], names),
    )
