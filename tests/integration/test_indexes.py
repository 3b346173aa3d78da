"""The queries behind the pages a shift uses most can each be answered from an index on
PostgreSQL: captured as they run, then EXPLAINed with sequential scans priced out. A query on
a large table with no usable index would still show a Seq Scan there."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.escalation.queries import inbox, unread_count
from core.feedback.queries import bulletin, updates_for_my_reports
from core.filing.detail import report_detail
from core.filing.service import file_near_miss
from core.metrics import governance as gov
from core.reports.queries import my_reports
from core.triage.board import BoardFilters, load_board
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from core.weeks import week_start_of
from tests.builders import build_org, draft, local_now

# Tables that grow with every near miss (millions of rows at a large provider).
LARGE = ("near_miss_reports", "audit_events", "report_transitions", "triage_records",
         "reviews", "gate_checks", "validation_evidence", "escalations", "notifications",
         "action_plan_reports", "feedback_update_reports", "communication_decisions")


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", keep)


def seq_scans(engine: Engine, statements: list[tuple[str, Any]]) -> list[str]:
    """Each large table a statement would still read from start to end."""
    found = []
    with engine.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        for statement, parameters in statements:
            plan = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars().all()
            for line in plan:
                found += [f"{table}: {statement[:160]}" for table in LARGE
                          if f"Seq Scan on {table} " in f"{line} "]
    return found


@pytest.fixture
def provider(engine: Engine, db_url: str):
    if not db_url.startswith("postgresql"):
        pytest.skip("EXPLAIN plans are checked on PostgreSQL, the production database")
    org = build_org(engine)
    references = [file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, occurred_at=local_now() - timedelta(days=n)),
                                 now=utcnow(), rules=settings()).reference for n in range(6)]
    triage_report(UnitOfWork(engine), org.actor("supervisor"), references[0], TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="repeat", severity="high",
        investigation="barrier_review", route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return org, references


def _page_queries(org, references) -> dict[str, Callable[[Any], Any]]:
    supervisor, reporter = org.actor("supervisor"), org.actor("reporter")
    end = week_start_of(local_now().date()) + timedelta(days=7)
    scope = gov.Scope(start=end - timedelta(weeks=12), end=end, service_ids=(org.maple,))
    return {
        "triage board": lambda s: load_board(s, supervisor, BoardFilters(), now=utcnow()),
        "a near miss's page": lambda s: report_detail(s, supervisor, references[0], now=utcnow()),
        "my reports": lambda s: (my_reports(s, reporter), updates_for_my_reports(s, reporter)),
        "inbox": lambda s: (inbox(s, supervisor, now=utcnow()), unread_count(s, supervisor)),
        "what changed": lambda s: bulletin(s, reporter),
        "trends for a service": lambda s: gov.weekly_series(s, supervisor, scope, rules=settings()),
        "breakdown by location": lambda s: gov.breakdown(s, supervisor, scope, "location",
                                                         rules=settings()),
    }


PAGES = ("triage board", "a near miss's page", "my reports", "inbox", "what changed",
         "trends for a service", "breakdown by location")


@pytest.mark.parametrize("page", PAGES)
def test_the_page_queries_need_no_full_scan_of_a_large_table(engine, provider, page):
    org, references = provider
    query = _page_queries(org, references)[page]
    with captured(engine) as statements, read_session(engine) as session:
        query(session)
    assert statements, f"{page} ran no query"
    assert seq_scans(engine, statements) == []


def test_postgresql_sessions_run_without_jit(engine):
    """JIT compiling cost more than it saved on the governance aggregates (bench/RESULTS.md)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL setting")
    with engine.connect() as conn:
        assert conn.execute(text("SHOW jit")).scalar() == "off"
