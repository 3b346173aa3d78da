"""Reminders before (and when) a regulator deadline passes, in the `nearmiss reminders` run.

Each running clock is reminded at most twice: once when its deadline is `remind_before_hours`
away ("Due soon"), once when it has passed ("Overdue"); a clock first seen already overdue gets
the overdue one only. Each reminder is claimed on the clock's row before it is sent, so two runs
at once (or a run repeated) never send it twice. Who hears: whoever decided it was reportable,
and the users of `regulator.remind_roles` who cover its service. An in-app notification (kind
"regulator.reminder") and an email when email is configured; the message names the reference,
the deadline and the service, never a person or any typed text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.auth.actor import SYSTEM
from core.auth.models import User, UserRole, UserService
from core.clock import to_local
from core.config import Settings
from core.escalation.service import notify
from core.organisation.models import Service
from core.regulator.clocks import time_left_text
from core.regulator.models import RegulatorClock, RegulatorDecision
from core.reports.models import NearMissReport
from core.uow import UnitOfWork

REMINDER_KIND = "regulator.reminder"
_LONGEST_LEAD = timedelta(hours=24 * 60)  # the settings' upper bound for remind_before_hours


@dataclass(frozen=True)
class ClockReminder:
    """One clock reminded: which, why ("due_soon" | "overdue"), and the notifications sent."""

    clock_id: int
    reference: str
    reason: str
    title: str
    notification_ids: tuple[int, ...]


def _recipients(session: Session, decided_by_id: int | None, service_id: int,
                rules: Settings) -> list[User]:
    roles = rules.regulator.remind_roles
    org_wide = set(rules.scopes.org_wide_roles)
    users: dict[int, User] = {}
    if roles:
        rows = session.execute(select(User, UserRole.role).join(
            UserRole, UserRole.user_id == User.id).where(
            UserRole.role.in_(roles), User.active.is_(True)))
        assigned = set(session.scalars(select(UserService.user_id).where(
            UserService.service_id == service_id)))
        for user, role in rows:
            if role in org_wide or user.id in assigned:
                users[user.id] = user
    if decided_by_id is not None:
        decider = session.get(User, decided_by_id)
        if decider is not None and decider.active:
            users[decider.id] = decider
    return sorted(users.values(), key=lambda u: u.username)


def _claim(session: Session, clock_id: int, column: str, now: datetime) -> bool:
    """Mark the reminder sent unless a concurrent run already did (a plain UPDATE)."""
    target = getattr(RegulatorClock, column)
    values = {column: now}
    if column == "reminded_overdue_at":
        values["reminded_soon_at"] = now  # an overdue clock needs no "due soon" any more
    claimed = session.execute(
        update(RegulatorClock).where(RegulatorClock.id == clock_id, target.is_(None))
        .values(**values).execution_options(synchronize_session=False))
    return claimed.rowcount == 1


def remind_clocks(uow: UnitOfWork, *, now: datetime, rules: Settings) -> list[ClockReminder]:
    """Send the regulator-clock reminders due at `now`. Call inside `with uow:`; records one
    audit event when it sent something (the caller commits)."""
    session = uow.session
    rows = session.execute(
        select(RegulatorClock, NearMissReport.reference, NearMissReport.service_id,
               Service.name, RegulatorDecision.decided_by_id)
        .join(NearMissReport, NearMissReport.id == RegulatorClock.report_id)
        .join(Service, Service.id == NearMissReport.service_id)
        .join(RegulatorDecision, RegulatorDecision.id == RegulatorClock.decision_id)
        .where(RegulatorClock.met_at.is_(None), RegulatorClock.withdrawn_at.is_(None),
               RegulatorClock.due_at <= now + _LONGEST_LEAD,
               or_(RegulatorClock.reminded_soon_at.is_(None),
                   RegulatorClock.reminded_overdue_at.is_(None)))
        .order_by(RegulatorClock.due_at, RegulatorClock.id)).all()
    sent: list[ClockReminder] = []
    for clock, reference, service_id, service, decided_by_id in rows:
        if now > clock.due_at and clock.reminded_overdue_at is None:
            reason, column = "overdue", "reminded_overdue_at"
        elif (clock.reminded_soon_at is None and clock.remind_before_hours > 0
              and now >= clock.due_at - timedelta(hours=clock.remind_before_hours)
              and now <= clock.due_at):
            reason, column = "due_soon", "reminded_soon_at"
        else:
            continue
        if not _claim(session, clock.id, column, now):
            continue
        due_local = to_local(clock.due_at, rules.zone).strftime("%d %b %Y %H:%M")
        left = time_left_text(due=clock.due_at, now=now)
        title = (f"Overdue: {clock.label} for {reference}" if reason == "overdue"
                 else f"Due soon: {clock.label} for {reference}")
        body = "\n".join([
            f"{clock.label} ({rules.regulator.jurisdiction}) for near miss {reference} at "
            f"{service}.",
            f"Due {due_local} ({left}); the rule: {clock.rule}.",
            "Record it as done, with the reference the state gave, on the triage board: "
            f"{rules.email.portal_url}"])
        users = _recipients(session, decided_by_id, service_id, rules)
        ids = notify(uow, users, kind=REMINDER_KIND, title=title, body=body,
                     report_id=clock.report_id, escalation_id=None, now=now, rules=rules)
        sent.append(ClockReminder(clock.id, reference, reason, title[:200], tuple(ids)))
    if sent:
        uow.record(SYSTEM, "regulator.reminders_sent", "regulator_clock", None, at=now, after={
            "at": now, "reminders": [{"clock_id": r.clock_id, "report": r.reference,
                                      "reason": r.reason,
                                      "notification_ids": list(r.notification_ids)}
                                     for r in sent]})
    return sent
