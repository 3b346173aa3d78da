"""Regulator clocks: due times by rule (frozen clock across weekends, public holidays and changes
of clocks), the recorded decision, deadlines met, reminders, and on-time shares with suppression.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import Engine, func, select

from core.actions.reminders import send_action_reminders
from core.audit.models import AuditEvent
from core.clock import to_local, to_utc, utcnow
from core.commissioner.regulator import commissioner_on_time, on_time_by_month
from core.config import ClockRule, RegulatorRules, Settings, settings
from core.db import read_session
from core.errors import NotFound, PermissionDenied, ValidationFailed
from core.escalation.models import Notification
from core.filing.service import file_near_miss
from core.metrics.governance import Scope
from core.regulator.clocks import (
    ClockState,
    clock_state,
    due_at,
    no_holidays,
    public_holidays,
    time_left_text,
)
from core.regulator.models import RegulatorClock, RegulatorDecision
from core.regulator.queries import events_for, regulator_board, running_clocks_for
from core.regulator.service import decide_reportable, record_clock_met
from core.uow import UnitOfWork
from tests.builders import Org, build_org, draft, local_now
from tests.conftest import built_once

NEW_YORK = ZoneInfo("America/New_York")
NY_HOLIDAYS = public_holidays("US", "NY")

# The three shapes a provider configures (data/settings.yaml shows them in words).
WITHIN_24_HOURS = (ClockRule(key="report", label="Reported to the state", within=24,
                             unit="hours", needs_reference=True),)
WITHIN_1_BUSINESS_DAY = (ClockRule(key="report", label="Reported to the state", within=1,
                                   unit="business_days", needs_reference=True),)
WITHIN_48_HOURS_INVESTIGATED = (
    ClockRule(key="report", label="Reported to the state", within=48, unit="hours",
              needs_reference=True),
    ClockRule(key="investigation_started", label="Investigation started", within=3,
              unit="business_days"),
    ClockRule(key="investigation_closed", label="Investigation closed", within=30,
              unit="days", end_of_day=True, remind_before_hours=72),
)


def local(*args: int) -> datetime:
    """A moment given as New York wall-clock time, stored as naive UTC."""
    return to_utc(datetime(*args), NEW_YORK)


def due_local(start: datetime, clock: ClockRule) -> datetime:
    return to_local(due_at(start, clock, NEW_YORK, NY_HOLIDAYS), NEW_YORK)


# --------------------------------------------------------------------------- due times (pure)

# Thursday 24 December 2026, 16:00: Christmas Day (Friday) is a public holiday, then a weekend.
CHRISTMAS_EVE = local(2026, 12, 24, 16, 0)


def test_24_hours_are_elapsed_hours_whatever_the_calendar() -> None:
    [report] = WITHIN_24_HOURS
    assert due_local(CHRISTMAS_EVE, report) == datetime(2026, 12, 25, 16, 0)


def test_1_business_day_skips_a_public_holiday_and_the_weekend() -> None:
    [report] = WITHIN_1_BUSINESS_DAY
    assert due_local(CHRISTMAS_EVE, report) == datetime(2026, 12, 28, 16, 0)
    # Without the holiday calendar Friday would count.
    assert to_local(due_at(CHRISTMAS_EVE, report, NEW_YORK, no_holidays),
                    NEW_YORK) == datetime(2026, 12, 25, 16, 0)
    # Known on Saturday: nothing counts until Monday begins, so it is due as Monday ends.
    assert due_local(local(2026, 12, 26, 10, 0), report) == datetime(2026, 12, 29, 0, 0)
    # Thanksgiving (Thursday 26 November) is skipped too.
    assert due_local(local(2026, 11, 25, 9, 0), report) == datetime(2026, 11, 27, 9, 0)


def test_48_hours_with_investigation_started_and_closed() -> None:
    report, started, closed = WITHIN_48_HOURS_INVESTIGATED
    assert due_local(CHRISTMAS_EVE, report) == datetime(2026, 12, 26, 16, 0)
    # Three business days after Thursday 24th: Monday 28, Tuesday 29, Wednesday 30.
    assert due_local(CHRISTMAS_EVE, started) == datetime(2026, 12, 30, 16, 0)
    # Thirty calendar days, by the end of that day.
    assert due_local(CHRISTMAS_EVE, closed) == datetime(2027, 1, 24, 0, 0)


def test_a_business_day_count_ending_on_a_holiday_moves_past_it() -> None:
    [report] = WITHIN_1_BUSINESS_DAY
    # Friday 9 October 2026 + 1 business day: Monday 12th is Columbus Day in New York.
    assert due_local(local(2026, 10, 9, 16, 0), report) == datetime(2026, 10, 13, 16, 0)
    # By the end of the day: the deadline is midnight ending that business day.
    by_end = report.model_copy(update={"end_of_day": True})
    assert due_local(local(2026, 10, 9, 16, 0), by_end) == datetime(2026, 10, 14, 0, 0)
    assert due_local(local(2026, 10, 10, 11, 0), by_end) == datetime(2026, 10, 14, 0, 0)


@pytest.mark.parametrize(("start", "shape", "expected"), [
    # Clocks go back on Sunday 1 November 2026: elapsed hours show an hour earlier on the wall
    # clock, business days and days keep the wall-clock time.
    (datetime(2026, 10, 30, 16, 0), WITHIN_24_HOURS, [datetime(2026, 10, 31, 16, 0)]),
    (datetime(2026, 10, 31, 16, 0), WITHIN_24_HOURS, [datetime(2026, 11, 1, 15, 0)]),
    (datetime(2026, 10, 30, 16, 0), WITHIN_1_BUSINESS_DAY, [datetime(2026, 11, 2, 16, 0)]),
    # Election Day (Tuesday 3 November) is a public holiday in New York: skipped.
    (datetime(2026, 10, 30, 16, 0), WITHIN_48_HOURS_INVESTIGATED,
     [datetime(2026, 11, 1, 15, 0), datetime(2026, 11, 5, 16, 0),
      datetime(2026, 11, 30, 0, 0)]),
    # Clocks go forward on Sunday 8 March 2026.
    (datetime(2026, 3, 7, 9, 0), WITHIN_24_HOURS, [datetime(2026, 3, 8, 10, 0)]),
    (datetime(2026, 3, 6, 16, 0), WITHIN_1_BUSINESS_DAY, [datetime(2026, 3, 9, 16, 0)]),
    (datetime(2026, 3, 6, 16, 0), WITHIN_48_HOURS_INVESTIGATED,
     [datetime(2026, 3, 8, 17, 0), datetime(2026, 3, 11, 16, 0),
      datetime(2026, 4, 6, 0, 0)]),
])
def test_changes_of_clocks_do_not_move_calendar_deadlines(
        start: datetime, shape: tuple[ClockRule, ...], expected: list[datetime]) -> None:
    stored = to_utc(start, NEW_YORK)
    assert [due_local(stored, clock) for clock in shape] == expected


def test_the_state_of_a_clock_at_a_frozen_moment() -> None:
    [report] = WITHIN_1_BUSINESS_DAY
    due = due_at(CHRISTMAS_EVE, report, NEW_YORK, NY_HOLIDAYS)  # Monday 28th 16:00

    def state(now: datetime, met: datetime | None = None) -> ClockState:
        return clock_state(due=due, met_at=met, withdrawn_at=None, now=now,
                           remind_before_hours=6)

    # Over the holiday and the weekend the clock runs quietly.
    assert state(local(2026, 12, 26, 12, 0)) is ClockState.RUNNING
    assert time_left_text(due=due, now=local(2026, 12, 26, 12, 0)) == "2 days 4 h left"
    assert state(local(2026, 12, 28, 10, 0)) is ClockState.DUE_SOON
    assert time_left_text(due=due, now=local(2026, 12, 28, 10, 0)) == "6 h left"
    assert state(local(2026, 12, 28, 18, 30)) is ClockState.OVERDUE
    assert time_left_text(due=due, now=local(2026, 12, 28, 18, 30)) == "overdue by 2 h 30 min"
    assert state(local(2026, 12, 29, 9, 0), met=local(2026, 12, 28, 15, 0)) is ClockState.MET
    assert state(local(2026, 12, 29, 9, 0), met=local(2026, 12, 28, 17, 0)) \
        is ClockState.MET_LATE


def test_the_settings_refuse_what_they_cannot_count() -> None:
    with pytest.raises(ValueError, match="no public holidays known"):
        RegulatorRules(country="US", subdivision="XX")
    with pytest.raises(ValueError, match="end_of_day"):
        ClockRule(key="report", label="Report", within=24, unit="hours", end_of_day=True)
    with pytest.raises(ValueError, match="unit must be one of"):
        ClockRule(key="report", label="Report", within=2, unit="weeks")
    with pytest.raises(ValueError, match="a key of its own"):
        RegulatorRules(clocks=WITHIN_24_HOURS * 2)
    with pytest.raises(ValueError, match="unknown roles"):
        RegulatorRules(deciders=("boss",))


def test_the_shipped_settings_file_holds_a_working_jurisdiction() -> None:
    from core.config import PROJECT_ROOT
    from core.yamlfile import load_model

    path = PROJECT_ROOT / "data" / "settings.yaml"
    shipped = load_model(str(path), Settings)
    assert shipped.regulator.subdivision == "NY"
    assert [c.unit for c in shipped.regulator.clocks] == ["hours", "business_days", "days"]
    # The three shapes the file shows in comments are valid settings as written.
    lines = path.read_text().splitlines()
    examples = []
    for n, line in enumerate(lines):
        if line == "  #   clocks:":
            block = ["clocks:"]
            for more in lines[n + 1:]:
                if not more.startswith("  #     "):
                    break
                block.append(more[len("  #   "):])
            examples.append(RegulatorRules(**yaml.safe_load("\n".join(block))).clocks)
    assert [[(c.within, c.unit) for c in clocks] for clocks in examples] == [
        [(24, "hours")], [(1, "business_days")], [(48, "hours"), (3, "days"), (30, "days")]]


# --------------------------------------------------------------------------- the decision


def rules_with(clocks: tuple[ClockRule, ...], **changes: object) -> Settings:
    base = settings()
    regulator = RegulatorRules(country="US", subdivision="NY", jurisdiction="the State of "
                               "New York", clocks=clocks, **changes)  # type: ignore[arg-type]
    return base.model_copy(update={"regulator": regulator})


SHAPE_3 = rules_with(WITHIN_48_HOURS_INVESTIGATED)


@pytest.fixture
def org(engine: Engine, db_url: str) -> Org:
    return built_once("org", db_url, build_org)  # built once, copied per test


def file_safeguarding(engine: Engine, org: Org, **changes: object) -> str:
    return file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, type_key="safeguarding_rights",
        description="A visitor asked for the bank card; staff refused.",
        **changes), now=utcnow(), rules=settings()).reference


def events_after(engine: Engine, seq: int) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.seq > seq)
                                    .order_by(AuditEvent.seq)))


def last_seq(engine: Engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.max(AuditEvent.seq))) or 0


def clocks_of(engine: Engine, reference: str) -> list[RegulatorClock]:
    from core.reports.models import NearMissReport

    with read_session(engine) as session:
        return list(session.scalars(select(RegulatorClock).join(
            NearMissReport, NearMissReport.id == RegulatorClock.report_id)
            .where(NearMissReport.reference == reference).order_by(RegulatorClock.id)))


def test_a_reportable_decision_is_recorded_and_starts_each_clock(engine: Engine,
                                                                   org: Org) -> None:
    reference = file_safeguarding(engine, org)
    with read_session(engine) as session:
        board = regulator_board(session, org.actor("safeguarding"), now=utcnow(),
                                rules=SHAPE_3)
    assert [e.reference for e in board.awaiting] == [reference]
    assert board.awaiting[0].candidate_reasons == ("safeguarding escalation",)

    seq = last_seq(engine)
    decide_reportable(UnitOfWork(engine), org.actor("safeguarding"), reference,
                      reportable=True, reason="Attempted financial exploitation: the state "
                      "must hear of it.", rules=SHAPE_3, now=utcnow())
    [event] = events_after(engine, seq)
    assert (event.action, event.actor) == ("regulator.decided", "safeguarding")
    assert json.loads(event.before_json or "null") is None
    assert "Attempted financial exploitation" in event.after_json

    clocks = clocks_of(engine, reference)
    assert [c.key for c in clocks] == ["report", "investigation_started",
                                       "investigation_closed"]
    is_holiday = public_holidays("US", "NY")
    for clock, rule in zip(clocks, WITHIN_48_HOURS_INVESTIGATED, strict=True):
        assert clock.due_at == due_at(clock.started_at, rule, settings().zone, is_holiday)
    assert clocks[0].due_at - clocks[0].started_at == timedelta(hours=48)
    with read_session(engine) as session:
        board = regulator_board(session, org.actor("supervisor"), now=utcnow(), rules=SHAPE_3)
        shown = events_for(session, org.actor("supervisor"), [reference], now=utcnow(),
                           rules=SHAPE_3)[reference]
    assert board.awaiting == () and [e.reference for e in board.running] == [reference]
    assert shown.decision is not None and shown.decision.decided_by == "Safeguarding"
    assert [c.state for c in shown.clocks] == [ClockState.RUNNING] * 3
    assert shown.clocks[0].time_left.endswith("left")


def test_the_board_pages_the_regulator_lists_and_counts_all_of_them(engine: Engine,
                                                                  org: Org) -> None:
    # Five candidates, three of them decided reportable (three clocks each): a page of two
    # shows the oldest two awaiting and the two soonest running, and the totals are all.
    references = [file_safeguarding(engine, org) for _ in range(5)]
    for reference in references[2:]:
        decide_reportable(UnitOfWork(engine), org.actor("safeguarding"), reference,
                          reportable=True, reason="Attempted exploitation: reportable.",
                          rules=SHAPE_3, now=utcnow())
    later = utcnow() + timedelta(hours=49)  # each first clock (48 hours) is overdue
    lead = org.actor("safeguarding")
    with read_session(engine) as session:
        pages = [regulator_board(session, lead, now=later, rules=SHAPE_3, page_size=2,
                                 awaiting_page=n, running_page=n) for n in (1, 2)]
    first, second = pages
    assert (first.awaiting_total, first.running_total, first.overdue) == (2, 3, 3)
    assert [e.reference for e in first.awaiting] == references[:2]
    assert [e.reference for e in (*first.running, *second.running)] == references[2:]
    assert len(second.running) == 1 and second.running_page == 2
    # Past the end of the awaiting list (it holds one page): the first page, as the page's
    # control then shows.
    assert second.awaiting_page == 1 and second.awaiting == first.awaiting
    assert (second.awaiting_total, second.running_total, second.overdue) == (2, 3, 3)


def test_not_reportable_needs_a_reason_too_and_can_be_revised(engine: Engine,
                                                              org: Org) -> None:
    reference = file_safeguarding(engine, org)
    supervisor = org.actor("supervisor")
    with pytest.raises(ValidationFailed) as refused:
        decide_reportable(UnitOfWork(engine), supervisor, reference, reportable=False,
                          reason="  ", rules=SHAPE_3, now=utcnow())
    assert "reason" in refused.value.errors
    with pytest.raises(ValidationFailed) as unanswered:
        decide_reportable(UnitOfWork(engine), supervisor, reference, reportable=None,
                          reason="Not sure", rules=SHAPE_3, now=utcnow())
    assert "reportable" in unanswered.value.errors
    decide_reportable(UnitOfWork(engine), supervisor, reference, reportable=False,
                      reason="No loss, no harm: below the state's threshold.", rules=SHAPE_3,
                      now=utcnow())
    assert clocks_of(engine, reference) == []
    with pytest.raises(ValidationFailed):  # the same answer again is not a revision
        decide_reportable(UnitOfWork(engine), supervisor, reference, reportable=False,
                          reason="Still not", rules=SHAPE_3, now=utcnow())

    seq = last_seq(engine)
    decide_reportable(UnitOfWork(engine), org.actor("quality"), reference, reportable=True,
                      reason="A second attempt came to light: reportable.", rules=SHAPE_3,
                      now=utcnow())
    [event] = events_after(engine, seq)
    assert '"reportable":false' in event.before_json.replace(" ", "")
    assert len(clocks_of(engine, reference)) == 3
    first = clocks_of(engine, reference)[0]
    record_clock_met(UnitOfWork(engine), supervisor, first.id,
                     met_at=to_local(first.started_at, settings().zone),
                     state_reference="NY-SIR-1", rules=SHAPE_3, now=utcnow())

    decide_reportable(UnitOfWork(engine), supervisor, reference, reportable=False,
                      reason="The state says it is outside its rules.", rules=SHAPE_3, now=utcnow())
    clocks = clocks_of(engine, reference)
    assert [c.withdrawn_at is None for c in clocks] == [True, False, False]  # met one stays
    with read_session(engine) as session:
        decision = session.scalars(select(RegulatorDecision)).one()
        assert (decision.reportable, decision.revision) == (False, 3)


@pytest.mark.parametrize("username", ["reporter", "oak_supervisor", "governance",
                                      "clinical", "commissioner"])
def test_only_deciders_covering_the_service_decide(engine: Engine, org: Org,
                                                   username: str) -> None:
    reference = file_safeguarding(engine, org)
    seq = last_seq(engine)
    with pytest.raises(PermissionDenied):
        decide_reportable(UnitOfWork(engine), org.actor(username), reference,
                          reportable=True, reason="Reportable", rules=SHAPE_3, now=utcnow())
    assert events_after(engine, seq) == []
    with pytest.raises(NotFound):
        decide_reportable(UnitOfWork(engine), org.actor("quality"), "NM-1999-99999",
                          reportable=True, reason="Reportable", rules=SHAPE_3, now=utcnow())


def test_a_deadline_met_records_when_and_the_state_reference(engine: Engine,
                                                             org: Org) -> None:
    reference = file_safeguarding(engine, org)
    safeguarding = org.actor("safeguarding")
    decide_reportable(UnitOfWork(engine), safeguarding, reference, reportable=True,
                      reason="Reportable", rules=SHAPE_3, now=utcnow())
    report_clock, started, _closed = clocks_of(engine, reference)
    now_local = local_now()
    with pytest.raises(ValidationFailed) as refused:
        record_clock_met(UnitOfWork(engine), safeguarding, report_clock.id,
                         met_at=now_local + timedelta(hours=1), state_reference="",
                         rules=SHAPE_3, now=utcnow())
    assert set(refused.value.errors) == {"met_at", "state_reference"}
    with pytest.raises(PermissionDenied):
        record_clock_met(UnitOfWork(engine), org.actor("oak_supervisor"), report_clock.id,
                         met_at=now_local, state_reference="NY-1", rules=SHAPE_3, now=utcnow())

    seq = last_seq(engine)
    assert record_clock_met(UnitOfWork(engine), safeguarding, report_clock.id,
                            met_at=now_local, state_reference="NY-SIR-2026-0042",
                            rules=SHAPE_3, now=utcnow()) is True
    [event] = events_after(engine, seq)
    assert (event.action, event.actor) == ("regulator.clock_met", "safeguarding")
    assert "NY-SIR-2026-0042" in event.after_json
    # The investigation clock needs no reference.
    assert record_clock_met(UnitOfWork(engine), safeguarding, started.id, met_at=now_local,
                            rules=SHAPE_3, now=utcnow()) is True
    with pytest.raises(ValidationFailed):
        record_clock_met(UnitOfWork(engine), safeguarding, started.id, met_at=now_local,
                         rules=SHAPE_3, now=utcnow())
    with read_session(engine) as session:
        shown = events_for(session, safeguarding, [reference], now=utcnow(),
                           rules=SHAPE_3)[reference]
    assert [c.state for c in shown.clocks] == [ClockState.MET, ClockState.MET,
                                               ClockState.RUNNING]
    assert shown.clocks[0].state_reference == "NY-SIR-2026-0042"
    # A board card shows the clock still running, not the two met; not to another service's
    # supervisor, and a report with no clock has no entry.
    other = file_safeguarding(engine, org)
    with read_session(engine) as session:
        on_card = running_clocks_for(session, safeguarding, [reference, other], now=utcnow())
        elsewhere = running_clocks_for(session, org.actor("oak_supervisor"), [reference],
                                       now=utcnow())
        assert events_for(session, org.actor("oak_supervisor"), [reference], now=utcnow(),
                          rules=SHAPE_3) == {}
    assert {ref: [c.key for c in clocks] for ref, clocks in on_card.items()} == {
        reference: ["investigation_closed"]}
    assert on_card[reference][0].time_left.endswith("left") and elsewhere == {}


# --------------------------------------------------------------------------- reminders


def test_reminders_go_out_before_and_after_a_deadline_once_each(engine: Engine,
                                                                 org: Org) -> None:
    rules = rules_with(WITHIN_24_HOURS)
    reference = file_safeguarding(engine, org)
    decide_reportable(UnitOfWork(engine), org.actor("supervisor"), reference,
                      reportable=True, reason="Reportable", rules=rules, now=utcnow())
    [clock] = clocks_of(engine, reference)

    def run(at: datetime) -> list[str]:
        result = send_action_reminders(engine, rules=rules, now=at)
        return [r.reason for r in result.clocks]

    assert run(clock.due_at - timedelta(hours=7)) == []
    seq = last_seq(engine)
    assert run(clock.due_at - timedelta(hours=5)) == ["due_soon"]
    [event] = events_after(engine, seq)
    assert (event.action, event.actor) == ("regulator.reminders_sent", "system")
    assert run(clock.due_at - timedelta(hours=4)) == []  # once only
    assert run(clock.due_at + timedelta(minutes=1)) == ["overdue"]
    assert run(clock.due_at + timedelta(hours=3)) == []
    with read_session(engine) as session:
        notes = list(session.execute(select(Notification.title, Notification.body,
                                            Notification.user_id).where(
            Notification.kind == "regulator.reminder").order_by(Notification.id)))
    # The supervisor who decided and the safeguarding lead (remind_roles), twice each.
    assert sorted({user for *_, user in notes}) == sorted(
        {org.actor("supervisor").user_id, org.actor("safeguarding").user_id})
    assert [title for title, *_ in notes].count(f"Due soon: Reported to the state for "
                                                f"{reference}") == 2
    assert all("bank card" not in body for _, body, _ in notes)  # no typed text leaves


def test_a_clock_met_or_withdrawn_is_not_reminded(engine: Engine, org: Org) -> None:
    rules = rules_with(WITHIN_24_HOURS)
    met, withdrawn = file_safeguarding(engine, org), file_safeguarding(engine, org)
    for reference in (met, withdrawn):
        decide_reportable(UnitOfWork(engine), org.actor("quality"), reference,
                          reportable=True, reason="Reportable", rules=rules, now=utcnow())
    [clock] = clocks_of(engine, met)
    record_clock_met(UnitOfWork(engine), org.actor("quality"), clock.id, met_at=local_now(),
                     state_reference="NY-1", rules=rules, now=utcnow())
    decide_reportable(UnitOfWork(engine), org.actor("quality"), withdrawn, reportable=False,
                      reason="Not within the state's rules after all", rules=rules, now=utcnow())
    result = send_action_reminders(engine, rules=rules, now=clock.due_at + timedelta(hours=1))
    assert result.clocks == []


# --------------------------------------------------------------------------- on time


def test_on_time_share_per_clock_per_month_with_suppression(engine: Engine, org: Org) -> None:
    """Eight deadlines in one month (six on time, two late): governance sees them exactly;
    a commissioner sees the two as "fewer than 5", the six hidden with them, no share."""
    rules = rules_with((WITHIN_24_HOURS[0].model_copy(update={"start": "occurred"}),))
    zone = rules.zone
    occurred = (local_now() - timedelta(days=40)).replace(hour=9, minute=0)
    safeguarding = org.actor("safeguarding")
    for n in range(8):
        reference = file_safeguarding(engine, org, occurred_at=occurred)
        decide_reportable(UnitOfWork(engine), safeguarding, reference, reportable=True,
                          reason="Reportable", rules=rules, now=utcnow())
        [clock] = clocks_of(engine, reference)
        late = n >= 6
        record_clock_met(UnitOfWork(engine), safeguarding, clock.id,
                         met_at=to_local(clock.due_at, zone) + timedelta(
                             hours=3 if late else -2),
                         state_reference=f"NY-{n}", rules=rules, now=utcnow())
    # One more, still open and overdue (due a month ago): late too.
    reference = file_safeguarding(engine, org, occurred_at=occurred)
    decide_reportable(UnitOfWork(engine), safeguarding, reference, reportable=True,
                      reason="Reportable", rules=rules, now=utcnow())
    start = (local_now() - timedelta(days=80)).date().replace(day=1)
    scope = Scope(start, local_now().date() + timedelta(days=1))
    with read_session(engine) as session:
        governance = on_time_by_month(session, org.actor("governance"), scope, now=utcnow(),
                                      rules=rules)
        target, tables = commissioner_on_time(session, org.actor("commissioner"), scope,
                                              now=utcnow(), rules=rules)
        with pytest.raises(PermissionDenied):
            commissioner_on_time(session, org.actor("supervisor"), scope, now=utcnow(),
                                 rules=rules)
    [row] = [r for r in governance.rows if r.due]
    assert (row.month, row.due, row.on_time, row.late) == (
        f"{to_local(clocks_of(engine, reference)[0].due_at, zone):%Y-%m}", 9, 6, 3)
    assert row.share == pytest.approx(6 / 9)
    assert governance.target == target == 0.9

    [table] = tables
    records = {r["Month"]: r for r in table.records()}
    shown = records[row.month]
    assert shown["Late"] == "fewer than 5"
    assert shown["On time"] == "suppressed"  # 9 due is shown, so 6 would give the 3 away
    assert shown["On time %"] == "suppressed"
    assert shown["Fell due"] == "9"
    assert records["Total"]["On time %"] == "suppressed"
    empty = [r for m, r in records.items() if m not in (row.month, "Total")]
    assert empty and all(r["Fell due"] == "0" and r["On time %"] == "—" for r in empty)


def test_on_time_counts_each_services_clocks_under_the_latest_label(engine: Engine,
                                                                    org: Org) -> None:
    """Two clocks met at Maple House, one at Oak Lodge: a scope of one service counts only its
    own; the row is named by the latest clock's label after the settings renamed it."""
    old = rules_with((WITHIN_24_HOURS[0].model_copy(update={"start": "occurred"}),))
    renamed = rules_with((WITHIN_24_HOURS[0].model_copy(update={"start": "occurred",
                                                                "label": "Told the state"}),))
    occurred = (local_now() - timedelta(days=3)).replace(hour=9, minute=0)
    safeguarding = org.actor("safeguarding")
    filed = [(file_safeguarding(engine, org, occurred_at=occurred), old),
             (file_safeguarding(engine, org, occurred_at=occurred), old),
             (file_near_miss(UnitOfWork(engine), org.actor("oak_supervisor"), draft(
                 org, type_key="safeguarding_rights", service_id=org.oak,
                 location_id=org.oak_lounge, occurred_at=occurred,
                 description="A visitor asked for the bank card; staff refused."),
                 now=utcnow(), rules=settings()).reference, renamed)]
    for n, (reference, rules) in enumerate(filed):
        decide_reportable(UnitOfWork(engine), safeguarding, reference, reportable=True,
                          reason="Reportable", rules=rules, now=utcnow())
        [clock] = clocks_of(engine, reference)
        record_clock_met(UnitOfWork(engine), safeguarding, clock.id,
                         met_at=to_local(clock.due_at, old.zone) - timedelta(hours=1),
                         state_reference=f"NY-{n}", rules=rules, now=utcnow())
    start = (local_now() - timedelta(days=40)).date().replace(day=1)
    end = local_now().date() + timedelta(days=1)
    governance = org.actor("governance")

    def fell_due(scope: Scope) -> tuple[int, int, set[str]]:
        with read_session(engine) as session:
            counted = on_time_by_month(session, governance, scope, now=utcnow(), rules=old)
        return (sum(r.due for r in counted.rows), sum(r.on_time for r in counted.rows),
                {r.label for r in counted.rows if r.due})

    assert fell_due(Scope(start, end)) == (3, 3, {"Told the state"})
    assert fell_due(Scope(start, end, service_ids=(org.maple,))) == (
        2, 2, {"Reported to the state"})
    assert fell_due(Scope(start, end, service_ids=(org.oak,))) == (1, 1, {"Told the state"})


