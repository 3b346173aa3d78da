"""The workflow use cases against the fake repository and unit of work (tests/fakes.py).

Re-classifying a report needs nothing from the database but its report, so it is tested here
whole; triage, review and closure are tested up to where they read more than the report (their
refusals: someone else's change, a report not among the actor's services, a move the workflow
forbids). Each runs in milliseconds; tests/integration tests the same services on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from core.auth.actor import Actor
from core.auth.roles import Role
from core.config import Settings
from core.errors import ConflictError, NotFound, PermissionDenied, ValidationFailed
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.reports.workflow import IllegalMove
from core.review.service import (
    close_report,
    finish_review,
    move_to_validating,
    reopen_report,
    start_review,
)
from core.triage.service import TriageAnswers, reclassify_as_incident, triage_report
from core.uow import UnauditedWrite
from tests.fakes import FakeReportRepository, FakeUnitOfWork

NOW = datetime(2026, 3, 2, 9, 30)  # naive UTC, as stored
RULES = Settings()  # the built-in defaults: no settings file is read
MAPLE, OAK = 1, 2
REFERENCE = "NM-2026-00007"

SUPERVISOR = Actor(user_id=11, username="supervisor", display_name="Sam Supervisor",
                   roles=frozenset({Role.SUPERVISOR}), service_ids=frozenset({MAPLE}))
OAK_SUPERVISOR = Actor(user_id=12, username="oak_supervisor", display_name="Olu Supervisor",
                       roles=frozenset({Role.SUPERVISOR}), service_ids=frozenset({OAK}))
QUALITY = Actor(user_id=13, username="quality", display_name="Quinn Quality",
                roles=frozenset({Role.QUALITY}), service_ids=None)
REPORTER = Actor(user_id=14, username="reporter", display_name="Rae Reporter",
                 roles=frozenset({Role.REPORTER}), service_ids=frozenset({MAPLE}))


def stored(status: ReportStatus = ReportStatus.TRIAGED, *, version: int = 2,
           service_id: int = MAPLE) -> FakeReportRepository:
    """One Maple House report, committed at `status` and `version`."""
    return FakeReportRepository([NearMissReport(
        id=7, reference=REFERENCE, type_key="medication", type_version=1,
        description="Wrong dose drawn up, caught at the second check.",
        occurred_at=NOW - timedelta(days=1), reported_at=NOW - timedelta(hours=20),
        service_id=service_id, location_id=3, barrier="second_check", still_at_risk=False,
        capture_fields={}, status=status.value, status_changed_at=NOW - timedelta(hours=2),
        version_id=version)])


def assert_nothing_committed(uow: FakeUnitOfWork, reports: FakeReportRepository,
                             status: ReportStatus, version: int = 2) -> None:
    report = reports.get_in_scope(QUALITY, REFERENCE)
    assert (report.status, report.version_id) == (status.value, version)
    assert not uow.committed and uow.events == [] and reports.transitions == []


def test_a_reclassification_is_kept_with_its_move_and_its_audit_event():
    reports = stored()
    uow = FakeUnitOfWork(reports)
    reclassify_as_incident(uow, SUPERVISOR, REFERENCE.lower(), reason=" Bruise found next day ",
                           incident_reference="INC-77", expected_version=2, now=NOW,
                           rules=RULES)
    report = reports.get_in_scope(SUPERVISOR, REFERENCE)
    assert (report.status, report.status_changed_at, report.version_id) == (
        "reclassified", NOW, 3)
    [move] = reports.transitions
    assert (move.report_id, move.from_status, move.to_status, move.at, move.actor_id,
            move.reason) == (7, "triaged", "reclassified", NOW, SUPERVISOR.user_id,
                             "Bruise found next day (incident INC-77)")
    [event] = uow.events
    assert (event.actor, event.action, event.entity_type, event.entity_id, event.at) == (
        "supervisor", "report.moved", "near_miss_report", "7", NOW)
    assert event.before == {"status": "triaged"}
    assert event.after == {"status": "reclassified", "reference": REFERENCE,
                           "reason": "Bruise found next day (incident INC-77)"}
    assert uow.committed and not uow.rolled_back


def test_a_stale_version_is_refused_and_nothing_is_committed():
    reports = stored(version=3)  # someone else triaged or edited it after the page was drawn
    uow = FakeUnitOfWork(reports)
    with pytest.raises(ConflictError, match=r"Someone else changed NM-2026-00007 .*“Triaged” "
                                            r"at \d\d:\d\d"):
        reclassify_as_incident(uow, SUPERVISOR, REFERENCE, reason="Harm reached her",
                               expected_version=2, now=NOW, rules=RULES)
    assert_nothing_committed(uow, reports, ReportStatus.TRIAGED, version=3)
    assert uow.rolled_back


@pytest.mark.parametrize("reference", [REFERENCE, "NM-1999-99999", "NM-2026-\x0000007"])
def test_a_report_outside_the_actors_services_reads_as_missing(reference):
    reports = stored()
    uow = FakeUnitOfWork(reports)
    # The same answer for "not yours" and "does not exist": references are guessable.
    with pytest.raises(NotFound, match="among your services"):
        reclassify_as_incident(uow, OAK_SUPERVISOR, reference, reason="Harm reached her",
                               expected_version=2, now=NOW, rules=RULES)
    assert_nothing_committed(uow, reports, ReportStatus.TRIAGED)


def test_a_move_the_workflow_forbids_changes_nothing():
    reports = stored(ReportStatus.RECLASSIFIED)
    uow = FakeUnitOfWork(reports)
    with pytest.raises(IllegalMove, match="already"):
        reclassify_as_incident(uow, SUPERVISOR, REFERENCE, reason="Harm reached her",
                               expected_version=2, now=NOW, rules=RULES)
    assert_nothing_committed(uow, reports, ReportStatus.RECLASSIFIED)


def test_reclassifying_needs_a_reason_and_a_role_that_may():
    reports = stored()
    uow = FakeUnitOfWork(reports)
    with pytest.raises(ValidationFailed) as refused:
        reclassify_as_incident(uow, SUPERVISOR, REFERENCE, reason="  ", expected_version=2,
                               now=NOW, rules=RULES)
    assert set(refused.value.errors) == {"reason"}
    with pytest.raises(PermissionDenied):
        reclassify_as_incident(uow, REPORTER, REFERENCE, reason="Harm reached her",
                               expected_version=2, now=NOW, rules=RULES)
    assert_nothing_committed(uow, reports, ReportStatus.TRIAGED)


def test_two_people_with_the_same_page_open_the_second_gets_a_conflict():
    reports = stored()
    reclassify_as_incident(FakeUnitOfWork(reports), SUPERVISOR, REFERENCE, reason="Harm",
                           expected_version=2, now=NOW, rules=RULES)
    second = FakeUnitOfWork(reports)
    with pytest.raises(ConflictError, match="it is now “Re-classified as an incident” at 09:30"):
        reclassify_as_incident(second, QUALITY, REFERENCE, reason="Harm too",
                               expected_version=2, now=NOW + timedelta(minutes=1),
                               rules=RULES)
    assert not second.committed and second.events == []
    assert len(reports.transitions) == 1


@pytest.mark.parametrize(("status", "version", "actor", "refusal", "message"), [
    (ReportStatus.NEW, 1, SUPERVISOR, ConflictError, "Someone else changed"),
    (ReportStatus.NEW, 2, OAK_SUPERVISOR, NotFound, "among your services"),
    (ReportStatus.TRIAGED, 2, SUPERVISOR, IllegalMove, "already"),
    (ReportStatus.NEW, 2, REPORTER, PermissionDenied, "triage"),
])
def test_triage_refuses_before_reading_anything_but_the_report(status, version, actor, refusal,
                                                               message):
    reports = stored(status, version=version)
    uow = FakeUnitOfWork(reports)
    with pytest.raises(refusal, match=message):
        triage_report(uow, actor, REFERENCE, TriageAnswers(), expected_version=2, now=NOW,
                      rules=RULES)
    assert_nothing_committed(uow, reports, status, version)


def test_a_review_starts_only_from_triaged():
    reports = stored(ReportStatus.NEW)
    uow = FakeUnitOfWork(reports)
    with pytest.raises(IllegalMove, match="not been triaged"):
        start_review(uow, SUPERVISOR, REFERENCE, expected_version=2, now=NOW, rules=RULES)
    assert_nothing_committed(uow, reports, ReportStatus.NEW)
    reports = stored(ReportStatus.CLOSED)
    uow = FakeUnitOfWork(reports)
    with pytest.raises(IllegalMove, match="quality lead reopens"):
        start_review(uow, SUPERVISOR, REFERENCE, expected_version=2, now=NOW, rules=RULES)
    assert_nothing_committed(uow, reports, ReportStatus.CLOSED)


def test_only_a_quality_lead_reopens_and_only_a_closed_report():
    reports = stored(ReportStatus.CLOSED)
    uow = FakeUnitOfWork(reports)
    with pytest.raises(PermissionDenied):
        reopen_report(uow, SUPERVISOR, REFERENCE, reason="Not fixed", expected_version=2,
                      now=NOW, rules=RULES)
    with pytest.raises(ConflictError):
        reopen_report(uow, QUALITY, REFERENCE, reason="Not fixed", expected_version=1,
                      now=NOW, rules=RULES)
    assert_nothing_committed(uow, reports, ReportStatus.CLOSED)
    reports = stored(ReportStatus.TRIAGED)  # triaged -> in review is starting a review
    uow = FakeUnitOfWork(reports)
    with pytest.raises(IllegalMove, match="only a closed report is reopened"):
        reopen_report(uow, QUALITY, REFERENCE, reason="Not fixed", expected_version=2,
                      now=NOW, rules=RULES)
    assert_nothing_committed(uow, reports, ReportStatus.TRIAGED)


def test_review_moves_check_the_state_before_the_review():
    reports = stored(ReportStatus.IN_REVIEW)
    uow = FakeUnitOfWork(reports)
    with pytest.raises(IllegalMove, match="finish the review first"):
        move_to_validating(uow, SUPERVISOR, REFERENCE, expected_version=2, now=NOW,
                           rules=RULES)
    with pytest.raises(ValidationFailed) as refused:
        close_report(uow, SUPERVISOR, REFERENCE, outcome="Fixed", expected_version=2, now=NOW,
                     rules=RULES)
    assert set(refused.value.errors) == {"status"}
    with pytest.raises(ValidationFailed) as refused:
        finish_review(uow, SUPERVISOR, REFERENCE, next_step=ReportStatus.CLOSED,
                      expected_version=2, now=NOW, rules=RULES)
    assert set(refused.value.errors) == {"next_step"}
    with pytest.raises(ConflictError):
        finish_review(uow, SUPERVISOR, REFERENCE, next_step=ReportStatus.ACTIONS,
                      expected_version=1, now=NOW, rules=RULES)
    assert_nothing_committed(uow, reports, ReportStatus.IN_REVIEW)


def test_the_fake_refuses_a_change_with_no_audit_event_like_the_real_one():
    reports = stored()
    uow = FakeUnitOfWork(reports)
    with pytest.raises(UnauditedWrite), uow:
        uow.reports.get_in_scope(SUPERVISOR, REFERENCE).severity = "high"
        uow.commit()
    assert uow.rolled_back
    assert reports.get_in_scope(SUPERVISOR, REFERENCE).severity is None
    assert_nothing_committed(uow, reports, ReportStatus.TRIAGED)
    with uow:  # reading and committing nothing needs no event
        uow.reports.get_in_scope(SUPERVISOR, REFERENCE)
        uow.commit()
    assert uow.committed and uow.events == []


def test_the_fake_has_no_session_so_sql_use_cases_fail_loudly():
    with pytest.raises(AssertionError, match="tests/integration"), FakeUnitOfWork(stored()) as uow:
        uow.session  # noqa: B018 - the attribute read is the test
