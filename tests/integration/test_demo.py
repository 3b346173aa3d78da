"""The demo data: a complete, consistent provider whose near misses hold the seed stories."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from core.accounts.service import build_actor
from core.accounts.users import DEMO_PASSWORD, ensure_demo_users
from core.actions.models import Action, ActionPlan, ActionPlanReport
from core.audit.chain import verify_chain
from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM
from core.auth.models import User, UserRole, UserService
from core.auth.passwords import password_matches
from core.auth.roles import Role
from core.clock import to_local, utcnow
from core.config import settings
from core.db import make_engine, read_session
from core.escalation.models import Escalation, Notification
from core.escalation.queries import inbox
from core.escalation.rules import EscalationKind, needs_for_new_report
from core.escalation.service import CLINICAL_REVIEW_WAYS
from core.feedback.models import FeedbackUpdate, FeedbackUpdateAction, FeedbackUpdateReport
from core.feedback.queries import bulletin
from core.metrics.clusters import clusters_in_period
from core.organisation.models import Location, PersonSupported, Region, Route, Service, StaffGroup
from core.reports.models import NearMissReport, ReferenceCounter, ReportTransition
from core.reports.vocabulary import ReportStatus
from core.taxonomy.models import NearMissType
from core.taxonomy.schema import TaxonomySpec
from core.taxonomy.service import live_taxonomy
from core.triage.board import BoardFilters, load_board
from core.triage.matrix import review_level
from core.triage.models import TriageRecord
from core.triage.proposal import proposed_route
from core.triage.vocabulary import EpisodeStatus, Recurrence, ReviewLevel, Severity
from core.uow import UnitOfWork
from ops.demo import (
    BATHROOM_LOCATION,
    BATHROOM_SERVICE,
    DEMO_SERVICES_BY_ROLE,
    FAMILY_NOTE_SOURCE,
    LATE_START_REGION,
    NOTIFY_DAYS,
    REPEAT_FALLER_REF,
    STAFF,
    SUPERVISORS,
    TRIAGE_BACKLOG_DAYS,
    DemoPlaces,
    DemoSummary,
    demo_places,
    demo_window,
    generate_demo,
    generate_demo_rows,
    late_start_cluster_window,
    load_demo,
    medication_control_go_live,
    medication_rise_start,
    prepare_demo_provider,
)
from tests.conftest import built_once

NOW = datetime(2026, 3, 15, 14, 30)  # naive UTC; the window spans 2024, 2025 and 2026
REPORTS = 600
SEED = 11
REFERENCE = re.compile(r"^NM-(\d{4})-(\d{5,})$")


@pytest.fixture
def demo(engine: Engine, db_url: str) -> DemoSummary:
    """The 600-report demo of SEED at NOW, loaded once per backend and copied for each test
    that only reads it (tests/conftest.py built_once); the tests of loading itself load their
    own."""
    return built_once("demo_600", db_url,
                      lambda engine: load_demo(engine, reports=REPORTS, seed=SEED, now=NOW))


def _reports(engine: Engine) -> list[dict[str, Any]]:
    with read_session(engine) as session:
        return [dict(row._mapping) for row in session.execute(
            select(NearMissReport.__table__).order_by(NearMissReport.id))]


def _numbers_by_year(reports: list[dict[str, Any]]) -> dict[int, list[int]]:
    numbers: dict[int, list[int]] = defaultdict(list)
    for report in reports:
        match = REFERENCE.match(report["reference"])
        assert match, report["reference"]
        numbers[int(match.group(1))].append(int(match.group(2)))
    return {year: sorted(values) for year, values in numbers.items()}


def test_the_requested_reports_are_stored_with_per_year_references(engine):
    progress: list[tuple[int, int]] = []
    summary = load_demo(engine, reports=REPORTS, seed=SEED, now=NOW, chunk_size=250,
                        progress=lambda done, total: progress.append((done, total)))

    reports = _reports(engine)
    assert summary.reports == len(reports) == REPORTS
    assert summary.services == 6
    assert progress == [(250, REPORTS), (500, REPORTS), (600, REPORTS)]
    assert summary.first_occurred == min(r["occurred_at"] for r in reports)
    assert summary.last_occurred == max(r["occurred_at"] for r in reports)

    zone = settings().zone
    assert len({r["reference"] for r in reports}) == REPORTS
    for report in reports:
        year = int(REFERENCE.match(report["reference"]).group(1))
        assert year == to_local(report["reported_at"], zone).year
    numbers = _numbers_by_year(reports)
    assert set(numbers) == {2024, 2025, 2026}
    with read_session(engine) as session:
        counters = dict(session.execute(
            select(ReferenceCounter.year, ReferenceCounter.last_value)).all())
    for year, values in numbers.items():
        assert values == list(range(1, len(values) + 1))  # no gaps, no repeats
        assert counters[year] == len(values)

    # One audit event per chunk, and the chain still verifies.
    with read_session(engine) as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "demo.reports_loaded").order_by(AuditEvent.seq)).all()
        chain = verify_chain(session)
    assert chain.ok, chain.reason
    assert [e.actor for e in events] == ["system"] * 3
    assert [e.after_json.count('"count":') for e in events] == [1, 1, 1]
    assert '"count":250' in events[0].after_json
    assert '"count":100' in events[2].after_json
    assert f'"first_reference":"{reports[0]["reference"]}"' in events[0].after_json
    assert f'"last_reference":"{reports[-1]["reference"]}"' in events[2].after_json


def test_a_bulk_load_leaves_the_planner_statistics_fresh(engine):
    """Without them PostgreSQL plans governance for an empty table (a bitmap scan where most
    of a million rows match) until autovacuum happens to run."""
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        with engine.connect() as conn:
            started = conn.exec_driver_sql("SELECT clock_timestamp()").scalar()
    load_demo(engine, reports=300, seed=SEED, now=NOW)
    with engine.connect() as conn:
        if postgres:
            analysed, vacuumed = conn.exec_driver_sql(
                "SELECT last_analyze, last_vacuum FROM pg_stat_user_tables "
                # Not the tests' snapshot copies of the table (tests/conftest.py): the app's.
                "WHERE relname = 'near_miss_reports' AND schemaname = current_schema()").one()
            assert analysed is not None and analysed >= started
            assert vacuumed is not None and vacuumed >= started
        else:
            assert conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'near_miss_reports'").scalar()


def test_a_second_load_continues_the_counters_and_reuses_the_provider(engine):
    # Reports filed through the form before the demo was loaded: 2025 already reached 41.
    with UnitOfWork(engine) as uow:
        uow.session.add(ReferenceCounter(year=2025, last_value=41))
        uow.record(SYSTEM, "test.counter_set", "reference_counter", 2025, after={"last": 41},
                   at=utcnow())
        uow.commit()

    first = load_demo(engine, reports=REPORTS, seed=SEED, now=NOW)
    second = load_demo(engine, reports=300, seed=SEED + 1, now=NOW)

    assert len(first.users_created) == 9 + len(STAFF) + len(SUPERVISORS)
    assert second.users_created == []
    assert first.services == second.services == 6
    assert second.reports == 300
    reports = _reports(engine)
    assert len(reports) == REPORTS + 300
    assert len({r["reference"] for r in reports}) == len(reports)
    numbers = _numbers_by_year(reports)
    assert numbers[2025] == list(range(42, 42 + len(numbers[2025])))
    for year in (2024, 2026):
        assert numbers[year] == list(range(1, len(numbers[year]) + 1))
    with read_session(engine) as session:
        counters = dict(session.execute(
            select(ReferenceCounter.year, ReferenceCounter.last_value)).all())
        assert verify_chain(session).ok
    assert counters == {year: values[-1] for year, values in numbers.items()}


def test_every_place_person_route_and_reporter_belongs_to_the_report_service(engine, demo):
    with read_session(engine) as session:
        location_service = dict(session.execute(select(Location.id, Location.service_id)).all())
        route_service = dict(session.execute(select(Route.id, Route.service_id)).all())
        person_service = dict(session.execute(
            select(PersonSupported.id, PersonSupported.service_id)).all())
        user_services: dict[int, set[int]] = defaultdict(set)
        for user_id, service_id in session.execute(
                select(UserService.user_id, UserService.service_id)):
            user_services[user_id].add(service_id)
        user_group = dict(session.execute(select(User.id, User.staff_group_id)).all())
    reports = _reports(engine)
    for report in reports:
        service = report["service_id"]
        assert location_service[report["location_id"]] == service
        if report["route_id"] is not None:
            assert route_service[report["route_id"]] == service
        if report["person_id"] is not None:
            assert person_service[report["person_id"]] == service
        if report["reporter_id"] is not None:
            assert service in user_services[report["reporter_id"]]
            assert report["staff_group_id"] == user_group[report["reporter_id"]]
    assert sum(r["route_id"] is not None for r in reports) > REPORTS // 5
    assert sum(r["person_id"] is not None for r in reports) > REPORTS // 2


def test_reports_are_complete_varied_and_valid_for_their_type(engine, demo):
    reports = _reports(engine)
    with read_session(engine) as session:
        taxonomy = live_taxonomy(session)
        versions = dict(session.execute(
            select(NearMissType.key, NearMissType.current_version)).all())
    start, _ = demo_window(NOW)

    assert {r["type_key"] for r in reports} == {t.key for t in taxonomy.types}
    flags = {f.key for f in taxonomy.interface_flags}
    for report in reports:
        assert report["type_version"] == versions[report["type_key"]]
        assert report["source"] == "demo"
        # Filed (version 1); each later move of the workflow adds a version.
        assert (report["version_id"] == 1) == (report["status"] == "new")
        assert report["submission_key"] is None
        assert start <= report["occurred_at"] < report["reported_at"] <= NOW
        assert report["reported_at"] - report["occurred_at"] <= timedelta(days=1)
        assert 10 <= len(report["description"]) <= 2000
        assert report["interface_flag"] is None or report["interface_flag"] in flags
        assert report["barrier"] in {"staff_recovery", "designed_control", "person_or_family",
                                     "chance"}
        assert bool(report["immediate_safeguards"]) == report["still_at_risk"]
        _assert_capture_valid(taxonomy, report)

    def share(predicate) -> float:
        return sum(1 for r in reports if predicate(r)) / len(reports)

    assert 0.005 <= share(lambda r: r["still_at_risk"]) <= 0.05
    assert 0.02 <= share(lambda r: r["interface_flag"]) <= 0.12
    assert 0.03 <= share(lambda r: r["reporter_id"] is None) <= 0.15
    assert 0.3 <= share(lambda r: r["capture_fields"]) <= 0.8
    assert len({r["reporter_id"] for r in reports} - {None}) >= 25
    barriers = Counter(r["barrier"] for r in reports).most_common()
    assert [b for b, _ in barriers[:2]] == ["staff_recovery", "designed_control"]
    assert len({r["description"] for r in reports}) >= 0.8 * len(reports)


def _assert_capture_valid(taxonomy: TaxonomySpec, report: dict[str, Any]) -> None:
    fields = {f.key: f for f in taxonomy.type(report["type_key"]).capture_fields}
    for key, value in report["capture_fields"].items():
        field = fields[key]
        if field.kind == "choice":
            assert value in field.options, (key, value)
        elif field.kind == "datetime":
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d", value), value
            datetime.fromisoformat(value)
        elif field.kind == "yes_no":
            assert isinstance(value, bool)
        else:
            assert isinstance(value, str) and 0 < len(value) <= 300


def test_the_planted_patterns_are_in_the_stored_reports(engine, demo):
    with read_session(engine) as session:
        rows = session.execute(
            select(NearMissReport.type_key, NearMissReport.occurred_at,
                   NearMissReport.capture_fields, Region.name, Service.name, Location.name,
                   PersonSupported.local_ref)
            .join(Service, Service.id == NearMissReport.service_id)
            .join(Region, Region.id == Service.region_id)
            .join(Location, Location.id == NearMissReport.location_id)
            .outerjoin(PersonSupported, PersonSupported.id == NearMissReport.person_id)
        ).all()
    demo = [_Row(*row) for row in rows]
    _assert_patterns(demo, REPORTS)

    # The cluster review finds the late-start cluster once, in the North (as the region's when
    # it spans its services, else the service's that explains it), linked to the plan built
    # for it; the rest of the year raises few episodes (the old rule: about one a week).
    today = to_local(NOW, settings().zone).date()
    cluster_start, cluster_end = late_start_cluster_window(NOW)
    with read_session(engine) as session:
        found = clusters_in_period(session, SYSTEM, today - timedelta(days=365),
                                   today + timedelta(days=1), now=utcnow(), rules=settings())
    late = [c for c in found if c.type_key == "late_shift_start"]
    north = {LATE_START_REGION} | {r.service for r in demo if r.region == LATE_START_REGION}
    assert len(late) == 1 and late[0].scope_name in north
    assert late[0].start <= cluster_end.date() and late[0].end >= cluster_start.date()
    assert late[0].status is EpisodeStatus.LINKED
    assert len(found) <= 8


def test_demo_users_have_their_roles_services_and_staff_groups(engine):
    summary = load_demo(engine, reports=0, now=NOW)
    assert summary.reports == 0
    assert summary.first_occurred is None and summary.last_occurred is None
    with read_session(engine) as session:
        service_names = dict(session.execute(select(Service.id, Service.name)).all())
        group_names = dict(session.execute(select(StaffGroup.id, StaffGroup.name)).all())
        cue_guides = dict(session.execute(select(StaffGroup.name, StaffGroup.cue_guide)).all())
        users = {u.username: _UserFacts(u.id, u.staff_group_id, u.password_hash,
                                        {service_names[s.service_id] for s in u.services})
                 for u in session.scalars(select(User))}
        roles = defaultdict(set)
        for user_id, role in session.execute(select(UserRole.user_id, UserRole.role)):
            roles[user_id].add(role)
        maple_bathroom = session.scalar(
            select(Location.id).join(Service, Service.id == Location.service_id)
            .where(Service.name == BATHROOM_SERVICE, Location.name == BATHROOM_LOCATION))

    assert maple_bathroom is not None
    assert {"Direct support professional", "Home care worker", "Nurse", "Scheduler / coordinator",
            "Supervisor", "Driver"} <= set(cue_guides)
    assert cue_guides["Scheduler / coordinator"] == "scheduler"
    assert cue_guides["Nurse"] == "nurse"

    for role in Role:
        assert roles[users[role.value].id] == {role.value}
    assert users["reporter"].services == set(DEMO_SERVICES_BY_ROLE[Role.REPORTER])
    assert users["reporter"].services == {"Maple House"}
    assert users["supervisor"].services == {"Maple House", "Oak Lodge"}
    assert password_matches(DEMO_PASSWORD, users["reporter"].password_hash)

    assert 30 <= len(STAFF) <= 40
    for spec in STAFF:
        member = users[spec.username]
        assert roles[member.id] == {"reporter"}
        assert group_names[member.staff_group_id] == spec.group
        assert member.services == set(spec.services)
        assert not password_matches(DEMO_PASSWORD, member.password_hash)
    # Every service has a supervisor to triage it and answer its alerts.
    for spec in SUPERVISORS:
        member = users[spec.username]
        assert roles[member.id] == {"supervisor"}
        assert group_names[member.staff_group_id] == "Supervisor"
        assert not password_matches(DEMO_PASSWORD, member.password_hash)
    supervised = users["supervisor"].services.union(
        *(users[s.username].services for s in SUPERVISORS))
    assert supervised == set(service_names.values())
    assert set(summary.users_created) == ({r.value for r in Role} | {s.username for s in STAFF}
                                          | {s.username for s in SUPERVISORS})


def test_demo_users_made_by_init_get_their_services_and_group(engine):
    # `nearmiss init` (demo mode) creates the demo users before any service exists.
    ensure_demo_users(lambda: UnitOfWork(engine), now=utcnow(), rules=settings())
    summary = load_demo(engine, reports=50, seed=SEED, now=NOW)
    assert "reporter" not in summary.users_created
    with read_session(engine) as session:
        service_names = dict(session.execute(select(Service.id, Service.name)).all())
        group_names = dict(session.execute(select(StaffGroup.id, StaffGroup.name)).all())
        users = {u.username: ({service_names[s.service_id] for s in u.services},
                              group_names.get(u.staff_group_id))
                 for u in session.scalars(select(User))}
        assert verify_chain(session).ok
    assert users["reporter"] == ({"Maple House"}, "Direct support professional")
    assert users["supervisor"] == ({"Maple House", "Oak Lodge"}, "Supervisor")
    assert users["clinical"] == (set(), "Nurse")
    assert users["quality"] == (set(), None)


@dataclass(frozen=True)
class _UserFacts:
    id: int
    staff_group_id: int | None
    password_hash: str
    services: set[str]


def test_bad_arguments_are_refused_before_anything_is_written():
    with pytest.raises(ValueError):
        load_demo(make_engine("sqlite://"), reports=-1)
    with pytest.raises(ValueError):
        load_demo(make_engine("sqlite://"), months=0)


# -- Triage, escalations and notifications ---------------------------------------------------


def _table(engine: Engine, model: Any) -> list[dict[str, Any]]:
    with read_session(engine) as session:
        return [dict(row._mapping) for row in session.execute(
            select(model.__table__).order_by(model.__table__.c.id))]


@dataclass(frozen=True)
class _People:
    """Who holds which role and which services, by user id."""

    roles: dict[int, set[str]]
    services: dict[int, set[int]]
    by_name: dict[str, int]

    def may_act(self, user_id: int, role: str, service_id: int) -> bool:
        """Holds the role and, for the service-scoped supervisor, covers the service."""
        return role in self.roles[user_id] and (role != "supervisor"
                                                or service_id in self.services[user_id])


def _people(engine: Engine) -> _People:
    with read_session(engine) as session:
        roles: dict[int, set[str]] = defaultdict(set)
        for user_id, role in session.execute(select(UserRole.user_id, UserRole.role)):
            roles[user_id].add(role)
        services: dict[int, set[int]] = defaultdict(set)
        for user_id, service_id in session.execute(
                select(UserService.user_id, UserService.service_id)):
            services[user_id].add(service_id)
        by_name = dict(session.execute(select(User.username, User.id)).all())
    return _People(roles, services, by_name)


def test_older_reports_are_triaged_promptly_with_a_record_and_a_transition(engine):
    load_demo(engine, reports=REPORTS, seed=SEED, now=NOW, chunk_size=250)
    rules = settings()
    reports = _reports(engine)
    triage = {t["report_id"]: t for t in _table(engine, TriageRecord)}
    moves: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for move in _table(engine, ReportTransition):
        moves[move["report_id"]].append(move)
    people = _people(engine)
    with read_session(engine) as session:
        taxonomy = live_taxonomy(session)
        objects = {r.id: r for r in session.scalars(select(NearMissReport))}
    signal_keys = {s.key for s in taxonomy.safeguarding_signals}
    backlog_start = NOW - timedelta(days=TRIAGE_BACKLOG_DAYS)

    delays = []
    for report in reports:
        spec = taxonomy.type(report["type_key"])
        assert report["stop_the_line"] == spec.stop_the_line
        assert report["safeguarding"] >= spec.safeguarding_signal
        if report["status"] == "new":
            assert report["reported_at"] > backlog_start  # nothing old is left untriaged
            assert report["id"] not in triage and report["id"] not in moves
            assert report["status_changed_at"] == report["reported_at"]
            assert (report["severity"], report["review_level"], report["routed_to"],
                    report["triaged_at"]) == (None, None, None, None)
            assert report["safeguarding"] == spec.safeguarding_signal
            continue
        record = triage[report["id"]]
        at = record["triaged_at"]
        assert report["reported_at"] < at <= NOW
        delays.append(at - report["reported_at"])
        assert at - report["reported_at"] < timedelta(days=TRIAGE_BACKLOG_DAYS)
        assert report["triaged_at"] == at <= report["status_changed_at"]
        move = min(moves[report["id"]], key=lambda m: m["at"])  # then review, closure, ...
        assert (move["from_status"], move["to_status"], move["at"], move["actor_id"]) == (
            "new", "triaged", at, record["triaged_by_id"])

        # The four questions, consistent with the report.
        assert record["at_risk_now"] == report["still_at_risk"]
        assert bool(record["immediate_safeguards"]) == record["at_risk_now"]
        assert record["safeguarding_trigger"] == report["safeguarding"]
        assert bool(record["safeguarding_signals"]) == record["safeguarding_trigger"]
        assert set(record["safeguarding_signals"]) <= signal_keys
        assert record["external_reporting"] <= record["safeguarding_trigger"]
        recurrence = Recurrence(record["recurrence"])
        assert report["in_cluster"] == (recurrence is Recurrence.CLUSTER)
        assert report["is_repeat"] == (recurrence is not Recurrence.SINGLE)
        assert set(record["related_report_ids"]) <= set(objects)
        assert all(objects[i].occurred_at <= report["occurred_at"]
                   for i in record["related_report_ids"])

        # The matrix, the investigation and the route.
        level = review_level(Severity(record["severity"]), recurrence, rules.triage)
        assert record["matrix_level"] == level.value
        assert ReviewLevel(record["investigation"]).depth >= level.depth
        assert (report["severity"], report["review_level"], report["routed_to"]) == (
            record["severity"], record["investigation"], record["route"])
        assert record["route"] == proposed_route(objects[report["id"]], spec.route_to).value

        # A supervisor of the service or an org-wide lead triaged it.
        triager = record["triaged_by_id"]
        assert any(people.may_act(triager, role, report["service_id"])
                   for role in ("supervisor", "quality", "safeguarding", "clinical",
                                "operations"))

    # Most within hours, some within a day or two.
    assert len(delays) >= 0.97 * len(reports)
    assert sum(d <= timedelta(hours=8) for d in delays) >= 0.4 * len(delays)
    assert sum(d <= timedelta(days=1) for d in delays) >= 0.7 * len(delays)
    assert sum(d > timedelta(days=1) for d in delays) >= 0.05 * len(delays)
    records = list(triage.values())
    assert {r["severity"] for r in records} == {"high", "medium", "low"}
    assert {r["recurrence"] for r in records} == {"single", "repeat", "cluster"}
    assert {r["route"] for r in records} == {"supervisor", "safeguarding", "clinical",
                                             "operations"}
    skin = Counter(r["severity"] for r in records
                   if objects[r["report_id"]].type_key == "skin_integrity_deterioration")
    assert skin["high"] > skin["low"]
    assert sum(r["investigation"] != r["matrix_level"] for r in records) >= 1  # sometimes deeper

    # The planted patterns carry their flags.
    assert sum(r["in_cluster"] for r in reports) >= 10
    cluster_start, cluster_end = late_start_cluster_window(NOW)
    with read_session(engine) as session:
        doorway = session.execute(
            select(NearMissReport.is_repeat)
            .join(Location, Location.id == NearMissReport.location_id)
            .join(Service, Service.id == NearMissReport.service_id)
            .where(Service.name == BATHROOM_SERVICE, Location.name == BATHROOM_LOCATION,
                   NearMissReport.type_key == "transfer_near_fall")).scalars().all()
        clustered = session.execute(
            select(NearMissReport.occurred_at, NearMissReport.type_key)
            .where(NearMissReport.in_cluster.is_(True))).all()
    assert len(doorway) >= 25 and all(doorway)
    day = timedelta(days=1)  # the cluster is planted by local calendar day
    assert all(t == "late_shift_start" and cluster_start - day <= at < cluster_end + day
               for at, t in clustered)

    # One audit event per chunk with the counts, and the chain still verifies.
    with read_session(engine) as session:
        events = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "demo.triage_loaded").order_by(AuditEvent.seq)).all()
        assert verify_chain(session).ok
    assert [e.actor for e in events] == ["system"] * 3
    logged = [json.loads(e.after_json) for e in events]
    assert sum(e["triaged"] for e in logged) == len(triage)
    assert sum(e["transitions"] for e in logged) == len(triage)
    assert sum(e["escalations"] for e in logged) == len(_table(engine, Escalation))
    assert sum(e["notifications"] for e in logged) == len(_table(engine, Notification))


def test_the_board_shows_a_small_new_column_of_recent_reports(engine, demo):
    with read_session(engine) as session:
        quality = build_actor(session.scalar(select(User).where(User.username == "quality")),
                              rules=settings())
        board = load_board(session, quality, BoardFilters(), now=NOW, page_size=50)
    reports = _reports(engine)
    new = board.columns[ReportStatus.NEW]
    assert 1 <= board.counts[ReportStatus.NEW] == len(new) <= 15
    assert all(NOW - card.reported_at < timedelta(days=TRIAGE_BACKLOG_DAYS) for card in new)
    assert board.counts[ReportStatus.TRIAGED] == sum(r["status"] == "triaged" for r in reports)
    assert any("escalation_overdue" in card.flags and "safeguarding" in card.flags
               for card in new)
    assert new[0].urgency == 0  # the overdue safeguarding concern leads the column
    flags = {flag for cards in board.columns.values() for card in cards for flag in card.flags}
    assert {"stop_the_line", "safeguarding", "repeat"} <= flags


def test_a_demo_reports_history_is_told_from_its_workflow_records(engine, demo):
    from core.filing.detail import report_detail

    reports = _reports(engine)
    escalated = {e["report_id"] for e in _table(engine, Escalation)}  # "Escalated" comes first
    triaged = next(r for r in reports if r["status"] != "new" and r["id"] not in escalated)
    with read_session(engine) as session:
        quality = build_actor(session.scalar(select(User).where(User.username == "quality")),
                              rules=settings())
        history = report_detail(session, quality, triaged["reference"], now=NOW).history
    assert [h.what for h in history][:2] == ["Reported", "Moved"]
    assert history[1].detail.startswith("Triaged")


def test_escalations_are_raised_acknowledged_and_decided_by_the_right_people(engine, demo):
    rules = settings()
    reports = {r["id"]: r for r in _reports(engine)}
    triage = {t["report_id"]: t for t in _table(engine, TriageRecord)}
    escalations = _table(engine, Escalation)
    people = _people(engine)
    with read_session(engine) as session:
        taxonomy = live_taxonomy(session)
    kinds: dict[int, list[str]] = defaultdict(list)
    for escalation in escalations:
        kinds[escalation["report_id"]].append(escalation["kind"])

    for report in reports.values():
        spec = taxonomy.type(report["type_key"])
        wanted = [n.kind.value for n in needs_for_new_report(
            spec, still_at_risk=report["still_at_risk"], interface_flag=report["interface_flag"])]
        if report["safeguarding"] and not spec.safeguarding_signal:
            wanted.append("safeguarding")  # found at triage
        assert sorted(kinds[report["id"]]) == sorted(wanted), report["reference"]
        if report["stop_the_line"]:
            assert {"supervisor_alert", "clinical_review"} <= set(kinds[report["id"]])
        if report["safeguarding"]:
            assert "safeguarding" in kinds[report["id"]]
    assert sum(r["stop_the_line"] for r in reports.values()) >= 10

    late = acknowledged = 0
    for escalation in escalations:
        report = reports[escalation["report_id"]]
        kind = EscalationKind(escalation["kind"])
        raised = escalation["raised_at"]
        at_triage = kind is EscalationKind.SAFEGUARDING and not taxonomy.type(
            report["type_key"]).safeguarding_signal
        if at_triage:
            assert raised == triage[report["id"]]["triaged_at"]
            assert escalation["raised_by_id"] == triage[report["id"]]["triaged_by_id"]
        else:
            assert raised == report["reported_at"]
            assert escalation["raised_by_id"] == report["reporter_id"]
        allowed = rules.escalation.acknowledge_within_minutes[kind.value]
        assert escalation["due_at"] == raised + timedelta(minutes=allowed)
        if raised < NOW - timedelta(days=NOTIFY_DAYS):  # history: all acknowledged and decided
            assert escalation["decided_at"] is not None
        if escalation["acknowledged_at"] is None:
            assert escalation["decided_at"] is None and escalation["decision"] is None
            continue
        acknowledged += 1
        late += escalation["acknowledged_at"] > escalation["due_at"]
        role = kind.recipient_role.value
        assert raised <= escalation["acknowledged_at"] <= NOW
        assert people.may_act(escalation["acknowledged_by_id"], role, report["service_id"])
        if escalation["decided_at"] is None:
            assert escalation["decision"] is None
            continue
        assert escalation["acknowledged_at"] <= escalation["decided_at"] <= NOW
        assert people.may_act(escalation["decided_by_id"], role, report["service_id"])
        _assert_decision_shape(kind, escalation)
    assert 0.02 <= late / acknowledged <= 0.15  # most in time, a few late

    # Recent: at least one safeguarding concern still waiting, past its hour.
    waiting = [e for e in escalations if e["kind"] == "safeguarding"
               and e["acknowledged_at"] is None and e["due_at"] < NOW]
    assert waiting and all(NOW - e["raised_at"] < timedelta(days=2) for e in waiting)
    with read_session(engine) as session:
        lead = build_actor(session.scalar(select(User).where(User.username == "safeguarding")),
                           rules=settings())
        items = inbox(session, lead, now=NOW)
    assert items[0].overdue and items[0].state == "overdue"
    assert {e["id"] for e in waiting} <= {item.escalation_id for item in items}


def _assert_decision_shape(kind: EscalationKind, escalation: dict[str, Any]) -> None:
    """The decision as core.escalation.service stores it for the kind."""
    decision = escalation["decision"]
    texts: tuple[str, ...]
    if kind is EscalationKind.SAFEGUARDING:
        assert set(decision) == {"external_report_made", "reported_to", "reported_at", "reason"}
        assert isinstance(decision["external_report_made"], bool)
        if decision["external_report_made"]:
            assert decision["reported_to"]
            told = datetime.fromisoformat(decision["reported_at"])
            assert decision["reported_at"] == told.isoformat(timespec="minutes")
            assert told <= escalation["decided_at"]
        else:
            assert decision["reported_to"] is None and decision["reported_at"] is None
        texts = (decision["reason"],)
    elif kind is EscalationKind.OPERATIONS:
        assert set(decision) == {"where_entered", "who_should_have_received",
                                 "failed_confirmation_step", "notes"}
        texts = (decision["where_entered"], decision["who_should_have_received"],
                 decision["failed_confirmation_step"])
    elif kind is EscalationKind.CLINICAL_REVIEW:
        assert set(decision) == {"how", "outcome"}
        assert decision["how"] in CLINICAL_REVIEW_WAYS
        texts = (decision["outcome"],)
    else:
        assert set(decision) == {"note"}
        texts = (decision["note"],)
    assert all(isinstance(t, str) and t.strip() == t and t for t in texts)


def test_notifications_only_for_the_last_fortnight_one_per_recipient(engine, demo):
    reports = {r["id"]: r for r in _reports(engine)}
    escalations = {e["id"]: e for e in _table(engine, Escalation)}
    notes = _table(engine, Notification)
    people = _people(engine)
    by_escalation: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for note in notes:
        by_escalation[note["escalation_id"]].append(note)

    recent = [e for e in escalations.values()
              if e["raised_at"] >= NOW - timedelta(days=NOTIFY_DAYS)]
    assert recent and set(by_escalation) == {e["id"] for e in recent}
    for escalation in recent:
        report = reports[escalation["report_id"]]
        kind = EscalationKind(escalation["kind"])
        role = kind.recipient_role.value
        told = sorted(n["user_id"] for n in by_escalation[escalation["id"]])
        assert told == sorted(u for u in people.roles
                              if people.may_act(u, role, report["service_id"]))
        for note in by_escalation[escalation["id"]]:
            assert note["title"] == f"{kind.label}: {report['reference']}"
            assert note["body"].startswith(f"{kind.label} for near miss {report['reference']}")
            assert (note["kind"], note["report_id"], note["created_at"]) == (
                f"escalation.{kind.value}", report["id"], escalation["raised_at"])
            assert (note["email_status"], note["email_to"]) == ("not_needed", None)
            if escalation["acknowledged_at"] is None:
                assert note["read_at"] is None
            elif note["user_id"] == escalation["acknowledged_by_id"]:
                assert note["read_at"] == escalation["acknowledged_at"]
    # The safeguarding lead has the unacknowledged concern unread.
    unread = {n["escalation_id"] for n in notes
              if n["user_id"] == people.by_name["safeguarding"] and n["read_at"] is None}
    assert any(escalations[i]["due_at"] < NOW for i in unread)



# -- The pure generator -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    places: DemoPlaces
    taxonomy: TaxonomySpec


@pytest.fixture(scope="module")
def inputs(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Inputs]:
    """The demo provider's ids, read once from a SQLite copy (the generator needs no DB)."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    prepare_demo_provider(engine)
    with read_session(engine) as session:
        loaded = _Inputs(demo_places(session), live_taxonomy(session))
    engine.dispose()
    yield loaded