def test_on_time_share_shows_when_no_count_is_small(engine: Engine, org: Org) -> None:
    rules = rules_with((WITHIN_24_HOURS[0].model_copy(update={"start": "occurred"}),))
    occurred = (local_now() - timedelta(days=20)).replace(hour=9, minute=0)
    for n in range(5):
        reference = file_safeguarding(engine, org, occurred_at=occurred)
        decide_reportable(UnitOfWork(engine), org.actor("quality"), reference,
                          reportable=True, reason="Reportable", rules=rules, now=utcnow())
        [clock] = clocks_of(engine, reference)
        record_clock_met(UnitOfWork(engine), org.actor("quality"), clock.id,
                         met_at=to_local(clock.due_at, rules.zone) - timedelta(hours=1),
                         state_reference=f"NY-{n}", rules=rules, now=utcnow())
    scope = Scope((local_now() - timedelta(days=60)).date(), local_now().date())
    with read_session(engine) as session:
        _target, [table] = commissioner_on_time(session, org.actor("commissioner"), scope,
                                                now=utcnow(), rules=rules)
    assert table.records()[-1] == {"Month": "Total", "Fell due": "5", "On time": "5",
                                   "Late": "0", "On time %": "100%"}


# --------------------------------------------------------------------------- pages (AppTest)


