"""The triage board in core: scope, most urgent first, counts, filters and paging."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.reports.vocabulary import ReportStatus
from core.triage.board import BoardFilters, age_text, load_board
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

NEW = ReportStatus.NEW


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def file(engine, org, actor="reporter", **changes):
    return file_near_miss(UnitOfWork(engine), org.actor(actor), draft(org, **changes),
                          now=utcnow(), rules=settings()).reference


def board(engine, actor, filters=BoardFilters(), **kwargs):
    with read_session(engine) as session:
        return load_board(session, actor, filters, now=kwargs.pop("now", utcnow()), **kwargs)


def test_most_urgent_first_then_oldest(engine, org):
    plain_old = file(engine, org, occurred_at=local_now() - timedelta(days=3))
    # Unrelated to the first (a repeat would rank above it; three near falls at one doorway in
    # three days were once taken for a cluster, which ranked both alike).
    plain_new = file(engine, org, type_key="environment_equipment",
                     location_id=org.maple_kitchen,
                     description="Loose stair rail found and reported before anyone slipped.")
    safeguarding = file(engine, org, type_key="safeguarding_rights",
                        description="Boundary concern with a visitor; no harm.")
    at_risk = file(engine, org, still_at_risk=True, immediate_safeguards="Stayed with him.")
    column = board(engine, org.actor("supervisor")).columns[NEW]
    order = [c.reference for c in column]
    assert order[:2] == [at_risk, safeguarding]
    assert order.index(plain_old) < order.index(plain_new)
    cards = {c.reference: c for c in column}
    assert "still_at_risk" in cards[at_risk].flags
    assert "safeguarding" in cards[safeguarding].flags


def test_an_overdue_escalation_jumps_to_the_top(engine, org):
    plain = file(engine, org, occurred_at=local_now() - timedelta(hours=1))
    interface = file(engine, org, interface_flag="shift_handover", type_key="other",
                     location_id=org.maple_kitchen)  # not a repeat of the first
    quality = org.actor("quality")
    assert [c.reference for c in board(engine, quality).columns[NEW]] == [plain, interface]
    later = utcnow() + timedelta(days=2)  # the operations queue allows 24 h to acknowledge
    column = board(engine, quality, now=later).columns[NEW]
    assert [c.reference for c in column] == [interface, plain]
    assert "escalation_overdue" in column[0].flags


def test_a_supervisor_sees_only_their_services(engine, org):
    mine = file(engine, org)
    file(engine, org, actor="quality", service_id=org.oak, location_id=org.oak_lounge)
    supervisor = board(engine, org.actor("supervisor"))
    assert [c.reference for c in supervisor.columns[NEW]] == [mine]
    assert supervisor.counts[NEW] == 1
    assert board(engine, org.actor("quality")).counts[NEW] == 2


def test_counts_per_column_and_filters(engine, org):
    triaged = file(engine, org)
    file(engine, org, type_key="medication_discrepancy",
         description="Plan said 10 mg, the family note said 5 mg; paused and called.")
    file(engine, org, interface_flag="clinic_follow_up")
    triage_report(UnitOfWork(engine), org.actor("supervisor"), triaged, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity="high",
        investigation="barrier_review", route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    everything = board(engine, org.actor("supervisor"))
    assert everything.counts[NEW] == 2 and everything.counts[ReportStatus.TRIAGED] == 1
    assert everything.total == 3
    by_type = board(engine, org.actor("supervisor"),
                    BoardFilters(type_keys=("medication_discrepancy",)))
    assert by_type.total == 1
    by_flag = board(engine, org.actor("supervisor"), BoardFilters(flags=("interface",)))
    assert by_flag.total == 1
    high = board(engine, org.actor("supervisor"), BoardFilters(severities=("high",)))
    assert [c.reference for c in high.columns[ReportStatus.TRIAGED]] == [triaged]
    untriaged = board(engine, org.actor("supervisor"), BoardFilters(severities=("untriaged",)))
    assert untriaged.total == 2
    old = board(engine, org.actor("supervisor"), BoardFilters(min_age_days=1))
    assert old.total == 0
    # Each filter alone and together (each set of filters is a statement of its own, built
    # once and given its values: core/triage/board.py).
    recent = board(engine, org.actor("supervisor"), BoardFilters(max_age_days=1))
    assert recent.total == 3
    either = board(engine, org.actor("supervisor"),
                   BoardFilters(severities=("high", "untriaged")))
    assert either.total == 3
    narrowed = board(engine, org.actor("supervisor"), BoardFilters(
        service_ids=(org.maple,), type_keys=("medication_discrepancy", "transfer_near_fall"),
        severities=("untriaged",), flags=("interface", "still_at_risk"), max_age_days=1))
    assert narrowed.total == 1 and narrowed.counts[NEW] == 1
    elsewhere = board(engine, org.actor("supervisor"), BoardFilters(service_ids=(org.oak,)))
    assert elsewhere.total == 0


def test_columns_are_paged(engine, org):
    references = [file(engine, org, occurred_at=local_now() - timedelta(minutes=30 - i))
                  for i in range(23)]
    first = board(engine, org.actor("supervisor"), page_size=10)
    third = board(engine, org.actor("supervisor"), page_size=10, pages={NEW: 3})
    assert first.counts[NEW] == 23
    assert len(first.columns[NEW]) == 10 and len(third.columns[NEW]) == 3
    shown = {c.reference for c in first.columns[NEW]} | {c.reference for c in third.columns[NEW]}
    assert shown <= set(references)


def test_each_column_turns_its_own_pages_in_urgency_order(engine, org):
    """A page turned in one column leaves the others on theirs, and the pages of a column
    follow on from each other in its order (oldest first here: no flags)."""
    oldest_first = [file(engine, org, occurred_at=local_now() - timedelta(hours=12 - i))
                    for i in range(7)]
    triaged = oldest_first[:3]
    for reference in triaged:
        triage_report(UnitOfWork(engine), org.actor("supervisor"), reference, TriageAnswers(
            at_risk_now=False, safeguarding_trigger=False, recurrence="single",
            severity="low", investigation="barrier_review", route="supervisor"),
            expected_version=1, now=utcnow(), rules=settings())
    still_new = oldest_first[3:]
    first = board(engine, org.actor("supervisor"), page_size=2)
    second = board(engine, org.actor("supervisor"), page_size=2, pages={NEW: 2})
    assert [c.reference for c in first.columns[NEW]] == still_new[:2]
    assert [c.reference for c in second.columns[NEW]] == still_new[2:]
    for shown in (first, second):  # the triaged column stays on its first page
        assert [c.reference for c in shown.columns[ReportStatus.TRIAGED]] == triaged[:2]
        assert shown.counts == {**shown.counts, NEW: 4, ReportStatus.TRIAGED: 3}
    past_the_end = board(engine, org.actor("supervisor"), page_size=2, pages={NEW: 9})
    assert past_the_end.columns[NEW] == [] and past_the_end.counts[NEW] == 4


def test_age_text():
    now = utcnow()
    assert age_text(now - timedelta(minutes=45), now) == "45 min"
    assert age_text(now - timedelta(hours=5), now) == "5 h"
    assert age_text(now - timedelta(days=3, hours=2), now) == "3 d"