def _generate(inputs: _Inputs, reports: int, seed: int = SEED) -> list[dict[str, Any]]:
    return list(generate_demo_rows(inputs.places, inputs.taxonomy, reports=reports, seed=seed,
                                   now=NOW, zone=settings().zone))


def _records(inputs: _Inputs, reports: int, seed: int = SEED, now: datetime = NOW) -> list[Any]:
    return list(generate_demo(inputs.places, inputs.taxonomy, reports=reports, seed=seed,
                              now=now, zone=settings().zone))


def test_the_generator_is_deterministic_for_a_seed(inputs):
    first, again, other = _generate(inputs, 400), _generate(inputs, 400), _generate(inputs, 400, 12)
    assert first == again
    history = [_records(inputs, 400), _records(inputs, 400)]
    assert history[0] == history[1]  # triage, escalations and notifications too
    assert [r.report for r in history[0]] == first
    assert [r.triage for r in history[0]] != [r.triage for r in _records(inputs, 400, 12)]
    assert [r["description"] for r in first] != [r["description"] for r in other]
    assert len(first) == len(other) == 400
    reported = [r["reported_at"] for r in first]
    assert reported == sorted(reported)  # so reference numbers follow reporting order


def test_the_pattern_dates_sit_where_the_readme_says():
    go_live = medication_control_go_live(NOW)
    assert timedelta(days=175) <= NOW - go_live <= timedelta(days=190)  # about 6 months ago
    cluster_start, cluster_end = late_start_cluster_window(NOW)
    assert timedelta(days=150) <= NOW - cluster_start <= timedelta(days=185)  # 5-6 months ago
    assert cluster_end - cluster_start == timedelta(days=21)
    rise = medication_rise_start(NOW)
    assert timedelta(days=360) <= NOW - rise <= timedelta(days=370)  # month 6 of 18