def test_the_board_shows_a_clock_and_a_supervisor_decides_there(engine: Engine,
                                                                 org: Org) -> None:
    from tests.apptest_helpers import (
        assert_no_exception,
        field_messages,
        new_app,
        open_sections,
        sign_in,
        texts,
    )

    waiting, decided = file_safeguarding(engine, org), file_safeguarding(engine, org)
    decide_reportable(UnitOfWork(engine), org.actor("safeguarding"), decided,
                      reportable=True, reason="Attempted exploitation: reportable.",
                      now=utcnow(), rules=settings())
    at = sign_in(new_app(), "supervisor")
    at.switch_page("pages/triage_board.py").run()
    assert_no_exception(at)
    badges = [m for m in texts(at, "markdown") if "-badge[" in m]
    # The decided event's card carries its clock, with the time left (24 hours by default).
    assert any(re.search(r"Reported to the state: (23 h( \d+ min)?|1 day) left", b)
               for b in badges), badges
    assert next(e.label for e in at.expander).startswith(
        "Regulator clocks · 1 to decide · 1 running")

    # Closed (no clock is overdue), the section is its title; opened, its events and forms.
    assert _clock_lines(at) == []
    open_sections(at, "board_regulator")
    assert len(_clock_lines(at)) == 1 and "left" in _clock_lines(at)[0]

    prefix = f"board.{waiting}.regulator."
    # The decision form draws its fields only once opened.
    assert not [radio for radio in at.radio if radio.key == prefix + "reportable"]
    open_sections(at, prefix + "decision_form")
    at.button(key=prefix + "decide").click().run()  # nothing answered yet
    assert_no_exception(at)
    assert field_messages(at) == ["Say whether it must be reported.",
                                  "Record why: the reasoning is part of the audit trail."]
    assert texts(at, "error") == ["Not recorded yet: check the 2 answers marked below (Must it "
                                  "be reported?; Why (the reasoning is part of the audit "
                                  "trail))."]
    at.radio(key=prefix + "reportable").set_value("no")
    at.text_area(key=prefix + "reason").input("Refused at once, nothing lost: not reportable.")
    at.run()
    # Closing the section and opening it again loses nothing typed.
    at.session_state["board_regulator"] = False
    at.run()
    assert _clock_lines(at) == [] and not at.text_area
    open_sections(at, "board_regulator", prefix + "decision_form")
    assert at.radio(key=prefix + "reportable").value == "no"
    assert (at.text_area(key=prefix + "reason").value
            == "Refused at once, nothing lost: not reportable.")
    at.button(key=prefix + "decide").click().run()
    assert_no_exception(at)
    assert any(f"Recorded for {waiting}: not reportable." in s for s in texts(at, "success"))
    assert next(e.label for e in at.expander).startswith(
        "Regulator clocks · 0 to decide · 1 running")
    with read_session(engine) as session:
        decision = session.scalars(select(RegulatorDecision).where(
            RegulatorDecision.reportable.is_(False))).one()
        assert decision.decided_by_id == org.actor("supervisor").user_id


