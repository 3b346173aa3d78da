"""Governance figures in core, checked against counts computed independently in the test."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.escalation.models import Escalation
from core.escalation.service import acknowledge
from core.filing.service import file_near_miss
from core.metrics import governance
from core.metrics.governance import (
    Scope,
    breakdown,
    drill_down,
    forget_timings,
    pseudonym,
    repeats,
    reporting_culture,
    weekly_series,
    with_pseudonyms,
)
from core.reports.models import NearMissReport
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from core.weeks import week_start_of
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

NOW = local_now()


@pytest.fixture(autouse=True)
def _now() -> None:
    """Now as each test starts: a run can cross local midnight."""
    global NOW
    NOW = local_now()


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def planted(org):
    """A varied set of near misses (as drafts) and who files them."""
    sunday_night = NOW - timedelta(days=NOW.weekday() + 1)  # last Sunday ...
    sunday_night = sunday_night.replace(hour=23, minute=30)  # ... at 23:30 local (Monday UTC)
    rows = [
        ("reporter", dict(type_key="transfer_near_fall", location_id=org.maple_bathroom,
                          person_id=org.maple_person, occurred_at=sunday_night)),
        ("reporter", dict(type_key="transfer_near_fall", location_id=org.maple_bathroom,
                          person_id=org.maple_person, occurred_at=NOW - timedelta(days=9))),
        ("reporter", dict(type_key="transfer_near_fall", location_id=org.maple_bathroom,
                          person_id=org.maple_person, occurred_at=NOW - timedelta(days=20))),
        ("reporter", dict(type_key="medication_discrepancy", location_id=org.maple_kitchen,
                          anonymous=True, occurred_at=NOW - timedelta(days=3, hours=2))),
        ("quality", dict(type_key="other", service_id=org.oak, location_id=org.oak_lounge,
                         barrier="designed_control", occurred_at=NOW - timedelta(days=1))),
        ("quality", dict(type_key="transport", service_id=org.oak, location_id=org.oak_lounge,
                         interface_flag="clinic_follow_up",
                         occurred_at=NOW - timedelta(days=40))),
    ]
    return [(who, draft(org, **changes)) for who, changes in rows]


@pytest.fixture
def filed(engine, org):
    drafts = planted(org)
    references = [file_near_miss(UnitOfWork(engine), org.actor(who), d,
                                 now=utcnow(), rules=settings()).reference
                  for who, d in drafts]
    return drafts, references


def whole_period() -> Scope:
    return Scope(start=(NOW - timedelta(days=60)).date(), end=(NOW + timedelta(days=1)).date())


def counts(engine, actor, dimension, **kwargs):
    with read_session(engine) as session:
        frame = breakdown(session, actor, whole_period(), dimension, rules=settings(), **kwargs)
    return dict(zip(frame["key"], frame["count"], strict=True))


def test_local_day_and_hour_follow_daylight_saving_on_both_databases(engine, org):
    """23:30 on a summer Sunday and on a winter Sunday are both Sunday 23:00 locally.

    New York is UTC-4 in summer and UTC-5 in winter; a single offset would move one of them.
    """
    today = NOW.date()
    summer = max(d for d in (today.replace(month=7, day=1),
                             today.replace(year=today.year - 1, month=7, day=1)) if d < today)
    winter = max(d for d in (today.replace(month=1, day=15),
                             today.replace(year=today.year - 1, month=12, day=15)) if d < today)
    sundays = [d + timedelta(days=(6 - d.weekday()) % 7) for d in (summer, winter)]
    for sunday in sundays:
        moment = NOW.replace(year=sunday.year, month=sunday.month, day=sunday.day,
                             hour=23, minute=30)
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, occurred_at=moment),
                       now=utcnow(), rules=settings())
    quality = org.actor("quality")
    scope = Scope(start=min(sundays), end=max(sundays) + timedelta(days=1))
    with read_session(engine) as session:
        weekdays = breakdown(session, quality, scope, "weekday", rules=settings())
        hours = breakdown(session, quality, scope, "hour", rules=settings())
    assert dict(zip(weekdays["key"], weekdays["count"], strict=True)) == {"Sunday": 2}
    assert dict(zip(hours["key"], hours["count"], strict=True)).get(23) == 2


def test_by_type_and_service_match_independent_counts(engine, org, filed):
    drafts, _ = filed
    quality = org.actor("quality")
    names = {"transfer_near_fall": "Transfer / near fall", "medication_discrepancy":
             "Medication discrepancy", "other": "Other near miss", "transport": "Transport"}
    expected_types = Counter(names[d.type_key] for _, d in drafts)
    assert counts(engine, quality, "type") == dict(expected_types)
    service_names = {org.maple: "Maple House", org.oak: "Oak Lodge"}
    assert counts(engine, quality, "service") == dict(Counter(service_names[d.service_id]
                                                              for _, d in drafts))


def test_day_of_week_and_hour_are_local_time(engine, org, filed):
    drafts, _ = filed
    quality = org.actor("quality")
    weekdays = counts(engine, quality, "weekday")
    expected = Counter(d.occurred_at.strftime("%A") for _, d in drafts)
    assert weekdays == dict(expected)  # 23:30 on Sunday stays Sunday, not UTC Monday
    assert counts(engine, quality, "hour")[23] >= 1


def test_a_supervisor_sees_only_their_services(engine, org, filed):
    supervisor = org.actor("supervisor")
    assert counts(engine, supervisor, "service") == {"Maple House": 4}


def test_barrier_and_interface_breakdowns(engine, org, filed):
    quality = org.actor("quality")
    barriers = counts(engine, quality, "barrier")
    assert barriers["Staff noticed and recovered it"] == 5
    assert barriers["A designed check or control caught it (checklist, alert, pre-transfer "
                    "check)"] == 1
    interfaces = counts(engine, quality, "interface",
                        interface_labels={"clinic_follow_up": "Clinic appointment follow-up"})
    assert interfaces == {"No interface": 5, "Clinic appointment follow-up": 1}


def test_people_appear_only_as_pseudonyms_stable_within_a_view(engine, org, filed):
    quality = org.actor("quality")
    first = counts(engine, quality, "person", salt="view-1")
    again = counts(engine, quality, "person", salt="view-1")
    other = counts(engine, quality, "person", salt="view-2")
    assert first == again and set(first) != set(other)
    assert first == {pseudonym("view-1", org.maple_person): 3}
    assert all("MH-01" not in key and "Alex" not in key for key in first)


def test_weekly_series_has_every_week_and_the_right_total(engine, org, filed):
    quality = org.actor("quality")
    with read_session(engine) as session:
        series = weekly_series(session, quality, whole_period(), rules=settings())
    assert int(series.sum()) == 6
    assert all(day.weekday() == 0 for day in series.index)
    assert (series == 0).any()  # quiet weeks are zeros, not missing


def test_reporting_culture(engine, org, filed):
    _, references = filed
    quality = org.actor("quality")
    triage_report(UnitOfWork(engine), org.actor("supervisor"), references[0], TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="repeat", severity="low",
        investigation="supervisor_review", route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    with read_session(engine) as session:
        culture = reporting_culture(session, quality, whole_period(), rules=settings())
    assert culture.reports == 6
    assert culture.distinct_reporters == 2
    assert culture.anonymous_share == pytest.approx(1 / 6)
    assert culture.median_hours_to_triage is not None and culture.median_hours_to_triage < 1
    drafts, _ = filed
    weeks: dict = {}
    for who, d in drafts:
        week = weeks.setdefault(week_start_of(d.occurred_at), [0, set()])
        week[0] += 1
        if not d.anonymous:
            week[1].add(who)
    assert {row.week: (row.reports, row.reporters)
            for row in culture.monthly.itertuples()} == {
        week: (n, len(who)) for week, (n, who) in weeks.items()}
    by_group = culture.by_staff_group
    assert list(by_group.columns) == ["staff group", "reports", "reporters"]
    assert by_group["reports"].sum() == 6 and by_group["reports"].is_monotonic_decreasing
    assert by_group["reporters"].max() <= 2


def test_reporting_culture_times_acknowledgement_and_counts_the_late(engine, org):
    references = [file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, still_at_risk=True, immediate_safeguards="Stayed with her."),
                                 now=utcnow(), rules=settings()).reference
        for _ in range(2)]
    with read_session(engine) as session:
        escalations = session.execute(
            select(Escalation.id, Escalation.raised_at, Escalation.due_at)
            .join(NearMissReport, NearMissReport.id == Escalation.report_id)
            .where(NearMissReport.reference.in_(references))
            .order_by(Escalation.id)).all()
    (prompt, raised, _), (late, _, due) = escalations[0], escalations[-1]
    acknowledge(UnitOfWork(engine), org.actor("supervisor"), prompt,
                now=raised + timedelta(minutes=10))
    acknowledge(UnitOfWork(engine), org.actor("supervisor"), late,
                now=due + timedelta(minutes=30))
    with read_session(engine) as session:
        culture = reporting_culture(session, org.actor("quality"), whole_period(), rules=settings())
    assert culture.acknowledged_late_share == pytest.approx(1 / 2)
    assert culture.median_minutes_to_acknowledge is not None
    assert culture.median_minutes_to_acknowledge > 10


@pytest.mark.parametrize("walked", [False, True], ids=["read and sorted", "index walked"])
def test_median_hours_to_triage_is_the_middle_of_the_scopes_times(engine, org, monkeypatch,
                                                                   walked):
    """The median time to triage is the middle time, or the mean of the middle two, of the
    scope's triaged reports only: for the whole provider, one service, one type and a
    supervisor's services, whether the times are sorted in Python or (many of them, on
    SQLite) found by walking the index of days to triage past the reports out of scope."""
    if walked:  # as for a scope with more triaged reports than are sorted in Python
        monkeypatch.setattr(governance, "SORTED_HERE_UP_TO", 0)
    filed_at = utcnow() - timedelta(days=3)
    planted = [  # (service, type, hours to triage); None: not triaged
        ("maple", "transfer_near_fall", 5), ("maple", "transfer_near_fall", 1),
        ("maple", "other", 30), ("maple", "other", 2), ("maple", "transport", None),
        ("oak", "other", 7), ("oak", "transfer_near_fall", 0.5), ("oak", "other", 48)]
    for service, type_key, hours in planted:
        where = ({"service_id": org.oak, "location_id": org.oak_lounge} if service == "oak"
                 else {})
        reference = file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
            org, type_key=type_key, occurred_at=NOW - timedelta(days=4), **where),
            now=filed_at, rules=settings()).reference
        if hours is not None:
            triage_report(UnitOfWork(engine), org.actor("quality"), reference, TriageAnswers(
                at_risk_now=False, safeguarding_trigger=False, recurrence="single",
                severity="low", investigation="none", route="supervisor"), expected_version=1,
                now=filed_at + timedelta(hours=hours), rules=settings())

    def hours_of(service: str | None = None, type_key: str | None = None) -> list[float]:
        return [h for s, t, h in planted if h is not None
                and service in (None, s) and type_key in (None, t)]

    period = whole_period()
    cases = [  # (viewer, scope, the times it holds)
        ("quality", period, hours_of()),  # 7: the middle one
        ("quality", replace(period, service_ids=(org.oak,)), hours_of("oak")),  # 3
        ("quality", replace(period, type_keys=("other",)), hours_of(type_key="other")),  # 4
        ("supervisor", period, hours_of("maple")),  # 4: their service only
        ("quality", replace(period, type_keys=("transport",)), [])]  # none triaged
    for viewer, scope, times in cases:
        forget_timings()
        with read_session(engine) as session:
            culture = reporting_culture(session, org.actor(viewer), scope, rules=settings())
        expected = statistics.median(times) if times else None
        assert culture.median_hours_to_triage == pytest.approx(expected, abs=1e-3), (
            viewer, scope)


def test_repeats_and_drill_down(engine, org, filed):
    _, references = filed
    quality = org.actor("quality")
    with read_session(engine) as session:
        found = repeats(session, quality, whole_period(), minimum=3, salt="s", rules=settings())
        reports = drill_down(session, quality, whole_period(), "type", "Transfer / near fall",
                             rules=settings())
        person = drill_down(session, quality, whole_period(), "person",
                            pseudonym("s", org.maple_person), salt="s", rules=settings())
    kinds = {(r.kind, r.label, r.count) for r in found}
    assert ("location", "Maple House · Bathroom doorway", 3) in kinds
    assert ("person", pseudonym("s", org.maple_person), 3) in kinds
    assert set(reports["reference"]) == set(references[:3])
    assert set(person["reference"]) == set(references[:3])
    # Computed once (the page caches them for everyone) and named per view: another view's
    # salt gives the same person another pseudonym, and changes nothing else.
    other_view = {(r.kind, r.label, r.count) for r in with_pseudonyms(found, "t")}
    assert ("person", pseudonym("t", org.maple_person), 3) in other_view
    assert ("person", pseudonym("s", org.maple_person), 3) not in other_view
    assert {k for k in other_view if k[0] != "person"} == {k for k in kinds if k[0] != "person"}



def _plan_live(engine, org, references, go_live, title):
    """A plan linking `references` whose one action went live on `go_live`."""
    from core.actions.service import ActionDraft, PlanDraft, create_plan, set_go_live

    quality = org.actor("quality")
    created = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title=title, theme="Theme", report_references=list(references), actions=[ActionDraft(
            title=title, kind="checklist", owner_id=quality.user_id,
            deadline=NOW.date() + timedelta(days=5), review_date=NOW.date() + timedelta(days=9),
            evidence_checks=["Card in place"], verify_with_measure=False)]),
                          now=utcnow(), rules=settings())
    set_go_live(UnitOfWork(engine), quality, created.action_ids[0], go_live,
                now=utcnow(), rules=settings())


def test_charts_mark_the_best_evidenced_controls_that_concern_them(engine, org, filed):
    """A busy provider's chart cannot carry a line per control: it marks at most twelve, those
    whose plans link the most near misses, and only controls about the chart's slice."""
    from core.metrics.governance import MARKED_CONTROLS, go_live_dates

    _drafts, references = filed
    falls, medication, oak_transport = references[:3], references[3], references[5]
    for n in range(MARKED_CONTROLS):  # one fall each, going live on successive days
        _plan_live(engine, org, [falls[n % 3]], NOW.date() - timedelta(days=30 - n),
                   f"Fall control {n}")
    _plan_live(engine, org, falls, NOW.date() - timedelta(days=40), "Three falls control")
    _plan_live(engine, org, [medication], NOW.date() - timedelta(days=2), "Medication control")
    _plan_live(engine, org, [oak_transport], NOW.date() - timedelta(days=3), "Oak control")
    quality = org.actor("quality")

    with read_session(engine) as session:
        everything = go_live_dates(session, quality, whole_period())
        falls_only = go_live_dates(session, quality, Scope(
            whole_period().start, whole_period().end, type_keys=("transfer_near_fall",)))
        at_oak = go_live_dates(session, quality, Scope(
            whole_period().start, whole_period().end, service_ids=(org.oak,)))
        maple_supervisor = go_live_dates(session, org.actor("supervisor"), whole_period())

    assert everything.total == MARKED_CONTROLS + 3
    assert len(everything.marks) == MARKED_CONTROLS
    labels = [mark.label for mark in everything.marks]
    assert "Three falls control (Three falls control)" in labels  # three linked near misses
    days = [mark.day for mark in everything.marks]
    assert days == sorted(days)
    # The legend table gives each action's strength (a checklist is intermediate).
    assert {mark.strength for mark in everything.marks} == {"Intermediate"}
    assert falls_only.total == MARKED_CONTROLS + 1
    assert not any("Medication" in mark.label or "Oak" in mark.label
                   for mark in falls_only.marks)
    assert [mark.label for mark in at_oak.marks] == ["Oak control (Oak control)"]
    assert not any("Oak" in mark.label for mark in maple_supervisor.marks)
