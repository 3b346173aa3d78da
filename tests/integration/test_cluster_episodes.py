"""Cluster episodes in the database: opened at filing, one per burst, decided on by the right
people, linked by action plans, recomputed after bulk loads (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from typer.testing import CliRunner

from core.actions.episodes import list_episodes, serving_plan
from core.actions.service import ActionDraft, PlanDraft, create_plan
from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import ConflictError, NotFound, PermissionDenied, ValidationFailed
from core.filing.service import file_near_miss
from core.metrics.clusters import clusters_in_period
from core.reports.models import NearMissReport, RollupState
from core.taxonomy.models import NearMissType
from core.triage.episode_decisions import acknowledge_episode, dismiss_episode
from core.triage.episodes import recompute_episodes
from core.triage.models import ClusterEpisode
from core.triage.proposal import propose_triage
from core.triage.vocabulary import EpisodeStatus
from core.uow import UnitOfWork
from ops.cli import app
from tests.builders import build_org, draft, local_now
from tests.cluster_helpers import file_late_start_cluster
from tests.conftest import built_once


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def episodes(engine) -> list[ClusterEpisode]:
    with read_session(engine) as session:
        rows = list(session.scalars(select(ClusterEpisode).order_by(ClusterEpisode.id)))
        session.expunge_all()
        return rows


def events(engine, action: str) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == action)) or 0


def late_start(engine, org, days_ago: float = 0.2, service=None) -> str:
    service, place = (org.oak, org.oak_lounge) if service in (None, org.oak) else (
        org.east, org.east_home)
    return file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, type_key="late_shift_start", service_id=service, location_id=place,
        occurred_at=local_now() - timedelta(days=days_ago)),
                          now=utcnow(), rules=settings()).reference


def near_falls_at_maple(engine, org, days_ago=(8, 7, 5, 4, 2, 1)) -> list[str]:
    return [file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, occurred_at=local_now() - timedelta(days=d)),
                           now=utcnow(), rules=settings()).reference for d in days_ago]


def filed_with(engine, reference: str) -> list[int]:
    """The earlier reports a filing flagged as its cluster ("cluster_with" of its event)."""
    with read_session(engine) as session:
        report_id = session.scalar(select(NearMissReport.id).where(
            NearMissReport.reference == reference))
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "report.filed",
            AuditEvent.entity_id == str(report_id))).one()
    return json.loads(event.after_json)["cluster_with"]


def report_ids(engine, references: list[str]) -> list[int]:
    with read_session(engine) as session:
        return sorted(session.scalars(select(NearMissReport.id).where(
            NearMissReport.reference.in_(references))))


def test_a_burst_opens_one_episode_that_the_next_reports_extend(engine, org):
    references = file_late_start_cluster(engine, org)
    [episode] = episodes(engine)
    assert (episode.scope, episode.status, episode.peak) == ("region", "open", 6)
    assert events(engine, "cluster_episode.opened") == 1
    # The sixth report's filing flagged the five before it, and said which.
    assert filed_with(engine, references[-1]) == report_ids(engine, references[:-1])
    later = late_start(engine, org, service=org.east)  # the burst goes on
    [same] = episodes(engine)
    assert same.id == episode.id and same.peak == 7 and same.status == "open"
    assert events(engine, "cluster_episode.opened") == 1
    assert filed_with(engine, later) == []  # they were flagged already
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(NearMissReport).where(
            NearMissReport.in_cluster.is_(True))) == 7


def test_the_triager_is_told_which_cluster_a_report_is_part_of(engine, org):
    references = file_late_start_cluster(engine, org)
    with read_session(engine) as session:
        proposal = propose_triage(session, org.actor("quality"), references[-1], rules=settings())
    assert proposal.cluster is not None and proposal.recurrence.value == "cluster"
    assert proposal.cluster.description.startswith(
        "6 reports of this type in region North within 10 days")


def test_acknowledged_it_opens_again_only_when_it_grows(engine, org):
    file_late_start_cluster(engine, org)
    [episode] = episodes(engine)
    acknowledge_episode(UnitOfWork(engine), org.actor("quality"), episode.id,
                        expected_version=episode.version_id, now=utcnow())
    late_start(engine, org)  # 7: one more is not news
    [seen] = episodes(engine)
    assert (seen.status, seen.peak, seen.seen_peak) == ("acknowledged", 7, 6)
    late_start(engine, org, service=org.east)  # 8: a third more than was seen
    [grown] = episodes(engine)
    assert (grown.status, grown.peak, grown.seen_peak) == ("open", 8, 8)
    assert events(engine, "cluster_episode.grew") == 1


def test_dismissing_needs_a_reason_and_is_kept_with_it(engine, org):
    file_late_start_cluster(engine, org)
    [episode] = episodes(engine)
    quality = org.actor("quality")
    with pytest.raises(ValidationFailed) as refused:
        dismiss_episode(UnitOfWork(engine), quality, episode.id, reason="  ",
                        expected_version=episode.version_id, now=utcnow(), rules=settings())
    assert set(refused.value.errors) == {"reason"}
    dismiss_episode(UnitOfWork(engine), quality, episode.id,
                    reason="Agency rota system outage that week; fixed by the vendor.",
                    expected_version=episode.version_id, now=utcnow(), rules=settings())
    [dismissed] = episodes(engine)
    assert dismissed.status == "dismissed" and dismissed.reason.startswith("Agency rota")
    assert dismissed.decided_by_id == quality.user_id
    with pytest.raises(ValidationFailed):  # once is enough
        dismiss_episode(UnitOfWork(engine), quality, episode.id, reason="again",
                        expected_version=dismissed.version_id, now=utcnow(), rules=settings())


def test_who_may_decide_on_a_cluster(engine, org):
    file_late_start_cluster(engine, org)
    [region] = episodes(engine)
    # A supervisor of only one of the region's services may not decide for all of them ...
    with pytest.raises(PermissionDenied, match="quality lead"):
        acknowledge_episode(UnitOfWork(engine), org.actor("oak_supervisor"), region.id,
                            expected_version=region.version_id, now=utcnow())
    # ... one of another service does not even see it; other roles may not decide.
    with pytest.raises(NotFound):
        acknowledge_episode(UnitOfWork(engine), org.actor("supervisor"), region.id,
                            expected_version=region.version_id, now=utcnow())
    for username in ("reporter", "governance", "safeguarding"):
        with pytest.raises(PermissionDenied):
            acknowledge_episode(UnitOfWork(engine), org.actor(username), region.id,
                                expected_version=region.version_id, now=utcnow())
    # A supervisor decides on their own service's cluster.
    near_falls_at_maple(engine, org)
    [maple] = [e for e in episodes(engine) if e.scope == "service"]
    acknowledge_episode(UnitOfWork(engine), org.actor("supervisor"), maple.id,
                        expected_version=maple.version_id, now=utcnow())
    assert [e.status for e in episodes(engine) if e.id == maple.id] == ["acknowledged"]


def test_two_people_deciding_at_once_get_a_conflict(engine, org):
    file_late_start_cluster(engine, org)
    [episode] = episodes(engine)
    acknowledge_episode(UnitOfWork(engine), org.actor("quality"), episode.id,
                        expected_version=episode.version_id, now=utcnow())
    with pytest.raises(ConflictError, match="changed while you had it open"):
        dismiss_episode(UnitOfWork(engine), org.actor("quality"), episode.id,
                        reason="Not a cluster", expected_version=episode.version_id,
                        now=utcnow(), rules=settings())


def test_an_action_plan_from_the_cluster_or_its_reports_links_it(engine, org):
    references = file_late_start_cluster(engine, org)
    near_falls = near_falls_at_maple(engine, org)
    region, maple = sorted(episodes(engine), key=lambda e: e.scope != "region")
    quality = org.actor("quality")
    action = ActionDraft(title="Coverage lock", kind="checklist", owner_id=quality.user_id,
                         deadline=local_now().date() + timedelta(days=7),
                         review_date=local_now().date() + timedelta(days=14),
                         evidence_checks=["Lock in the rota tool"], verify_with_measure=False)
    created = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Late starts in the North", theme="Cover not confirmed", source="cluster",
        report_references=references, cluster_type_key="late_shift_start",
        cluster_episode_id=region.id, actions=[action]), now=utcnow(), rules=settings())
    # A plan built from one of the doorway reports links the doorway's cluster too.
    create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Doorway transfers", theme="Walker out of reach",
        report_references=[near_falls[0]], actions=[action]), now=utcnow(), rules=settings())
    linked = {e.id: (e.status, e.plan_id) for e in episodes(engine)}
    assert linked[region.id] == ("linked", created.plan_id)
    assert linked[maple.id][0] == "linked"
    assert events(engine, "cluster_episode.linked") == 2


def test_the_review_lists_open_episodes_first(engine, org):
    file_late_start_cluster(engine, org)
    near_falls_at_maple(engine, org, days_ago=(30, 29, 27, 26, 25, 24))
    region, maple = sorted(episodes(engine), key=lambda e: e.scope != "region")
    acknowledge_episode(UnitOfWork(engine), org.actor("quality"), region.id,
                        expected_version=region.version_id, now=utcnow())
    today = local_now().date()
    with read_session(engine) as session:
        found = clusters_in_period(session, SYSTEM, today - timedelta(days=60),
                                   today + timedelta(days=1), now=utcnow(), rules=settings())
        maple_view = list_episodes(session, org.actor("supervisor"), today=today,
                                  rules=settings())
    # The older doorway cluster, still open, comes before the newer acknowledged one.
    assert [(c.episode_id, c.status) for c in found] == [
        (maple.id, EpisodeStatus.OPEN), (region.id, EpisodeStatus.ACKNOWLEDGED)]
    assert found[1].label.startswith("Late shift start / coverage in North (region): 6 in 10")
    assert [c.episode_id for c in maple_view] == [maple.id]  # a supervisor sees their own


@pytest.mark.parametrize("day_counts", [True, False], ids=["day counts", "reports counted"])
def test_the_review_counts_each_episode_as_its_listing_does(engine, org, day_counts):
    """The governance review counts each episode's reports instead of listing them: the same
    counts and action statuses as the full listing, for the whole provider and one service,
    from the day counts or (not built) from the reports."""
    file_late_start_cluster(engine, org)
    near_falls = near_falls_at_maple(engine, org, days_ago=(30, 29, 27, 26, 25, 24))
    quality = org.actor("quality")
    create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Doorway transfers", theme="Walker out of reach", report_references=near_falls[1:3],
        actions=[ActionDraft(title="Walker within reach", kind="checklist",
                             owner_id=quality.user_id,
                             deadline=local_now().date() + timedelta(days=7),
                             review_date=local_now().date() + timedelta(days=14),
                             evidence_checks=["Card"], verify_with_measure=False)]),
                now=utcnow(), rules=settings())
    if not day_counts:
        with engine.begin() as conn:
            conn.execute(delete(RollupState))
    today = local_now().date()
    for who in ("quality", "supervisor", "oak_supervisor"):
        with read_session(engine) as session:
            listed, counted = (list_episodes(session, org.actor(who), today=today,
                                             rules=settings(), with_references=references)
                               for references in (True, False))
        assert [(e.episode_id, len(e.references), e.action_status) for e in listed] == [
            (e.episode_id, e.report_count, e.action_status) for e in counted], who
        assert all(e.references == () for e in counted)
    with read_session(engine) as session:
        everything = list_episodes(session, SYSTEM, today=today, rules=settings(),
                                   with_references=False)
    # The region's six late starts (no plan), the doorway's six near falls (a plan links two).
    assert sorted((e.type_key, e.report_count, e.action_status or "") for e in everything) == [
        ("late_shift_start", 6, ""), ("transfer_near_fall", 6, "planned")]


def test_an_episode_names_only_the_actions_of_plans_linking_reports_in_its_days(engine, org):
    """A plan linking a near fall of the same type and place from before the episode's first
    day says nothing of the episode; a plan linking its last day's report does."""
    earlier = near_falls_at_maple(engine, org, days_ago=(70,))
    near_falls = near_falls_at_maple(engine, org, days_ago=(30, 29, 27, 26, 25, 24))
    quality = org.actor("quality")

    def plan(references: list[str], kind: str) -> None:
        create_plan(UnitOfWork(engine), quality, PlanDraft(
            title="Doorway transfers", theme="Walker out of reach", report_references=references,
            actions=[ActionDraft(title="Walker within reach", kind=kind,
                                 owner_id=quality.user_id,
                                 deadline=local_now().date() + timedelta(days=7),
                                 review_date=local_now().date() + timedelta(days=14),
                                 evidence_checks=["Card"], verify_with_measure=False)]),
                    now=utcnow(), rules=settings())

    def statuses() -> set[str | None]:
        with read_session(engine) as session:
            return {e.action_status for e in list_episodes(
                session, SYSTEM, today=local_now().date(), rules=settings(),
                with_references=False) if e.type_key == "transfer_near_fall"}

    plan(earlier, "checklist")
    assert statuses() == {None}
    plan(near_falls[-1:], "checklist")
    assert statuses() == {"planned"}


