"""The weekly digest on planted data: a planted cluster is found, a planted shift is flagged."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.escalation.models import Escalation
from core.escalation.service import acknowledge
from core.filing.service import file_near_miss
from core.metrics.digest import digest, digest_markdown
from core.reports.models import NearMissReport
from core.triage.episode_decisions import acknowledge_episode
from core.triage.models import ClusterEpisode
from core.uow import UnitOfWork
from ops.cli import app
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

TODAY = local_now().date()
MONDAY = TODAY - timedelta(days=TODAY.weekday())


@pytest.fixture(autouse=True)
def _today() -> None:
    """Today as each test starts: a run can cross local midnight."""
    global TODAY, MONDAY
    TODAY = local_now().date()
    MONDAY = TODAY - timedelta(days=TODAY.weekday())


@pytest.fixture
def planted(engine, db_url):
    """Built once per backend (and day) and copied for each test (tests/conftest.py)."""
    return built_once("digest_planted", db_url, _plant)


def _plant(engine):
    org = build_org(engine)
    quality = org.actor("quality")

    def file(days_ago: float, **changes) -> str:
        return file_near_miss(UnitOfWork(engine), quality, draft(
            org, occurred_at=local_now() - timedelta(days=days_ago), **changes),
                              now=utcnow(), rules=settings()).reference

    # A shift: one environment near miss a week for 20 weeks, then six a week for 8 weeks.
    for week in range(28, 8, -1):
        file(7 * week + 2, type_key="environment_equipment", location_id=org.maple_kitchen,
             description="Loose stair rail found and reported before anyone slipped.")
    for week in range(8, 0, -1):
        for day in range(6):
            file(7 * week + day % 6, type_key="environment_equipment",
                 location_id=org.maple_kitchen,
                 description="Loose stair rail found and reported before anyone slipped.")
    # A cluster: late shift starts across the North region within five days, where none were
    # usual (five would not be: none before is not taken as a usual rate of none).
    cluster = [file(days, type_key="late_shift_start", service_id=service, location_id=place,
                    description="Rota changed at the last minute; nobody confirmed cover.")
               for days, service, place in ((12, org.oak, org.oak_lounge),
                                            (10, org.east, org.east_home),
                                            (9, org.oak, org.oak_lounge),
                                            (8, org.east, org.east_home),
                                            (8.5, org.oak, org.oak_lounge),
                                            (11, org.oak, org.oak_lounge),
                                            (9.5, org.east, org.east_home))]
    escalated = file(3, still_at_risk=True, immediate_safeguards="Stayed with her.")
    return org, cluster, escalated


def test_the_digest_finds_the_planted_cluster_and_shift(engine, planted):
    _org, cluster, _ = planted
    start, end = MONDAY - timedelta(weeks=2), MONDAY - timedelta(days=1)
    with read_session(engine) as session:
        facts = digest(session, SYSTEM, start, end, now=utcnow(), rules=settings())
    [found] = [c for c in facts["clusters"] if c["type_key"] == "late_shift_start"]
    assert found["scope"] == "region" and found["where"] == "North"
    assert set(cluster) <= set(found["references"])
    shifts = [s for s in facts["spc_signals"] if s["series"] == "Environment / equipment"]
    assert shifts and all(s["side"] == "higher" for s in shifts)
    assert any("shift" in s["rule"] or "beyond limit" in s["rule"] for s in shifts)
    assert facts["totals"]["by_type"]["Late shift start / coverage"] == 7


def test_the_digest_counts_escalations_and_their_acknowledgement(engine, planted):
    org, _, escalated = planted
    with read_session(engine) as session:
        escalation_id = session.scalar(select(Escalation.id).join(
            NearMissReport, NearMissReport.id == Escalation.report_id).where(
            NearMissReport.reference == escalated))
    acknowledge(UnitOfWork(engine), org.actor("supervisor"), escalation_id, now=utcnow())
    with read_session(engine) as session:
        facts = digest(session, SYSTEM, TODAY - timedelta(days=6), TODAY,
                       now=utcnow(), rules=settings())
    escalations = facts["escalations"]
    assert escalations["raised"] == 1 and escalations["acknowledged"] == 1
    assert escalations["items"][0]["reference"] == escalated
    assert escalations["median_minutes_to_acknowledge"] is not None


def test_the_digest_markdown_names_no_free_text(engine, planted):
    with read_session(engine) as session:
        text = digest_markdown(digest(session, SYSTEM, TODAY - timedelta(days=30), TODAY,
                                      now=utcnow(), rules=settings()))
    assert "# Near-miss digest" in text and "## Clusters" in text
    assert "Rota changed" not in text and "stair rail" not in text


def test_the_digest_command(engine, planted, tmp_path):
    runner = CliRunner()
    start, end = (MONDAY - timedelta(weeks=2)).isoformat(), (MONDAY - timedelta(days=1)).isoformat()
    result = runner.invoke(app, ["digest", "--from", start, "--to", end, "--format", "json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert set(facts) == {"period", "generated_at", "provider", "totals", "clusters",
                          "spc_signals", "escalations", "actions"}
    out = tmp_path / "digest.md"
    result = runner.invoke(app, ["digest", "--from", start, "--to", end, "--format", "md",
                                 "--out", str(out)])
    assert result.exit_code == 0 and out.read_text().startswith("# Near-miss digest")
    bad = runner.invoke(app, ["digest", "--from", end, "--to", start])
    assert bad.exit_code == 2


def test_the_digest_lists_cluster_episodes_with_their_status_open_first(engine, planted):
    org, cluster, _ = planted
    with read_session(engine) as session:
        north = session.scalar(select(ClusterEpisode).where(ClusterEpisode.scope == "region"))
        session.expunge(north)
    acknowledge_episode(UnitOfWork(engine), org.actor("quality"), north.id,
                        expected_version=north.version_id, now=utcnow())
    with read_session(engine) as session:
        facts = digest(session, SYSTEM, TODAY - timedelta(days=70), TODAY,
                       now=utcnow(), rules=settings())
    clusters = facts["clusters"]
    assert set(clusters[0]) == {
        "episode", "status", "type", "type_key", "scope", "where", "from", "to", "opened_on",
        "ongoing", "window_days", "peak_in_window", "usual_per_window", "threshold",
        "references", "action_status"}
    statuses = [c["status"] for c in clusters]
    assert "acknowledged" in statuses and "open" in statuses  # the stair rail's rise is open
    assert statuses == sorted(statuses, key=["open", "acknowledged", "linked",
                                             "dismissed"].index)
    [late] = [c for c in clusters if c["episode"] == north.id]
    assert late["status"] == "acknowledged" and set(cluster) <= set(late["references"])
    assert late["peak_in_window"] >= late["threshold"] > late["usual_per_window"]
    text = digest_markdown(facts)
    assert "- OPEN: **Environment / equipment** in Maple House" in text
    assert "- ACKNOWLEDGED: **Late shift start / coverage** in North (region)" in text


def test_a_verified_action_carries_its_evidence(engine):
    """Issue 17: the verdict comes with the counts and chance it was proposed on, and says when
    "effective" was confirmed against the numbers (the reason itself stays in the portal)."""
    from core.actions.measures import MeasureFilters
    from core.actions.models import ActionEvidenceCheck
    from core.actions.service import (
        ActionDraft,
        MeasureDraft,
        PlanDraft,
        complete_evidence_check,
        create_plan,
        set_go_live,
    )
    from core.actions.verdicts import confirm_verdict

    org = build_org(engine)
    quality = org.actor("quality")
    references = [file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, occurred_at=local_now() - timedelta(days=16 + 7 * week)),
                                 now=utcnow(), rules=settings()).reference
        for week in range(12)]
    created = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Near falls at the doorway", theme="Transfers", report_references=references[:1],
        actions=[ActionDraft(title="Check card", kind="checklist", owner_id=quality.user_id,
                             deadline=TODAY + timedelta(days=5),
                             review_date=TODAY + timedelta(days=20),
                             evidence_checks=["Card on the door"])],
        measure=MeasureDraft(filters=MeasureFilters(type_keys=("transfer_near_fall",)))),
                          now=utcnow(), rules=settings())
    [action_id] = created.action_ids
    set_go_live(UnitOfWork(engine), quality, action_id, TODAY - timedelta(days=14),
                now=utcnow(), rules=settings())
    with read_session(engine) as session:
        check_id = session.scalar(select(ActionEvidenceCheck.id))
    complete_evidence_check(UnitOfWork(engine), quality, check_id, note="Card seen",
                            now=utcnow(), rules=settings())
    confirm_verdict(UnitOfWork(engine), quality, action_id, effective=True, note="None since",
                    override_reason="Seen in use at every transfer", now=utcnow(), rules=settings())
    with read_session(engine) as session:
        facts = digest(session, SYSTEM, TODAY - timedelta(days=6), TODAY + timedelta(days=1),
                       now=utcnow(), rules=settings())
    [verified] = facts["actions"]["verified"]
    assert verified["verdict"] == "effective" and verified["proposed"] == "too_early"
    assert (verified["baseline_count"], verified["observed_count"]) == (12, 0)
    assert verified["p_value"] == pytest.approx((6 / 7) ** 12)
    assert verified["against_proposal"] is True
    text = digest_markdown(facts)
    assert ("(12 before, 0 during; by chance about 1 time in 6; confirmed against the "
            "proposal “too early”, with a reason)") in text
    assert "Seen in use" not in text
