"""The review as its page shows it: template, answers, gates, evidence, what is still open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.attachments.checks import safe_name
from core.attachments.models import Attachment
from core.attachments.storage import DOWNLOAD_MIME, attachments_dir, read_file
from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import Capability, require
from core.db import storable_id
from core.errors import NotFound
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.review.models import (
    CommunicationDecision,
    GateCheck,
    Review,
    ValidationEvidence,
)
from core.review.rules import review_problems
from core.taxonomy.models import NearMissType
from core.taxonomy.schema import GateSpec, NearMissTypeSpec, ValidationItemSpec
from core.taxonomy.service import type_version


@dataclass(frozen=True)
class GateStatus:
    gate: GateSpec
    state: str | None  # None (open) | done | not_applicable
    note: str | None
    by: str | None
    at: datetime | None


@dataclass(frozen=True)
class EvidenceStatus:
    item: ValidationItemSpec
    note: str | None
    by: str | None
    at: datetime | None
    attachment_id: int | None
    attachment_name: str | None


@dataclass(frozen=True)
class CommunicationView:
    audience: str
    communicated: bool
    what: str
    communicated_at: datetime | None
    by: str
    recorded_at: datetime


@dataclass(frozen=True)
class ReviewView:
    template: NearMissTypeSpec
    template_version: int
    current_version: int
    values: dict[str, Any]
    what_stopped_harm: str | None
    control_reliable: str | None
    would_work_again: str | None
    would_work_again_note: str | None
    contributing_factors: list[str]
    barrier_class: str | None
    findings: str | None
    reviewer: str
    problems: dict[str, str]
    gates: list[GateStatus]
    evidence: list[EvidenceStatus]
    communications: list[CommunicationView]
    closed_at: datetime | None
    closed_by: str | None
    outcome: str | None
    similar_elsewhere: list[str]

    @property
    def open_gate_labels(self) -> list[str]:
        return [g.gate.label for g in self.gates if g.state is None]

    @property
    def missing_evidence_labels(self) -> list[str]:
        return [e.item.label for e in self.evidence if e.note is None]


def similar_elsewhere(session: Session, report: NearMissReport, *, window_days: int = 90,
                      limit: int = 20) -> list[str]:
    """References of the same kind of near miss at other locations (seed 1, example 2: "if
    similar record mismatches appear elsewhere ... root cause analysis").

    For a type whose first choice field says where the discrepancy came from (e.g. the source
    of a medication discrepancy), "similar" also means the same answer there.
    """
    since = report.occurred_at - timedelta(days=window_days)
    query = (select(NearMissReport.reference)
             .where(NearMissReport.type_key == report.type_key,
                    NearMissReport.location_id != report.location_id,
                    NearMissReport.id != report.id,
                    NearMissReport.occurred_at >= since)
             .order_by(NearMissReport.occurred_at.desc()).limit(limit))
    source = (report.capture_fields or {}).get("source_of_discrepancy")
    if source:
        # JSON path comparison works the same on SQLite and PostgreSQL through SQLAlchemy.
        query = query.where(
            NearMissReport.capture_fields["source_of_discrepancy"].as_string() == source)
    return list(session.scalars(query))


def review_view(session: Session, actor: Actor, reference: str) -> ReviewView | None:
    """The review of a report (None if not started), scoped to the actor's services."""
    require(actor, Capability.REVIEW)
    report = get_in_scope(session, actor, reference)
    review = session.scalar(select(Review).where(Review.report_id == report.id))
    if review is None:
        return None
    template = type_version(session, report.type_key, review.template_version)
    current = session.get(NearMissType, report.type_key)
    checks = {c.gate_key: c for c in session.scalars(
        select(GateCheck).where(GateCheck.report_id == report.id))}
    evidence = {e.item_key: e for e in session.scalars(
        select(ValidationEvidence).where(ValidationEvidence.report_id == report.id))}
    communications = list(session.scalars(
        select(CommunicationDecision).where(CommunicationDecision.report_id == report.id)
        .order_by(CommunicationDecision.recorded_at)))
    user_ids = ({review.reviewer_id, review.closed_by_id or 0}
                | {c.checked_by_id for c in checks.values()}
                | {e.recorded_by_id for e in evidence.values()}
                | {c.decided_by_id for c in communications})
    names = dict(session.execute(
        select(User.id, User.display_name).where(User.id.in_(user_ids))).all())
    attachment_names = dict(session.execute(
        select(Attachment.id, Attachment.original_name).where(
            Attachment.id.in_([e.attachment_id for e in evidence.values()
                               if e.attachment_id]))).all())
    return ReviewView(
        template=template, template_version=review.template_version,
        current_version=current.current_version if current else review.template_version,
        values=dict(review.field_values or {}), what_stopped_harm=review.what_stopped_harm,
        control_reliable=review.control_reliable, would_work_again=review.would_work_again,
        would_work_again_note=review.would_work_again_note,
        contributing_factors=list(review.contributing_factors or []),
        barrier_class=review.barrier_class, findings=review.findings,
        reviewer=names.get(review.reviewer_id, "?"),
        problems=review_problems(template, review.field_values or {},
                                 control_reliable=review.control_reliable,
                                 would_work_again=review.would_work_again,
                                 barrier_class=review.barrier_class),
        gates=[GateStatus(g, checks[g.key].state if g.key in checks else None,
                          checks[g.key].note if g.key in checks else None,
                          names.get(checks[g.key].checked_by_id) if g.key in checks else None,
                          checks[g.key].checked_at if g.key in checks else None)
               for g in template.gates],
        evidence=[EvidenceStatus(
            v, evidence[v.key].note if v.key in evidence else None,
            names.get(evidence[v.key].recorded_by_id) if v.key in evidence else None,
            evidence[v.key].recorded_at if v.key in evidence else None,
            evidence[v.key].attachment_id if v.key in evidence else None,
            attachment_names.get(evidence[v.key].attachment_id or 0)
            if v.key in evidence else None) for v in template.validation],
        communications=[CommunicationView(c.audience, c.communicated, c.what, c.communicated_at,
                                          names.get(c.decided_by_id, "?"), c.recorded_at)
                        for c in communications],
        closed_at=review.closed_at, closed_by=names.get(review.closed_by_id or 0),
        outcome=review.outcome,
        similar_elsewhere=similar_elsewhere(session, report),
    )


def attachment_for(session: Session, actor: Actor, attachment_id: int) -> Attachment:
    """An attachment the actor may download (it belongs to a report in their services)."""
    require(actor, Capability.REVIEW)
    attachment = session.get(Attachment, attachment_id) if storable_id(attachment_id) else None
    report = session.get(NearMissReport, attachment.report_id) if attachment else None
    if attachment is None or report is None or not actor.covers_service(report.service_id):
        raise NotFound("No such file among your services.")
    return attachment



@dataclass(frozen=True)
class EvidenceDownload:
    """An evidence file as the page offers it: always a download (a generic type, so no
    browser shows it inline), under a name with nothing odd in it."""

    file_name: str
    data: bytes
    mime: str = DOWNLOAD_MIME


def evidence_download(session: Session, actor: Actor, attachment_id: int) -> EvidenceDownload:
    """The stored bytes of an evidence file the actor may download (NotFound otherwise)."""
    attachment = attachment_for(session, actor, attachment_id)
    return EvidenceDownload(safe_name(attachment.original_name),
                            read_file(attachment.stored_path, attachments_dir()))
