"""The demo as data: every story file loads, each story shows where a user looks for it, the
demo looks like a real service (a realistic share of escalations, clusters only from the
planted stories), it is the same for a seed, and the audit trail verifies after it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from core.accounts.service import build_actor
from core.actions.models import Action, ActionPlan, SustainmentCheck, VerificationMeasure
from core.actions.queries import RegisterFilters, register
from core.actions.vocabulary import ActionStatus
from core.auth.actor import SYSTEM, Actor
from core.auth.models import User
from core.clock import to_local, utcnow
from core.config import environment, settings
from core.db import make_engine, read_session
from core.escalation.models import Escalation
from core.escalation.queries import inbox
from core.metrics.clusters import clusters_in_period
from core.organisation.models import Service
from core.reports.models import NearMissReport
from core.review.models import RootCauseAnalysis
from core.taxonomy.service import live_taxonomy, load_taxonomy_file
from core.triage.vocabulary import EpisodeStatus
from core.yamlfile import ConfigFileError
from ops.cli import app
from ops.demo import (
    LATE_START_REGION,
    demo_places,
    generate_demo,
    load_demo,
    prepare_demo_provider,
)
from ops.demo.data import DATA_DIR, demo_data
from tests.conftest import built_once

NOW = datetime(2026, 3, 15, 14, 30)  # naive UTC, as tests/test_demo.py
REPORTS = 2_500  # the default demo: the shares are asked of it
SEED = 7
STORY_FILES = ("near_fall_bathroom_doorway.yaml", "medication_family_note.yaml",
               "late_worker_backup_cover.yaml", "skin_stop_the_line.yaml",
               "interface_failure_clinic_visit.yaml", "late_start_cluster_coverage_lock.yaml")


# -- the data files ------------------------------------------------------------------------------


def test_every_story_file_loads_with_its_type_and_plans():
    data = demo_data()
    assert tuple(data.stories) == STORY_FILES
    taxonomy = load_taxonomy_file(environment().taxonomy_path)
    type_keys = {t.key for t in taxonomy.types}
    story_types = [story.near_miss_type.key for story in data.stories.values()]
    assert len(set(story_types)) == len(STORY_FILES) and set(story_types) <= type_keys
    assert set(data.types) == type_keys  # everyday.yaml has the rest
    for name, story in data.stories.items():
        assert story.story.title and story.story.where_to_look, name
        assert story.plans, f"{name} has no action plan"
    # The planted blocks, each in the file of its story.
    assert data.stories["near_fall_bathroom_doorway.yaml"].doorway_falls is not None
    assert data.stories["medication_family_note.yaml"].family_notes is not None
    assert data.stories["late_start_cluster_coverage_lock.yaml"].late_start_cluster is not None
    assert set(data.recent_cases) == {"skin_integrity_deterioration", "interface_failure"}


def test_a_misspelt_key_is_refused_with_its_file_and_line(tmp_path: Path):
    folder = tmp_path / "demo"
    shutil.copytree(DATA_DIR, folder)
    story = folder / "skin_stop_the_line.yaml"
    text = story.read_text()
    story.write_text(text.replace("  hours_ago: 5\n", "  hours_agoo: 5\n", 1))
    with pytest.raises(ConfigFileError) as refused:
        demo_data(folder)
    message = str(refused.value)
    assert "skin_stop_the_line.yaml, line " in message and "recent_case.hours_ago" in message


# -- the pure generator --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def inputs(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """The demo provider's ids, read once from a SQLite copy (the generator needs no DB)."""
    path = tmp_path_factory.mktemp("stories") / "demo.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    prepare_demo_provider(engine)
    with read_session(engine) as session:
        loaded = (demo_places(session), live_taxonomy(session))
    engine.dispose()
    yield loaded


@pytest.mark.parametrize(("seed", "now"), [(7, NOW), (8, datetime(2026, 7, 2, 3, 15))])
def test_escalations_are_a_realistic_share_of_the_reports(inputs, seed, now):
    """Real services escalate roughly 5-15% of their near misses (it was 42%)."""
    places, taxonomy = inputs
    records = list(generate_demo(places, taxonomy, reports=REPORTS, seed=seed, now=now,
                                 zone=settings().zone))
    escalations = sum(len(r.escalations) for r in records)
    escalated = sum(bool(r.escalations) for r in records)
    assert 0.05 <= escalations / REPORTS <= 0.15
    assert 0.05 <= escalated / REPORTS <= 0.15
    kinds = {e.row["kind"] for r in records for e in r.escalations}
    assert kinds == {"safeguarding", "supervisor_alert", "clinical_review", "operations"}


