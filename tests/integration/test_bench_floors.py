"""The bench's floors (bench/floors.py) return what each page shows, on SQLite and PostgreSQL.

A floor is the hand-written SQL a page needs; the bench divides a page's time by its floor's.
If a floor did less than the page (forgot the actor's services, a filter, a figure), the
ratio would flatter nothing and blame the page: these tests keep the floors honest.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from bench import floors
from core.actions.measures import MeasureFilters
from core.actions.service import (
    ActionDraft,
    MeasureDraft,
    PlanDraft,
    create_plan,
    set_go_live,
)
from core.actions.vocabulary import ActionStatus, Strength, best_status
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.commissioner import deid
from core.commissioner import views as cv
from core.commissioner.action_evidence import action_evidence
from core.commissioner.deid import iso_week
from core.commissioner.regulator import on_time_by_month
from core.config import settings
from core.db import read_session
from core.escalation.models import Escalation
from core.escalation.service import acknowledge
from core.feedback.measures import feedback_measures
from core.feedback.service import UpdateDraft, create_update, publish_update
from core.filing.service import file_near_miss
from core.metrics import governance as gov
from core.metrics.clusters import clusters_in_period
from core.regulator.models import RegulatorClock
from core.regulator.service import decide_reportable, record_clock_met
from core.reports.models import NearMissReport
from core.reports.vocabulary import BARRIER_LABELS, Barrier
from core.triage.board import BoardFilters
from core.triage.service import TriageAnswers, triage_report
from core.triage.vocabulary import EpisodeStatus
from core.uow import UnitOfWork
from core.views.triage_board import (
    board_cluster_totals,
    board_clusters,
    board_columns,
    board_regulator,
)
from tests.builders import build_org, draft, local_now
from tests.cluster_helpers import file_late_start_cluster
from tests.conftest import built_once

TYPES = ("transfer_near_fall", "medication_discrepancy", "other", "transport")


def _spread(engine, org) -> dict:
    """Near misses over twelve weeks, two services, four types, anonymous and named, some
    still at risk (escalated), some triaged, escalations acknowledged on time and late, a
    cluster, an action plan gone live and a feedback update: every figure the pages draw."""
    now, rules = local_now(), settings()
    places = ((org.maple, org.maple_bathroom, "reporter"), (org.maple, org.maple_kitchen,
                                                            "supervisor"),
              (org.oak, org.oak_lounge, "quality"))
    references = []
    for i in range(30):
        service, location, who = places[i % 3]
        changes = dict(type_key=TYPES[i % 4], service_id=service, location_id=location,
                       occurred_at=now - timedelta(days=(i * 83) % 84, hours=i % 5),
                       barrier="designed_control" if i % 4 == 0 else "staff_recovery",
                       anonymous=i % 7 == 0,
                       person_id=org.maple_person if service == org.maple and i % 2 else None,
                       staff_group_id=org.dsp_group if i % 3 == 0 else None,
                       interface_flag="clinic_follow_up" if i % 6 == 0 else None)
        if i % 10 == 0:
            changes.update(still_at_risk=True, immediate_safeguards="Stayed with her.")
        references.append(file_near_miss(UnitOfWork(engine), org.actor(who),
                                         draft(org, **changes), now=utcnow(),
                                         rules=rules).reference)
    references += file_late_start_cluster(engine, org)
    # Safeguarding near misses, filed four days ago: candidates to report to the regulator.
    # One decided reportable and met on time, one decided and now overdue, one awaiting.
    with time_machine.travel(utcnow() - timedelta(days=4), tick=True):
        safeguarding = [file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
            org, type_key="safeguarding_rights", occurred_at=local_now() - timedelta(hours=h),
            description="A visitor asked for the bank card; staff refused."),
            now=utcnow(), rules=rules).reference for h in (1, 2, 3)]
        for reference in safeguarding[:2]:
            decide_reportable(UnitOfWork(engine), org.actor("safeguarding"), reference,
                              reportable=True, reason="Attempted financial exploitation.",
                              now=utcnow(), rules=rules)
        with read_session(engine) as session:
            met = session.scalars(select(RegulatorClock.id).join(
                NearMissReport, NearMissReport.id == RegulatorClock.report_id).where(
                NearMissReport.reference == safeguarding[0])).all()
        for clock in met:
            record_clock_met(UnitOfWork(engine), org.actor("safeguarding"), clock,
                             met_at=local_now(), state_reference="ST-2026-1", now=utcnow(),
                             rules=rules)
    for reference in references[1:12:2]:
        with read_session(engine) as session:
            report = session.scalar(select(NearMissReport).where(
                NearMissReport.reference == reference))
            if report.service_id != org.maple or report.status != "new":
                continue
        triage_report(UnitOfWork(engine), org.actor("supervisor"), reference, TriageAnswers(
            at_risk_now=False, safeguarding_trigger=False, recurrence="repeat",
            severity="medium", investigation="supervisor_review", route="supervisor"),
            expected_version=report.version_id, now=utcnow(), rules=rules)
    with read_session(engine) as session:
        raised = session.execute(
            select(Escalation.id, Escalation.raised_at, Escalation.due_at,
                   NearMissReport.service_id)
            .join(NearMissReport, NearMissReport.id == Escalation.report_id)
            .where(Escalation.kind == "supervisor_alert").order_by(Escalation.id)).all()
    for n, (escalation, at, due, service) in enumerate(raised[:3]):
        who = "supervisor" if service == org.maple else "oak_supervisor"
        acknowledge(UnitOfWork(engine), org.actor(who), escalation,
                    now=(at + timedelta(minutes=7 + n)) if n % 2 == 0
                    else due + timedelta(minutes=30))
    quality = org.actor("quality")
    created = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Walker check", theme="Near falls", report_references=references[:4],
        actions=[ActionDraft(title="Walker within reach", kind="checklist",
                             owner_id=quality.user_id, deadline=now.date() + timedelta(days=5),
                             review_date=now.date() + timedelta(days=9),
                             evidence_checks=["Card"], verify_with_measure=False)]),
        now=utcnow(), rules=rules)
    set_go_live(UnitOfWork(engine), quality, created.action_ids[0],
                now.date() - timedelta(days=10), now=utcnow(), rules=rules)
    # A second plan measured on Maple's medication discrepancies, live for three weeks.
    measured = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Medication check", theme="Medication", report_references=references[1:2],
        actions=[ActionDraft(title="Double check at handover", kind="double_check",
                             owner_id=quality.user_id, deadline=now.date() + timedelta(days=5),
                             review_date=now.date() + timedelta(days=9),
                             evidence_checks=["Signed sheet"])],
        measure=MeasureDraft(filters=MeasureFilters(type_keys=("medication_discrepancy",),
                                                    service_ids=(org.maple,)))),
        now=utcnow(), rules=rules)
    set_go_live(UnitOfWork(engine), quality, measured.action_ids[0],
                now.date() - timedelta(days=21), now=utcnow(), rules=rules)
    update = create_update(UnitOfWork(engine), quality, UpdateDraft(
        title="Walker check", what_changed="The walker is checked before each transfer.",
        why="Near falls at the doorway.", report_references=references[:3]),
        now=utcnow(), rules=rules)
    publish_update(UnitOfWork(engine), quality, update, now=utcnow(), rules=rules)
    return {"references": references}


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)


@pytest.fixture
def spread(engine, org):
    return _spread(engine, org)


def _period() -> gov.Scope:
    today = local_now().date()
    return gov.Scope(start=today - timedelta(days=91), end=today + timedelta(days=1))


def test_triage_board_floor_is_what_the_board_shows(engine, org, spread):
    now, rules = utcnow(), settings()
    for who in ("supervisor", "oak_supervisor", "safeguarding", "quality"):
        actor = org.actor(who)
        shown = board_columns(actor, BoardFilters(), page_size=8, pages={}, now=now,
                              rules=rules)
        regulator = board_regulator(actor, now=now, rules=rules)
        themes = board_clusters(actor, now=now, rules=rules)
        with read_session(engine) as session:
            floor = floors.triage_board(session, actor, now=now, rules=rules, page_size=8,
                                        regulator_open=True, clusters_open=True)
            closed = floors.triage_board(session, actor, now=now, rules=rules, page_size=8,
                                         regulator_open=False)
            as_opened = floors.triage_board(session, actor, now=now, rules=rules, page_size=8)
        # Closed, the section shows its totals and no events; the page opens it by itself
        # when a clock is overdue.
        totals = board_regulator(actor, now=now, rules=rules, details=False)
        assert (totals.awaiting, totals.running) == ((), ())
        assert closed["regulator"] == {
            "awaiting": [], "running": [], "awaiting_total": totals.awaiting_total,
            "running_total": totals.running_total, "overdue": totals.overdue}, who
        assert as_opened["regulator"] == (floor if totals.overdue else closed)["regulator"]
        board = shown.board
        assert floor["counts"] == {s.value: n for s, n in board.counts.items()}, who
        assert floor["cards"] == {
            s.value: [(c.reference, c.urgency, c.flags, c.type_name, c.service, c.location,
                       c.reported_at, c.severity, c.language) for c in cards]
            for s, cards in board.columns.items()}, who
        assert floor["card_clocks"] == {
            ref: tuple((c.key, c.due_at) for c in clocks)
            for ref, clocks in shown.running_clocks.items()}, who
        assert (floor["regulator"]["awaiting_total"], floor["regulator"]["running_total"],
                floor["regulator"]["overdue"]) == (
            regulator.awaiting_total, regulator.running_total, regulator.overdue), who
        for part in ("awaiting", "running"):
            assert [(ref, t, s, _clocks_only(c[1])) for ref, t, s, _kinds, c in
                    floor["regulator"][part]] == [
                (e.reference, e.type_name, e.service, _clocks(e)[1])
                for e in getattr(regulator, part)], (who, part)
        assert [(row[0], row[1], row[9], row[11]) for row in floor["clusters"]] == [
            (t.episode_id, t.status.value, t.report_count, t.latest) for t in themes], who
        # The cluster section opens closed: its title's counts, and no episode read.
        waiting = sum(1 for t in themes if t.status is EpisodeStatus.OPEN)
        assert board_cluster_totals(actor, now=now, rules=rules) == (waiting, len(themes))
        assert closed["cluster_totals"] == floor["cluster_totals"] == (waiting, len(themes))
        assert closed["clusters"] == [], who
        if who == "safeguarding":
            assert floor["regulator"]["awaiting"] and floor["regulator"]["running"]
            assert floor["clusters"] and floor["card_clocks"]
    assert sum(floor["counts"].values()) > 0


def _clocks(event) -> tuple:
    decision = event.decision.reportable if event.decision else None
    return decision, tuple((c.key, c.due_at, c.met_at) for c in event.clocks)


def _clocks_only(clocks: tuple) -> tuple:
    """A floor's clocks as the page's (whether one was withdrawn shows in its state)."""
    return tuple((key, due, met) for key, due, met, _withdrawn in clocks)


def test_trends_floor_is_the_weekly_series_and_the_go_lives(engine, org, spread):
    rules, scope = settings(), _period()
    for who, narrow in (("quality", {}), ("supervisor", {}),
                        ("quality", {"type_keys": ("transfer_near_fall",)}),
                        ("quality", {"service_ids": (org.oak,)})):
        actor = org.actor(who)
        sliced = gov.Scope(scope.start, scope.end, **narrow)
        with read_session(engine) as session:
            series = gov.weekly_series(session, actor, sliced, rules=rules)
            marks = gov.go_live_dates(session, actor, sliced)
            floor = floors.trends(session, actor, scope.start, scope.end, rules.zone, **narrow)
        assert floor["weekly"] == {ts.date(): int(n) for ts, n in series.items()}, (who, narrow)
        assert floor["go_lives"] == [(m.day, m.label) for m in marks.marks]
        assert floor["controls_live"] == marks.total
    assert sum(floor["weekly"].values()) > 0 and floor["controls_live"] == 1


def test_breakdown_floor_is_the_counts_by_type(engine, org, spread):
    rules, scope = settings(), _period()
    for who in ("quality", "supervisor"):
        actor = org.actor(who)
        with read_session(engine) as session:
            frame = gov.breakdown(session, actor, scope, "type", rules=rules)
            floor = floors.breakdown_by_type(session, actor, scope.start, scope.end,
                                             rules.zone)
        assert floor == dict(zip(frame["key"], frame["count"], strict=True)), who
    assert len(floor) >= 3


def test_repeats_and_clusters_floor(engine, org, spread):
    rules, scope = settings(), _period()
    for who in ("quality", "supervisor", "oak_supervisor"):
        actor = org.actor(who)
        with read_session(engine) as session:
            found = gov.repeats(session, actor, scope, salt="s", rules=rules)
            episodes = clusters_in_period(session, actor, scope.start, scope.end,
                                          now=utcnow(), rules=rules)
            floor = floors.repeats(session, actor, scope.start, scope.end, rules.zone)
            floor_clusters = floors.clusters(session, actor, scope.start, scope.end, rules.zone)
        # The page's pseudonym and best status are pure functions of the floor's rows.
        shown = sorted((kind, gov.pseudonym("s", int(label)) if kind == "person" else label,
                        n, last, best_status(set(statuses)))
                       for kind, label, n, last, statuses in floor)
        assert shown == sorted((r.kind, r.label, r.count, r.last, r.action_status)
                               for r in found), who
        assert [(*row[:10], best_status(set(row[10]))) for row in floor_clusters] == [
            (e.episode_id, e.status.value, e.type_name, e.scope_name, e.scope, e.start, e.end,
             e.peak, e.usual, len(e.references), e.action_status) for e in episodes], who
        if who == "quality":  # the whole provider: every kind repeats, a cluster fired
            assert {kind for kind, *_ in floor} == {"person", "location", "type"}
            assert floor_clusters


def test_culture_floor_is_the_culture_page(engine, org, spread):
    rules, scope = settings(), _period()
    for who in ("quality", "supervisor"):
        actor = org.actor(who)
        with read_session(engine) as session:
            page = gov.reporting_culture(session, actor, scope, rules=rules)
            measures = feedback_measures(session, actor, scope, rules=rules)
            floor = floors.culture(session, actor, scope.start, scope.end, rules.zone)
        assert floor["reports"] == page.reports
        assert floor["reporters"] == page.distinct_reporters
        assert floor["anonymous_share"] == pytest.approx(page.anonymous_share)
        assert floor["median_hours_to_triage"] == pytest.approx(page.median_hours_to_triage)
        assert floor["median_minutes_to_acknowledge"] == pytest.approx(
            page.median_minutes_to_acknowledge)
        assert floor["acknowledged_late_share"] == pytest.approx(page.acknowledged_late_share)
        assert floor["by_staff_group"] == {
            row["staff group"]: (row["reports"], row["reporters"])
            for _, row in page.by_staff_group.iterrows()}
        assert floor["weekly"] == {row["week"]: (row["reports"], row["reporters"])
                                   for _, row in page.monthly.iterrows()}
        with read_session(engine) as session:
            heard = floors.feedback_measures(session, actor, scope.start, scope.end,
                                             rules.zone)
        assert heard["median_hours_to_feedback"] == pytest.approx(
            measures.median_hours_to_feedback)
        assert {k: v for k, v in heard.items() if k not in ("median_hours_to_feedback",
                                                              "monthly")} == {
            "reports_with_feedback": measures.reports_with_feedback,
            "named_reporters": measures.named_reporters,
            "reporters_told": measures.reporters_told,
            "named_reports": measures.named_reports,
            "named_reports_told": measures.named_reports_told,
            "updates_published": measures.updates_published}, who
        assert heard["monthly"] == dict(zip(measures.monthly["month"],
                                            measures.monthly["updates"], strict=True))
    assert floor["median_hours_to_triage"] is not None
    assert floor["median_minutes_to_acknowledge"] is not None
    assert heard["reports_with_feedback"] and heard["updates_published"]


def test_controls_floor_is_the_barrier_mix_and_control_strength(engine, org, spread):
    rules, scope = settings(), _period()
    today = local_now().date()
    for who in ("quality", "supervisor", "oak_supervisor"):
        actor = org.actor(who)
        with read_session(engine) as session:
            mix = gov.barrier_mix(session, actor, scope, rules=rules)
            strength = gov.control_strength(session, actor, today=today)
            floor_mix = floors.barrier_mix(session, actor, scope.start, scope.end, rules.zone)
            floor = floors.control_strength(session, actor, today=today)
        assert {(m, BARRIER_LABELS[Barrier(b)]): n for (m, b), n in floor_mix.items()} == {
            (row["month"], row["barrier"]): row["count"] for _, row in mix.iterrows()}, who
        assert floor == {"actions_by_strength": strength.actions_by_strength,
                         "verified_effective": strength.verified_effective,
                         "verdicts": strength.verdicts, "overdue": strength.overdue,
                         "open_actions": strength.open_actions}, who
    assert floor["open_actions"] >= 1


def test_evidence_floor_is_the_commissioners_page_before_suppression(engine, org, spread):
    rules, scope = settings(), _period()
    commissioner = org.actor("commissioner")
    today = local_now().date()
    trend_scope = gov.Scope(scope.start - timedelta(weeks=26), scope.end)
    with read_session(engine) as session:
        floor = floors.evidence(session, scope.start, scope.end, rules, now=utcnow())
        trend = cv.trend(session, commissioner, trend_scope, rules=rules, suppress=False,
                         now=utcnow())
        tables = cv.type_tables(session, commissioner, scope, rules=rules, suppress=False)
        breakdowns = cv.breakdowns(session, commissioner, scope, rules=rules, suppress=False,
                                   tables=tables)
        found = cv.clusters(session, commissioner, scope, rules=rules, suppress=False,
                            now=utcnow())
        episodes = clusters_in_period(session, SYSTEM, scope.start, scope.end, now=utcnow(),
                                      rules=rules)
        register = cv.action_register(session, commissioner, start=scope.start, end=scope.end,
                                      rules=rules, suppress=False)
        escalations = cv.escalations(session, commissioner, scope, rules=rules, suppress=False)
        culture = cv.culture(session, commissioner, scope, rules=rules, suppress=False)
        feedback = cv.feedback(session, commissioner, scope, rules=rules, suppress=False)
        # The commissioner's clock tables hide small counts; governance's are the same
        # counts exact (the whole provider for the quality lead).
        per_action = action_evidence(session, commissioner, start=scope.start, end=scope.end,
                                     rules=rules, suppress=False, now=utcnow(), today=today)
        on_time = on_time_by_month(session, org.actor("quality"), scope, now=utcnow(),
                                   rules=rules)
    # The trend: its chart is core.spc's xmr over these weekly counts.
    assert [int(v) for v in trend.frame["value"]] == list(floor["trend"].values())
    assert trend.controls_live == floor["controls_live"] == 2
    by_service = tables.by_service
    assert {(t, s): c.value for t, row in zip(by_service.rows, by_service.cells, strict=True)
            for s, c in zip(by_service.columns, row, strict=True) if c.value} \
        == floor["by_type_service"]
    assert {label: cell.value for label, cell in breakdowns["barrier"].rows} == {
        BARRIER_LABELS[Barrier(b)]: n for b, n in floor["barriers"].items()}
    assert sum(c.value for _, c in breakdowns["interface"].rows) \
        == sum(floor["interfaces"].values())
    assert sorted(c.reports.value for c in found) == sorted(row[9] for row in floor["clusters"])
    assert len(episodes) == len(floor["clusters"]) >= 1
    assert list(register.index) == [row[0] for row in floor["register"]]
    assert [(r["Service"], r["Theme"], r["Strength"], r["Status"], r["Deadline (week)"],
             r["Went live (week)"], r["Still in place"], _number(r["Before (rate)"]))
            for _, r in register.iterrows()] == [
        (service, ", ".join(themes) or "—", Strength(strength).label,
         ActionStatus(status).label, iso_week(deadline), iso_week(go) if go else "",
         {True: "yes", False: "no"}.get(kept, ""), before if before is None else round(before, 2))
        for (_i, status, strength, _kind, deadline, go, service, _verdict, before, _during, kept,
             themes) in floor["register"]]
    assert tables.level.level == "week"  # exact counts: the finest level
    over_time = tables.over_time
    assert {(t, c): cell.value for t, row in zip(over_time.rows, over_time.cells, strict=True)
            for c, cell in zip(over_time.columns, row, strict=True) if cell.value} == {
        (t, iso_week(w)): n for (t, w), n in floor["by_type_week"].items()}
    assert {(r.key, r.month): (r.due, r.on_time) for r in on_time.rows if r.due} \
        == floor["on_time"]
    assert [(e.action_id, e.go_live, e.window_days, e.before.value, e.after.value)
            for e in per_action.rows] == floor["per_action"]
    assert floor["per_action"] and floor["per_action"][0][3] is not None
    assert [sum(x) for x in zip(*floor["on_time"].values(), strict=True)] == [2, 1]
    assert {e.kind: (e.raised.value, e.median_minutes.value, e.within_time)
            for e in escalations} == {
        _kind_label(k): (n, None if m is None else round(m, 0), deid.share(on_time, n, 1))
        for k, (n, m, on_time) in floor["escalations"].items()}
    assert culture.reports.value == floor["culture"]["reports"]
    assert culture.reporters.value == floor["culture"]["reporters"]
    assert culture.median_hours_to_triage.value == round(
        floor["culture"]["median_hours_to_triage"], 1)
    assert floor["escalations"] and floor["feedback"]
    assert [(f.month, f.updates, f.reports_behind_them.value) for f in feedback] == [
        (m, n, k) for m, (n, k) in floor["feedback"].items()]


def _number(value: object) -> object:
    """A register's rate as its floor gives it (pandas reads a missing one as NaN)."""
    return None if value is None or value != value else value


def _kind_label(kind: str) -> str:
    from core.escalation.rules import EscalationKind

    return EscalationKind(kind).label
