"""The review page in the real app: the type's form, gates, evidence with files, closure."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.review.models import GateCheck, ValidationEvidence
from core.review.service import start_review
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, field_messages, new_app, sign_in, texts
from tests.builders import build_org, draft
from tests.conftest import built_once

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def in_review(engine, org, **changes):
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                               draft(org, **changes), now=utcnow(), rules=settings()).reference
    triage_report(UnitOfWork(engine), org.actor("supervisor"), reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity="medium",
        investigation="supervisor_review", route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    start_review(UnitOfWork(engine), org.actor("supervisor"), reference, expected_version=2,
                 now=utcnow(), rules=settings())
    return reference


def open_review(reference, username="supervisor"):
    at = sign_in(new_app(), username)
    at.query_params["ref"] = reference
    return at.switch_page("pages/near_miss.py").run()


def status(engine, reference):
    with read_session(engine) as session:
        return session.scalar(select(NearMissReport.status)
                              .where(NearMissReport.reference == reference))


def test_the_review_shows_the_types_form_gates_and_validation(engine, org):
    reference = in_review(engine, org)
    at = open_review(reference)
    assert_no_exception(at)
    assert [t.label for t in at.tabs] == ["Review", "Gates", "Validation", "Communication",
                                          "History"]
    assert any("**Review:** 10 to do · **Gates:** 0/5 · **Validation:** 0/6" in m
               for m in texts(at, "markdown"))
    labels = [w.label for w in at.text_input] + [w.label for w in at.selectbox]
    assert "Transfer task" in labels and "Mobility aid position" in labels
    assert any("Cannot proceed without: Staff briefing" in i for i in texts(at, "info"))


def test_moving_on_with_the_review_incomplete_is_refused_naming_what_is_missing(engine, org):
    reference = in_review(engine, org)
    at = open_review(reference)
    key = f"review.{reference}."
    at.text_input(key=key + "field.transfer_task").input("Evening bathroom routine")
    at = at.button(key=key + "to_validating").click().run()
    assert any("The review is not complete" in e and "Staff present" in e
               for e in texts(at, "error"))
    assert at.text_input(key=key + "field.transfer_task").value == "Evening bathroom routine"
    assert status(engine, reference) == "in_review"


def test_a_gate_needs_a_note_and_records_who_and_when(engine, org):
    reference = in_review(engine, org)
    at = open_review(reference)
    key = f"review.{reference}.gate.staff_briefing"
    at = at.button(key=key + ".done").click().run()
    [summary] = texts(at, "error")  # one alert; the reason beside the gate's note
    assert summary.startswith("Not saved yet: check the answers marked below.")
    assert field_messages(at) == ["Say what was done (a short note is enough)."]
    at.text_input(key=key).input("Briefed the evening team at handover")
    at = at.button(key=key + ".done").click().run()
    assert "Gate recorded." in texts(at, "success")
    assert any("**Gates:** 1/5" in m for m in texts(at, "markdown"))
    with read_session(engine) as session:
        check = session.scalar(select(GateCheck))
    assert check.note == "Briefed the evening team at handover" and check.checked_by_id


def test_only_an_answer_dependent_gate_offers_not_applicable(engine, org):
    reference = in_review(engine, org, type_key="medication_discrepancy",
                          description="Plan said 10 mg, family note said 5 mg; I paused.")
    at = open_review(reference)
    buttons = {b.key for b in at.button if b.key}
    base = f"review.{reference}.gate."
    assert base + "representative_communication.na" in buttons
    assert base + "corrected_care_record.na" not in buttons


def test_a_rejected_file_is_explained_beside_the_item_and_the_note_kept(engine, org):
    reference = in_review(engine, org)
    at = open_review(reference)
    base = f"review.{reference}.evidence.staff_understanding"
    at.text_area(key=base + ".note").input("Asked two staff to explain the new check")
    at.get("file_uploader")  # the uploader exists for each item
    uploader = next(u for u in at.get("file_uploader") if getattr(u, "key", "") == base + ".file")
    uploader.upload("notes.exe", b"MZ\x90\x00", "application/octet-stream")
    at = at.run().button(key=base + ".save").click().run()
    assert len(texts(at, "error")) == 1
    assert any("cannot be attached" in e for e in field_messages(at))
    assert at.text_area(key=base + ".note").value == "Asked two staff to explain the new check"
    with read_session(engine) as session:
        assert session.scalars(select(ValidationEvidence)).all() == []


def test_evidence_with_a_file_is_recorded(engine, org):
    reference = in_review(engine, org)
    at = open_review(reference)
    base = f"review.{reference}.evidence.near_miss_evidence"
    at.text_area(key=base + ".note").input("Report and photo of the doorway")
    uploader = next(u for u in at.get("file_uploader") if getattr(u, "key", "") == base + ".file")
    uploader.upload("doorway.pdf", PDF, "application/pdf")
    at = at.run().button(key=base + ".save").click().run()
    assert "Evidence recorded." in texts(at, "success")
    assert any("**Validation:** 1/6" in m for m in texts(at, "markdown"))
