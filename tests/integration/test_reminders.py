"""Daily action reminders: who is told, once a day, with what (and what email leaves)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from core.actions.measures import MeasureFilters
from core.actions.models import Action, ActionEvidenceCheck
from core.actions.reminders import send_action_reminders
from core.actions.service import (
    ActionDraft,
    MeasureDraft,
    PlanDraft,
    complete_evidence_check,
    create_plan,
    set_go_live,
    set_status,
)
from core.actions.verdicts import confirm_verdict
from core.actions.vocabulary import ActionStatus
from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM
from core.auth.models import User
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.escalation.models import Notification
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.builders import Org, build_org, draft, local_now
from tests.conftest import built_once

REPORT_TEXT = "Walker out of reach for Alex at the bathroom door; I steadied him in time."


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def local_today() -> date:
    return local_now().date()


def make_action(engine, org: Org, *, title: str = "Fit a grab rail at the bathroom door",
                plan_title: str = "Near falls at the bathroom doorway",
                deadline_in: int = 10, owner: str = "supervisor", person: bool = False,
                extra_titles: tuple[str, ...] = ()) -> list[int]:
    """A plan (from a filed report) with one action per title, owned by `owner`."""
    changes = {"person_id": org.maple_person} if person else {}
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                           draft(org, description=REPORT_TEXT, **changes),
                           now=utcnow(), rules=settings())
    today = local_today()
    actions = [ActionDraft(title=t, description=f"Details: {REPORT_TEXT}",
                           kind="physical_change", owner_id=org.actor(owner).user_id,
                           deadline=today + timedelta(days=deadline_in),
                           review_date=today + timedelta(days=deadline_in + 14),
                           evidence_checks=["Rail fitted and photographed"])
               for t in (title, *extra_titles)]
    created = create_plan(UnitOfWork(engine), org.actor("quality"), PlanDraft(
        title=plan_title, theme=REPORT_TEXT, report_references=[filed.reference],
        actions=actions), now=utcnow(), rules=settings())
    return created.action_ids


def reminders_of(engine, username: str) -> list[Notification]:
    with read_session(engine) as session:
        return list(session.scalars(
            select(Notification).join(User, User.id == Notification.user_id)
            .where(User.username == username, Notification.kind == "action.reminder")
            .order_by(Notification.id)))


def audit_runs(engine) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "action.reminders_sent").order_by(AuditEvent.seq)))


def test_an_overdue_action_reminds_its_owner_once_a_day(engine, org):
    [action_id] = make_action(engine, org, deadline_in=10)
    today = local_today()
    with read_session(engine) as session:
        version = session.get(Action, action_id).version_id

    first = send_action_reminders(engine, today=today + timedelta(days=12),
                                  now=utcnow(), rules=settings())
    assert [(r.action_id, r.reason) for r in first.sent] == [(action_id, "overdue")]
    [note] = reminders_of(engine, "supervisor")
    assert note.title == "Overdue: Fit a grab rail at the bathroom door"
    assert "Near falls at the bathroom doorway" in note.body
    assert "2 days ago" in note.body and note.report_id is None
    assert reminders_of(engine, "quality") == []
    [run] = audit_runs(engine)
    assert run.actor == "system" and f'"action_id":{action_id}' in run.after_json

    again = send_action_reminders(engine, today=today + timedelta(days=12),
                                  now=utcnow(), rules=settings())
    assert again.sent == [] and again.already_reminded == 1
    assert len(reminders_of(engine, "supervisor")) == 1
    assert len(audit_runs(engine)) == 1  # nothing sent, nothing to audit

    next_day = send_action_reminders(engine, today=today + timedelta(days=13),
                                     now=utcnow(), rules=settings())
    assert len(next_day.sent) == 1
    assert len(reminders_of(engine, "supervisor")) == 2 and len(audit_runs(engine)) == 2
    with read_session(engine) as session:
        action = session.get(Action, action_id)
        assert action.last_reminded_on == today + timedelta(days=13)
        # The reminder is not an edit: someone with the action open can still save.
        assert action.version_id == version


def test_an_action_due_soon_says_when(engine, org):
    make_action(engine, org, deadline_in=10)
    today = local_today()
    assert send_action_reminders(engine, today=today,
                                 now=utcnow(), rules=settings()).sent == []  # 10 days away: not yet
    result = send_action_reminders(engine, today=today + timedelta(days=5),
                                   now=utcnow(), rules=settings())
    [reminder] = result.sent
    assert reminder.reason == "due_soon"
    [note] = reminders_of(engine, "supervisor")
    assert note.title == "Due in 5 days: Fit a grab rail at the bathroom door"


def test_stopped_and_verified_actions_get_no_deadline_reminder(engine, org):
    stopped, verified = make_action(engine, org, deadline_in=10,
                                    extra_titles=("Pre-transfer check card",))
    quality = org.actor("quality")
    set_status(UnitOfWork(engine), quality, stopped, ActionStatus.STOPPED,
               note="Replaced by the grab rail.", now=utcnow())
    today = local_today()
    set_go_live(UnitOfWork(engine), quality, verified, today - timedelta(days=20),
                now=utcnow(), rules=settings())

    verdict_due = send_action_reminders(engine, today=today, now=utcnow(), rules=settings())
    assert [(r.action_id, r.reason) for r in verdict_due.sent] == [(verified, "verdict_due")]
    assert reminders_of(engine, "supervisor")[-1].title == "Verify: Pre-transfer check card"

    with read_session(engine) as session:
        check_id = session.scalar(select(ActionEvidenceCheck.id).where(
            ActionEvidenceCheck.action_id == verified))
    complete_evidence_check(UnitOfWork(engine), quality, check_id, note="Card seen in place.",
                            now=utcnow(), rules=settings())
    confirm_verdict(UnitOfWork(engine), quality, verified, effective=True,
                    note="No near falls since go-live.", now=utcnow(), rules=settings())

    assert send_action_reminders(engine, today=today + timedelta(days=12),
                                 now=utcnow(), rules=settings()).sent == []
    # 42 days after the window ended, the sustainment check falls due.
    due = today - timedelta(days=6) + timedelta(days=42)
    later = send_action_reminders(engine, today=due, now=utcnow(), rules=settings())
    assert [(r.action_id, r.reason) for r in later.sent] == [(verified, "sustainment_due")]
    titles = [n.title for n in reminders_of(engine, "supervisor")]
    assert titles[-1] == "Still in place? Pre-transfer check card"
    assert all(t.endswith("Pre-transfer check card") for t in titles)  # stopped: never


def test_a_disabled_owner_is_not_reminded(engine, org):
    make_action(engine, org, deadline_in=10)
    with UnitOfWork(engine) as uow:
        user = uow.session.scalar(select(User).where(User.username == "supervisor"))
        user.active = False
        uow.record(SYSTEM, "user.disabled", "user", user.id, at=utcnow())
        uow.commit()
    assert send_action_reminders(engine, today=local_today() + timedelta(days=12),
                                 now=utcnow(), rules=settings()).sent == []


def test_the_owner_gets_an_email_naming_nobody_supported(engine, org, smtp_server):
    make_action(engine, org, deadline_in=10, person=True)
    result = send_action_reminders(engine, today=local_today() + timedelta(days=11),
                                   now=utcnow(), rules=settings())
    assert len(result.sent) == 1
    assert result.emails is not None and not result.emails.failed
    [message] = [m for m in smtp_server.messages if "Overdue" in m["Subject"]]
    assert message["To"] == "supervisor@example.org"
    assert message["Subject"] == ("[Near Miss Portal] Overdue: Fit a grab rail at the "
                                  "bathroom door")
    body = message.get_content()
    assert "Near falls at the bathroom doorway" in body and "http://portal.test" in body
    assert "Deadline:" in body
    for personal in ("Alex", "MH-01", REPORT_TEXT, "Details:"):
        assert personal not in body
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Notification).where(
            Notification.kind == "action.reminder", Notification.email_status == "sent")) == 1


def test_a_test_too_early_to_tell_runs_on_to_the_still_in_place_check(engine, org):
    """No "Verify" while the numbers cannot tell: the evidence is looked at again at the
    still-in-place check's date, and the reminder then says what the numbers suggest."""
    today = local_today()
    go_live = today - timedelta(days=20)
    reporter = org.actor("reporter")
    # Two near falls a week in the 12 weeks before go-live, one in the test window.
    for days_ago in [20 + day + 7 * week for week in range(12) for day in (1, 4)] + [15]:
        filed = file_near_miss(UnitOfWork(engine), reporter, draft(
            org, occurred_at=local_now() - timedelta(days=days_ago)),
                               now=utcnow(), rules=settings())
    created = create_plan(UnitOfWork(engine), org.actor("quality"), PlanDraft(
        title="Near falls at the bathroom doorway", theme="Transfers at the doorway",
        report_references=[filed.reference], actions=[ActionDraft(
            title="Pre-transfer check card", kind="checklist",
            owner_id=org.actor("supervisor").user_id, deadline=today + timedelta(days=5),
            review_date=today + timedelta(days=20), evidence_checks=["Card on the door"])],
        measure=MeasureDraft(filters=MeasureFilters(type_keys=("transfer_near_fall",),
                                                    service_ids=(org.maple,)))),
                          now=utcnow(), rules=settings())
    [action_id] = created.action_ids
    set_go_live(UnitOfWork(engine), org.actor("quality"), action_id, go_live,
                now=utcnow(), rules=settings())

    assert send_action_reminders(engine, today=today, now=utcnow(),
                                 rules=settings()).sent == []  # 24 against 1: too early
    second_look = go_live + timedelta(days=14 + 42)
    assert send_action_reminders(engine, today=second_look - timedelta(days=1),
                                 now=utcnow(), rules=settings()).sent == []
    result = send_action_reminders(engine, today=second_look, now=utcnow(), rules=settings())
    assert [(r.action_id, r.reason) for r in result.sent] == [(action_id, "verdict_due")]
    [note] = reminders_of(engine, "supervisor")
    assert note.title == "Verify: Pre-transfer check card"
    assert ("The numbers suggest: Effective: 24 near misses in the 12 weeks before go-live "
            "(2.00 a week); 1 in the 8-week test") in note.body
    assert REPORT_TEXT not in note.body
