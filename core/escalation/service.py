"""Use cases of escalation: raise (with notifications), acknowledge, and record decisions.

Every escalation keeps its timeline (raised, acknowledged, decided, each with who and when),
the audit trail that marks a mature provider (seed 2, "Expectation 2").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.models import User, UserRole, UserService
from core.auth.roles import Role
from core.clock import to_local, to_utc
from core.config import Settings
from core.db import storable_id
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.escalation.models import Escalation, Notification
from core.escalation.rules import EscalationKind, due_at
from core.organisation.models import Location, Service
from core.reports.models import NearMissReport
from core.uow import UnitOfWork


def _recipients(session: Session, kind: EscalationKind, service_id: int) -> list[User]:
    """Active users who must hear about it: the kind's role (supervisors of that service)."""
    query = (select(User).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role == kind.recipient_role.value, User.active.is_(True)))
    if kind is EscalationKind.SUPERVISOR_ALERT:
        query = query.join(UserService, UserService.user_id == User.id).where(
            UserService.service_id == service_id)
    return list(session.scalars(query.order_by(User.username)).unique())


def notify(uow: UnitOfWork, users: list[User], *, kind: str, title: str, body: str,
           report_id: int | None, escalation_id: int | None, now: datetime,
           rules: Settings) -> list[int]:
    """In-app notifications (and queued emails) for `users`. Call inside `with uow:`."""
    email_on = bool(rules.email.smtp_host)
    ids = []
    for user in users:
        note = Notification(
            user_id=user.id, report_id=report_id, escalation_id=escalation_id, kind=kind,
            title=title[:200], body=body, created_at=now,
            email_to=user.email if email_on and user.email else None,
            email_status="pending" if email_on and user.email else "not_needed",
            email_attempts=0,
        )
        uow.session.add(note)
        uow.session.flush()
        ids.append(note.id)
    return ids


def raise_escalation(uow: UnitOfWork, actor: Actor | None, report: NearMissReport,
                     kind: EscalationKind, reason: str, *, now: datetime,
                     rules: Settings) -> Escalation:
    """Open an escalation and tell everyone who must act. Call inside `with uow:`.

    `actor=None` when an anonymous report raised it (nobody is named).
    """
    session = uow.session
    escalation = Escalation(
        report_id=report.id, kind=kind.value, reason=reason, raised_at=now,
        raised_by_id=actor.user_id if actor else None,
        due_at=due_at(kind, now, rules.escalation),
    )
    session.add(escalation)
    session.flush()
    service = session.get(Service, report.service_id)
    location = session.get(Location, report.location_id)
    where = f"{service.name if service else '?'}, {location.name if location else '?'}"
    due_local = to_local(escalation.due_at, rules.zone).strftime("%d %b %H:%M")
    # The message names no person and quotes no free text: email leaves the portal.
    body = (f"{kind.label} for near miss {report.reference} at {where}.\n{reason}\n"
            f"Acknowledge by {due_local} in the portal: {rules.email.portal_url}")
    recipients = _recipients(session, kind, report.service_id)
    notified = notify(uow, recipients, kind=f"escalation.{kind.value}",
                      title=f"{kind.label}: {report.reference}", body=body,
                      report_id=report.id, escalation_id=escalation.id, now=now, rules=rules)
    uow.record(actor, "escalation.raised", "escalation", escalation.id, at=now, after={
        "report": report.reference, "kind": kind.value, "reason": reason,
        "due_at": escalation.due_at, "notified_user_ids": [u.id for u in recipients],
        "notification_ids": notified,
    })
    return escalation


def open_escalation(session: Session, report_id: int, kind: EscalationKind) -> Escalation | None:
    """The undecided escalation of this kind for a report, if any."""
    return session.scalar(select(Escalation).where(
        Escalation.report_id == report_id, Escalation.kind == kind.value,
        Escalation.decided_at.is_(None)))


