"""Review and closure in core: seed 1's three examples walked from filing to closure, with the
gates refusing to let them move while open and closure refused until every validation item has
evidence; attachments; reopening; a taxonomy change mid-review."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.attachments.models import Attachment
from core.attachments.storage import attachments_dir
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import PermissionDenied, ValidationFailed
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.review.models import Review
from core.review.queries import review_view
from core.review.service import (
    CommunicationInput,
    ReviewInput,
    WorkflowBlocked,
    check_gate,
    close_report,
    finish_review,
    move_to_validating,
    record_communication,
    record_evidence,
    reopen_report,
    save_review,
    start_review,
)
from core.taxonomy.service import load_taxonomy_file, sync_taxonomy
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import ROOT, built_once

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

# Seed 1's examples: the type, what the reporter says, and the review's answers.
NEAR_FALL = ("transfer_near_fall",
             "Walker slightly out of reach as she turned to the bathroom doorway; I steadied "
             "her and she did not fall.",
             {"transfer_task": "Evening bathroom routine",
              "mobility_aid_position": "Slightly out of reach", "staff_present": "One DSP",
              "balance_or_fatigue": "Tired", "immediate_action": "Steadied her; walker brought",
              "support_plan_guidance": "Walker within reach for every transfer",
              "environmental_condition": "Tight doorway by the bath",
              "supervisor_review": "Same doorway in earlier fall discussions; set-up varies"})
MEDICATION = ("medication_discrepancy",
              "Medication prompt in the care plan did not match a recent family note near the "
              "medication area; I paused and called the supervisor.",
              {"medication_prompt_time": "2026-11-20T08:00",
               "source_of_discrepancy": "Care plan vs family note",
               "worker_action": "Paused, did not guess, called the supervisor",
               "current_presentation": "Well, no change",
               "supervisor_contact_time": "2026-11-20T08:10",
               "clinical_advice_decision": "Approved clinical route confirmed the change",
               "medication_record_status": "Corrected",
               "representative_communication": "Daughter told the record is updated",
               "next_visit_instruction": "Give the new dose from the evening visit"})
STAFFING = ("staffing_visit_continuity",
            "Worker running late after an urgent need at another visit; I found backup cover "
            "before the meal, medication and bedtime visit was missed.",
            {"scheduled_visit_time": "2026-11-20T18:00",
             "worker_delay_reason": "Urgent support need at the previous visit",
             "essential_tasks_due": "Meal support, medication prompting, bedtime assistance",
             "person_risk_level": "High", "backup_worker_availability": "Backup found informally",
             "person_communication": "Called him to say the new arrival time",
             "supervisor_decision": "Send the off-route worker nearby",
             "revised_arrival_time": "2026-11-20T18:20",
             "outcome_after_support": "All essential support delivered"})


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def version(engine, reference):
    with read_session(engine) as session:
        return session.scalar(select(NearMissReport.version_id)
                              .where(NearMissReport.reference == reference))


def status(engine, reference):
    with read_session(engine) as session:
        return ReportStatus(session.scalar(select(NearMissReport.status)
                                           .where(NearMissReport.reference == reference)))


def file_and_triage(engine, org, type_key, description):
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, type_key=type_key, description=description, person_id=org.maple_person),
                               now=utcnow(), rules=settings()).reference
    triage_report(UnitOfWork(engine), org.actor("supervisor"), reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="repeat", severity="high",
        investigation="barrier_review", route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    start_review(UnitOfWork(engine), org.actor("supervisor"), reference,
                 expected_version=version(engine, reference), now=utcnow(), rules=settings())
    return reference


def review_answers(values):
    return ReviewInput(field_values=values, what_stopped_harm="Staff vigilance",
                       control_reliable="no", would_work_again="unsure",
                       would_work_again_note="Depends on who sets up the routine",
                       contributing_factors=["equipment", "environment"],
                       barrier_class="staff_recovery",
                       findings="Equipment positioning varies by who sets up the routine.")


@pytest.mark.parametrize("example", [NEAR_FALL, MEDICATION, STAFFING],
                         ids=["near fall", "medication", "staffing"])
def test_seed_example_from_filing_to_closure(engine, org, example):
    type_key, description, values = example
    supervisor = org.actor("supervisor")
    reference = file_and_triage(engine, org, type_key, description)

    # The review asks the type's own fields and the leaders' questions.
    remaining = save_review(UnitOfWork(engine), supervisor, reference,
                            ReviewInput(field_values={}), now=utcnow(), rules=settings())
    assert any(key.startswith("field.") for key in remaining)
    assert "control_reliable" in remaining
    with pytest.raises(WorkflowBlocked, match="not complete"):
        finish_review(UnitOfWork(engine), supervisor, reference,
                      next_step=ReportStatus.VALIDATING,
                      expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert save_review(UnitOfWork(engine), supervisor, reference,
                       review_answers(values), now=utcnow(), rules=settings()) == {}

    # Gates: refused while any is open, and the refusal names which.
    with read_session(engine) as session:
        view = review_view(session, supervisor, reference)
    gates = view.template.gates
    for gate in gates[:-1]:
        if gate.may_be_not_applicable:
            check_gate(UnitOfWork(engine), supervisor, reference, gate.key,
                       note="No representative for this person", not_applicable=True, now=utcnow())
        else:
            check_gate(UnitOfWork(engine), supervisor, reference, gate.key,
                       note=f"Done: {gate.label}", now=utcnow())
    with pytest.raises(WorkflowBlocked) as blocked:
        finish_review(UnitOfWork(engine), supervisor, reference,
                      next_step=ReportStatus.VALIDATING,
                      expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert blocked.value.items == [gates[-1].label]
    assert gates[-1].label in str(blocked.value)
    check_gate(UnitOfWork(engine), supervisor, reference, gates[-1].key, note="Done", now=utcnow())
    finish_review(UnitOfWork(engine), supervisor, reference, next_step=ReportStatus.VALIDATING,
                  expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert status(engine, reference) is ReportStatus.VALIDATING

    # Communication decisions are recorded with who decided, what, and when.
    record_communication(UnitOfWork(engine), supervisor, reference, CommunicationInput(
        audience="family", communicated=True, what="Told her daughter what changed",
        communicated_at=local_now() - timedelta(hours=1)), now=utcnow(), rules=settings())

    # Validation: closure is refused until every item has evidence.
    items = view.template.validation
    for item in items[:-1]:
        record_evidence(UnitOfWork(engine), supervisor, reference, item.key,
                        note=f"Checked: {item.label}", now=utcnow(), rules=settings())
    with pytest.raises(WorkflowBlocked) as refused:
        close_report(UnitOfWork(engine), supervisor, reference, outcome="Control in place",
                     expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert refused.value.items == [items[-1].label]
    record_evidence(UnitOfWork(engine), supervisor, reference, items[-1].key,
                    note="Observation sheet attached", file=("observation.pdf", PDF),
                    now=utcnow(), rules=settings())
    close_report(UnitOfWork(engine), supervisor, reference,
                 outcome="Pre-transfer equipment check introduced and observed twice.",
                 expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert status(engine, reference) is ReportStatus.CLOSED

    # A quality lead can see exactly what was checked and by whom.
    with read_session(engine) as session:
        closed = review_view(session, org.actor("quality"), reference)
    assert closed.closed_by == "Supervisor" and closed.outcome.startswith("Pre-transfer")
    assert all(g.state and g.by == "Supervisor" and g.at for g in closed.gates)
    assert all(e.note and e.by == "Supervisor" and e.at for e in closed.evidence)
    assert closed.evidence[-1].attachment_name == "observation.pdf"
    assert closed.communications[0].what == "Told her daughter what changed"


def test_only_gates_that_depend_on_an_answer_may_be_not_applicable(engine, org):
    reference = file_and_triage(engine, org, *MEDICATION[:2])
    supervisor = org.actor("supervisor")
    with pytest.raises(ValidationFailed, match="cannot be marked not applicable"):
        check_gate(UnitOfWork(engine), supervisor, reference, "corrected_care_record",
                   note="n/a", not_applicable=True, now=utcnow())
    with pytest.raises(ValidationFailed, match="reason"):
        check_gate(UnitOfWork(engine), supervisor, reference, "representative_communication",
                   note=" ", not_applicable=True, now=utcnow())
    check_gate(UnitOfWork(engine), supervisor, reference, "representative_communication",
               note="She has no representative", not_applicable=True, now=utcnow())


def test_a_rejected_file_is_explained_and_nothing_is_stored(engine, org):
    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    supervisor = org.actor("supervisor")
    with pytest.raises(ValidationFailed) as refused:
        record_evidence(UnitOfWork(engine), supervisor, reference, "near_miss_evidence",
                        note="Photo", file=("../../etc/passwd.exe", b"MZ...."),
                        now=utcnow(), rules=settings())
    assert "cannot be attached" in refused.value.errors["file"]
    with pytest.raises(ValidationFailed, match=r"is not a PDF"):
        record_evidence(UnitOfWork(engine), supervisor, reference, "near_miss_evidence",
                        note="Scan", file=("scan.pdf", b"<script>alert(1)</script>"),
                        now=utcnow(), rules=settings())
    with read_session(engine) as session:
        assert session.scalars(select(Attachment)).all() == []


def test_attachments_are_stored_under_generated_names_outside_the_web_root(engine, org):
    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    record_evidence(UnitOfWork(engine), org.actor("supervisor"), reference,
                    "near_miss_evidence", note="Scan", file=("../../evil name.pdf", PDF),
                    now=utcnow(), rules=settings())
    with read_session(engine) as session:
        stored = session.scalar(select(Attachment))
    assert stored.original_name == "evil name.pdf"
    assert ".." not in stored.stored_path and "evil" not in stored.stored_path
    assert (attachments_dir() / stored.stored_path).read_bytes() == PDF
    assert not str(attachments_dir()).startswith(str(ROOT / "pages"))


def test_only_a_quality_lead_reopens_a_closed_report_with_a_reason(engine, org):
    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    supervisor = org.actor("supervisor")
    save_review(UnitOfWork(engine), supervisor, reference, review_answers(NEAR_FALL[2]),
                now=utcnow(), rules=settings())
    with read_session(engine) as session:
        view = review_view(session, supervisor, reference)
    for gate in view.template.gates:
        check_gate(UnitOfWork(engine), supervisor, reference, gate.key, note="Done", now=utcnow())
    finish_review(UnitOfWork(engine), supervisor, reference, next_step=ReportStatus.VALIDATING,
                  expected_version=version(engine, reference), now=utcnow(), rules=settings())
    for item in view.template.validation:
        record_evidence(UnitOfWork(engine), supervisor, reference, item.key, note="Seen",
                        now=utcnow(), rules=settings())
    close_report(UnitOfWork(engine), supervisor, reference, outcome="Fixed",
                 expected_version=version(engine, reference), now=utcnow(), rules=settings())
    with pytest.raises(PermissionDenied):
        reopen_report(UnitOfWork(engine), supervisor, reference, reason="Not fixed",
                      expected_version=version(engine, reference), now=utcnow(), rules=settings())
    with pytest.raises(ValidationFailed):
        reopen_report(UnitOfWork(engine), org.actor("quality"), reference, reason=" ",
                      expected_version=version(engine, reference), now=utcnow(), rules=settings())
    reopen_report(UnitOfWork(engine), org.actor("quality"), reference,
                  reason="Another near fall at the doorway last night",
                  expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert status(engine, reference) is ReportStatus.IN_REVIEW
    with read_session(engine) as session:
        review = session.scalar(select(Review))
    assert review.closed_at is None and review.outcome is None


def test_a_taxonomy_change_never_breaks_a_review_under_way(engine, org):
    supervisor = org.actor("supervisor")
    under_way = file_and_triage(engine, org, *NEAR_FALL[:2])
    # The provider adds a gate to near falls while that review is open.
    spec = load_taxonomy_file(ROOT / "data" / "taxonomy.yaml")
    near_fall = spec.type("transfer_near_fall")
    from core.taxonomy.schema import GateSpec

    changed = near_fall.model_copy(update={"gates": (*near_fall.gates, GateSpec(
        key="hoist_check", label="Hoist check"))})
    sync_taxonomy(UnitOfWork(engine), spec.model_copy(update={"types": tuple(
        changed if t.key == "transfer_near_fall" else t for t in spec.types)}), SYSTEM,
                  now=utcnow())
    with read_session(engine) as session:
        old = review_view(session, supervisor, under_way)
    assert old.template_version == 1 and old.current_version == 2
    assert "hoist_check" not in [g.gate.key for g in old.gates]
    later = file_and_triage(engine, org, *NEAR_FALL[:2])
    with read_session(engine) as session:
        new = review_view(session, supervisor, later)
    assert new.template_version == 2 and "hoist_check" in [g.gate.key for g in new.gates]


def test_similar_mismatches_elsewhere_are_offered_for_root_cause_analysis(engine, org):
    supervisor = org.actor("supervisor")
    elsewhere = file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, type_key="medication_discrepancy", service_id=org.oak, location_id=org.oak_lounge,
        description="Plan vs family note mismatch at Oak Lodge; paused and called.",
        capture_fields={"source_of_discrepancy": "Care plan vs family note"}),
                               now=utcnow(), rules=settings()).reference
    file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, type_key="medication_discrepancy", service_id=org.oak, location_id=org.oak_lounge,
        description="Label and plan differ at Oak Lodge; paused and called.",
        capture_fields={"source_of_discrepancy": "Care plan vs medication label"}),
                   now=utcnow(), rules=settings())
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, type_key="medication_discrepancy", description=MEDICATION[1],
        capture_fields={"source_of_discrepancy": "Care plan vs family note"}),
                               now=utcnow(), rules=settings()).reference
    triage_report(UnitOfWork(engine), supervisor, reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity="medium",
        investigation="supervisor_review", route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    start_review(UnitOfWork(engine), supervisor, reference,
                 expected_version=version(engine, reference), now=utcnow(), rules=settings())
    with read_session(engine) as session:
        view = review_view(session, org.actor("quality"), reference)
    assert view.similar_elsewhere == [elsewhere]


def test_a_report_in_review_cannot_skip_to_validating_and_closure_through_core(engine, org):
    from core.reports.workflow import IllegalMove

    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    supervisor = org.actor("supervisor")
    save_review(UnitOfWork(engine), supervisor, reference, review_answers(NEAR_FALL[2]),
                now=utcnow(), rules=settings())
    with read_session(engine) as session:
        view = review_view(session, supervisor, reference)
    for item in view.template.validation:  # evidence is no way round an open gate
        record_evidence(UnitOfWork(engine), supervisor, reference, item.key, note="Seen",
                        now=utcnow(), rules=settings())
    # The page hides "Actions in place: validate" while in review; a direct call is refused.
    with pytest.raises(IllegalMove, match="finish the review first"):
        move_to_validating(UnitOfWork(engine), supervisor, reference,
                           expected_version=version(engine, reference),
                           now=utcnow(), rules=settings())
    with pytest.raises(ValidationFailed):
        close_report(UnitOfWork(engine), supervisor, reference, outcome="Fixed",
                     expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert status(engine, reference) is ReportStatus.IN_REVIEW
    # Through the review, with every gate ticked, it moves on as before.
    for gate in view.template.gates:
        check_gate(UnitOfWork(engine), supervisor, reference, gate.key, note="Done", now=utcnow())
    finish_review(UnitOfWork(engine), supervisor, reference, next_step=ReportStatus.ACTIONS,
                  expected_version=version(engine, reference), now=utcnow(), rules=settings())
    move_to_validating(UnitOfWork(engine), supervisor, reference,
                       expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert status(engine, reference) is ReportStatus.VALIDATING


def test_closing_checks_the_gates_again(engine, org):
    # A report that reached validating with a gate open (a database edit, an older release) is
    # not closed over it.
    from core.review.models import GateCheck

    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    supervisor = org.actor("supervisor")
    save_review(UnitOfWork(engine), supervisor, reference, review_answers(NEAR_FALL[2]),
                now=utcnow(), rules=settings())
    with read_session(engine) as session:
        view = review_view(session, supervisor, reference)
    for gate in view.template.gates:
        check_gate(UnitOfWork(engine), supervisor, reference, gate.key, note="Done", now=utcnow())
    finish_review(UnitOfWork(engine), supervisor, reference, next_step=ReportStatus.VALIDATING,
                  expected_version=version(engine, reference), now=utcnow(), rules=settings())
    for item in view.template.validation:
        record_evidence(UnitOfWork(engine), supervisor, reference, item.key, note="Seen",
                        now=utcnow(), rules=settings())
    with UnitOfWork(engine) as uow:
        gate = uow.session.scalar(select(GateCheck).where(
            GateCheck.gate_key == view.template.gates[0].key))
        uow.session.delete(gate)
        uow.record(SYSTEM, "test.gate_removed", "near_miss_report", None, at=utcnow())
        uow.commit()
    with pytest.raises(WorkflowBlocked, match="Cannot proceed without"):
        close_report(UnitOfWork(engine), supervisor, reference, outcome="Fixed",
                     expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert status(engine, reference) is ReportStatus.VALIDATING


def test_starting_a_review_does_not_reopen_a_closed_report(engine, org):
    from core.reports.workflow import IllegalMove

    reference = file_and_triage(engine, org, *NEAR_FALL[:2])
    supervisor = org.actor("supervisor")
    save_review(UnitOfWork(engine), supervisor, reference, review_answers(NEAR_FALL[2]),
                now=utcnow(), rules=settings())
    with read_session(engine) as session:
        view = review_view(session, supervisor, reference)
    for gate in view.template.gates:
        check_gate(UnitOfWork(engine), supervisor, reference, gate.key, note="Done", now=utcnow())
    finish_review(UnitOfWork(engine), supervisor, reference, next_step=ReportStatus.VALIDATING,
                  expected_version=version(engine, reference), now=utcnow(), rules=settings())
    for item in view.template.validation:
        record_evidence(UnitOfWork(engine), supervisor, reference, item.key, note="Seen",
                        now=utcnow(), rules=settings())
    close_report(UnitOfWork(engine), supervisor, reference, outcome="Fixed",
                 expected_version=version(engine, reference), now=utcnow(), rules=settings())
    # Closed -> in review is reopening: a quality lead's, with a reason. Not "start review".
    with pytest.raises(IllegalMove, match="quality lead reopens"):
        start_review(UnitOfWork(engine), supervisor, reference,
                     expected_version=version(engine, reference), now=utcnow(), rules=settings())
    assert status(engine, reference) is ReportStatus.CLOSED
    with read_session(engine) as session:
        assert session.scalar(select(Review)).closed_at is not None
