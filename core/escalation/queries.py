"""The inbox: escalations a lead must act on, and a user's notifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.escalation.models import Escalation, Notification
from core.escalation.rules import EscalationKind, is_overdue
from core.organisation.models import Location, Service
from core.reports.models import NearMissReport
from core.taxonomy.models import NearMissType


@dataclass(frozen=True)
class InboxItem:
    escalation_id: int
    kind: EscalationKind
    reason: str
    reference: str
    type_name: str
    service: str
    location: str
    raised_at: datetime
    due_at: datetime
    acknowledged_at: datetime | None
    decided_at: datetime | None
    decision: dict[str, Any] | None
    overdue: bool

    @property
    def state(self) -> str:
        if self.decided_at:
            return "decided"
        if self.acknowledged_at:
            return "acknowledged"
        return "overdue" if self.overdue else "waiting"


def inbox(session: Session, actor: Actor, *, now: datetime, include_decided: bool = False,
          limit: int = 100) -> list[InboxItem]:
    """Escalations of the kinds the actor handles, in their services; overdue first."""
    require(actor, Capability.HANDLE_ESCALATIONS)
    kinds = [k.value for k in EscalationKind if actor.has(k.recipient_role)]
    if not kinds:
        return []
    query = (
        select(Escalation, NearMissReport.reference, NearMissType.name, Service.name,
               Location.name)
        .join(NearMissReport, NearMissReport.id == Escalation.report_id)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .join(Service, Service.id == NearMissReport.service_id)
        .join(Location, Location.id == NearMissReport.location_id)
        .where(Escalation.kind.in_(kinds))
        .order_by(Escalation.decided_at.is_not(None), Escalation.acknowledged_at.is_not(None),
                  Escalation.due_at)
        .limit(limit)
    )
    if actor.service_ids is not None:
        query = query.where(NearMissReport.service_id.in_(actor.service_ids))
    if not include_decided:
        query = query.where(Escalation.decided_at.is_(None))
    items = []
    for escalation, reference, type_name, service, location in session.execute(query):
        items.append(InboxItem(
            escalation_id=escalation.id, kind=EscalationKind(escalation.kind),
            reason=escalation.reason, reference=reference, type_name=type_name,
            service=service, location=location, raised_at=escalation.raised_at,
            due_at=escalation.due_at, acknowledged_at=escalation.acknowledged_at,
            decided_at=escalation.decided_at, decision=escalation.decision,
            overdue=is_overdue(due=escalation.due_at, acknowledged_at=escalation.acknowledged_at,
                               now=now),
        ))
    return items


@dataclass(frozen=True)
class NotificationItem:
    id: int
    title: str
    body: str
    created_at: datetime
    read: bool
    report_id: int | None
    email_status: str


def notifications_for(session: Session, actor: Actor, *, limit: int = 50,
                      unread_only: bool = False, kind: str | None = None
                      ) -> list[NotificationItem]:
    """The actor's own notifications (of one kind, if given), newest first."""
    query = (select(Notification).where(Notification.user_id == actor.user_id)
             .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if kind is not None:
        query = query.where(Notification.kind == kind)
    return [NotificationItem(n.id, n.title, n.body, n.created_at, n.read_at is not None,
                             n.report_id, n.email_status) for n in session.scalars(query)]


# Built once: every page run counts them (beside the Inbox in the menu).
_UNREAD = select(func.count()).where(Notification.user_id == bindparam("user_id"),
                                     Notification.read_at.is_(None))


def unread_count(session: Session, actor: Actor) -> int:
    """How many notifications the actor has not read."""
    return session.scalar(_UNREAD, {"user_id": actor.user_id}) or 0
