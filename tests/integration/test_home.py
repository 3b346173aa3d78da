"""The home page's counts: each equals what the page it links to shows, for the same person."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.actions.queries import RegisterFilters, current_clusters, register_counts
from core.actions.service import ActionDraft, PlanDraft, create_plan, set_go_live
from core.actions.vocabulary import ActionStatus
from core.auth.actor import Actor
from core.auth.policy import default_page
from core.auth.roles import Role
from core.clock import to_local, utcnow
from core.config import settings
from core.db import read_session
from core.escalation.queries import inbox
from core.filing.service import file_near_miss
from core.regulator.queries import regulator_board
from core.reports.vocabulary import ReportStatus
from core.triage.board import BoardFilters, load_board
from core.triage.vocabulary import EpisodeStatus
from core.uow import UnitOfWork
from core.views.home import HomePage, Tile, Urgency, evidence_to_check, home_page, last_quarter
from tests.builders import build_org, draft
from tests.cluster_helpers import file_late_start_cluster


@pytest.fixture
def org(engine):
    return build_org(engine)


def _home(actor: Actor, now=None) -> HomePage:
    return home_page(actor, now=now or utcnow(), rules=settings())


def _tiles(actor: Actor, now=None) -> dict[str, Tile]:
    return {t.key: t for t in _home(actor, now).tiles}


def test_the_supervisors_counts_are_the_boards_and_the_inboxs(engine, org):
    """Two new near misses at Maple House (one with someone still at risk), one at Oak Lodge;
    an hour later the shift alert has not been acknowledged."""
    uow = UnitOfWork
    file_near_miss(uow(engine), org.actor("reporter"), draft(org), now=utcnow(), rules=settings())
    file_near_miss(uow(engine), org.actor("reporter"), draft(org, still_at_risk=True),
                   now=utcnow(), rules=settings())
    file_near_miss(uow(engine), org.actor("quality"),
                   draft(org, service_id=org.oak, location_id=org.oak_lounge),
                   now=utcnow(), rules=settings())
    later = utcnow() + timedelta(hours=1)
    supervisor = org.actor("supervisor")
    page = _home(supervisor, later)
    tiles = {t.key: t for t in page.tiles}

    with read_session(engine) as session:
        board = load_board(session, supervisor, BoardFilters(), now=later)
        late = load_board(session, supervisor, BoardFilters(flags=("escalation_overdue",)),
                          now=later)
        alerts = inbox(session, supervisor, now=later)
        regulator = regulator_board(session, supervisor, now=later, rules=settings())
    assert tiles["triage"].count == board.counts[ReportStatus.NEW] == 2
    assert tiles["triage"].label == "2 near misses to triage, 1 past its clock (overdue)"
    assert late.counts[ReportStatus.NEW] == 1
    assert tiles["triage"].urgency is Urgency.OVERDUE
    assert tiles["escalations_supervisor_alert"].count == len(alerts) == 1
    assert "overdue" in tiles["escalations_supervisor_alert"].label
    assert tiles["regulator"].count == len(regulator.awaiting) + len(regulator.running) == 0
    assert tiles["regulator"].label == "Nothing waiting"
    assert [s.role for s in page.sections] == [Role.SUPERVISOR]
    assert {t.page for t in page.tiles} == {"board", "inbox"}

    # The other service's supervisor sees their own one only, and nothing overdue.
    oak = _tiles(org.actor("oak_supervisor"), later)
    assert oak["triage"].count == 1 and oak["triage"].label == "1 near miss to triage"
    assert oak["triage"].urgency is Urgency.WAITING


def test_the_quality_leads_counts_are_the_registers_and_the_boards(engine, org):
    file_late_start_cluster(engine, org)
    quality = org.actor("quality")
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                               now=utcnow(), rules=settings()).reference
    today = to_local(utcnow(), settings().zone).date()
    created = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Cover confirmation", theme="Late starts",
        report_references=[reference], actions=[
            ActionDraft(title=title, kind="checklist", owner_id=quality.user_id,
                        deadline=today + timedelta(days=days),
                        review_date=today + timedelta(days=days + 5),
                        evidence_checks=["Rota check"], verify_with_measure=False)
            for title, days in (("Soon", 3), ("Later", 30), ("Tested", 40))]),
                          now=utcnow(), rules=settings())
    set_go_live(UnitOfWork(engine), quality, created.action_ids[2], today,
                now=utcnow(), rules=settings())
    # Sixteen days on: "Soon" is overdue, "Later" is not yet due soon, the test window of
    # "Tested" (14 days) has ended.
    later = utcnow() + timedelta(days=16)
    tiles = _tiles(quality, later)
    later_day = to_local(later, settings().zone).date()

    with read_session(engine) as session:
        counts = register_counts(session, quality, RegisterFilters(), today=later_day,
                                 rules=settings())
        clusters = current_clusters(session, quality, now=later, rules=settings())
    assert tiles["actions_due"].count == counts.overdue + counts.due_soon == 1
    assert tiles["actions_due"].label == "1 action overdue"
    assert tiles["actions_due"].urgency is Urgency.OVERDUE
    assert tiles["evidence"].count == 1
    assert tiles["evidence"].label == "1 test window ended: verdict to confirm"
    waiting = sum(1 for c in clusters if c.status is EpisodeStatus.OPEN)
    assert tiles["clusters"].count == waiting == 1
    assert tiles["clusters"].label == "1 cluster to acknowledge"
    assert (tiles["actions_due"].page, tiles["evidence"].page, tiles["clusters"].page) == (
        "actions", "actions", "board")


def test_a_person_with_several_roles_sees_a_section_each_most_urgent_first(engine, org):
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, still_at_risk=True),
                   now=utcnow(), rules=settings())
    supervisor = org.actor("supervisor")
    both = Actor(supervisor.user_id, "both", "Both", frozenset({
        Role.GOVERNANCE, Role.SUPERVISOR, Role.REPORTER}), supervisor.service_ids)
    page = _home(both, utcnow() + timedelta(hours=1))
    assert [s.role for s in page.sections] == [Role.SUPERVISOR, Role.REPORTER,
                                               Role.GOVERNANCE]
    assert page.sections[0].urgency is Urgency.OVERDUE
    assert [t.page for t in page.sections[2].tiles] == ["trends"]
    # Every tile says something, zero included.
    assert all(t.label for t in page.tiles)


@pytest.mark.parametrize("role", [r.value for r in Role if r is not Role.REPORTER])
def test_every_role_but_a_frontline_worker_lands_on_its_home_page(engine, org, role):
    assert default_page([Role(role)]).key == "home"
    page = _home(org.actor(role))
    assert [s.role for s in page.sections] == [Role(role)]
    for tile in page.tiles:
        assert tile.count is None or tile.count >= 0
        if tile.count == 0:
            assert tile.urgency is Urgency.NOTHING


def test_a_frontline_worker_lands_on_the_report_form(engine, org):
    assert default_page([Role.REPORTER]).key == "report"
    assert default_page([Role.REPORTER, Role.SUPERVISOR]).key == "home"
    assert _home(org.actor("reporter")).sections == ()


def test_evidence_to_check_and_the_last_quarter():
    today = date(2026, 5, 10)
    assert evidence_to_check(ActionStatus.IN_TEST, today, None, today) == "verdict"
    assert evidence_to_check(ActionStatus.IN_TEST, today + timedelta(days=1), None,
                             today) is None
    assert evidence_to_check(ActionStatus.VERIFIED_EFFECTIVE, None, today, today) == \
        "sustainment"
    assert evidence_to_check(ActionStatus.STOPPED, None, today, today) is None
    assert last_quarter(today).label == "2026 Q1"
    assert last_quarter(date(2026, 2, 1)).label == "2025 Q4"
