"""Filing a near miss: validation, references, idempotency, anonymity, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.audit.chain import verify_chain
from core.audit.models import AuditEvent
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import PermissionDenied, ValidationFailed
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def test_filing_gives_a_year_reference_and_stores_the_report(engine, org):
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                           now=utcnow(), rules=settings())
    second = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                            now=utcnow(), rules=settings())
    year = local_now().year
    assert filed.reference == f"NM-{year}-00001"
    assert second.reference == f"NM-{year}-00002"
    with read_session(engine) as session:
        report = session.scalar(
            select(NearMissReport).where(NearMissReport.reference == filed.reference))
        assert report.status == "new"
        assert report.reporter_id == org.actor("reporter").user_id
        assert report.type_version == 1


def test_the_same_submission_twice_files_one_report(engine, org):
    one = draft(org, submission_key="form-123")
    first = file_near_miss(UnitOfWork(engine), org.actor("reporter"), one,
                           now=utcnow(), rules=settings())
    again = file_near_miss(UnitOfWork(engine), org.actor("reporter"), one,
                           now=utcnow(), rules=settings())
    assert again.reference == first.reference and again.duplicate
    with read_session(engine) as session:
        assert len(session.scalars(select(NearMissReport)).all()) == 1


def test_anonymous_report_stores_no_reporter_anywhere(engine, org):
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, anonymous=True),
                           now=utcnow(), rules=settings())
    with read_session(engine) as session:
        report = session.get(NearMissReport, filed.id)
        assert report.reporter_id is None
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "report.filed"))
        assert event.actor_id is None and event.actor == "anonymous reporter"
        assert "reporter" not in (event.after_json or "").replace('"reporter_id":null', "")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"description": "  "}, "description"),
        ({"description": "x" * 2001}, "description"),
        ({"type_key": None}, "type_key"),
        ({"type_key": "no_such_type"}, "type_key"),
        ({"occurred_at": None}, "occurred_at"),
        ({"barrier": None}, "barrier"),
        ({"still_at_risk": None}, "still_at_risk"),
        ({"location_id": 99999}, "location_id"),
    ],
)
def test_bad_input_names_the_field(engine, org, changes, field):
    with pytest.raises(ValidationFailed) as caught:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, **changes),
                       now=utcnow(), rules=settings())
    assert field in caught.value.errors
    with read_session(engine) as session:
        assert session.scalars(select(NearMissReport)).first() is None


def test_a_time_in_the_future_is_refused(engine, org):
    later = local_now() + timedelta(hours=2)
    with pytest.raises(ValidationFailed) as caught:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, occurred_at=later),
                       now=utcnow(), rules=settings())
    assert "future" in caught.value.errors["occurred_at"]


def test_a_location_of_another_service_is_refused(engine, org):
    with pytest.raises(ValidationFailed) as caught:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                       draft(org, location_id=org.oak_lounge), now=utcnow(), rules=settings())
    assert "another service" in caught.value.errors["location_id"]


def test_a_reporter_cannot_file_for_a_service_not_theirs(engine, org):
    with pytest.raises(ValidationFailed) as caught:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                       draft(org, service_id=org.oak, location_id=org.oak_lounge),
                       now=utcnow(), rules=settings())
    assert "service_id" in caught.value.errors


def test_commissioner_cannot_file(engine, org):
    with pytest.raises(PermissionDenied):
        file_near_miss(UnitOfWork(engine), org.actor("commissioner"), draft(org),
                       now=utcnow(), rules=settings())


def test_capture_fields_are_checked_against_the_type(engine, org):
    bad = draft(org, capture_fields={"mobility_aid_position": "On the moon"})
    with pytest.raises(ValidationFailed) as caught:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), bad,
                       now=utcnow(), rules=settings())
    assert "capture.mobility_aid_position" in caught.value.errors
    good = draft(org, capture_fields={"mobility_aid_position": "Slightly out of reach",
                                      "transfer_task": "Evening bathroom routine"})
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), good,
                           now=utcnow(), rules=settings())
    with read_session(engine) as session:
        assert session.get(NearMissReport, filed.id).capture_fields == {
            "mobility_aid_position": "Slightly out of reach",
            "transfer_task": "Evening bathroom routine"}


def test_every_filing_is_audited_and_the_chain_verifies(engine, org):
    for _ in range(3):
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                       now=utcnow(), rules=settings())
    with read_session(engine) as session:
        filed_events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "report.filed")).all()
        assert len(filed_events) == 3
        report = verify_chain(session)
    assert report.ok, report.reason


@pytest.mark.parametrize("key", ["k" * 65, "bad\x00key"])
def test_a_malformed_submission_key_is_refused_before_anything_is_stored(engine, org, key):
    with pytest.raises(ValidationFailed) as refused:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, submission_key=key),
                       now=utcnow(), rules=settings())
    assert set(refused.value.errors) == {"submission_key"}
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(NearMissReport)) == 0