@pytest.mark.parametrize("reports", [500, 2500])
def test_the_planted_patterns_are_detectable(inputs, reports):
    rows = _generate(inputs, reports)
    assert len(rows) == reports
    assert {r["type_key"] for r in rows} == {t.key for t in inputs.taxonomy.types}
    services = {s.id: s for s in inputs.places.services}
    location = {p.id: p.spec.name for s in inputs.places.services for p in s.places}
    person = {p.id: p.spec.ref for s in inputs.places.services for p in s.people}
    demo = [_Row(r["type_key"], r["occurred_at"], r["capture_fields"],
                 services[r["service_id"]].region, services[r["service_id"]].spec.name,
                 location[r["location_id"]], person.get(r["person_id"])) for r in rows]
    _assert_patterns(demo, reports)


@dataclass(frozen=True)
class _Row:
    type_key: str
    occurred_at: datetime
    capture_fields: dict[str, Any]
    region: str | None
    service: str
    location: str
    person_ref: str | None


def _assert_patterns(rows: list[_Row], reports: int) -> None:
    start, now = demo_window(NOW)

    # a. Late shift starts: a 3-week cluster in the North, far above its background.
    cluster_start, cluster_end = late_start_cluster_window(NOW)
    north_late = [r.occurred_at for r in rows
                  if r.type_key == "late_shift_start" and r.region == LATE_START_REGION]
    in_cluster = sum(cluster_start <= t < cluster_end for t in north_late)
    outside_days = (now - start).days - 21
    background_per_3_weeks = (len(north_late) - in_cluster) / outside_days * 21
    assert in_cluster >= 10
    assert in_cluster >= 5 * max(1.0, background_per_3_weeks)
    south_in_cluster = sum(1 for r in rows if r.type_key == "late_shift_start"
                           and r.region != LATE_START_REGION
                           and cluster_start <= r.occurred_at < cluster_end)
    assert south_in_cluster <= 3

    # b. Near falls at Maple House's bathroom doorway, every 2-3 weeks, mostly the same person.
    falls = [r for r in rows if r.type_key == "transfer_near_fall"]
    doorway = sorted((r for r in falls if (r.service, r.location)
                      == (BATHROOM_SERVICE, BATHROOM_LOCATION)), key=lambda r: r.occurred_at)
    assert len(doorway) >= 25
    gaps = [b.occurred_at - a.occurred_at for a, b in pairwise(doorway)]
    assert max(gaps) <= timedelta(days=28)
    assert doorway[0].occurred_at - start <= timedelta(days=28)
    assert now - doorway[-1].occurred_at <= timedelta(days=28)
    assert sum(r.person_ref == REPEAT_FALLER_REF for r in doorway) > len(doorway) / 2
    places = Counter((r.service, r.location) for r in falls).most_common(2)
    assert places[0][0] == (BATHROOM_SERVICE, BATHROOM_LOCATION)
    assert places[0][1] > 1.15 * places[1][1]

    # c. Family-note medication mismatches rise to the control's go-live, then fall.
    family_note = [r.occurred_at for r in rows if r.type_key == "medication_discrepancy"
                   and r.capture_fields.get("source_of_discrepancy") == FAMILY_NOTE_SOURCE]
    go_live, rise = medication_control_go_live(NOW), medication_rise_start(NOW)
    midway = rise + (go_live - rise) / 2

    def weekly(begin: datetime, end: datetime) -> float:
        return sum(begin <= t < end for t in family_note) / ((end - begin) / timedelta(weeks=1))

    before = weekly(go_live - timedelta(weeks=13), go_live)
    after = weekly(go_live + timedelta(weeks=2), now)
    assert before >= 3 * after
    assert weekly(midway, go_live) > weekly(rise, midway) > weekly(start, rise)
    assert len(family_note) >= min(30, reports // 10)


@pytest.mark.parametrize(("seed", "now"), [(7, NOW), (8, datetime(2026, 7, 2, 3, 15))])
def test_a_provider_that_triages_promptly_has_a_small_backlog(inputs, seed, now):
    records = _records(inputs, 2500, seed, now)
    waiting = [r.report for r in records if r.report["status"] == "new"]
    assert 10 <= len(waiting) <= 30  # the board's "New" column at the default size
    assert all(now - r["reported_at"] < timedelta(days=TRIAGE_BACKLOG_DAYS) for r in waiting)
    recent = [r for r in records
              if now - r.report["reported_at"] < timedelta(days=TRIAGE_BACKLOG_DAYS)]
    assert len(waiting) < len(recent)  # a mix: some of the last days are triaged already
    assert all(r.triage is not None for r in records
               if now - r.report["reported_at"] >= timedelta(days=TRIAGE_BACKLOG_DAYS))


def test_controls_that_went_live_are_told_to_staff_as_published_updates(engine, demo):
    summary = demo
    assert summary.action_plans > 0 and summary.feedback_updates > 0
    with read_session(engine) as session:
        updates = session.scalars(select(FeedbackUpdate)).all()
        assert len(updates) == summary.feedback_updates
        for update in updates:
            assert update.status == "published" and update.published_at <= NOW
            action = session.scalar(select(Action).join(
                FeedbackUpdateAction, FeedbackUpdateAction.action_id == Action.id).where(
                FeedbackUpdateAction.update_id == update.id))
            assert action is not None and action.go_live_date is not None
            linked = set(session.scalars(select(FeedbackUpdateReport.report_id).where(
                FeedbackUpdateReport.update_id == update.id)))
            planned = set(session.scalars(select(ActionPlanReport.report_id).where(
                ActionPlanReport.plan_id == action.plan_id)))
            assert linked == planned != set()
        quality = session.scalar(select(User).where(User.username == "quality"))
        shown = bulletin(session, build_actor(quality, rules=settings()))
    assert {item.title for item in shown} == {u.title for u in updates}
    # A second load tells only of its own new controls: never twice of the same one.
    load_demo(engine, reports=10, seed=SEED + 1, now=NOW)
    with read_session(engine) as session:
        answered = Counter(session.scalars(select(FeedbackUpdateAction.action_id)))
    assert set(answered.values()) == {1}


def test_large_demos_keep_action_plans_in_proportion_to_the_reports():
    """A million-report provider is not run on eighteen plans: routine plans (one type at one
    service) bring them to about one per 250 reports, old ones decided, recent ones in hand."""
    from core.actions.vocabulary import ActionStatus
    from ops.demo.plans import demo_plans as _demo_plans

    rules = settings()
    small = _demo_plans(NOW, months=18, reports=2_500, rules=rules)
    large = _demo_plans(NOW, months=18, reports=100_000, rules=rules)
    assert not any(p.key.startswith("routine_") for p in small)  # the story alone
    assert 380 <= len(large) <= 400
    routine = [p for p in large if p.key.startswith("routine_")]
    windows: dict[tuple[str, str], list[tuple[datetime, datetime]]] = defaultdict(list)
    for plan in routine:
        assert plan.type_key and len(plan.services) == 1 and plan.link_from < plan.link_until
        assert plan.link_until <= plan.created_at  # a plan links what came before it
        windows[plan.type_key, plan.services[0]].append((plan.link_from, plan.link_until))
    for spans in windows.values():  # a report is a candidate for one plan at most
        assert all(a[1] <= b[0] for a, b in pairwise(sorted(spans)))
    assert len(windows) >= 40  # spread over the services and types

    old = [p.actions[0].status for p in routine if NOW - p.created_at > timedelta(days=120)]
    recent = [p.actions[0].status for p in routine if NOW - p.created_at < timedelta(days=14)]
    decided = Counter(old)
    assert 0.6 <= decided[ActionStatus.VERIFIED_EFFECTIVE] / len(old) <= 0.85
    assert decided[ActionStatus.NOT_EFFECTIVE] and decided[ActionStatus.STOPPED]
    assert not decided[ActionStatus.IN_PROGRESS]  # nothing stuck for months ...
    stuck = [p for p in routine if p.actions[0].status == ActionStatus.IN_PROGRESS
             and p.actions[0].deadline < NOW.date()]
    assert stuck  # ... but some overdue: the register has them
    assert recent and ActionStatus.VERIFIED_EFFECTIVE not in recent


def test_routine_plans_link_reports_of_their_type_and_service(engine):
    summary = load_demo(engine, reports=8_000, seed=SEED, now=NOW)
    assert summary.action_plans >= 28 and summary.actions > summary.action_plans
    with read_session(engine) as session:
        services = dict(session.execute(select(Service.id, Service.name)).all())
        rows = session.execute(
            select(ActionPlan.title, ActionPlan.created_at, NearMissReport.type_key,
                   NearMissReport.service_id, NearMissReport.reported_at)
            .join(ActionPlanReport, ActionPlanReport.plan_id == ActionPlan.id)
            .join(NearMissReport, NearMissReport.id == ActionPlanReport.report_id)).all()
        updates = session.scalar(select(func.count()).select_from(FeedbackUpdate))
    by_plan: dict[str, list[Any]] = defaultdict(list)
    for title, created, type_key, service_id, reported in rows:
        by_plan[title].append((created, type_key, services[service_id], reported))
    routine = {t: linked for t, linked in by_plan.items()
               if any(t.endswith(f"({name})") for name in services.values())}
    assert len(routine) >= 10
    for title, linked in routine.items():
        assert len({(type_key, service) for _c, type_key, service, _r in linked}) == 1, title
        assert title.endswith(f"({linked[0][2]})")
        assert all(reported < created for created, _t, _s, reported in linked)
    assert updates >= summary.action_plans // 2  # controls that went live were told to staff