def test_the_inbox_shows_the_clocks_and_records_a_deadline_met(engine: Engine,
                                                               org: Org) -> None:
    from tests.apptest_helpers import (
        assert_no_exception,
        field_messages,
        new_app,
        open_sections,
        sign_in,
        texts,
    )

    reference = file_safeguarding(engine, org)
    decide_reportable(UnitOfWork(engine), org.actor("safeguarding"), reference,
                      reportable=True, reason="Attempted exploitation: reportable.",
                      now=utcnow(), rules=settings())
    [clock] = clocks_of(engine, reference)
    at = sign_in(new_app(), "safeguarding")
    at.switch_page("pages/inbox.py").run()
    assert_no_exception(at)
    assert any(line.startswith("Reportable to the state: decided by Safeguarding")
               for m in texts(at, "markdown") for line in m.split("  \n"))

    assert len(_clock_lines(at)) == 1

    prefix = f"inbox.{_escalation_id(engine)}.{clock.id}.regulator."
    # The "record as done" form draws its fields only once opened.
    assert not [field for field in at.datetime_input if field.key == prefix + "met_at"]
    open_sections(at, prefix + "met_form")
    at.datetime_input(key=prefix + "met_at").set_value(local_now())
    at.button(key=prefix + "met").click().run()
    assert_no_exception(at)
    assert field_messages(at) == ["Give the reference the state gave."]
    assert texts(at, "error") == ["Not recorded yet: check the 1 answer marked below "
                                  "(Reference the state gave)."]
    at.text_input(key=prefix + "state_reference").input("NY-SIR-2026-0007")
    at.button(key=prefix + "met").click().run()
    assert_no_exception(at)
    assert any("Reported to the state: recorded as done, on time." in s
               for s in texts(at, "success"))
    assert any("state reference NY-SIR-2026-0007" in line for line in _clock_lines(at))


