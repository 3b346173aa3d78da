"""Escalation at once: who is told, by when, acknowledgement, decisions, and email."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.audit.models import AuditEvent
from core.auth.models import User
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import PermissionDenied, ValidationFailed
from core.escalation.email import send_pending_emails
from core.escalation.models import Escalation, Notification
from core.escalation.queries import inbox
from core.escalation.service import (
    ClinicalReviewOutcome,
    InformationPathway,
    SafeguardingDecision,
    acknowledge,
    decide,
)
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

SAFEGUARDING_TEXT = "Visitor asked Mrs K for her bank card PIN while I was there."


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def file(engine, org, actor="reporter", **changes):
    return file_near_miss(UnitOfWork(engine), org.actor(actor), draft(org, **changes),
                          now=utcnow(), rules=settings())


def escalations(engine):
    with read_session(engine) as session:
        return session.scalars(select(Escalation).order_by(Escalation.id)).all()


def notified_usernames(engine, kind):
    with read_session(engine) as session:
        return sorted(session.scalars(
            select(User.username).join(Notification, Notification.user_id == User.id)
            .where(Notification.kind == f"escalation.{kind}")))


def file_safeguarding(engine, org, **changes):
    return file(engine, org, type_key="safeguarding_rights", description=SAFEGUARDING_TEXT,
                **changes)


def test_a_safeguarding_report_reaches_the_safeguarding_lead_at_once(engine, org):
    before = utcnow()
    file_safeguarding(engine, org)
    [escalation] = escalations(engine)
    assert escalation.kind == "safeguarding"
    assert escalation.raised_at >= before
    assert escalation.due_at - escalation.raised_at == timedelta(minutes=60)
    assert notified_usernames(engine, "safeguarding") == ["safeguarding"]


def test_still_at_risk_alerts_only_the_supervisors_of_that_service(engine, org):
    file(engine, org, still_at_risk=True, immediate_safeguards="Sat her down; stayed with her.")
    assert [e.kind for e in escalations(engine)] == ["supervisor_alert"]
    assert notified_usernames(engine, "supervisor_alert") == ["supervisor"]  # not Oak's


def test_stop_the_line_alerts_the_supervisor_and_asks_for_a_same_day_clinical_review(
        engine, org):
    file(engine, org, type_key="skin_integrity_deterioration",
         description="Red area on his heel that did not fade; not in the handover.")
    assert sorted(e.kind for e in escalations(engine)) == ["clinical_review", "supervisor_alert"]
    assert notified_usernames(engine, "clinical_review") == ["clinical"]


def test_an_interface_flag_goes_to_the_operations_queue(engine, org):
    file(engine, org, interface_flag="clinic_follow_up")
    assert [e.kind for e in escalations(engine)] == ["operations"]
    assert notified_usernames(engine, "operations") == ["operations"]


def test_an_anonymous_safeguarding_report_names_nobody(engine, org):
    file_safeguarding(engine, org, anonymous=True)
    [escalation] = escalations(engine)
    assert escalation.raised_by_id is None
    with read_session(engine) as session:
        actors = set(session.scalars(select(AuditEvent.actor).where(
            AuditEvent.action.in_(("report.filed", "escalation.raised")))))
    assert actors == {"anonymous reporter"}


def test_acknowledging_stops_the_clock_and_only_the_lead_may(engine, org):
    file_safeguarding(engine, org)
    [escalation] = escalations(engine)
    with pytest.raises(PermissionDenied):
        acknowledge(UnitOfWork(engine), org.actor("reporter"), escalation.id, now=utcnow())
    with pytest.raises(PermissionDenied):
        acknowledge(UnitOfWork(engine), org.actor("supervisor"), escalation.id, now=utcnow())
    at = acknowledge(UnitOfWork(engine), org.actor("safeguarding"), escalation.id, now=utcnow())
    [escalation] = escalations(engine)
    assert escalation.acknowledged_at == at
    with read_session(engine) as session:
        unread = session.scalars(select(Notification).where(Notification.read_at.is_(None)))
        assert list(unread) == []


def test_an_escalation_not_acknowledged_in_time_is_flagged_overdue(engine, org):
    file_safeguarding(engine, org)
    safeguarding = org.actor("safeguarding")
    with read_session(engine) as session:
        assert not inbox(session, safeguarding, now=utcnow())[0].overdue
        late = inbox(session, safeguarding, now=utcnow() + timedelta(minutes=61))
    assert late[0].overdue and late[0].state == "overdue"


def test_the_safeguarding_decision_is_recorded_with_its_timeline(engine, org):
    file_safeguarding(engine, org)
    [escalation] = escalations(engine)
    lead = org.actor("safeguarding")
    with pytest.raises(ValidationFailed) as refused:
        decide(UnitOfWork(engine), lead, escalation.id,
               SafeguardingDecision(external_report_made=True, reason="Clear attempt."),
               now=utcnow(), rules=settings())
    assert set(refused.value.errors) == {"reported_to", "reported_at"}
    decide(UnitOfWork(engine), lead, escalation.id, SafeguardingDecision(
        external_report_made=True, reported_to="County adult protective services",
        reported_at=local_now() - timedelta(minutes=10), reason="Attempted financial "
        "exploitation of an adult at risk."), now=utcnow(), rules=settings())
    [escalation] = escalations(engine)
    assert escalation.acknowledged_at is not None and escalation.decided_at is not None
    assert escalation.decision["reported_to"] == "County adult protective services"
    with pytest.raises(ValidationFailed, match="already recorded"):
        decide(UnitOfWork(engine), lead, escalation.id, SafeguardingDecision(
            external_report_made=False, reason="changed my mind"), now=utcnow(), rules=settings())


def test_operations_map_the_information_pathway(engine, org):
    file(engine, org, type_key="interface_failure",
         description="Clinic changed the follow-up; the plan was updated but I was not told.")
    [escalation] = escalations(engine)
    with pytest.raises(ValidationFailed) as refused:
        decide(UnitOfWork(engine), org.actor("operations"), escalation.id,
               InformationPathway(where_entered="EHR"), now=utcnow(), rules=settings())
    assert set(refused.value.errors) == {"who_should_have_received", "failed_confirmation_step"}
    decide(UnitOfWork(engine), org.actor("operations"), escalation.id, InformationPathway(
        where_entered="EHR care plan", who_should_have_received="Rostered DSP, next shift",
        failed_confirmation_step="No read receipt on plan changes"), now=utcnow(), rules=settings())
    assert escalations(engine)[0].decision["where_entered"] == "EHR care plan"


def test_clinical_review_needs_how_and_outcome(engine, org):
    file(engine, org, type_key="skin_integrity_deterioration",
         description="Red area on his heel that did not fade; not in the handover.")
    clinical = next(e for e in escalations(engine) if e.kind == "clinical_review")
    with pytest.raises(ValidationFailed):
        decide(UnitOfWork(engine), org.actor("clinical"), clinical.id, ClinicalReviewOutcome(),
               now=utcnow(), rules=settings())
    decide(UnitOfWork(engine), org.actor("clinical"), clinical.id, ClinicalReviewOutcome(
        how="Telehealth consult", outcome="Grade 1; two-hourly repositioning."),
           now=utcnow(), rules=settings())


def test_the_safeguarding_lead_gets_an_email_without_personal_details(engine, org, smtp_server):
    filed = file_safeguarding(engine, org)
    result = send_pending_emails(engine, now=utcnow(), rules=settings())
    assert len(result.sent) == 1 and not result.failed
    [message] = smtp_server.messages
    assert message["To"] == "safeguarding@example.org"
    assert filed.reference in message["Subject"]
    body = message.get_content()
    assert "Maple House" in body and "http://portal.test" in body
    assert SAFEGUARDING_TEXT not in body and "Alex Example" not in body
    with read_session(engine) as session:
        assert session.scalar(select(Notification.email_status)) == "sent"


def test_an_unreachable_mail_server_leaves_the_email_queued(engine, org, smtp_server,
                                                            monkeypatch, tmp_path):
    import os

    file_safeguarding(engine, org)
    working = os.environ["NEARMISS_SETTINGS"]
    broken = tmp_path / "broken-mail.yaml"
    text = Path(working).read_text()
    broken.write_text(text.replace("smtp_host: 127.0.0.1", "smtp_host: 127.0.0.1\n  "
                                   "timeout_seconds: 2").replace(
        f"smtp_port: {text.split('smtp_port: ')[1].split()[0]}", "smtp_port: 9"))
    monkeypatch.setenv("NEARMISS_SETTINGS", str(broken))
    failed = send_pending_emails(engine, now=utcnow(), rules=settings())
    assert failed.failed and not failed.sent
    monkeypatch.setenv("NEARMISS_SETTINGS", working)
    retried = send_pending_emails(engine, now=utcnow(), rules=settings())
    assert len(retried.sent) == 1 and len(smtp_server.messages) == 1
