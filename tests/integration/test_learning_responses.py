"""Proportionate learning responses in core: the templates file and its checks, the suggestion
table, a reason required to choose otherwise, the audited and role-checked services, and a
completed response feeding the action plan builder (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.actions.models import ActionPlan
from core.actions.queries import proposal_from_learning_response
from core.actions.service import ActionDraft, PlanDraft, create_plan
from core.audit.chain import verify_chain
from core.audit.models import AuditEvent
from core.clock import to_local, utcnow
from core.config import settings
from core.db import read_session
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.filing.service import file_near_miss
from core.review.response_queries import (
    list_responses,
    report_responses,
    response_detail,
    response_proposal,
)
from core.review.response_templates import (
    DEFAULT_SUGGESTIONS,
    FULL_RCA,
    LearningResponses,
    add_months,
    add_working_days,
    load_learning_responses,
    suggest_response,
)
from core.review.responses import (
    choose_full_rca,
    complete_response,
    response_findings_for_actions,
    save_answers,
    start_response,
)
from core.triage.matrix import review_level
from core.triage.service import TriageAnswers, triage_report
from core.triage.vocabulary import Recurrence, Severity
from core.uow import UnitOfWork
from core.yamlfile import ConfigFileError, load_model
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

HUDDLE_ANSWERS = {
    "what_happened": "Her walker was parked by the bath, out of reach at the doorway.",
    "what_was_expected": "The walker stays within reach for every bathroom transfer.",
    "why_different": "No set place for the walker; the night shift moves it to clean.",
    "what_now": "Mark a parking spot by the door; the night shift puts it back there.",
}
PEOPLE = ["Sam (DSP on shift)", "Ola (supervisor)"]


# -- the templates file ------------------------------------------------------------------------

def test_the_shipped_templates_load_with_the_four_psirf_types():
    templates = load_learning_responses()
    assert [t.key for t in templates.responses] == [
        "swarm_huddle", "after_action_review", "mdt_review", "psii"]
    huddle = templates.template("swarm_huddle")
    assert [f.label for f in huddle.fields] == [
        "What happened?", "What was expected to happen?", "Why was there a difference?",
        "What will we do now?"]
    assert huddle.time_limit.label == "within 2 working days"
    assert templates.template("psii").time_limit.label == "within 3 months"
    assert [f.key for f in templates.template("psii").fields if f.required] == [
        "terms_of_reference", "involvement", "findings", "safety_recommendations"]
    aar = templates.template("after_action_review")
    assert len(aar.fields) == 4  # the four after-action review questions
    for template in templates.responses:
        assert template.participants and template.purpose and template.findings
    assert templates.suggestions == DEFAULT_SUGGESTIONS
    assert templates.name_of(FULL_RCA) == "Full root cause analysis"


BROKEN = {
    "an unknown suggestion": ("suggestions:\n  low: {single: chat, repeat: psii, cluster: psii}",
                              "'chat' is not a response type"),
    "findings naming no field": ("    findings: [nothing]", "findings names nothing"),
    "two time limits": ("    time_limit: {days: 3, months: 1}", "exactly one of"),
    "an unknown key": ("    colour: red", "Extra inputs are not permitted"),
    "the full RCA's key": ("  - key: full_rca", "full_rca is the full root cause analysis"),
}

GOOD = """responses:
  - key: quick_chat
    name: Quick chat
    purpose: Talk it through.
    participants: [The team]
    time_limit: {working_days: 1}
    fields:
      - key: what
        label: What happened?
    findings: [what]
