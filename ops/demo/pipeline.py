"""The pure generator: the demo's reports with their history up to `now`, in reporting order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.config import Settings, settings
from core.taxonomy.schema import TaxonomySpec
from ops.demo.history import History
from ops.demo.places import DemoPlaces
from ops.demo.plan_specs import PlanSpec
from ops.demo.plans import demo_plans
from ops.demo.provider import DEFAULT_MONTHS, DEFAULT_REPORTS
from ops.demo.records import DemoRecord
from ops.demo.schedule import report_rows


def generate_demo(places: DemoPlaces, taxonomy: TaxonomySpec, *,
                  reports: int = DEFAULT_REPORTS, seed: int = 7, months: int = DEFAULT_MONTHS,
                  now: datetime, zone: ZoneInfo, rules: Settings | None = None,
                  plans: Sequence[PlanSpec] | None = None) -> Iterator[DemoRecord]:
    """Yield `reports` demo near misses with their history up to `now`, in reporting order.

    Pure and deterministic: the same arguments give the same records (no reference numbers or
    ids yet). `rules` gives the triage matrix, escalation times and action rules (default: the
    settings); `plans` the action plans that link reports (default: `demo_plans`).
    """
    rules = rules or settings()
    if plans is None:
        plans = demo_plans(now, months=months, reports=reports, rules=rules)
    history = History(places, taxonomy, seed=seed, now=now, rules=rules, plans=plans)
    for row, planted in report_rows(
            places, taxonomy, reports=reports, seed=seed, months=months, now=now, zone=zone,
            safeguarding_minutes=rules.escalation.acknowledge_within_minutes["safeguarding"]):
        yield history.plan(row, planted)


def generate_demo_rows(places: DemoPlaces, taxonomy: TaxonomySpec, *,
                       reports: int = DEFAULT_REPORTS, seed: int = 7,
                       months: int = DEFAULT_MONTHS, now: datetime, zone: ZoneInfo,
                       rules: Settings | None = None) -> Iterator[dict[str, Any]]:
    """Yield `reports` demo near-miss rows in order of reported_at (no reference numbers yet).

    The rows as they stand at `now` (flags, triage outcome, status); see `generate_demo`.
    """
    for record in generate_demo(places, taxonomy, reports=reports, seed=seed, months=months,
                                now=now, zone=zone, rules=rules):
        yield record.report