# -- stored: where a user looks for each story ---------------------------------------------------


def _actor(engine: Engine, username: str) -> Actor:
    with read_session(engine) as session:
        return build_actor(session.scalar(select(User).where(User.username == username)),
                           rules=settings())


def _register(engine: Engine) -> dict[str, list]:
    """The action register as the quality lead sees it, by plan title."""
    today = to_local(NOW, settings().zone).date()
    with read_session(engine) as session:
        rows = register(session, _actor(engine, "quality"), RegisterFilters(), today=today,
                        limit=None, rules=settings())
    by_plan: dict[str, list] = {}
    for row in rows:
        by_plan.setdefault(row.plan_title, []).append(row)
    return by_plan


@pytest.fixture
def demo(engine: Engine, db_url: str) -> Engine:
    """The stored demo, loaded once per backend and copied for each test (tests/conftest.py)."""
    built_once("demo_stories", db_url,
               lambda engine: load_demo(engine, reports=REPORTS, seed=SEED, now=NOW))
    return engine


def test_the_stored_demo_escalates_a_realistic_share(demo: Engine):
    with read_session(demo) as session:
        reports = session.scalar(select(func.count()).select_from(NearMissReport))
        escalations = session.scalar(select(func.count()).select_from(Escalation))
        escalated = session.scalar(select(func.count(func.distinct(Escalation.report_id))))
    assert reports == REPORTS
    assert 0.05 <= escalations / reports <= 0.15
    assert 0.05 <= escalated / reports <= 0.15


def test_clusters_come_only_from_the_late_start_story(demo: Engine):
    """The cluster review over the last year: the late-start cluster in the North, linked to
    the plan built from it, and nothing from noise."""
    today = to_local(NOW, settings().zone).date()
    with read_session(demo) as session:
        found = clusters_in_period(session, SYSTEM, today - timedelta(days=365),
                                   today + timedelta(days=1), now=utcnow(), rules=settings())
        north = {LATE_START_REGION} | set(session.scalars(
            select(Service.name).join(Service.region).where(
                Service.region.has(name=LATE_START_REGION))))
        plan = session.scalar(select(ActionPlan).where(
            ActionPlan.title == "Late shift starts in the North: coverage lock"))
    assert [(c.type_key, c.status) for c in found] == [("late_shift_start",
                                                          EpisodeStatus.LINKED)]
    assert found[0].scope_name in north
    assert plan is not None and plan.source == "cluster"
    lock = _register(demo)["Late shift starts in the North: coverage lock"]
    verified = [r for r in lock if r.title.startswith("Coverage lock")]
    assert verified and verified[0].status is ActionStatus.VERIFIED_EFFECTIVE
    with read_session(demo) as session:
        measure = session.scalar(select(VerificationMeasure).where(
            VerificationMeasure.action_id == verified[0].id))
    assert measure is not None and measure.confirmed_verdict == "effective"


def test_the_doorway_falls_show_a_memo_that_failed_and_a_check_in_test(demo: Engine):
    plans = _register(demo)
    memo = plans["Near falls at the Maple House bathroom doorway"]
    check = plans["Bathroom doorway: pre-transfer equipment check"]
    assert [r.status for r in memo] == [ActionStatus.NOT_EFFECTIVE]
    assert ActionStatus.IN_TEST in {r.status for r in check}


def test_the_family_note_story_has_its_root_cause_analysis_and_a_sustained_check(demo: Engine):
    plans = _register(demo)
    check = next(r for r in plans["Family-note check at every medication visit"]
                 if r.title == "Family-note check at every medication visit")
    assert check.status is ActionStatus.VERIFIED_EFFECTIVE
    with read_session(demo) as session:
        rca = session.scalar(select(RootCauseAnalysis).where(
            RootCauseAnalysis.title == "Care plan and family note mismatches across services"))
        sustained = session.scalar(select(SustainmentCheck).where(
            SustainmentCheck.action_id == check.id))
    assert rca is not None and rca.status == "complete" and len(rca.five_whys) == 4
    assert sustained is not None and sustained.in_place is True


