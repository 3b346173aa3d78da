"""`load_demo`: the provider, the generated reports, their history and the plans, stored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, func, select

from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from core.db import read_session, refresh_planner_statistics
from core.organisation.models import Service
from core.taxonomy.service import live_taxonomy
from core.triage.episodes import recompute_episodes
from core.uow import UnitOfWork
from ops.demo.history import generate_demo
from ops.demo.plans import _demo_plans
from ops.demo.provider import CHUNK_SIZE, DEFAULT_MONTHS, DEFAULT_REPORTS
from ops.demo.records import DemoRecord
from ops.demo.store import DemoSummary, _store_chunk, demo_places, prepare_demo_provider
from ops.demo.store_plans import _Linked, _store_feedback, _store_plans


def load_demo(engine: Engine, *, reports: int = DEFAULT_REPORTS, seed: int = 7,
              months: int = DEFAULT_MONTHS, now: datetime | None = None,
              progress: Callable[[int, int], None] | None = None,
              chunk_size: int = CHUNK_SIZE) -> DemoSummary:
    """Load the demo provider and `reports` synthetic near misses (see the module docstring).

    Safe to call again: reference data and users are reused, more reports are added with
    reference numbers continuing each year's counter. `progress(done, total)` is called after
    each chunk of reports.
    """
    if reports < 0:
        raise ValueError("reports must be zero or more")
    if months < 1:
        raise ValueError("months must be at least 1")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    now = (now or utcnow()).replace(microsecond=0)
    rules = settings()
    created = prepare_demo_provider(engine)
    with read_session(engine) as session:
        places = demo_places(session)
        taxonomy = live_taxonomy(session)
    plans = _demo_plans(now, months=months, reports=reports, rules=rules)
    records = generate_demo(places, taxonomy, reports=reports, seed=seed, months=months,
                            now=now, zone=rules.zone, rules=rules, plans=plans)
    done = 0
    first: datetime | None = None
    last: datetime | None = None
    totals: Counter[str] = Counter()
    chunk: list[DemoRecord] = []
    links: dict[str, list[_Linked]] = {}

    def flush() -> None:
        nonlocal done, first, last
        totals.update(_store_chunk(engine, chunk, rules=rules))
        for record in chunk:
            if record.plan is not None and record.slot.id is not None:
                links.setdefault(record.plan, []).append(_Linked(
                    record.slot.id, record.report["service_id"], record.report["severity"],
                    record.report["in_cluster"]))
        done += len(chunk)
        occurred = [record.report["occurred_at"] for record in chunk]
        first = min(occurred) if first is None else min(first, *occurred)
        last = max(occurred) if last is None else max(last, *occurred)
        chunk.clear()
        if progress is not None:
            progress(done, reports)

    for record in records:
        chunk.append(record)
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    # The action plans link stored reports, and their measures count them: stored last.
    totals.update(_store_plans(engine, plans, links, places, now=now, months=months, seed=seed,
                               rules=rules))
    totals.update(_store_feedback(engine, now=now, rules=rules))
    # Bulk inserts skip the filing's cluster scan: find the episodes (and link the planted
    # late-start cluster to its plan) as an import does.
    recompute_episodes(UnitOfWork(engine), SYSTEM, now=now, rules=rules)
    refresh_planner_statistics(engine)
    with read_session(engine) as session:
        services = session.scalar(select(func.count()).select_from(Service)) or 0
    return DemoSummary(done, services, created, first, last, triaged=totals["triaged"],
                       escalations=totals["escalations"], reviewed=totals["reviews"],
                       closed=totals["closed"], action_plans=totals["plans"],
                       actions=totals["actions"], feedback_updates=totals["feedback_updates"])