def any_escalation(session: Session, report_id: int, kind: EscalationKind) -> Escalation | None:
    """The first escalation of this kind for a report, open or decided."""
    return session.scalar(select(Escalation).where(
        Escalation.report_id == report_id, Escalation.kind == kind.value)
        .order_by(Escalation.id).limit(1))


def _load_for(uow: UnitOfWork, actor: Actor, escalation_id: int,
              ) -> tuple[Escalation, NearMissReport, EscalationKind]:
    escalation = uow.session.get(Escalation, escalation_id) \
        if storable_id(escalation_id) else None
    if escalation is None:
        raise NotFound("No such escalation.")
    report = uow.session.get(NearMissReport, escalation.report_id)
    assert report is not None
    kind = EscalationKind(escalation.kind)
    may_act = actor.has(kind.recipient_role) and actor.covers_service(report.service_id)
    if not may_act:
        raise PermissionDenied(f"Only a {kind.recipient_role.label.lower()} covering this "
                               "service can act on this escalation.")
    return escalation, report, kind


def acknowledge(uow: UnitOfWork, actor: Actor, escalation_id: int, *,
                now: datetime) -> datetime:
    """The lead has seen it: stops the clock for "told at once"."""
    with uow:
        escalation, report, _kind = _load_for(uow, actor, escalation_id)
        if escalation.acknowledged_at is not None:
            return escalation.acknowledged_at
        escalation.acknowledged_at, escalation.acknowledged_by_id = now, actor.user_id
        _mark_read(uow.session, actor, escalation_id=escalation.id, now=now)
        uow.record(actor, "escalation.acknowledged", "escalation", escalation.id, at=now,
                   before={"acknowledged_at": None},
                   after={"acknowledged_at": now, "report": report.reference,
                          "kind": escalation.kind, "late": now > escalation.due_at})
        uow.commit()
        return now


@dataclass
class SafeguardingDecision:
    """The safeguarding lead's decision: external report made or not, to whom, when, why."""

    external_report_made: bool | None
    reported_to: str = ""
    reported_at: datetime | None = None  # naive local time as entered
    reason: str = ""


@dataclass
class InformationPathway:
    """The operations lead's map of an interface failure (seed 2, example 2)."""

    where_entered: str = ""
    who_should_have_received: str = ""
    failed_confirmation_step: str = ""
    notes: str = ""


@dataclass
class ClinicalReviewOutcome:
    how: str | None = None  # "same-day nurse review" | "telehealth consult"
    outcome: str = ""


@dataclass
class PersonSafeConfirmation:
    note: str = ""


CLINICAL_REVIEW_WAYS = ("Same-day nurse review", "Telehealth consult")


