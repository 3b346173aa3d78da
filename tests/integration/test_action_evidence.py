"""Evidence per action (issue 17 point 4): the theme's near misses in equal windows either side
of go-live, the verdict (including "too early to tell") and the still-in-place check, small
counts hidden with the rates and changes resting on them, and nothing identifying."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from core.actions.measures import (
    MeasureFilters,
    MeasureToEvaluate,
    count_between,
    counts_around,
    evaluate_each,
)
from core.actions.models import Action, SustainmentCheck, VerificationMeasure
from core.actions.service import ActionDraft, MeasureDraft, PlanDraft, create_plan
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.commissioner.action_evidence import COLUMNS, action_evidence
from core.commissioner.deid import Status
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

SECRET_TITLE = "Talk to Wilhelmina Xanthippe about flat 14"


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def _today() -> date:
    return local_now().date()


def _file(engine, org, day: date, count: int, *, clock: time = time(10), **changes) -> None:
    for _ in range(count):
        file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
            org, occurred_at=datetime.combine(day, clock), **changes),
                       now=utcnow(), rules=settings())


def _action(engine, org, *, go_live: date, window: int = 14, measure: bool = True,
            status: str = "in_test", confirmed: str | None = None) -> int:
    """One checklist action on a plan serving the first near fall, live on `go_live`."""
    with read_session(engine) as session:
        reference = session.scalars(select(NearMissReport.reference)
                                    .order_by(NearMissReport.reference)).first()
    quality = org.actor("quality")
    created = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Walker plan", theme="Walkers out of reach", report_references=[reference or ""],
        actions=[ActionDraft(title=SECRET_TITLE, kind="checklist", owner_id=quality.user_id,
                             deadline=_today() + timedelta(days=5),
                             review_date=_today() + timedelta(days=9),
                             evidence_checks=["Card"], verify_with_measure=measure,
                             test_window_days=window)],
        measure=MeasureDraft(MeasureFilters(type_keys=("transfer_near_fall",)))
        if measure else None), now=utcnow(), rules=settings())
    (action_id,) = created.action_ids
    with UnitOfWork(engine) as uow:
        action = uow.session.get(Action, action_id)
        action.go_live_date, action.test_window_days, action.status = go_live, window, status
        if confirmed:
            row = uow.session.scalar(select(VerificationMeasure).where(
                VerificationMeasure.action_id == action_id))
            row.confirmed_verdict = confirmed
        uow.record(SYSTEM, "test.went_live", "action", action_id, at=utcnow())
        uow.commit()
    return action_id


def _rows(engine, org, *, suppress: bool = True, today: date | None = None):
    with read_session(engine) as session:
        return action_evidence(session, org.actor("commissioner"), start=_today() - timedelta(
            days=90), end=_today() + timedelta(days=1), suppress=suppress, today=today,
            now=utcnow(), rules=settings())


def test_before_and_after_are_equal_windows_either_side_of_go_live(engine, org):
    go_live = _today() - timedelta(days=20)
    _file(engine, org, go_live - timedelta(days=30), 6)  # in the baseline, not the window
    _file(engine, org, go_live - timedelta(days=7), 8)  # the 14 days before
    _file(engine, org, go_live + timedelta(days=3), 6)  # the 14 days from go-live
    _file(engine, org, go_live + timedelta(days=16), 3)  # after the window: not counted
    _file(engine, org, go_live - timedelta(days=5), 9, type_key="transport",
          service_id=org.oak, location_id=org.oak_lounge)  # another theme
    _action(engine, org, go_live=go_live)
    (row,) = _rows(engine, org).rows
    assert row.window_days == 14 and row.windows == "14 days before and after"
    assert (row.before.value, row.after.value) == (8, 6)
    assert (row.before_rate.value, row.after_rate.value) == (4.0, 3.0)
    assert row.change.text == "-25%"
    assert (row.theme, row.where, row.kind, row.strength) == (
        "Transfer / near fall", "Provider-wide", "Checklist or cognitive aid", "Intermediate")


def test_both_windows_counted_at_once_meet_at_go_live_midnight_as_two_counts_would(
        engine, org):
    go_live, days = _today() - timedelta(days=20), 14
    for day, clock in ((go_live - timedelta(days=days), time(0)),  # first moment before: in
                       (go_live - timedelta(days=1), time(23, 59, 59)),  # last before: in
                       (go_live, time(0)),  # go-live's first moment: after
                       (go_live + timedelta(days=days - 1), time(23, 59)),  # last after: in
                       (go_live + timedelta(days=days), time(0))):  # past the window: out
        _file(engine, org, day, 1, clock=clock)
    filters = MeasureFilters(type_keys=("transfer_near_fall",))
    with read_session(engine) as session:
        at_once = counts_around(session, filters, go_live, days, rules=settings())
        apart = (count_between(session, filters, go_live - timedelta(days=days), go_live,
                               rules=settings()),
                 count_between(session, filters, go_live, go_live + timedelta(days=days),
                               rules=settings()))
    assert at_once == apart == (2, 2)


def test_measures_evaluated_together_each_read_as_if_alone(engine, org):
    # The evidence page evaluates every action in test at once; no measure may take another's
    # counts: different looks, one with no exposure (visits never counted) between them, one
    # narrowed to a place (counted from the reports, not the day counts).
    today = _today()
    _file(engine, org, today - timedelta(days=150), 9)  # baselines
    _file(engine, org, today - timedelta(days=45), 4)
    _file(engine, org, today - timedelta(days=10), 2)
    near_falls = MeasureFilters(type_keys=("transfer_near_fall",))
    at_the_door = MeasureFilters(type_keys=("transfer_near_fall",),
                                 location_ids=(org.maple_bathroom,))

    def measure(filters: MeasureFilters, go_live_days_ago: int, per: str = "week"):
        return MeasureToEvaluate(filters, per, "decrease", None,
                                 today - timedelta(days=go_live_days_ago), 28, 26)

    measures = [measure(near_falls, 100),  # past the still-in-place check
                measure(near_falls, 40),  # the window's end looked at
                measure(near_falls, 40, per="100_visits"),  # no visits counted: no figures
                measure(at_the_door, 20),  # running
                measure(near_falls, 20)]
    with read_session(engine) as session:
        together = evaluate_each(session, measures, today=today, rules=settings())
        alone = [evaluate_each(session, [one], today=today, rules=settings())[0]
                 for one in measures]
    assert together == alone
    assert [e.look for e in together] == ["sustainment", "window", "window", "running",
                                          "running"]
    assert together[2].baseline is None and together[2].proposal.counts is None
    counts = together[0].proposal.counts  # 26 weeks before go-live, 70 days to the check
    assert counts is not None and (counts.baseline, counts.observed) == (9, 4)


def test_while_the_test_runs_the_windows_are_the_days_so_far(engine, org):
    go_live = _today() - timedelta(days=5)
    _file(engine, org, go_live - timedelta(days=3), 5)
    _file(engine, org, go_live - timedelta(days=8), 7)  # before, but outside 5 days
    _action(engine, org, go_live=go_live)
    (row,) = _rows(engine, org).rows
    assert row.window_days == 5 and row.before.value == 5 and row.after.value == 0
    assert row.verdict_key == "running" and not row.verdict_due


def test_a_small_count_hides_its_rate_and_the_change(engine, org):
    go_live = _today() - timedelta(days=20)
    _file(engine, org, go_live - timedelta(days=7), 8)
    _file(engine, org, go_live + timedelta(days=3), 2)
    _action(engine, org, go_live=go_live)
    table = _rows(engine, org)
    (row,) = table.rows
    assert row.before.text == "8" and row.before_rate.text == "4"
    assert row.after.status is Status.SMALL and row.after.text == "fewer than 5"
    # 2 a fortnight is 1 a week, and -75% with the 8 gives the 2 away: both hidden.
    assert row.after_rate.text == "suppressed" and row.after_rate.value is None
    assert row.change.text == "suppressed" and row.change.value is None
    # No total across actions is published, so nothing can be worked out by subtraction.
    records = table.records(text=True)
    assert len(records) == 1 and tuple(records[0]) == COLUMNS
    assert "Total" not in str(records)
    # One count of two hidden: more than the 25% the rule allows, and the note says so.
    assert table.hidden_share == 0.5 and "more than the 25% the rule allows" in table.note
    exact = _rows(engine, org, suppress=False).rows[0]
    assert (exact.after.value, exact.after_rate.value, exact.change.text) == (2, 1.0, "-75%")


def test_a_small_count_before_hides_the_change_too(engine, org):
    go_live = _today() - timedelta(days=20)
    _file(engine, org, go_live - timedelta(days=7), 3)
    _file(engine, org, go_live + timedelta(days=3), 9)
    _action(engine, org, go_live=go_live)
    (row,) = _rows(engine, org).rows
    assert row.before.text == "fewer than 5" and row.before_rate.text == "suppressed"
    assert row.after.text == "9" and row.change.text == "suppressed"
    assert row.change.export() == "suppressed"


def test_zero_is_shown_and_no_change_can_be_worked_out_from_nothing(engine, org):
    go_live = _today() - timedelta(days=20)
    _file(engine, org, go_live - timedelta(days=40), 6)
    _action(engine, org, go_live=go_live)
    (row,) = _rows(engine, org).rows
    assert (row.before.text, row.after.text, row.change.text) == ("0", "0", "—")


def test_too_few_counts_are_too_early_to_tell_and_looked_at_again(engine, org):
    go_live = _today() - timedelta(days=20)  # the window ended 6 days ago
    _file(engine, org, go_live - timedelta(days=30), 3)  # 3 in the 12-week baseline
    _action(engine, org, go_live=go_live)
    (row,) = _rows(engine, org).rows
    assert row.verdict_key == "too_early" and row.verdict.startswith("Too early to tell")
    assert "looked at again in" in row.verdict and not row.verdict_due
    assert row.sustainment_key == "after_verdict"


def test_too_early_at_the_last_look_makes_a_verdict_due(engine, org):
    go_live = _today() - timedelta(days=70)  # past the still-in-place check's date (56 days)
    _file(engine, org, go_live - timedelta(days=30), 3)
    _action(engine, org, go_live=go_live)
    (row,) = _rows(engine, org).rows
    assert row.window_days == 56  # every day from go-live to the check, and as many before
    assert row.verdict_key == "too_early" and row.verdict_due
    assert "last look" in row.verdict


def test_an_action_without_a_measure_counts_its_plans_types_and_waits_for_a_person(engine, org):
    go_live = _today() - timedelta(days=20)
    _file(engine, org, go_live - timedelta(days=7), 6)
    _action(engine, org, go_live=go_live, measure=False)
    (row,) = _rows(engine, org).rows
    assert row.theme == "Transfer / near fall" and row.where == "Maple House"
    assert row.before.value == 6
    assert row.verdict_key == "due" and row.verdict_due


def test_a_confirmed_verdict_and_an_overdue_still_in_place_check(engine, org):
    go_live = _today() - timedelta(days=80)
    _file(engine, org, go_live - timedelta(days=7), 6)
    action_id = _action(engine, org, go_live=go_live, status="verified_effective",
                        confirmed="effective")
    with UnitOfWork(engine) as uow:
        uow.session.add(SustainmentCheck(action_id=action_id, due_date=_today() - timedelta(
            days=3)))
        uow.record(SYSTEM, "test.check_due", "action", action_id, at=utcnow())
        uow.commit()
    (row,) = _rows(engine, org).rows
    assert (row.verdict_key, row.verdict, row.verdict_due) == (
        "effective", "Effective (confirmed)", False)
    assert row.sustainment_key == "overdue" and row.sustainment.startswith("Check overdue")


def test_only_actions_with_a_test_window_and_never_a_title(engine, org):
    _file(engine, org, _today() - timedelta(days=10), 6)
    _action(engine, org, go_live=_today() - timedelta(days=20))
    with UnitOfWork(engine) as uow:  # a second action, never live: no row
        template = uow.session.scalars(select(Action)).one()
        columns = {c.key: getattr(template, c.key) for c in Action.__table__.columns
                   if c.key not in ("id", "version_id")}
        uow.session.add(Action(**{**columns, "go_live_date": None, "status": "planned"}))
        uow.record(SYSTEM, "test.planned", "action", None, at=utcnow())
        uow.commit()
    table = _rows(engine, org)
    assert len(table.rows) == 1
    text = str(table.records(text=True)) + str(table.records()) + table.note
    assert "Wilhelmina" not in text and "flat 14" not in text and "Walker plan" not in text


def test_a_commissioner_export_carries_the_evidence_per_action(engine, org):
    from core.commissioner.period import Period
    from core.exports.pack import export_tables

    go_live = _today() - timedelta(days=20)
    _file(engine, org, go_live - timedelta(days=7), 8)
    _file(engine, org, go_live + timedelta(days=3), 2)
    _action(engine, org, go_live=go_live)
    period = Period(_today() - timedelta(days=90), _today() + timedelta(days=1), "90 days")
    with read_session(engine) as session:
        sheets = export_tables(session, org.actor("commissioner"), period, "commissioner",
                               rules=settings(), now=utcnow())
        board = export_tables(session, org.actor("quality"), period, "board", rules=settings(),
                              now=utcnow())
    (row,) = sheets["Action evidence"]
    assert row["Before (near misses)"] == 8 and row["After (near misses)"] == "fewer than 5"
    assert row["Change"] == "suppressed"
    notes = {note["Term"]: note["What it means"] for note in sheets["Notes"]}
    assert "equal windows" in notes["Action evidence"]
    (exact,) = board["Action evidence"]
    assert exact["After (near misses)"] == 2 and exact["Action"] == SECRET_TITLE


def test_a_boards_evidence_sheet_escapes_a_title_that_looks_like_a_formula(engine, org):
    import io

    from openpyxl import load_workbook

    from core.commissioner.period import Period
    from core.exports.pack import export_tables
    from core.exports.spreadsheet import to_csv, to_xlsx_book

    formula = '=HYPERLINK("http://evil.example","click")'
    _file(engine, org, _today() - timedelta(days=7), 6)
    action_id = _action(engine, org, go_live=_today() - timedelta(days=20))
    with UnitOfWork(engine) as uow:
        uow.session.get(Action, action_id).title = formula
        uow.record(SYSTEM, "test.retitled", "action", action_id, at=utcnow())
        uow.commit()
    period = Period(_today() - timedelta(days=90), _today() + timedelta(days=1), "90 days")
    with read_session(engine) as session:
        sheets = export_tables(session, org.actor("quality"), period, "board", rules=settings(),
                               now=utcnow())
    sheet = load_workbook(io.BytesIO(to_xlsx_book(sheets)))["Action evidence"]
    assert sheet["A1"].value == "Action" and sheet["A2"].value == "'" + formula
    assert "'" + formula.replace('"', '""') in to_csv(sheets["Action evidence"]).decode(
        "utf-8-sig")