def _clock_lines(at: Any) -> list[str]:
    """Each clock's line on a page (its state badge and line: a line of its event's one
    Markdown element)."""
    from tests.apptest_helpers import texts

    return [line for m in texts(at, "markdown") for line in m.split("  \n")
            if "Reported to the state: due" in line]


def _escalation_id(engine: Engine) -> int:
    from core.escalation.models import Escalation

    with read_session(engine) as session:
        return session.scalar(select(Escalation.id).where(Escalation.kind == "safeguarding"))


# --------------------------------------------------------------------------- the demo's history


def test_the_demo_history_follows_the_safeguarding_decisions(engine: Engine,
                                                             org: Org) -> None:
    from core.escalation.models import Escalation
    from core.escalation.service import SafeguardingDecision, acknowledge, decide
    from core.regulator.demo_history import record_demo_clocks

    lead = org.actor("safeguarding")
    references = [file_safeguarding(engine, org) for _ in range(4)]
    with read_session(engine) as session:
        ids = list(session.scalars(select(Escalation.id).where(
            Escalation.kind == "safeguarding").order_by(Escalation.id)))
    told = local_now() - timedelta(minutes=1)
    decide(UnitOfWork(engine), lead, ids[0], SafeguardingDecision(
        external_report_made=True, reported_to="Adult protective services", reported_at=told,
        reason="Reported the same hour"), now=utcnow(), rules=settings())
    decide(UnitOfWork(engine), lead, ids[1], SafeguardingDecision(
        external_report_made=False, reason="Refused at once; nothing lost"),
           now=utcnow(), rules=settings())
    acknowledge(UnitOfWork(engine), lead, ids[2], now=utcnow())  # ids[3]: nobody has looked yet
    rules = rules_with(WITHIN_48_HOURS_INVESTIGATED)

    summary = record_demo_clocks(engine, rules=rules, now=utcnow())
    assert (summary.decisions, summary.reportable) == (3, 2)
    with read_session(engine) as session:
        shown = events_for(session, lead, references, now=utcnow(), rules=rules)
        board = regulator_board(session, lead, now=utcnow(), rules=rules)
    reported, kept, pending, waiting = (shown[r] for r in references)
    assert reported.decision is not None and reported.decision.reason == "Reported the same hour"
    assert reported.clocks[0].state is ClockState.MET
    assert reported.clocks[0].met_at == to_utc(told, settings().zone)
    assert (reported.clocks[0].state_reference or "").startswith("SIR-")
    assert kept.decision is not None and not kept.decision.reportable and kept.clocks == ()
    assert pending.decision is not None and pending.decision.reportable
    assert [c.state for c in pending.clocks] == [ClockState.RUNNING] * 3
    assert waiting.decision is None and [e.reference for e in board.awaiting] == [references[3]]
    assert record_demo_clocks(engine, rules=rules, now=utcnow()).decisions == 0  # nothing twice