def _bulk(engine, org, days_ago: list[float]) -> None:
    """Reports stored as an import or the demo stores them: no filing, no cluster scan."""
    with read_session(engine) as session:
        version = session.scalar(select(NearMissReport.type_version).limit(1)) or 1
    with engine.begin() as conn:
        conn.execute(insert(NearMissReport), [{
            "reference": f"NM-1999-{i:05d}", "type_key": "transfer_near_fall",
            "type_version": version, "description": "Walker out of reach; staff steadied her.",
            "occurred_at": local_now() - timedelta(days=d),
            "reported_at": local_now() - timedelta(days=d), "service_id": org.maple,
            "location_id": org.maple_bathroom, "barrier": "staff_recovery",
            "still_at_risk": False, "capture_fields": {}, "status": "new", "source": "import",
        } for i, d in enumerate(days_ago)])


def test_a_recompute_finds_bulk_loaded_bursts_once_and_keeps_decisions(engine, org):
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, occurred_at=local_now() - timedelta(days=200)),
                   now=utcnow(), rules=settings())  # history begins
    _bulk(engine, org, [40, 39, 38, 36, 35, 34])
    assert episodes(engine) == []  # stored without the filing's scan
    done = recompute_episodes(UnitOfWork(engine), SYSTEM, now=utcnow(), rules=settings(),
                              serving_plan=serving_plan)
    [found] = episodes(engine)
    assert (done.opened, found.scope, found.peak) == (1, "service", 6)
    dismiss_episode(UnitOfWork(engine), org.actor("supervisor"), found.id,
                    reason="Known: one person's bad week", expected_version=found.version_id,
                    now=utcnow(), rules=settings())
    again = recompute_episodes(UnitOfWork(engine), SYSTEM, now=utcnow(), rules=settings(),
                               serving_plan=serving_plan)
    [kept] = episodes(engine)
    assert again.opened == 0 and kept.id == found.id and kept.status == "dismissed"
    assert events(engine, "cluster_episodes.recomputed") == 2
    with pytest.raises(PermissionDenied):
        recompute_episodes(UnitOfWork(engine), org.actor("supervisor"),
                           now=utcnow(), rules=settings(), serving_plan=serving_plan)