def _decision_of(kind: EscalationKind, decision: Any, rules: Settings, *,
                 now: datetime) -> dict[str, Any]:
    """Validate a decision for its kind; returns what is stored (field -> value)."""
    errors: dict[str, str] = {}
    stored: dict[str, Any]
    if kind is EscalationKind.SAFEGUARDING:
        if not isinstance(decision, SafeguardingDecision):
            raise TypeError("a safeguarding escalation needs a SafeguardingDecision")
        if decision.external_report_made is None:
            errors["external_report_made"] = "Say whether an external report was made."
        if decision.external_report_made:
            if not decision.reported_to.strip():
                errors["reported_to"] = "Say who it was reported to."
            if decision.reported_at is None:
                errors["reported_at"] = "Say when it was reported."
        if not decision.reason.strip():
            errors["reason"] = "Record why: the reasoning is part of the audit trail."
        reported_at = None
        if decision.reported_at is not None:
            reported_at = to_utc(decision.reported_at, rules.zone)
            if reported_at > now:
                errors["reported_at"] = "That time is in the future."
        stored = {"external_report_made": decision.external_report_made,
                  "reported_to": decision.reported_to.strip() or None,
                  "reported_at": reported_at.isoformat(timespec="minutes") if reported_at
                  else None,
                  "reason": decision.reason.strip()}
    elif kind is EscalationKind.OPERATIONS:
        if not isinstance(decision, InformationPathway):
            raise TypeError("an operations escalation needs an InformationPathway")
        for name in ("where_entered", "who_should_have_received", "failed_confirmation_step"):
            if not getattr(decision, name).strip():
                errors[name] = "Fill this in to map the pathway."
        stored = {k: v.strip() for k, v in decision.__dict__.items()}
    elif kind is EscalationKind.CLINICAL_REVIEW:
        if not isinstance(decision, ClinicalReviewOutcome):
            raise TypeError("a clinical review needs a ClinicalReviewOutcome")
        if decision.how not in CLINICAL_REVIEW_WAYS:
            errors["how"] = "Say how the review was done."
        if not decision.outcome.strip():
            errors["outcome"] = "Record the clinical advice or outcome."
        stored = {"how": decision.how, "outcome": decision.outcome.strip()}
    else:
        if not isinstance(decision, PersonSafeConfirmation):
            raise TypeError("a supervisor alert needs a PersonSafeConfirmation")
        if not decision.note.strip():
            errors["note"] = "Say how you confirmed the person is safe."
        stored = {"note": decision.note.strip()}
    for value in stored.values():
        if isinstance(value, str) and len(value) > rules.report.description_max_chars:
            errors.setdefault("reason", f"Keep each answer to {rules.report.description_max_chars} "
                                        "characters.")
    if errors:
        raise ValidationFailed(errors)
    return stored


def decide(uow: UnitOfWork, actor: Actor, escalation_id: int, decision: Any, *,
           now: datetime, rules: Settings) -> None:
    """Record the lead's decision (acknowledging first if they had not yet)."""
    with uow:
        escalation, report, kind = _load_for(uow, actor, escalation_id)
        if escalation.decided_at is not None:
            raise ValidationFailed({"decision": "A decision is already recorded for this "
                                                "escalation."})
        stored = _decision_of(kind, decision, rules, now=now)
        before = {"acknowledged_at": escalation.acknowledged_at, "decided_at": None,
                  "decision": None}
        if escalation.acknowledged_at is None:
            escalation.acknowledged_at, escalation.acknowledged_by_id = now, actor.user_id
        escalation.decision = stored
        escalation.decided_at, escalation.decided_by_id = now, actor.user_id
        _mark_read(uow.session, actor, escalation_id=escalation.id, now=now)
        uow.record(actor, "escalation.decided", "escalation", escalation.id, at=now,
                   before=before, after={"acknowledged_at": escalation.acknowledged_at,
                                         "decided_at": now, "report": report.reference,
                                         "kind": kind.value, "decision": stored})
        uow.commit()


def _mark_read(session: Session, actor: Actor, *, escalation_id: int, now: datetime) -> None:
    for note in session.scalars(select(Notification).where(
            Notification.user_id == actor.user_id, Notification.escalation_id == escalation_id,
            Notification.read_at.is_(None))):
        note.read_at = now


def mark_read(uow: UnitOfWork, actor: Actor, notification_ids: list[int], *,
              now: datetime) -> int:
    """Mark the actor's own notifications read; returns how many changed."""
    with uow:
        notes = list(uow.session.scalars(select(Notification).where(
            Notification.id.in_(notification_ids), Notification.user_id == actor.user_id,
            Notification.read_at.is_(None))))
        if not notes:
            return 0
        for note in notes:
            note.read_at = now
        ids = sorted(n.id for n in notes)
        uow.record(actor, "notification.read", "notification", None, at=now,
                   before={"ids": ids, "read_at": None}, after={"ids": ids, "read_at": now})
        uow.commit()
        return len(notes)


def actor_may_handle(actor: Actor, kind: EscalationKind) -> bool:
    return actor.has(kind.recipient_role)


def roles_that_handle() -> set[Role]:
    return {kind.recipient_role for kind in EscalationKind}
