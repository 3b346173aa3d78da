"""`load_demo`: the provider, the generated reports with their history, and the plans, stored
in chunks (one audited transaction each) so that a million reports load with flat memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from core.actions.episodes import serving_plan
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import Settings, settings
from core.db import read_session, refresh_planner_statistics
from core.organisation.models import Service
from core.reports.rollup import rebuild as rebuild_day_counts
from core.taxonomy.service import live_taxonomy
from core.triage.episodes import recompute_episodes
from core.uow import UnitOfWork
from ops.demo.bulk import store_chunk
from ops.demo.feedback import store_feedback
from ops.demo.pipeline import generate_demo
from ops.demo.plans import calendar, demo_plans
from ops.demo.provider import CHUNK_SIZE, DEFAULT_MONTHS, DEFAULT_REPORTS
from ops.demo.records import DemoRecord
from ops.demo.reference import demo_places, prepare_demo_provider
from ops.demo.store_plans import Linked, store_plans


@dataclass(frozen=True)
class DemoSummary:
    """What `load_demo` did."""

    reports: int  # reports created by this call
    services: int  # services in the database afterwards
    users_created: list[str]  # usernames created by this call (demo role users + staff)
    first_occurred: datetime | None  # naive UTC
    last_occurred: datetime | None
    triaged: int = 0  # reports triaged (the rest are still new)
    escalations: int = 0  # escalations raised for them
    reviewed: int = 0  # reports whose review has started
    closed: int = 0  # reports closed after review and validation
    action_plans: int = 0  # action plans created (with their actions)
    actions: int = 0
    feedback_updates: int = 0  # "what changed because you reported" updates published


@dataclass
class _Stored:
    """What the chunks stored so far: counts, the span of dates, the reports plans link."""

    totals: Counter[str]
    links: dict[str, list[Linked]]
    done: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, chunk: list[DemoRecord], counts: Counter[str]) -> None:
        self.totals.update(counts)
        for record in chunk:
            if record.plan is not None and record.slot.id is not None:
                report = record.report
                self.links.setdefault(record.plan, []).append(Linked(
                    record.slot.id, report["service_id"], report["severity"],
                    report["in_cluster"], report["type_key"], report["location_id"],
                    report["person_id"], report["occurred_at"]))
        occurred = [record.report["occurred_at"] for record in chunk]
        self.done += len(chunk)
        self.first = min(occurred) if self.first is None else min(self.first, *occurred)
        self.last = max(occurred) if self.last is None else max(self.last, *occurred)


def _store_in_chunks(engine: Engine, records: Iterable[DemoRecord], *, reports: int,
                     chunk_size: int, rules: Settings,
                     progress: Callable[[int, int], None] | None) -> _Stored:
    stored = _Stored(Counter(), {})
    chunk: list[DemoRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= chunk_size:
            stored.add(chunk, store_chunk(engine, chunk, rules=rules))
            chunk = []
            if progress is not None:
                progress(stored.done, reports)
    if chunk:
        stored.add(chunk, store_chunk(engine, chunk, rules=rules))
        if progress is not None:
            progress(stored.done, reports)
    return stored


def load_demo(engine: Engine, *, reports: int = DEFAULT_REPORTS, seed: int = 7,
              months: int = DEFAULT_MONTHS, now: datetime | None = None,
              progress: Callable[[int, int], None] | None = None,
              chunk_size: int = CHUNK_SIZE) -> DemoSummary:
    """Load the demo provider and `reports` synthetic near misses (see the package docstring).

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
    plans = demo_plans(now, months=months, reports=reports, rules=rules)
    records = generate_demo(places, taxonomy, reports=reports, seed=seed, months=months,
                            now=now, zone=rules.zone, rules=rules, plans=plans)
    stored = _store_in_chunks(engine, records, reports=reports, chunk_size=chunk_size,
                              rules=rules, progress=progress)
    totals = stored.totals
    # The action plans link stored reports, and their measures count them: stored last.
    totals.update(store_plans(engine, plans, stored.links, places,
                              calendar=calendar(now, months, rules), months=months, seed=seed,
                              rules=rules))
    totals.update(store_feedback(engine, now=now, rules=rules))
    # Bulk inserts skip the filing's cluster scan: find the episodes (and link the planted
    # late-start cluster to its plan) as an import does.
    recompute_episodes(UnitOfWork(engine), SYSTEM, now=now, rules=rules,
                       serving_plan=serving_plan)
    rebuild_day_counts(engine, rules.zone)  # the bulk inserts skipped them too
    refresh_planner_statistics(engine)
    with read_session(engine) as session:
        services = session.scalar(select(func.count()).select_from(Service)) or 0
    return DemoSummary(stored.done, services, created, stored.first, stored.last,
                       triaged=totals["triaged"], escalations=totals["escalations"],
                       reviewed=totals["reviews"], closed=totals["closed"],
                       action_plans=totals["plans"], actions=totals["actions"],
                       feedback_updates=totals["feedback_updates"])
