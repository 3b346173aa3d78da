"""The action plan builder in core: verification from the near-miss data (a rate that falls
after the control and one that does not), the strength warning, status rules, overdue logic
with a fixed clock, scope."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from core.actions.measures import MeasureFilters, evaluate, propose_verdict, weekly_counts
from core.actions.models import (
    Action,
    ActivityCount,
    SustainmentCheck,
    VerificationMeasure,
)
from core.actions.queries import RegisterFilters, deadline_state, plan_detail, register
from core.actions.service import (
    ActionDraft,
    MeasureDraft,
    PlanDraft,
    complete_evidence_check,
    confirm_sustainment,
    confirm_verdict,
    create_plan,
    set_go_live,
    set_status,
)
from core.actions.vocabulary import ActionStatus, strength_warning
from core.auth.actor import SYSTEM
from core.db import read_session
from core.errors import NotFound, ValidationFailed
from core.reports.service import file_near_miss
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now

FAMILY_NOTE = {"source_of_discrepancy": "Care plan vs family note"}
TODAY = local_now().date()


@pytest.fixture(autouse=True)
def _today() -> None:
    """Today as each test starts: a run can cross local midnight."""
    global TODAY
    TODAY = local_now().date()


@pytest.fixture
def org(engine):
    return build_org(engine)


def file_medication(engine, org, days_ago: float, *, location=None) -> str:
    return file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, type_key="medication_discrepancy", location_id=location or org.maple_kitchen,
        description="Care plan prompt did not match the family note; paused and called.",
        occurred_at=local_now() - timedelta(days=days_ago),
        capture_fields=dict(FAMILY_NOTE))).reference


def plant(engine, org, *, before_per_week: int, after_per_week: int, go_live: date) -> str:
    """Twelve weeks of reports before go-live at one rate, two weeks after at another."""
    last = None
    days_before_go_live = (TODAY - go_live).days
    for week in range(12):
        for i in range(before_per_week):
            last = file_medication(engine, org, days_before_go_live + 7 * week + 1 + i)
    for week in range(2):
        for i in range(after_per_week):
            last = file_medication(engine, org, days_before_go_live - 7 * week - 1 - i)
    assert last is not None
    return last


MEASURE = MeasureDraft(filters=MeasureFilters(type_keys=("medication_discrepancy",),
                                              capture=dict(FAMILY_NOTE)))


def action(owner_id: int, **changes) -> ActionDraft:
    values = dict(title="Family-note check at each visit", kind="checklist", owner_id=owner_id,
                  deadline=TODAY + timedelta(days=10), review_date=TODAY + timedelta(days=20),
                  evidence_checks=["Check card at every medication area",
                                   "Spot check of 10 visits"])
    values.update(changes)
    return ActionDraft(**values)


def plan_for(engine, org, reference: str, *actions: ActionDraft, measure=MEASURE):
    return create_plan(UnitOfWork(engine), org.actor("quality"), PlanDraft(
        title="Medication record mismatches", theme="Care plan vs family note mismatches",
        report_references=[reference], actions=list(actions), measure=measure))


def test_a_rate_that_falls_after_the_control_is_proposed_effective(engine, org):
    go_live = TODAY - timedelta(days=14)
    reference = plant(engine, org, before_per_week=3, after_per_week=0, go_live=go_live)
    with read_session(engine) as session:
        result = evaluate(session, MEASURE.filters, per="week", direction="decrease",
                          target=None, go_live=go_live, window_days=14, baseline_weeks=12,
                          min_improvement=0.2, today=TODAY)
    assert result.baseline == pytest.approx(3.0)
    assert result.observed == pytest.approx(0.0)
    assert result.proposal.verdict == "effective" and result.window_over

    quality = org.actor("quality")
    created = plan_for(engine, org, reference, action(quality.user_id))
    [action_id] = created.action_ids
    set_go_live(UnitOfWork(engine), quality, action_id, go_live)
    with read_session(engine) as session:
        checks = plan_detail(session, quality, created.plan_id, today=TODAY).actions[0].checks
    for check in checks:
        complete_evidence_check(UnitOfWork(engine), quality, check.id, note="Seen in place")
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True,
                    note="Family-note mismatches stopped after the check went in.")
    with read_session(engine) as session:
        measure = session.scalar(select(VerificationMeasure))
        sustainment = session.scalar(select(SustainmentCheck))
    assert (measure.baseline_value, measure.observed_value) == (pytest.approx(3.0), 0.0)
    assert (measure.proposed_verdict, measure.confirmed_verdict) == ("effective", "effective")
    assert sustainment.due_date == go_live + timedelta(days=14 + 42)


def test_a_rate_that_does_not_fall_is_proposed_not_effective(engine, org):
    go_live = TODAY - timedelta(days=14)
    plant(engine, org, before_per_week=2, after_per_week=2, go_live=go_live)
    with read_session(engine) as session:
        result = evaluate(session, MEASURE.filters, per="week", direction="decrease",
                          target=None, go_live=go_live, window_days=14, baseline_weeks=12,
                          min_improvement=0.2, today=TODAY)
    assert result.baseline == pytest.approx(2.0) and result.observed == pytest.approx(2.0)
    assert result.proposal.verdict == "not_effective"
    assert "did not improve" in result.proposal.reason


def test_weekly_counts_cover_every_week(engine, org):
    for days in (1, 2, 16):
        file_medication(engine, org, days)
    start = TODAY - timedelta(days=28)
    with read_session(engine) as session:
        series = weekly_counts(session, MEASURE.filters, start, TODAY + timedelta(days=1))
    assert sum(series.values()) == 3
    assert all(d.weekday() == 0 for d in series)
    assert len(series) >= 4 and 0 in series.values()


def test_rates_per_100_visits_use_the_activity_counts(engine, org):
    go_live = TODAY - timedelta(days=14)
    plant(engine, org, before_per_week=2, after_per_week=1, go_live=go_live)
    with UnitOfWork(engine) as uow:
        monday = go_live - timedelta(days=go_live.weekday()) - timedelta(weeks=13)
        for week in range(16):
            uow.session.add(ActivityCount(service_id=org.maple,
                                          week_start=monday + timedelta(weeks=week),
                                          visits=200, shifts=40))
        uow.record(SYSTEM, "activity.imported", "activity_count", None, after={"weeks": 16})
        uow.commit()
    with read_session(engine) as session:
        result = evaluate(session, MeasureFilters(
            type_keys=("medication_discrepancy",), service_ids=(org.maple,)),
            per="100_visits", direction="decrease", target=0.6, go_live=go_live,
            window_days=14, baseline_weeks=12, min_improvement=0.2, today=TODAY)
    assert result.baseline == pytest.approx(24 / 2400 * 100, rel=0.2)
    assert result.observed is not None and result.observed < result.baseline


@pytest.mark.parametrize(("baseline", "observed", "target", "verdict"), [
    (3.0, 1.0, None, "effective"),
    (3.0, 2.7, None, "not_effective"),  # improved, but by less than 20%
    (3.0, 1.0, 0.5, "not_effective"),   # improved, but the target is not met
    (0.0, 0.0, None, "insufficient_data"),
    (None, 1.0, None, "insufficient_data"),
])
def test_the_proposed_verdict(baseline, observed, target, verdict):
    assert propose_verdict(baseline, observed, direction="decrease", target=target,
                           min_improvement=0.2).verdict == verdict


def test_the_strength_warning_is_for_weak_plans_on_serious_themes():
    assert strength_warning(["training", "policy_memo"], high_potential=True, clustered=False)
    assert strength_warning(["training"], high_potential=False, clustered=True)
    assert strength_warning(["training", "checklist"], high_potential=True,
                            clustered=True) is None
    assert strength_warning(["training"], high_potential=False, clustered=False) is None


def test_the_builder_names_each_bad_field_and_saves_nothing(engine, org):
    reference = file_medication(engine, org, 1)
    with pytest.raises(ValidationFailed) as refused:
        plan_for(engine, org, reference,
                 action(org.actor("quality").user_id, deadline=TODAY - timedelta(days=1)),
                 action(org.actor("oak_supervisor").user_id, kind=None, evidence_checks=[]),
                 measure=MeasureDraft(filters=MeasureFilters(type_keys=("transport",))))
    errors = refused.value.errors
    assert errors["actions[0].deadline"] == "The deadline is in the past."
    assert "cannot reach every service" in errors["actions[1].owner"]
    assert "actions[1].kind" in errors and "actions[1].evidence_checks" in errors
    assert "matches no near miss" in errors["measure.filters"]
    with read_session(engine) as session:
        assert register(session, org.actor("quality"), RegisterFilters(), today=TODAY) == []


def test_never_verified_effective_with_an_evidence_check_open(engine, org):
    reference = file_medication(engine, org, 20)
    quality = org.actor("quality")
    [action_id] = plan_for(engine, org, reference, action(quality.user_id)).action_ids
    with pytest.raises(ValidationFailed, match="go-live"):
        set_status(UnitOfWork(engine), quality, action_id, ActionStatus.IN_TEST)
    set_go_live(UnitOfWork(engine), quality, action_id, TODAY - timedelta(days=3))
    with pytest.raises(ValidationFailed, match="test window runs until"):
        confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True, note="early")
    set_go_live_later = TODAY - timedelta(days=20)
    with UnitOfWork(engine) as uow:  # the window has since passed
        uow.session.get(Action, action_id).go_live_date = set_go_live_later
        uow.record(SYSTEM, "test.clock_moved", "action", action_id)
        uow.commit()
    with pytest.raises(ValidationFailed, match="evidence checks are open"):
        confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True,
                        note="looks fine")
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=False,
                    note="Mismatches continued; the check was not used on weekends.")
    set_status(UnitOfWork(engine), quality, action_id, ActionStatus.IN_PROGRESS)


def test_stopping_needs_a_reason_and_illegal_moves_are_refused(engine, org):
    reference = file_medication(engine, org, 1)
    quality = org.actor("quality")
    [action_id] = plan_for(engine, org, reference, action(quality.user_id)).action_ids
    with pytest.raises(ValidationFailed, match="why"):
        set_status(UnitOfWork(engine), quality, action_id, ActionStatus.STOPPED)
    set_status(UnitOfWork(engine), quality, action_id, ActionStatus.STOPPED,
               note="Superseded by the pharmacy's new labels")
    with pytest.raises(ValidationFailed, match="cannot become"):
        set_status(UnitOfWork(engine), quality, action_id, ActionStatus.IN_PROGRESS)


def test_overdue_and_due_soon_with_a_fixed_clock(engine, org):
    reference = file_medication(engine, org, 1)
    quality = org.actor("quality")
    plan_for(engine, org, reference, action(quality.user_id, title="Soon",
                                            deadline=TODAY + timedelta(days=3)),
             action(quality.user_id, title="Later", deadline=TODAY + timedelta(days=30)))
    with read_session(engine) as session:
        now = register(session, quality, RegisterFilters(), today=TODAY)
        later = register(session, quality, RegisterFilters(), today=TODAY + timedelta(days=5))
        overdue = register(session, quality, RegisterFilters(overdue_only=True),
                           today=TODAY + timedelta(days=5))
    assert {r.title: r.deadline_state for r in now} == {"Soon": "due_soon", "Later": None}
    assert later[0].title == "Soon" and later[0].deadline_state == "overdue"
    assert [r.title for r in overdue] == ["Soon"]
    assert deadline_state(TODAY - timedelta(days=1), ActionStatus.VERIFIED_EFFECTIVE, TODAY,
                          7) is None


def test_owners_see_their_actions_and_scope_holds(engine, org):
    reference = file_medication(engine, org, 1)
    supervisor = org.actor("supervisor")
    created = plan_for(engine, org, reference, action(supervisor.user_id))
    with read_session(engine) as session:
        mine = register(session, supervisor, RegisterFilters(owner_ids=(supervisor.user_id,)),
                        today=TODAY)
        assert [r.title for r in mine] == ["Family-note check at each visit"]
        assert register(session, org.actor("oak_supervisor"), RegisterFilters(),
                        today=TODAY) == []
        with pytest.raises(NotFound):
            plan_detail(session, org.actor("oak_supervisor"), created.plan_id, today=TODAY)


def test_a_lapsed_control_reopens_the_action(engine, org):
    go_live = TODAY - timedelta(days=14)
    reference = plant(engine, org, before_per_week=2, after_per_week=0, go_live=go_live)
    quality = org.actor("quality")
    created = plan_for(engine, org, reference, action(quality.user_id, evidence_checks=["x"]))
    [action_id] = created.action_ids
    set_go_live(UnitOfWork(engine), quality, action_id, go_live)
    with read_session(engine) as session:
        [check] = plan_detail(session, quality, created.plan_id, today=TODAY).actions[0].checks
    complete_evidence_check(UnitOfWork(engine), quality, check.id, note="done")
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True, note="fell")
    with read_session(engine) as session:
        sustainment = session.scalar(select(SustainmentCheck))
    with pytest.raises(ValidationFailed):
        confirm_sustainment(UnitOfWork(engine), quality, sustainment.id, in_place=False,
                            note=" ")
    confirm_sustainment(UnitOfWork(engine), quality, sustainment.id, in_place=False,
                        note="Cards removed during redecoration; not replaced.")
    with read_session(engine) as session:
        row = register(session, quality, RegisterFilters(), today=TODAY)[0]
    assert row.status is ActionStatus.IN_PROGRESS



def test_a_long_register_keeps_open_work_and_counts_every_action(engine, org):
    """A provider with thousands of finished actions still sees every open one at the top,
    and the register's figures count all the matches, not just the rows shown."""
    from core.actions.models import Action
    from core.actions.queries import register_counts

    reference = file_medication(engine, org, 1)
    quality = org.actor("quality")
    plan_for(engine, org, reference,
             action(quality.user_id, title="Open, due later",
                    deadline=TODAY + timedelta(days=40)),
             action(quality.user_id, title="Open, overdue soon",
                    deadline=TODAY + timedelta(days=2)))
    with UnitOfWork(engine) as uow:
        template = uow.session.scalars(select(Action)).first()
        columns = {c.key: getattr(template, c.key) for c in Action.__table__.columns
                   if c.key not in ("id", "version_id")}
        for n in range(6):  # finished long ago, with the earliest deadlines
            uow.session.add(Action(**{**columns, "title": f"Verified {n}",
                                      "status": ActionStatus.VERIFIED_EFFECTIVE.value,
                                      "deadline": TODAY - timedelta(days=300 - n)}))
        uow.record(SYSTEM, "test.actions_finished", "action", None)
        uow.commit()
    later = TODAY + timedelta(days=5)
    with read_session(engine) as session:
        shown = register(session, quality, RegisterFilters(), today=later, limit=4)
        counts = register_counts(session, quality, RegisterFilters(), today=later)
        everything = register(session, quality, RegisterFilters(), today=later, limit=None)
    assert [r.title for r in shown] == ["Open, overdue soon", "Open, due later", "Verified 5",
                                        "Verified 4"]
    assert shown[0].deadline_state == "overdue"
    assert len(everything) == counts.total == 8
    assert (counts.open, counts.overdue, counts.verified_effective) == (2, 1, 6)


def test_a_plan_page_holds_its_own_actions_only(engine, org):
    reference = file_medication(engine, org, 1)
    quality = org.actor("quality")
    first = plan_for(engine, org, reference, action(quality.user_id, title="First plan's"))
    plan_for(engine, org, reference, action(quality.user_id, title="Second plan's"),
             action(quality.user_id, title="Second plan's too"))
    with read_session(engine) as session:
        detail = plan_detail(session, quality, first.plan_id, today=TODAY)
    assert [view.row.title for view in detail.actions] == ["First plan's"]
