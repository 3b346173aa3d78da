"""Triage in core: recurrence and clusters on the seeds' examples, the four questions,
conflicts, scoping, re-classification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import ConflictError, NotFound, ValidationFailed
from core.escalation.models import Escalation
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport, ReportTransition
from core.reports.repository import SqlAlchemyReportRepository
from core.reports.workflow import IllegalMove
from core.review.service import start_review
from core.triage.models import TriageRecord
from core.triage.recurrence import related_reports
from core.triage.service import (
    TriageAnswers,
    reclassify_as_incident,
    triage_report,
)
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def file(engine, org, actor="reporter", **changes):
    return file_near_miss(UnitOfWork(engine), org.actor(actor), draft(org, **changes),
                          now=utcnow(), rules=settings())


def report(engine, reference):
    with read_session(engine) as session:
        row = session.scalar(select(NearMissReport).where(NearMissReport.reference == reference))
        session.expunge(row)
        return row


def answers(**changes):
    values = dict(at_risk_now=False, safeguarding_trigger=False, recurrence="single",
                  severity="medium", investigation="supervisor_review", route="supervisor")
    values.update(changes)
    return TriageAnswers(**values)


def test_repeated_near_falls_at_one_doorway_are_found_as_a_repeat(engine, org):
    # Seed 1, example 1: "the same bathroom doorway has appeared in earlier fall discussions".
    first = file(engine, org, person_id=org.maple_person,
                 occurred_at=local_now() - timedelta(days=20))
    second = file(engine, org, person_id=org.maple_person)
    later = report(engine, second.reference)
    assert later.is_repeat and not report(engine, first.reference).is_repeat
    with read_session(engine) as session:
        related = related_reports(session, later, window_days=90)
    assert [r.reference for r in related] == [first.reference]
    assert related[0].matches == ["same person", "same location", "same type"]


def test_reports_outside_the_window_are_not_related(engine, org):
    file(engine, org, occurred_at=local_now() - timedelta(days=120))
    filed = file(engine, org)
    assert not report(engine, filed.reference).is_repeat


def test_a_cluster_of_late_shift_starts_in_one_region_is_marked(engine, org):
    # Seed 2, example 3: "a cluster related to late shift starts in one region".
    def late(service, location, days_ago):
        return file(engine, org, actor="quality", type_key="late_shift_start",
                    service_id=service, location_id=location,
                    occurred_at=local_now() - timedelta(days=days_ago))

    filed = [late(org.oak, org.oak_lounge, 9), late(org.east, org.east_home, 8),
             late(org.oak, org.oak_lounge, 6)]
    # None in the months before is not a usual rate of 0: three are not a cluster yet ...
    assert not any(report(engine, r.reference).in_cluster for r in filed)
    filed += [late(org.east, org.east_home, 5), late(org.oak, org.oak_lounge, 3)]
    assert not any(report(engine, r.reference).in_cluster for r in filed)
    # ... six within ten days across the region's two services are.
    filed.append(late(org.east, org.east_home, 0))
    assert all(report(engine, r.reference).in_cluster for r in filed)
    # The same type in the other region is not part of it.
    south = late(org.maple, org.maple_kitchen, 0)
    assert not report(engine, south.reference).in_cluster


def test_triage_records_the_answers_and_moves_the_report(engine, org):
    filed = file(engine, org)
    outcome = triage_report(UnitOfWork(engine), org.actor("supervisor"), filed.reference,
                            answers(severity="high", investigation="barrier_review",
                                    notes="Tight doorway; walker parked by the bath."),
                            expected_version=1, now=utcnow(), rules=settings())
    assert outcome.matrix_level.value == "barrier_review"
    stored = report(engine, filed.reference)
    assert (stored.status, stored.severity, stored.review_level, stored.routed_to) == (
        "triaged", "high", "barrier_review", "supervisor")
    with read_session(engine) as session:
        record = session.scalar(select(TriageRecord))
        moves = session.execute(select(ReportTransition.from_status,
                                       ReportTransition.to_status)).all()
    assert record.notes == "Tight doorway; walker parked by the bath."
    assert moves == [("new", "triaged")]


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"at_risk_now": True}, "immediate_safeguards", "before anything else"),
    ({"at_risk_now": None}, "at_risk_now", "still at risk"),
    ({"safeguarding_trigger": True}, "safeguarding_signals", "signal"),
    ({"severity": "high", "investigation": "none"}, "investigation", "Barrier review"),
    ({"recurrence": "cluster", "severity": "low", "investigation": "supervisor_review"},
     "investigation", "deeper review"),
    ({"route": None}, "route", "takes it forward"),
])
def test_triage_answers_are_checked(engine, org, changes, field, words):
    filed = file(engine, org)
    with pytest.raises(ValidationFailed) as refused:
        triage_report(UnitOfWork(engine), org.actor("supervisor"), filed.reference,
                      answers(**changes), expected_version=1, now=utcnow(), rules=settings())
    assert words in refused.value.errors[field]
    assert report(engine, filed.reference).status == "new"


def test_a_safeguarding_signal_at_triage_escalates_at_once(engine, org):
    filed = file(engine, org)
    outcome = triage_report(
        UnitOfWork(engine), org.actor("supervisor"), filed.reference,
        answers(safeguarding_trigger=True, safeguarding_signals=["financial_exploitation"],
                route="safeguarding"), expected_version=1, now=utcnow(), rules=settings())
    assert outcome.escalations_raised == ("safeguarding",)
    with read_session(engine) as session:
        kinds = session.scalars(select(Escalation.kind)).all()
    assert kinds == ["safeguarding"]
    assert report(engine, filed.reference).safeguarding


def test_the_second_of_two_simultaneous_triagers_gets_a_conflict(engine, org):
    filed = file(engine, org)
    seen_version = report(engine, filed.reference).version_id
    triage_report(UnitOfWork(engine), org.actor("supervisor"), filed.reference,
                  answers(notes="first"), expected_version=seen_version,
                  now=utcnow(), rules=settings())
    with pytest.raises(ConflictError, match="Someone else changed") as conflict:
        triage_report(UnitOfWork(engine), org.actor("quality"), filed.reference,
                      answers(notes="second", severity="high",
                              investigation="barrier_review"), expected_version=seen_version,
                      now=utcnow(), rules=settings())
    assert "Triaged" in str(conflict.value)
    with read_session(engine) as session:
        assert session.scalars(select(TriageRecord.notes)).all() == ["first"]


def test_a_supervisor_never_reaches_another_services_report(engine, org):
    filed = file(engine, org)
    with pytest.raises(NotFound):
        triage_report(UnitOfWork(engine), org.actor("oak_supervisor"), filed.reference,
                      answers(), expected_version=1, now=utcnow(), rules=settings())
    with pytest.raises(NotFound):  # the same answer as for a reference that does not exist
        triage_report(UnitOfWork(engine), org.actor("oak_supervisor"), "NM-1999-99999",
                      answers(), expected_version=1, now=utcnow(), rules=settings())


def test_review_cannot_start_before_triage(engine, org):
    filed = file(engine, org)
    with pytest.raises(IllegalMove, match="not been triaged"):
        start_review(UnitOfWork(engine), org.actor("supervisor"), filed.reference,
                     expected_version=1, now=utcnow(), rules=settings())


def test_reclassified_reports_keep_their_history_and_stop_moving(engine, org):
    filed = file(engine, org)
    triage_report(UnitOfWork(engine), org.actor("supervisor"), filed.reference, answers(),
                  expected_version=1, now=utcnow(), rules=settings())
    version = report(engine, filed.reference).version_id
    with pytest.raises(ValidationFailed):
        reclassify_as_incident(UnitOfWork(engine), org.actor("supervisor"), filed.reference,
                               reason=" ", expected_version=version, now=utcnow(), rules=settings())
    reclassify_as_incident(UnitOfWork(engine), org.actor("supervisor"), filed.reference,
                           reason="Bruise found next morning.", incident_reference="INC-77",
                           expected_version=version, now=utcnow(), rules=settings())
    stored = report(engine, filed.reference)
    assert stored.status == "reclassified"
    with read_session(engine) as session:
        moves = session.scalars(select(ReportTransition.to_status)
                                .order_by(ReportTransition.id)).all()
        assert session.scalar(select(TriageRecord.report_id)) == stored.id  # kept
    assert moves == ["triaged", "reclassified"]
    with pytest.raises(IllegalMove, match="incident process"):
        start_review(UnitOfWork(engine), org.actor("supervisor"), filed.reference,
                     expected_version=stored.version_id, now=utcnow(), rules=settings())


def test_a_usual_rate_is_not_a_cluster_but_a_burst_above_it_is(engine, org):
    # Near falls every few days at Maple House for twelve weeks are its normal rate ...
    for days_ago in range(20, 100, 4):
        file(engine, org, location_id=org.maple_kitchen,
             occurred_at=local_now() - timedelta(days=days_ago))
    usual = [file(engine, org, location_id=org.maple_kitchen,
                  occurred_at=local_now() - timedelta(days=d)) for d in (12, 8, 4)]
    assert not report(engine, usual[-1].reference).in_cluster
    # ... a burst well above it within the fortnight is a cluster.
    burst = [file(engine, org, location_id=org.maple_kitchen,
                  occurred_at=local_now() - timedelta(hours=h)) for h in range(9, 0, -1)]
    assert report(engine, burst[-1].reference).in_cluster


def test_triage_does_not_ask_operations_twice(engine, org):
    from core.escalation.service import InformationPathway, decide

    filed = file(engine, org, interface_flag="clinic_follow_up")
    with read_session(engine) as session:
        [raised] = session.scalars(select(Escalation)).all()
    decide(UnitOfWork(engine), org.actor("operations"), raised.id, InformationPathway(
        where_entered="EHR", who_should_have_received="Next shift DSP",
        failed_confirmation_step="No read receipt"), now=utcnow(), rules=settings())
    outcome = triage_report(UnitOfWork(engine), org.actor("supervisor"), filed.reference,
                            answers(route="operations"), expected_version=1,
                            now=utcnow(), rules=settings())
    assert outcome.escalations_raised == ()
    with read_session(engine) as session:
        assert len(session.scalars(select(Escalation)).all()) == 1


def test_each_unit_of_work_opens_the_report_repository_on_its_own_session(engine, org):
    filed = file(engine, org)
    with UnitOfWork(engine) as uow:
        assert isinstance(uow.reports, SqlAlchemyReportRepository)
        assert uow.reports.session is uow.session
        found = uow.reports.get_in_scope(org.actor("supervisor"), f" {filed.reference.lower()} ")
        assert found in uow.session  # the same row the transaction writes
        with pytest.raises(NotFound):
            uow.reports.get_in_scope(org.actor("oak_supervisor"), filed.reference)
    with UnitOfWork(engine) as other:
        assert other.reports is not uow.reports and other.reports.session is other.session
