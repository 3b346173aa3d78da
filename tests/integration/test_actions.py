"""The action plan builder in core: verification from the near-miss data (a rate that falls
after the control and one that does not), the strength warning, status rules, overdue logic
with a fixed clock, scope."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select

from core.actions.measures import MeasureFilters, evaluate, weekly_counts
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
    create_plan,
    set_go_live,
    set_status,
)
from core.actions.verdicts import confirm_sustainment, confirm_verdict
from core.actions.vocabulary import ActionStatus, strength_warning
from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import NotFound, ValidationFailed
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

FAMILY_NOTE = {"source_of_discrepancy": "Care plan vs family note"}
TODAY = local_now().date()


@pytest.fixture(autouse=True)
def _today() -> None:
    """Today as each test starts: a run can cross local midnight."""
    global TODAY
    TODAY = local_now().date()


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def file_medication(engine, org, days_ago: float, *, location=None) -> str:
    return file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, type_key="medication_discrepancy", location_id=location or org.maple_kitchen,
        description="Care plan prompt did not match the family note; paused and called.",
        occurred_at=local_now() - timedelta(days=days_ago),
        capture_fields=dict(FAMILY_NOTE)), now=utcnow(), rules=settings()).reference


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
        report_references=[reference], actions=list(actions), measure=measure),
                       now=utcnow(), rules=settings())


def test_a_rate_that_falls_after_the_control_is_proposed_effective(engine, org):
    go_live = TODAY - timedelta(days=14)
    reference = plant(engine, org, before_per_week=3, after_per_week=0, go_live=go_live)
    with read_session(engine) as session:
        result = evaluate(session, MEASURE.filters, per="week", direction="decrease",
                          target=None, go_live=go_live, window_days=14, baseline_weeks=12,
                          today=TODAY, rules=settings())
    assert result.baseline == pytest.approx(3.0)
    assert result.observed == pytest.approx(0.0)
    assert result.proposal.verdict == "effective" and result.window_over

    quality = org.actor("quality")
    created = plan_for(engine, org, reference, action(quality.user_id))
    [action_id] = created.action_ids
    set_go_live(UnitOfWork(engine), quality, action_id, go_live, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        checks = plan_detail(session, quality, created.plan_id, today=TODAY,
                             rules=settings()).actions[0].checks
    for check in checks:
        complete_evidence_check(UnitOfWork(engine), quality, check.id, note="Seen in place",
                                now=utcnow(), rules=settings())
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True,
                    note="Family-note mismatches stopped after the check went in.",
                    now=utcnow(), rules=settings())
    with read_session(engine) as session:
        measure = session.scalar(select(VerificationMeasure))
        sustainment = session.scalar(select(SustainmentCheck))
    assert (measure.baseline_value, measure.observed_value) == (pytest.approx(3.0), 0.0)
    assert (measure.proposed_verdict, measure.confirmed_verdict) == ("effective", "effective")
    assert sustainment.due_date == go_live + timedelta(days=14 + 42)


def test_a_rate_that_does_not_fall_is_too_early_to_tell_with_the_weeks_needed(engine, org):
    """Before issue 17 this was "not effective" on 24 against 4; two weeks of a steady 2 a
    week cannot tell either way, and the proposal says how long a test would need."""
    go_live = TODAY - timedelta(days=14)
    plant(engine, org, before_per_week=2, after_per_week=2, go_live=go_live)
    with read_session(engine) as session:
        result = evaluate(session, MEASURE.filters, per="week", direction="decrease",
                          target=None, go_live=go_live, window_days=14, baseline_weeks=12,
                          today=TODAY, rules=settings())
    assert result.baseline == pytest.approx(2.0) and result.observed == pytest.approx(2.0)
    proposal = result.proposal
    assert proposal.verdict == "too_early" and result.look == "window"
    assert proposal.counts.baseline == 24 and proposal.counts.observed == 4
    assert proposal.weeks_needed is not None and proposal.more_weeks == proposal.weeks_needed - 2
    assert (f"needs about {proposal.more_weeks} more weeks to show a drop of 50%"
            in proposal.reason)
    assert "There is no drop so far" in proposal.reason


def test_weekly_counts_cover_every_week(engine, org):
    for days in (1, 2, 16):
        file_medication(engine, org, days)
    start = TODAY - timedelta(days=28)
    with read_session(engine) as session:
        series = weekly_counts(session, MEASURE.filters, start, TODAY + timedelta(days=1),
                               rules=settings())
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
        uow.record(SYSTEM, "activity.imported", "activity_count", None, after={"weeks": 16},
                   at=utcnow())
        uow.commit()
    with read_session(engine) as session:
        result = evaluate(session, MeasureFilters(
            type_keys=("medication_discrepancy",), service_ids=(org.maple,)),
            per="100_visits", direction="decrease", target=0.6, go_live=go_live,
            window_days=14, baseline_weeks=12, today=TODAY, rules=settings())
    assert result.baseline == pytest.approx(24 / 2400 * 100, rel=0.2)
    assert result.observed is not None and result.observed < result.baseline


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
        assert register(session, org.actor("quality"), RegisterFilters(), today=TODAY,
                        rules=settings()) == []


def test_never_verified_effective_with_an_evidence_check_open(engine, org):
    reference = file_medication(engine, org, 20)
    quality = org.actor("quality")
    [action_id] = plan_for(engine, org, reference, action(quality.user_id)).action_ids
    with pytest.raises(ValidationFailed, match="go-live"):
        set_status(UnitOfWork(engine), quality, action_id, ActionStatus.IN_TEST, now=utcnow())
    set_go_live(UnitOfWork(engine), quality, action_id, TODAY - timedelta(days=3),
                now=utcnow(), rules=settings())
    with pytest.raises(ValidationFailed, match="test window runs until"):
        confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True, note="early",
                        now=utcnow(), rules=settings())
    set_go_live_later = TODAY - timedelta(days=20)
    with UnitOfWork(engine) as uow:  # the window has since passed
        uow.session.get(Action, action_id).go_live_date = set_go_live_later
        uow.record(SYSTEM, "test.clock_moved", "action", action_id, at=utcnow())
        uow.commit()
    with pytest.raises(ValidationFailed, match="evidence checks are open"):
        confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True,
                        note="looks fine", now=utcnow(), rules=settings())
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=False,
                    note="Mismatches continued; the check was not used on weekends.",
                    now=utcnow(), rules=settings())
    set_status(UnitOfWork(engine), quality, action_id, ActionStatus.IN_PROGRESS, now=utcnow())


def test_stopping_needs_a_reason_and_illegal_moves_are_refused(engine, org):
    reference = file_medication(engine, org, 1)
    quality = org.actor("quality")
    [action_id] = plan_for(engine, org, reference, action(quality.user_id)).action_ids
    with pytest.raises(ValidationFailed, match="why"):
        set_status(UnitOfWork(engine), quality, action_id, ActionStatus.STOPPED, now=utcnow())
    set_status(UnitOfWork(engine), quality, action_id, ActionStatus.STOPPED,
               note="Superseded by the pharmacy's new labels", now=utcnow())
    with pytest.raises(ValidationFailed, match="cannot become"):
        set_status(UnitOfWork(engine), quality, action_id, ActionStatus.IN_PROGRESS, now=utcnow())


def test_overdue_and_due_soon_with_a_fixed_clock(engine, org):
    reference = file_medication(engine, org, 1)
    quality = org.actor("quality")
    plan_for(engine, org, reference, action(quality.user_id, title="Soon",
                                            deadline=TODAY + timedelta(days=3)),
             action(quality.user_id, title="Later", deadline=TODAY + timedelta(days=30)))
    with read_session(engine) as session:
        now = register(session, quality, RegisterFilters(), today=TODAY, rules=settings())
        later = register(session, quality, RegisterFilters(), today=TODAY + timedelta(days=5),
                         rules=settings())
        overdue = register(session, quality, RegisterFilters(overdue_only=True),
                           today=TODAY + timedelta(days=5), rules=settings())
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
                        today=TODAY, rules=settings())
        assert [r.title for r in mine] == ["Family-note check at each visit"]
        assert register(session, org.actor("oak_supervisor"), RegisterFilters(),
                        today=TODAY, rules=settings()) == []
        with pytest.raises(NotFound):
            plan_detail(session, org.actor("oak_supervisor"), created.plan_id, today=TODAY,
                        rules=settings())


def test_a_lapsed_control_reopens_the_action(engine, org):
    go_live = TODAY - timedelta(days=14)
    reference = plant(engine, org, before_per_week=2, after_per_week=0, go_live=go_live)
    quality = org.actor("quality")
    created = plan_for(engine, org, reference, action(quality.user_id, evidence_checks=["x"]))
    [action_id] = created.action_ids
    set_go_live(UnitOfWork(engine), quality, action_id, go_live, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        [check] = plan_detail(session, quality, created.plan_id, today=TODAY,
                              rules=settings()).actions[0].checks
    complete_evidence_check(UnitOfWork(engine), quality, check.id, note="done",
                            now=utcnow(), rules=settings())
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True, note="fell",
                    now=utcnow(), rules=settings())
    with read_session(engine) as session:
        sustainment = session.scalar(select(SustainmentCheck))
    with pytest.raises(ValidationFailed):
        confirm_sustainment(UnitOfWork(engine), quality, sustainment.id, in_place=False,
                            note=" ", now=utcnow())
    confirm_sustainment(UnitOfWork(engine), quality, sustainment.id, in_place=False,
                        note="Cards removed during redecoration; not replaced.", now=utcnow())
    with read_session(engine) as session:
        row = register(session, quality, RegisterFilters(), today=TODAY, rules=settings())[0]
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
        uow.record(SYSTEM, "test.actions_finished", "action", None, at=utcnow())
        uow.commit()
    later = TODAY + timedelta(days=5)
    with read_session(engine) as session:
        shown = register(session, quality, RegisterFilters(), today=later, limit=4,
                         rules=settings())
        counts = register_counts(session, quality, RegisterFilters(), today=later, rules=settings())
        everything = register(session, quality, RegisterFilters(), today=later, limit=None,
                              rules=settings())
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
        detail = plan_detail(session, quality, first.plan_id, today=TODAY, rules=settings())
    assert [view.row.title for view in detail.actions] == ["First plan's"]


# -- the evidence behind a verdict (issue 17) -----------------------------------------------------

def file_days_after(engine, org, go_live: date, offsets: list[float]) -> None:
    """Family-note mismatches on days `offsets` after go-live (negative: before it)."""
    for offset in offsets:
        file_medication(engine, org, (TODAY - go_live).days - offset)


def test_too_early_to_tell_needs_a_reason_to_confirm_effective_and_it_is_audited(engine, org):
    go_live = TODAY - timedelta(days=14)
    reference = plant(engine, org, before_per_week=1, after_per_week=0, go_live=go_live)
    quality = org.actor("quality")
    created = plan_for(engine, org, reference, action(quality.user_id, evidence_checks=["x"]))
    [action_id] = created.action_ids
    set_go_live(UnitOfWork(engine), quality, action_id, go_live, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        view = plan_detail(session, quality, created.plan_id, today=TODAY,
                           rules=settings()).actions[0]
    assert view.evaluation.proposal.verdict == "too_early"  # 12 before, 0 after: p = 0.16
    complete_evidence_check(UnitOfWork(engine), quality, view.checks[0].id, note="done",
                            now=utcnow(), rules=settings())
    with pytest.raises(ValidationFailed) as refused:
        confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True,
                        note="None since the card went up", now=utcnow(), rules=settings())
    assert "too early to tell" in refused.value.errors["override_reason"]
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True,
                    note="None since the card went up",
                    override_reason="Observed in use at every visit; too few to count on",
                    now=utcnow(), rules=settings())
    with read_session(engine) as session:
        measure = session.scalar(select(VerificationMeasure))
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "action.verified"))
    assert (measure.proposed_verdict, measure.confirmed_verdict) == ("too_early", "effective")
    assert (measure.baseline_count, measure.observed_count) == (12, 0)
    assert measure.p_value == pytest.approx((6 / 7) ** 12)
    assert measure.override_reason == "Observed in use at every visit; too few to count on"
    after = json.loads(event.after_json)
    assert after["override_reason"] == measure.override_reason
    assert after["proposed"] == "too_early" and after["p_value"] == pytest.approx(0.157, abs=1e-3)


def test_not_effective_needs_no_reason(engine, org):
    go_live = TODAY - timedelta(days=14)
    reference = plant(engine, org, before_per_week=1, after_per_week=0, go_live=go_live)
    quality = org.actor("quality")
    [action_id] = plan_for(engine, org, reference, action(quality.user_id)).action_ids
    set_go_live(UnitOfWork(engine), quality, action_id, go_live, now=utcnow(), rules=settings())
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=False,
                    note="The card was not used on weekends.", now=utcnow(), rules=settings())
    with read_session(engine) as session:
        measure = session.scalar(select(VerificationMeasure))
    assert measure.confirmed_verdict == "not_effective" and measure.override_reason is None


def test_the_evidence_accumulates_to_the_still_in_place_check(engine, org):
    """30 before and 1 in the window is too early (p = 0.05); with every week since go-live to
    the still-in-place check, 3 against 30 is effective, and no reason is needed then."""
    go_live = TODAY - timedelta(days=60)
    file_days_after(engine, org, go_live, [-1 - 2.7 * i for i in range(30)] + [5, 20, 40])
    quality = org.actor("quality")
    reference = file_medication(engine, org, (TODAY - go_live).days + 3)  # 31 before
    created = plan_for(engine, org, reference, action(quality.user_id, evidence_checks=["x"],
                                                      deadline=TODAY + timedelta(days=5)))
    [action_id] = created.action_ids
    set_go_live(UnitOfWork(engine), quality, action_id, go_live, now=utcnow(), rules=settings())

    def at(day: date):
        with read_session(engine) as session:
            return evaluate(session, MEASURE.filters, per="week", direction="decrease",
                            target=None, go_live=go_live, window_days=14, baseline_weeks=12,
                            today=day, rules=settings())

    running, window, second = (at(go_live + timedelta(days=10)),
                               at(go_live + timedelta(days=15)), at(TODAY))
    assert running.look == "running" and running.proposal.verdict == "running"
    assert window.look == "window" and window.proposal.verdict == "too_early"
    assert (window.proposal.counts.baseline, window.proposal.counts.observed) == (31, 1)
    sustainment_on = go_live + timedelta(days=14 + 42)
    assert f"looked at again on {sustainment_on:%d %b %Y}" in window.proposal.reason
    assert second.look == "sustainment" and second.evidence_end == sustainment_on
    assert second.proposal.verdict == "effective"
    assert (second.proposal.counts.observed, second.proposal.counts.test_days) == (3, 56)
    with read_session(engine) as session:
        [check] = plan_detail(session, quality, created.plan_id, today=TODAY,
                              rules=settings()).actions[0].checks
    complete_evidence_check(UnitOfWork(engine), quality, check.id, note="done",
                            now=utcnow(), rules=settings())
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True,
                    note="Three in eight weeks, against 31 in the twelve before",
                    now=utcnow(), rules=settings())
    with read_session(engine) as session:
        measure = session.scalar(select(VerificationMeasure))
        sustainment = session.scalar(select(SustainmentCheck))
    assert measure.proposed_verdict == "effective" and measure.override_reason is None
    assert measure.observed_count == 3
    # Verified at the second look: the still-in-place check comes later, not in the past.
    assert sustainment.due_date == TODAY + timedelta(days=42)


def test_a_rate_per_100_visits_takes_the_visits_of_the_test_days_only(engine, org):
    """A test from a Wednesday takes 5/7 of that week's visits (before issue 17 it took the
    whole week, and the week of the window's end too: 3 weeks of visits for 2 of reports)."""
    go_live = TODAY - timedelta(days=14)
    go_live -= timedelta(days=(go_live.weekday() - 2) % 7)  # a Wednesday
    plant(engine, org, before_per_week=2, after_per_week=1, go_live=go_live)
    monday = go_live - timedelta(days=go_live.weekday()) - timedelta(weeks=13)
    with UnitOfWork(engine) as uow:
        for week in range(20):
            uow.session.add(ActivityCount(service_id=org.maple,
                                          week_start=monday + timedelta(weeks=week),
                                          visits=200, shifts=40))
        uow.record(SYSTEM, "activity.imported", "activity_count", None, after={"weeks": 20},
                   at=utcnow())
        uow.commit()
    filters = MeasureFilters(type_keys=("medication_discrepancy",), service_ids=(org.maple,))

    def measured():
        with read_session(engine) as session:
            return evaluate(session, filters, per="100_visits", direction="decrease",
                            target=None, go_live=go_live, window_days=14, baseline_weeks=12,
                            today=go_live + timedelta(days=14), rules=settings())

    result = measured()
    counts = result.proposal.counts
    assert (counts.baseline, counts.baseline_exposure) == (24, pytest.approx(24.0))
    assert (counts.observed, counts.observed_exposure) == (2, pytest.approx(4.0))
    assert result.baseline == pytest.approx(1.0) and result.observed == pytest.approx(0.5)
    assert "2,400 visits in the 12 weeks before go-live" in result.proposal.reason
    assert "400 visits in the 2-week test" in result.proposal.reason
    with UnitOfWork(engine) as uow:  # a week of the test with no visits counted
        uow.session.execute(delete(ActivityCount).where(
            ActivityCount.week_start == go_live - timedelta(days=go_live.weekday())
            + timedelta(weeks=1)))
        uow.record(SYSTEM, "activity.corrected", "activity_count", None, at=utcnow())
        uow.commit()
    assert measured().proposal.verdict == "insufficient_data"
