"""The workflow cannot be bypassed through core, property-based.

Random sequences of the services that move a report (triage, start, save and finish the review,
tick gates, move to validating, record evidence, close, reopen, re-classify), with random
actors, arguments and expected versions, never move a report past review with a "cannot
proceed without" gate open, never close it with its review incomplete or validation evidence
missing, and never record a move the state machine does not allow.

Examples (hypothesis `max_examples`, per backend): 24 sequences of up to 12 calls, each after a
random prefix of the lawful path (so every state, closed included, is reached and attacked).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from core.clock import utcnow
from core.config import settings as app_settings
from core.db import read_session
from core.errors import DomainError
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport, ReportTransition
from core.reports.vocabulary import ReportStatus
from core.reports.workflow import LEGAL_MOVES
from core.review.models import GateCheck, Review, ValidationEvidence
from core.review.rules import missing_evidence, open_gates, review_problems
from core.review.service import (
    ReviewInput,
    check_gate,
    close_report,
    finish_review,
    move_to_validating,
    record_evidence,
    reopen_report,
    save_review,
    start_review,
)
from core.taxonomy.service import type_version
from core.triage.service import TriageAnswers, reclassify_as_incident, triage_report
from core.uow import UnitOfWork
from tests.builders import Org, build_org, draft
from tests.conftest import built_once

EXAMPLES = 24
MAX_CALLS = 12
PROPERTY_SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])
# Types with gates and validation items of their own (seed 1's near fall and medication).
TYPES = ("transfer_near_fall", "medication_discrepancy")
ACTORS = ("supervisor", "quality", "oak_supervisor", "reporter")
TRIAGE = TriageAnswers(at_risk_now=False, safeguarding_trigger=False, recurrence="single",
                       severity="medium", investigation="supervisor_review", route="supervisor")
COMPLETE = {  # review answers that complete each type's review
    "transfer_near_fall": {
        "transfer_task": "Evening bathroom routine", "mobility_aid_position": "Slightly out of "
        "reach", "staff_present": "One DSP", "balance_or_fatigue": "Tired",
        "immediate_action": "Steadied her", "support_plan_guidance": "Walker within reach",
        "environmental_condition": "Tight doorway", "supervisor_review": "Set-up varies"},
    "medication_discrepancy": {
        "medication_prompt_time": "2026-11-20T08:00",
        "source_of_discrepancy": "Care plan vs family note", "worker_action": "Paused, called",
        "current_presentation": "Well", "supervisor_contact_time": "2026-11-20T08:10",
        "clinical_advice_decision": "Confirmed the change", "medication_record_status":
        "Corrected", "representative_communication": "Daughter told",
        "next_visit_instruction": "New dose from the evening visit"},
}


def _review_input(type_key: str, complete: bool) -> ReviewInput:
    if not complete:
        return ReviewInput(field_values={}, control_reliable="no")
    return ReviewInput(field_values=COMPLETE[type_key], what_stopped_harm="Staff vigilance",
                       control_reliable="no", would_work_again="unsure",
                       contributing_factors=["equipment"], barrier_class="staff_recovery",
                       findings="Set-up varies by who does it.")


@pytest.fixture
def org(engine: Engine, db_url: str) -> Org:
    return built_once("org", db_url, build_org)  # built once, copied per test


class Walk:
    """One report and the calls a sequence makes on it."""

    def __init__(self, engine: Engine, org_: Org, type_key: str) -> None:
        self.engine, self.org, self.type_key = engine, org_, type_key
        self.reference = file_near_miss(UnitOfWork(engine), org_.actor("reporter"),
                                        draft(org_, type_key=type_key),
                                        now=utcnow(), rules=app_settings()).reference
        with read_session(engine) as session:
            from core.taxonomy.models import NearMissType

            current = session.get(NearMissType, type_key)
            assert current is not None
            spec = type_version(session, type_key, current.current_version)
        self.gates = [g.key for g in spec.gates]
        self.items = [v.key for v in spec.validation]

    def version(self) -> int:
        with read_session(self.engine) as session:
            return session.scalar(select(NearMissReport.version_id).where(
                NearMissReport.reference == self.reference)) or 0

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    # -- the lawful path, step by step (a sequence starts after a random prefix of it) ------

    def lawful(self) -> list[Callable[[], Any]]:
        quality = self.org.actor("quality")
        ref = self.reference

        def moving(service: Callable[..., Any], **kwargs: Any) -> Callable[[], Any]:
            # The version is read when the step runs, as a page reads it before the click.
            return lambda: service(self.uow(), quality, ref, expected_version=self.version(),
                                   now=utcnow(), rules=app_settings(), **kwargs)

        return [
            moving(triage_report, answers=TRIAGE),
            moving(start_review),
            lambda: save_review(self.uow(), quality, ref, _review_input(self.type_key, True),
                                now=utcnow(), rules=app_settings()),
            *[partial(check_gate, self.uow(), quality, ref, key, note="Done", now=utcnow())
              for key in self.gates],
            moving(finish_review, next_step=ReportStatus.ACTIONS),
            moving(move_to_validating),
            *[partial(record_evidence, self.uow(), quality, ref, key, note="Seen in place",
                      now=utcnow(), rules=app_settings())
              for key in self.items],
            moving(close_report, outcome="Control in place"),
        ]


@st.composite
def calls(draw: st.DrawFn, walk: Walk) -> tuple[str, Callable[[], Any]]:
    """One service call with random actor, arguments and expected version."""
    actor = walk.org.actor(draw(st.sampled_from(ACTORS)))
    version = walk.version() + draw(st.sampled_from((0, 0, 0, 1, -1)))
    ref = walk.reference
    uow = walk.uow()
    name = draw(st.sampled_from((
        "triage", "start_review", "save_review", "check_gate", "finish_review",
        "move_to_validating", "record_evidence", "close", "reopen", "reclassify")))
    call: Callable[[], Any]
    if name == "triage":
        call = partial(triage_report, uow, actor, ref, TRIAGE, expected_version=version,
                       now=utcnow(), rules=app_settings())
    elif name == "start_review":
        call = partial(start_review, uow, actor, ref, expected_version=version,
                       now=utcnow(), rules=app_settings())
    elif name == "save_review":
        call = partial(save_review, uow, actor, ref,
                       _review_input(walk.type_key, draw(st.booleans())),
                       now=utcnow(), rules=app_settings())
    elif name == "check_gate":
        call = partial(check_gate, uow, actor, ref,
                       draw(st.sampled_from([*walk.gates, "not_a_gate"])),
                       note=draw(st.sampled_from(("Done", "", " "))),
                       not_applicable=draw(st.booleans()), now=utcnow())
    elif name == "finish_review":
        call = partial(finish_review, uow, actor, ref,
                       next_step=draw(st.sampled_from(list(ReportStatus))),
                       expected_version=version, now=utcnow(), rules=app_settings())
    elif name == "move_to_validating":
        call = partial(move_to_validating, uow, actor, ref, expected_version=version,
                       now=utcnow(), rules=app_settings())
    elif name == "record_evidence":
        call = partial(record_evidence, uow, actor, ref,
                       draw(st.sampled_from([*walk.items, "not_an_item"])),
                       note=draw(st.sampled_from(("Seen", ""))), now=utcnow(), rules=app_settings())
    elif name == "close":
        call = partial(close_report, uow, actor, ref,
                       outcome=draw(st.sampled_from(("Fixed", ""))), expected_version=version,
                       now=utcnow(), rules=app_settings())
    elif name == "reopen":
        call = partial(reopen_report, uow, actor, ref,
                       reason=draw(st.sampled_from(("It happened again", ""))),
                       expected_version=version, now=utcnow(), rules=app_settings())
    else:
        call = partial(reclassify_as_incident, uow, actor, ref, reason="Harm reached him",
                       expected_version=version, now=utcnow(), rules=app_settings())
    return name, call


PAST_REVIEW = {ReportStatus.ACTIONS, ReportStatus.VALIDATING, ReportStatus.CLOSED}


def assert_lawful(walk: Walk, history: list[str]) -> ReportStatus:
    """The invariants: what must hold of the report whatever was called."""
    with read_session(walk.engine) as session:
        report = session.scalar(select(NearMissReport).where(
            NearMissReport.reference == walk.reference))
        assert report is not None
        status = ReportStatus(report.status)
        moves = session.execute(select(ReportTransition.from_status, ReportTransition.to_status)
                                .where(ReportTransition.report_id == report.id)
                                .order_by(ReportTransition.id)).all()
        for source, target in moves:
            assert ReportStatus(target) in LEGAL_MOVES[ReportStatus(source)], (moves, history)
        if moves:
            assert moves[-1][1] == status.value
        if status not in PAST_REVIEW:
            return status
        review = session.scalar(select(Review).where(Review.report_id == report.id))
        assert review is not None, history
        template = type_version(session, report.type_key, review.template_version)
        checked = set(session.scalars(select(GateCheck.gate_key).where(
            GateCheck.report_id == report.id)))
        assert open_gates(template, checked) == [], (status, history)
        if status is ReportStatus.CLOSED:
            # (The review may be edited after it is finished, so it is complete when closed.)
            problems = review_problems(template, review.field_values,
                                       control_reliable=review.control_reliable,
                                       would_work_again=review.would_work_again,
                                       barrier_class=review.barrier_class)
            assert problems == {}, (problems, history)
            evidenced = set(session.scalars(select(ValidationEvidence.item_key).where(
                ValidationEvidence.report_id == report.id)))
            assert missing_evidence(template, evidenced) == [], history
            assert review.closed_at is not None and review.outcome, history
        return status


def test_random_service_calls_never_get_past_an_open_gate_or_missing_evidence(
        engine: Engine, org: Org) -> None:
    reached: dict[str, int] = {}
    ran = [0]

    @PROPERTY_SETTINGS
    @given(st.data())
    def check(data: st.DataObject) -> None:
        ran[0] += 1
        walk = Walk(engine, org, data.draw(st.sampled_from(TYPES)))
        history: list[str] = []
        # A random prefix of the lawful path (often all of it), a step or two perhaps left
        # out (a gate, an item of evidence) ...
        path = walk.lawful()
        length = data.draw(st.one_of(st.just(len(path)), st.integers(0, len(path))))
        skipped = data.draw(st.one_of(st.just(frozenset()), st.frozensets(
            st.integers(0, len(path) - 1), max_size=2)))
        for index, step in enumerate(path[:length]):
            if index in skipped:
                continue
            history.append(f"lawful step {index}")
            with suppress(DomainError):
                step()
            status = assert_lawful(walk, history)  # checked here too: counted as reached
            reached[status.value] = reached.get(status.value, 0) + 1
        # ... then anything at all.
        for _ in range(data.draw(st.integers(1, MAX_CALLS))):
            name, call = data.draw(calls(walk))
            try:
                call()
                history.append(name)
            except DomainError as exc:
                assert str(exc).strip()
                history.append(f"{name} refused")
            status = assert_lawful(walk, history)
            reached[status.value] = reached.get(status.value, 0) + 1

    check()
    print(f"hypothesis: workflow walk: {ran[0]} examples; states reached {reached}")
    assert ran[0] >= EXAMPLES
    # The property was tested where it matters: past review and closed, not only at the start.
    assert reached.get("closed", 0) and reached.get("in_review", 0), reached