def test_the_recompute_command(engine, org):
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, occurred_at=local_now() - timedelta(days=200)), now=utcnow(), rules=settings())
    _bulk(engine, org, [40, 39, 38, 36, 35, 34])
    result = CliRunner().invoke(app, ["clusters", "recompute"])
    assert result.exit_code == 0, result.output
    assert "1 found, 1 new" in result.output
    assert len(episodes(engine)) == 1
    bad = CliRunner().invoke(app, ["clusters", "recompute", "--since", "last week"])
    assert bad.exit_code == 2 and "not a date" in bad.output


def test_a_plan_built_while_a_filing_extends_its_cluster_links_it_as_extended(engine, org):
    """PostgreSQL, two writers at once: a filing has extended the episode and not yet committed
    when a plan is built from it. The plan waits for the filing and links the episode as it now
    is, instead of failing on a stale version."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    references = file_late_start_cluster(engine, org)
    [episode] = episodes(engine)
    quality = org.actor("quality")
    action = ActionDraft(title="Coverage lock", kind="forcing_function",
                         owner_id=quality.user_id,
                         deadline=local_now().date() + timedelta(days=7),
                         review_date=local_now().date() + timedelta(days=14),
                         evidence_checks=["Lock in the rota tool"], verify_with_measure=False)
    outcome: dict[str, object] = {}

    def build() -> None:
        try:
            outcome["plan"] = create_plan(UnitOfWork(engine), quality, PlanDraft(
                title="Late starts in the North", theme="Cover not confirmed", source="cluster",
                report_references=references, cluster_type_key="late_shift_start",
                cluster_episode_id=episode.id, actions=[action]), now=utcnow(), rules=settings())
        except Exception as exc:  # the finding, asserted below
            outcome["error"] = exc

    with engine.connect() as filing:  # as assess_at_filing does: the type's row, then the episode
        filing.execute(select(NearMissType.key).where(NearMissType.key == "late_shift_start")
                       .with_for_update(key_share=True))
        filing.execute(update(ClusterEpisode).where(ClusterEpisode.id == episode.id).values(
            peak=episode.peak + 1, version_id=episode.version_id + 1))
        builder = threading.Thread(target=build)
        builder.start()
        waiting = 0
        for _ in range(600):  # until the builder waits on a lock (bounded)
            # pg_stat_activity is a snapshot kept until the transaction ends: clear it, or
            # the filing's open transaction would see the builder as not yet waiting forever.
            filing.execute(text("SELECT pg_stat_clear_snapshot()"))
            waiting = filing.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")).scalar()
            if waiting or not builder.is_alive():
                break
            time.sleep(0.05)
        filing.commit()
    builder.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    [linked] = episodes(engine)
    assert linked.status == "linked" and linked.plan_id == outcome["plan"].plan_id
    assert linked.peak == episode.peak + 1  # the filing's extension kept


def test_the_scan_at_filing_counts_the_same_from_the_day_counts_as_from_the_reports(engine, org):
    """The scan a filing runs reads its counts from the day counts; with them not built it
    counts the reports. Over a year and a half of history (so the middle of each baseline is
    one count per service) and reports either side of local midnight, both give the same
    history and the same counts."""
    from core.reports.rollup import rebuild
    from core.triage.episodes import (
        _filing_history,
        _first_report_day,
        _sums_by_service,
        watched,
    )

    with read_session(engine) as session:
        version = session.scalar(select(NearMissReport.type_version).limit(1)) or 1
    now = local_now()
    moments = [now.replace(hour=h, minute=m) - timedelta(days=d)
               for d in range(2, 540, 4) for h, m in ((0, 20), (23, 40))]
    with engine.begin() as conn:  # stored in bulk, as the demo stores them
        conn.execute(insert(NearMissReport), [{
            "reference": f"NM-1998-{i:05d}", "type_key": "transfer_near_fall",
            "type_version": version, "description": "Walker out of reach; staff steadied her.",
            "occurred_at": at, "reported_at": at, "service_id": (org.maple, org.oak)[i % 2],
            "location_id": (org.maple_bathroom, org.oak_lounge)[i % 2],
            "barrier": "staff_recovery", "still_at_risk": False, "capture_fields": {},
            "status": "new", "source": "import"} for i, at in enumerate(moments)])
    rules = settings()
    rebuild(engine, rules.zone)
    today = now.date()

    def scanned() -> tuple:
        with read_session(engine) as session:
            w = watched(session)
            first = _first_report_day(session, rules)
            found = [_filing_history(session, "transfer_near_fall", day, today, w, first,
                                     service, rules)
                     for day in (today, today - timedelta(days=3))
                     for service in (org.maple, org.oak, org.east)]
            # Each span's counts by service, in one statement; a span ending before it
            # starts counts nothing.
            counts = [_sums_by_service(session, "transfer_near_fall", services, [
                (today - timedelta(days=9), today),
                (today - timedelta(days=400), today - timedelta(days=10)),
                (today, today - timedelta(days=1))], rules)
                for services in ((org.maple,), (org.oak, org.east), w.services)]
        assert first is not None and first <= found[0][0]  # the baseline's middle is lumped
        return found, counts

    from_day_counts = scanned()
    assert all(recent and earlier and not none for recent, earlier, none in from_day_counts[1])
    with engine.begin() as conn:  # not built: the scan counts the reports
        conn.execute(delete(RollupState))
    assert scanned() == from_day_counts