def test_the_late_worker_story_has_backup_cover_in_its_test_window(demo: Engine):
    backup = _register(demo)["Backup cover visible before essential visits"]
    assert ActionStatus.IN_TEST in {r.status for r in backup}
    with read_session(demo) as session:
        informal = session.scalar(select(func.count()).select_from(NearMissReport).where(
            NearMissReport.type_key == "staffing_visit_continuity",
            NearMissReport.description.contains("off-route worker")))
    assert informal >= 1  # the backup found only because someone knew who was nearby


def test_this_mornings_skin_change_is_in_the_clinical_leads_inbox(demo: Engine):
    """Stop the line: the supervisor has checked on the person, the nurse review waits."""
    with read_session(demo) as session:
        items = inbox(session, _actor(demo, "clinical"), now=NOW)
        report = session.scalar(select(NearMissReport).where(
            NearMissReport.type_key == "skin_integrity_deterioration",
            NearMissReport.reported_at >= NOW - timedelta(days=1)))
        kinds = dict(session.execute(select(Escalation.kind, Escalation.decided_at).where(
            Escalation.report_id == report.id)).all()) if report else {}
    assert report is not None and report.stop_the_line
    assert "Stopped the line" in report.description
    waiting = [i for i in items if i.reference == report.reference]
    assert len(waiting) == 1 and waiting[0].kind.value == "clinical_review"
    assert waiting[0].acknowledged_at is not None and waiting[0].decided_at is None
    assert kinds["supervisor_alert"] is not None  # decided: the person is safe


def test_yesterdays_interface_failure_is_being_mapped_by_operations(demo: Engine):
    with read_session(demo) as session:
        items = inbox(session, _actor(demo, "operations"), now=NOW)
    mapping = [i for i in items if i.type_name == "Interface failure"
               and NOW - i.raised_at < timedelta(days=2) and i.acknowledged_at is not None]
    assert mapping and mapping[0].decided_at is None
    with read_session(demo) as session:
        description = session.scalar(select(NearMissReport.description).where(
            NearMissReport.reference == mapping[0].reference))
    assert "clinic appointment" in description and "family member phoned" in description
    read_back = _register(demo)["Plan changes after clinic visits reach the next worker"]
    assert ActionStatus.VERIFIED_EFFECTIVE in {r.status for r in read_back}


# -- the same for a seed; the audit trail verifies -----------------------------------------------


def _snapshot(engine: Engine) -> tuple:
    with read_session(engine) as session:
        reports = session.execute(
            select(NearMissReport.reference, NearMissReport.type_key, NearMissReport.description,
                   NearMissReport.occurred_at, NearMissReport.status, NearMissReport.barrier)
            .order_by(NearMissReport.reference)).all()
        escalations = session.scalar(select(func.count()).select_from(Escalation))
        actions = session.execute(select(Action.title, Action.status)
                                  .order_by(Action.title)).all()
    return [tuple(r) for r in reports], escalations, [tuple(a) for a in actions]


def test_the_stored_demo_is_the_same_for_a_seed(engine: Engine, sqlite_template: Path,
                                                tmp_path: Path):
    """The same seed and date give the same demo, on either database."""
    load_demo(engine, reports=600, seed=SEED, now=NOW)
    other_path = tmp_path / "other.db"
    shutil.copyfile(sqlite_template, other_path)
    other = make_engine(f"sqlite:///{other_path}")
    load_demo(other, reports=600, seed=SEED, now=NOW)
    assert _snapshot(engine) == _snapshot(other)
    other.dispose()


def test_audit_verify_passes_after_nearmiss_demo(engine: Engine):
    runner = CliRunner(env={"COLUMNS": "200", "NEARMISS_ENV": "demo"})
    loaded = runner.invoke(app, ["demo", "--reports", "400", "--seed", "5"])
    assert loaded.exit_code == 0, loaded.output
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "Audit chain OK" in verified.output
