"""Learning responses in the real app: from a triaged near miss's "start the suggested response"
link to a completed swarm huddle whose findings open the action plan builder; choosing another
response needs a reason, shown beside the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.review.response_models import LearningResponse
from core.triage.matrix import review_level
from core.triage.service import TriageAnswers, triage_report
from core.triage.vocabulary import Recurrence, Severity
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, field_messages, new_app, sign_in, texts
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

ANSWERS = {
    "what_happened": "Her walker was parked by the bath, out of reach at the doorway.",
    "what_was_expected": "The walker stays within reach for every bathroom transfer.",
    "why_different": "No set place for the walker; the night shift moves it to clean.",
    "what_now": "Mark a parking spot by the door; the night shift puts it back there.",
}


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


@pytest.fixture
def reference(engine, org):
    """A low-potential one-off near fall at Maple House, triaged."""
    quality = org.actor("quality")
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, occurred_at=local_now() - timedelta(hours=1)),
                           now=utcnow(), rules=settings()).reference
    level = review_level(Severity.LOW, Recurrence.SINGLE, settings().triage)
    triage_report(UnitOfWork(engine), quality, filed, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity="low",
        investigation=level.value, route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    return filed


def responses(engine):
    with read_session(engine) as session:
        return list(session.scalars(select(LearningResponse)))


def links(at):
    return [str(link.proto) for link in at.get("page_link")]


def all_text(at):
    return " ".join(str(t.value) for t in at.get("text"))


def test_a_supervisor_starts_the_suggested_huddle_saves_and_completes_it(engine, org,
                                                                          reference):
    at = sign_in(new_app(), "supervisor")
    at.query_params["ref"] = reference
    at = at.switch_page("pages/near_miss.py").run()
    assert_no_exception(at)
    assert any("Start the suggested response: Swarm huddle (within 2 working days)" in link
               and "learning_response" in link for link in links(at))

    at.query_params.clear()
    at.query_params["reports"] = reference
    at = at.switch_page("pages/learning_response.py").run()
    assert_no_exception(at)
    assert texts(at, "title") == ["Learning responses"]
    assert any("Swarm huddle" in i and "low potential, single" in i for i in texts(at, "info"))
    assert at.radio(key="lr.new.type").value == "swarm_huddle"
    assert "The staff on shift when it happened" in all_text(at)
    at = at.button(key="lr.new.start").click().run()
    assert_no_exception(at)
    [row] = responses(engine)
    assert any(f"#{row.id} started" in s for s in texts(at, "success"))
    assert (row.type_key, row.choice_reason, row.status) == ("swarm_huddle", None, "open")

    # The template's questions, who takes part and the due date, saved as typed.
    key = f"lr.{row.id}."
    assert any(f"due {row.due_on:%d %b %Y}" in c for c in texts(at, "caption"))
    at.text_area(key=f"{key}participants").input("Sam (DSP on shift)\nOla (supervisor)")
    at.text_area(key=f"{key}answer.what_happened").input(ANSWERS["what_happened"])
    at = at.run().button(key=f"{key}save").click().run()
    assert_no_exception(at)
    assert "Saved." in texts(at, "success")
    [row] = responses(engine)
    assert row.answers == {"what_happened": ANSWERS["what_happened"]}
    assert row.participants == ["Sam (DSP on shift)", "Ola (supervisor)"]

    # Completing with answers missing: refused beside each, nothing typed lost.
    at = at.button(key=f"{key}complete").click().run()
    [summary] = texts(at, "error")  # one alert; each reason beside its answer
    assert "Saved, but not complete yet" in summary
    assert any("Answer this before completing" in e for e in field_messages(at))
    for name, answer in ANSWERS.items():
        at.text_area(key=f"{key}answer.{name}").input(answer)
    at = at.run().button(key=f"{key}complete").click().run()
    assert_no_exception(at)
    assert any("is complete" in s for s in texts(at, "success"))
    [row] = responses(engine)
    assert row.status == "completed" and row.answers == ANSWERS
    assert not [w for w in at.text_area if w.key and w.key.startswith(key)]
    assert ANSWERS["what_now"] in all_text(at)
    assert any("from=response" in link and f"response={row.id}" in link for link in links(at))

    # The builder opens with the findings as its theme and the report linked.
    at.query_params.clear()
    at.query_params["from"] = "response"
    at.query_params["response"] = str(row.id)
    at = at.switch_page("pages/action_plan.py").run()
    assert_no_exception(at)
    base = f"plan.new.response.{row.id}"
    assert ANSWERS["what_now"] in at.text_area(key=f"{base}.theme").value
    assert at.text_input(key=f"{base}.references").value == reference


def test_choosing_another_response_asks_for_a_reason_beside_the_field(engine, org, reference):
    at = sign_in(new_app(), "quality")
    at.query_params["reports"] = reference
    at = at.switch_page("pages/learning_response.py").run()
    at = at.radio(key="lr.new.type").set_value("after_action_review").run()
    assert_no_exception(at)
    assert "(required)" in at.text_area(key="lr.new.reason").label
    at = at.button(key="lr.new.start").click().run()
    assert len(texts(at, "error")) == 1
    assert any("rather than the suggested swarm huddle" in e for e in field_messages(at))
    assert responses(engine) == []
    reason = "Both shifts were involved: a facilitated review with both teams."
    at.text_area(key="lr.new.reason").input(reason)
    at = at.run().button(key="lr.new.start").click().run()
    assert_no_exception(at)
    [row] = responses(engine)
    assert (row.type_key, row.suggested_type_key, row.choice_reason) == (
        "after_action_review", "swarm_huddle", reason)
    assert reason in all_text(at)

    # The full root cause analysis is offered too: the choice is recorded, then its page.
    at.query_params.clear()
    at.query_params["reports"] = reference
    at = at.switch_page("pages/learning_response.py").run()
    at = at.radio(key="lr.new.type").set_value("full_rca").run()
    at.text_area(key="lr.new.reason").input("The same mismatch appears in three services.")
    at = at.run().button(key="lr.new.start").click().run()
    assert_no_exception(at)
    assert any("rca" in link and reference in link for link in links(at))


def test_roles_without_learning_responses_do_not_see_the_link(engine, org, reference):
    at = sign_in(new_app(), "clinical")
    at.query_params["ref"] = reference
    at = at.switch_page("pages/near_miss.py").run()
    assert_no_exception(at)
    assert not any("learning_response" in link for link in links(at))