"""


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_mistake_in_the_templates_file_is_named_with_its_line(tmp_path, case):
    change, message = BROKEN[case]
    text = GOOD
    if change.startswith("suggestions"):
        text += ("suggestions:\n  low: {single: chat, repeat: psii, cluster: psii}\n"
                 "  medium: {single: quick_chat, repeat: quick_chat, cluster: quick_chat}\n"
                 "  high: {single: quick_chat, repeat: quick_chat, cluster: quick_chat}\n")
    elif change.startswith("  - key"):
        text = text.replace("  - key: quick_chat", change)
    elif "findings" in change:
        text = text.replace("    findings: [what]", change)
    elif "time_limit" in change:
        text = text.replace("    time_limit: {working_days: 1}", change)
    else:
        text += change + "\n"
    path = tmp_path / "responses.yaml"
    path.write_text(text)
    with pytest.raises(ConfigFileError) as caught:
        load_model(path, LearningResponses)
    assert message in str(caught.value)
    assert caught.value.line is not None


def test_a_tailored_file_without_a_table_uses_the_default_rule_and_must_name_its_types(
        tmp_path):
    path = tmp_path / "responses.yaml"
    path.write_text(GOOD)
    with pytest.raises(ConfigFileError, match="swarm_huddle"):
        load_model(path, LearningResponses)  # the default table names the PSIRF types
    path.write_text(GOOD + "suggestions:\n" + "".join(
        f"  {s}: {{single: quick_chat, repeat: quick_chat, cluster: full_rca}}\n"
        for s in ("low", "medium", "high")))
    tailored = load_model(path, LearningResponses)
    assert suggest_response("low", "single", tailored) == "quick_chat"
    assert suggest_response("high", "cluster", tailored) == FULL_RCA


# -- the suggestion table and due dates --------------------------------------------------------

@pytest.mark.parametrize(("severity", "recurrence", "expected"), [
    ("low", "single", "swarm_huddle"),  # a low-risk one-off: a huddle
    ("low", "repeat", "after_action_review"),
    ("low", "cluster", "mdt_review"),
    ("medium", "single", "after_action_review"),
    ("medium", "repeat", "after_action_review"),
    ("medium", "cluster", "mdt_review"),
    ("high", "single", "mdt_review"),
    ("high", "repeat", "psii"),  # a high-risk recurrence: an investigation
    ("high", "cluster", "psii"),
])
def test_the_suggestion_table(severity, recurrence, expected):
    assert suggest_response(Severity(severity), Recurrence(recurrence)) == expected


def test_due_dates_count_working_days_and_whole_months():
    friday = date(2026, 11, 27)
    assert add_working_days(friday, 2) == date(2026, 12, 1)  # Monday, Tuesday
    assert add_working_days(friday, 2, holidays={date(2026, 11, 30)}) == date(2026, 12, 2)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    templates = load_learning_responses()
    assert templates.template("mdt_review").time_limit.due(friday) == date(2026, 12, 27)


# -- the services ------------------------------------------------------------------------------

@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def triaged(engine, org, *, severity="low", recurrence="single", hours_ago=1, **changes):
    """A near miss at Maple House (unless changed), triaged by the quality lead."""
    quality = org.actor("quality")
    reference = file_near_miss(UnitOfWork(engine), quality, draft(
        org, occurred_at=local_now() - timedelta(hours=hours_ago), **changes),
                               now=utcnow(), rules=settings()).reference
    level = review_level(Severity(severity), Recurrence(recurrence), settings().triage)
    triage_report(UnitOfWork(engine), quality, reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence=recurrence,
        severity=severity, investigation=level.value, route="supervisor"),
        expected_version=1, now=utcnow(), rules=settings())
    return reference


def events(engine, action):
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)))


def today():
    return to_local(utcnow(), settings().zone).date()


def start_huddle(engine, org, reference, actor="supervisor"):
    return start_response(UnitOfWork(engine), org.actor(actor), type_key="swarm_huddle",
                          references=[reference], now=utcnow(), rules=settings())


def completed_huddle(engine, org, reference, actor="supervisor"):
    response_id = start_huddle(engine, org, reference, actor)
    save_answers(UnitOfWork(engine), org.actor(actor), response_id, answers=HUDDLE_ANSWERS,
                 participants=PEOPLE, now=utcnow(), rules=settings())
    complete_response(UnitOfWork(engine), org.actor(actor), response_id, now=utcnow())
    return response_id


def test_a_low_risk_one_off_gets_a_huddle_due_in_two_working_days(engine, org):
    reference = triaged(engine, org)
    supervisor = org.actor("supervisor")
    with read_session(engine) as session:
        offered = report_responses(session, supervisor, reference, today=today())
    assert offered.suggestion.type_key == "swarm_huddle"
    assert offered.suggestion.basis == "low potential, single"
    assert offered.suggested_template.time_limit.label == "within 2 working days"
    assert offered.responses == ()

    response_id = start_huddle(engine, org, reference)
    with read_session(engine) as session:
        detail = response_detail(session, supervisor, response_id, today=today())
        offered = report_responses(session, supervisor, reference, today=today())
    assert detail.type_key == detail.suggested_type_key == "swarm_huddle"
    assert detail.choice_reason is None
    assert detail.due_on == add_working_days(today(), 2)
    assert detail.title == "Swarm huddle: Transfer / near fall, Bathroom doorway"
    assert [r.reference for r in detail.reports] == [reference]
    assert detail.is_open and not detail.overdue
    assert [s.id for s in offered.responses] == [response_id]

    [started] = events(engine, "learning_response.started")
    after = json.loads(started.after_json)
    assert (started.actor, started.entity_type, started.entity_id) == (
        "supervisor", "learning_response", str(response_id))
    assert after["suggested"] == after["type"] == "swarm_huddle"
    assert after["reason"] is None and after["references"] == [reference]
    assert after["due_on"] == detail.due_on.isoformat()
    [linked] = events(engine, "learning_response.report_linked")
    assert linked.entity_type == "near_miss_report"


def test_choosing_another_response_needs_a_reason_that_is_audited(engine, org):
    reference = triaged(engine, org)
    supervisor = org.actor("supervisor")
    with pytest.raises(ValidationFailed) as caught:
        start_response(UnitOfWork(engine), supervisor, type_key="after_action_review",
                       references=[reference], reason="   ", now=utcnow(), rules=settings())
    assert "suggested swarm huddle (low potential, single)" in caught.value.errors["reason"]
    assert events(engine, "learning_response.started") == []

    reason = "The night shift was involved too: we need both teams in a facilitated review."
    response_id = start_response(UnitOfWork(engine), supervisor,
                                 type_key="after_action_review", references=[reference],
                                 reason=reason, now=utcnow(), rules=settings())
    [started] = events(engine, "learning_response.started")
    after = json.loads(started.after_json)
    assert (after["type"], after["suggested"], after["reason"]) == (
        "after_action_review", "swarm_huddle", reason)
    with read_session(engine) as session:
        detail = response_detail(session, supervisor, response_id, today=today())
    assert detail.choice_reason == reason
    assert detail.due_on == add_working_days(today(), 10)
    assert any(reason in h.detail for h in detail.history)


def test_the_full_rca_is_a_choice_recorded_with_its_reason(engine, org):
    reference = triaged(engine, org)
    quality = org.actor("quality")
    with pytest.raises(ValidationFailed) as caught:
        start_response(UnitOfWork(engine), quality, type_key=FULL_RCA, references=[reference],
                       now=utcnow(), rules=settings())
    assert "own page" in caught.value.errors["type"]
    with pytest.raises(ValidationFailed) as caught:
        choose_full_rca(UnitOfWork(engine), quality, references=[reference],
                        now=utcnow(), rules=settings())
    assert "reason" in caught.value.errors
    assert choose_full_rca(UnitOfWork(engine), quality, references=[reference.lower()],
                           reason="Same mismatch in three services",
                           now=utcnow(), rules=settings()) == [reference]
    [chosen] = events(engine, "learning_response.rca_chosen")
    assert json.loads(chosen.after_json)["reason"] == "Same mismatch in three services"


def test_a_high_risk_recurrence_gets_an_investigation_over_all_its_reports(engine, org):
    first = triaged(engine, org, severity="low", recurrence="single", hours_ago=30)
    second = triaged(engine, org, severity="high", recurrence="repeat", hours_ago=2)
    quality = org.actor("quality")
    with read_session(engine) as session:
        proposal = response_proposal(session, quality, [first, second, "NM-1999-00001"],
                                     today=today())
    assert proposal.suggestion.type_key == "psii"
    assert proposal.suggestion.basis == "high potential, repeat"
    assert proposal.not_found == ("NM-1999-00001",)
    response_id = start_response(UnitOfWork(engine), quality, type_key="psii",
                                 references=[first, second], title="Doorway near falls",
                                 now=utcnow(), rules=settings())
    with read_session(engine) as session:
        detail = response_detail(session, quality, response_id, today=today())
        again = response_proposal(session, quality, [second], today=today())
    assert detail.due_on == add_months(today(), 3)
    assert detail.title == "Doorway near falls"
    assert [s.id for s in again.already_open] == [response_id]


def test_a_response_needs_triaged_reports_and_known_fields(engine, org):
    untriaged = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                               now=utcnow(), rules=settings()).reference
    supervisor = org.actor("supervisor")
    with pytest.raises(ValidationFailed) as caught:
        start_huddle(engine, org, untriaged)
    assert "Triage" in caught.value.errors["references"]
    with pytest.raises(ValidationFailed) as caught:
        start_response(UnitOfWork(engine), supervisor, type_key="chat", references=[],
                       now=utcnow(), rules=settings())
    assert set(caught.value.errors) == {"type", "references"}
    with pytest.raises(NotFound):
        start_huddle(engine, org, "NM-1999-00001")


def test_answers_are_saved_checked_and_completion_needs_them_all(engine, org):
    reference = triaged(engine, org)
    supervisor = org.actor("supervisor")
    response_id = start_huddle(engine, org, reference)
    with pytest.raises(ValidationFailed) as caught:
        save_answers(UnitOfWork(engine), supervisor, response_id,
                     answers={"mood": "fine", "what_now": "x" * 5000},
                     participants=["\x00"], now=utcnow(), rules=settings())
    assert set(caught.value.errors) == {"answers.mood", "answers.what_now", "participants"}

    partial = {"what_happened": HUDDLE_ANSWERS["what_happened"], "what_now": "  "}
    assert save_answers(UnitOfWork(engine), supervisor, response_id, answers=partial,
                        participants=["Sam (DSP on shift)", "", "Sam (DSP on shift)"],
                        now=utcnow(), rules=settings())
    assert not save_answers(UnitOfWork(engine), supervisor, response_id, answers=partial,
                            participants=["Sam (DSP on shift)"],
                            now=utcnow(), rules=settings())  # nothing changed
    with pytest.raises(ValidationFailed) as caught:
        complete_response(UnitOfWork(engine), supervisor, response_id, now=utcnow())
    assert set(caught.value.errors) == {"answers.what_was_expected", "answers.why_different",
                                        "answers.what_now", "findings", "participants"}
    assert "at least 2" in caught.value.errors["participants"]

    save_answers(UnitOfWork(engine), supervisor, response_id, answers=HUDDLE_ANSWERS,
                 participants=PEOPLE, now=utcnow(), rules=settings())
    complete_response(UnitOfWork(engine), supervisor, response_id, now=utcnow())
    with read_session(engine) as session:
        detail = response_detail(session, supervisor, response_id, today=today())
    assert detail.status == "completed" and detail.participants == tuple(PEOPLE)
    assert detail.findings == (f"Why was there a difference?\n{HUDDLE_ANSWERS['why_different']}"
                               f"\n\nWhat will we do now?\n{HUDDLE_ANSWERS['what_now']}")
    # Completed: read-only.
    for call in (lambda: save_answers(UnitOfWork(engine), supervisor, response_id,
                                      answers={}, participants=PEOPLE,
                                      now=utcnow(), rules=settings()),
                 lambda: complete_response(UnitOfWork(engine), supervisor, response_id,
                                           now=utcnow())):
        with pytest.raises(ValidationFailed) as caught:
            call()
        assert "read-only" in caught.value.errors["status"]
    [saved_first, saved_second] = events(engine, "learning_response.saved")
    assert json.loads(saved_first.after_json)["participants"] == ["Sam (DSP on shift)"]
    assert json.loads(saved_second.before_json)["answers"] == {
        "what_happened": HUDDLE_ANSWERS["what_happened"]}
    [completed] = events(engine, "learning_response.completed")
    assert json.loads(completed.after_json)["findings"] == detail.findings
    with read_session(engine) as session:
        assert verify_chain(session).ok


def test_a_started_response_keeps_its_template(engine, org, tmp_path, monkeypatch):
    reference = triaged(engine, org)
    response_id = start_huddle(engine, org, reference)
    tailored = tmp_path / "responses.yaml"
    tailored.write_text(load_learning_responses().model_dump_json().replace(
        "What happened?", "Tell us what happened"))
    monkeypatch.setenv("NEARMISS_LEARNING_RESPONSES", str(tailored))
    assert load_learning_responses().template("swarm_huddle").fields[0].label == \
        "Tell us what happened"
    with read_session(engine) as session:
        detail = response_detail(session, org.actor("supervisor"), response_id, today=today())
    assert detail.template.fields[0].label == "What happened?"


def test_a_completed_response_feeds_the_action_plan_builder(engine, org):
    reference = triaged(engine, org)
    quality = org.actor("quality")
    response_id = start_huddle(engine, org, reference)
    with read_session(engine) as session, pytest.raises(ValidationFailed) as caught:
        response_findings_for_actions(session, quality, response_id)
    assert "Complete the learning response first" in caught.value.errors["status"]
    action = ActionDraft(title="Walker parking spot", kind="checklist",
                         owner_id=quality.user_id, deadline=today() + timedelta(days=5),
                         review_date=today() + timedelta(days=9),
                         evidence_checks=["Spot marked by the door"], verify_with_measure=False)
    with pytest.raises(ValidationFailed) as caught:
        create_plan(UnitOfWork(engine), quality, PlanDraft(
            title="Walker", theme="Walker", source="learning_response",
            learning_response_id=response_id, report_references=[reference],
            actions=[action]), now=utcnow(), rules=settings())
    assert "Complete the learning response first" in caught.value.errors["learning_response"]

    save_answers(UnitOfWork(engine), quality, response_id, answers=HUDDLE_ANSWERS,
                 participants=PEOPLE, now=utcnow(), rules=settings())
    complete_response(UnitOfWork(engine), quality, response_id, now=utcnow())
    with read_session(engine) as session:
        proposal = proposal_from_learning_response(session, quality, response_id)
    assert proposal.source == "learning_response"
    assert proposal.learning_response_id == response_id
    assert proposal.references == [reference]
    assert HUDDLE_ANSWERS["what_now"] in proposal.theme
    assert proposal.title == "Swarm huddle: Transfer / near fall, Bathroom doorway"
    assert proposal.measure.type_keys == ("transfer_near_fall",)

    created = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title=proposal.title, theme=proposal.theme, source=proposal.source,
        learning_response_id=proposal.learning_response_id,
        report_references=proposal.references, actions=[action]), now=utcnow(), rules=settings())
    with read_session(engine) as session:
        plan = session.get(ActionPlan, created.plan_id)
        assert (plan.source, plan.learning_response_id) == ("learning_response", response_id)
    [event] = events(engine, "action_plan.created")
    assert json.loads(event.after_json)["learning_response_id"] == response_id

    for wrong, field in ((PlanDraft(source="rumour"), "source"),
                         (PlanDraft(source="report", learning_response_id=response_id),
                          "learning_response"),
                         (PlanDraft(source="learning_response"), "learning_response"),
                         (PlanDraft(source="learning_response", learning_response_id=10**12),
                          "learning_response")):
        wrong.title, wrong.theme, wrong.report_references = "T", "T", [reference]
        wrong.actions = [action]
        with pytest.raises(ValidationFailed) as caught:
            create_plan(UnitOfWork(engine), quality, wrong, now=utcnow(), rules=settings())
        assert field in caught.value.errors


def test_only_supervisors_and_quality_leads_of_the_services_lead_responses(engine, org):
    reference = triaged(engine, org)  # Maple House
    response_id = completed_huddle(engine, org, reference)
    for role in ("reporter", "safeguarding", "clinical", "operations", "governance",
                 "commissioner", "admin"):
        actor = org.actor(role)
        for call in (
                lambda a=actor: start_huddle(engine, org, reference, a.username),
                lambda a=actor: choose_full_rca(UnitOfWork(engine), a, references=[reference],
                                                reason="x", now=utcnow(), rules=settings()),
                lambda a=actor: save_answers(UnitOfWork(engine), a, response_id, answers={},
                                             participants=[], now=utcnow(), rules=settings()),
                lambda a=actor: complete_response(UnitOfWork(engine), a, response_id,
                                                  now=utcnow())):
            with pytest.raises(PermissionDenied):
                call()
        with read_session(engine) as session, pytest.raises(PermissionDenied):
            list_responses(session, actor, today=today())

    oak = org.actor("oak_supervisor")
    with pytest.raises(NotFound):
        start_huddle(engine, org, reference, "oak_supervisor")
    with read_session(engine) as session:
        assert list_responses(session, oak, today=today()) == []
        with pytest.raises(NotFound):
            response_detail(session, oak, response_id, today=today())
        assert [s.id for s in list_responses(session, org.actor("supervisor"),
                                             today=today())] == [response_id]
        assert [s.id for s in list_responses(session, org.actor("quality"),
                                             today=today())] == [response_id]


def test_an_overdue_response_is_flagged_and_listed_first(engine, org):
    first = triaged(engine, org, hours_ago=3)
    second = triaged(engine, org, hours_ago=2)
    quality = org.actor("quality")
    early = utcnow() - timedelta(days=7)
    overdue_id = start_response(UnitOfWork(engine), quality, type_key="swarm_huddle",
                                references=[first], now=early, rules=settings())
    later_id = start_response(UnitOfWork(engine), quality, type_key="swarm_huddle",
                              references=[second], now=utcnow(), rules=settings())
    with read_session(engine) as session:
        listed = list_responses(session, quality, today=today())
    assert [s.id for s in listed] == [overdue_id, later_id]
    assert listed[0].overdue and listed[0].status_label == "Overdue"
    assert not listed[1].overdue
