"""The cluster rule of triage, run over a whole period (the weekly cluster review).

Daily counts per type and service come from one SQL aggregate; the sliding windows are computed
on those few thousand numbers, never on the reports themselves.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.actions.models import Action, ActionPlanReport
from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.config import Settings, settings
from core.metrics.governance import _best_status
from core.metrics.weeks import as_date, day_sql, local_midnight_utc
from core.organisation.models import Region, Service
from core.reports.models import NearMissReport
from core.taxonomy.models import NearMissType
from core.triage.cluster_rule import is_cluster


@dataclass(frozen=True)
class ClusterFinding:
    """A run of windows in which one type clustered in one service or region."""

    type_key: str
    type_name: str
    scope: str  # service | region
    scope_name: str
    start: date
    end: date  # inclusive
    peak: int  # the most reports in one window
    usual: float  # the usual count per window over the baseline before it
    references: tuple[str, ...]
    action_status: str | None  # the most advanced status of an action serving them


def clusters_in_period(session: Session, actor: Actor, start: date, end: date, *,
                       rules: Settings | None = None) -> list[ClusterFinding]:
    """Every cluster (by the triage rule) whose window ends within [start, end)."""
    require(actor, Capability.VIEW_GOVERNANCE)
    rules = rules or settings()
    rule = rules.triage
    window = rule.cluster_window_days
    history_start = start - timedelta(days=window + rule.cluster_baseline_days)
    day = day_sql(session, NearMissReport.occurred_at, rules.zone)
    query = (select(NearMissReport.type_key, NearMissReport.service_id, day, func.count())
             .where(NearMissReport.occurred_at >= local_midnight_utc(history_start,
                                                                     rules.zone),
                    NearMissReport.occurred_at < local_midnight_utc(end, rules.zone))
             .group_by(NearMissReport.type_key, NearMissReport.service_id, day))
    if actor.service_ids is not None:
        query = query.where(NearMissReport.service_id.in_(actor.service_ids))
    regions = dict(session.execute(select(Service.id, Service.region_id)).all())
    daily: dict[tuple[str, str, int], dict[date, int]] = defaultdict(lambda: defaultdict(int))
    days: dict[object, date] = {}  # each day's text parsed once, not once per type and service
    for type_key, service_id, on, count in session.execute(query):
        day_of = days.get(on) or days.setdefault(on, as_date(on))
        daily[(type_key, "service", service_id)][day_of] += count
        if regions.get(service_id):
            daily[(type_key, "region", regions[service_id])][day_of] += count
    # Before a full baseline of history exists, every early report would look "unusual".
    first_report = session.scalar(select(func.min(NearMissReport.occurred_at)))
    if first_report is None:
        return []
    earliest = first_report.date() + timedelta(days=window + rule.cluster_baseline_days)
    findings = []
    for key, counts in daily.items():
        for first, last, peak, usual in _windows(counts, max(start, earliest), end, rules):
            findings.append((key, first, last, peak, usual))
    return _describe(session, actor, findings, rules)


def _windows(counts: dict[date, int], start: date, end: date,
             rules: Settings) -> list[tuple[date, date, int, float]]:
    """Runs of days (window ends) on which the rule fires, merged into one finding each."""
    rule = rules.triage
    window, baseline_days = rule.cluster_window_days, rule.cluster_baseline_days
    origin = start - timedelta(days=window + baseline_days)
    length = (end - origin).days
    prefix = [0] * (length + 1)  # prefix[i]: reports on days origin .. origin+i-1
    for on, count in counts.items():
        offset = (on - origin).days
        if 0 <= offset < length:
            prefix[offset + 1] += count
    for i in range(1, length + 1):
        prefix[i] += prefix[i - 1]

    def total(first: int, last: int) -> int:  # days first..last inclusive, as offsets
        return prefix[last + 1] - prefix[max(first, 0)]

    fired: list[tuple[date, int, float]] = []
    for offset in range((start - origin).days, length):
        in_window = total(offset - window + 1, offset)
        if in_window < rule.cluster_min_reports:
            continue
        usual = total(offset - window - baseline_days + 1, offset - window) / (
            baseline_days / window)
        if is_cluster(in_window, usual, rule):
            fired.append((origin + timedelta(days=offset), in_window, usual))
    runs: list[tuple[date, date, int, float]] = []
    for on, count, usual in fired:
        window_start = on - timedelta(days=window - 1)
        if runs and window_start <= runs[-1][1]:  # overlapping windows: one cluster
            first, _last, peak, base = runs[-1]
            runs[-1] = (first, on, max(peak, count), base)
        else:
            runs.append((window_start, on, count, usual))
    return runs


def _describe(session: Session, actor: Actor, findings: list, rules: Settings,
              ) -> list[ClusterFinding]:
    type_names = dict(session.execute(select(NearMissType.key, NearMissType.name)).all())
    service_names = dict(session.execute(select(Service.id, Service.name)).all())
    region_names = dict(session.execute(select(Region.id, Region.name)).all())
    described = []
    for (type_key, scope, scope_id), first, last, peak, usual in findings:
        services = ([scope_id] if scope == "service" else
                    list(session.scalars(select(Service.id).where(Service.region_id == scope_id))))
        if actor.service_ids is not None:
            services = [s for s in services if s in actor.service_ids]
        rows = session.execute(select(NearMissReport.id, NearMissReport.reference).where(
            NearMissReport.type_key == type_key, NearMissReport.service_id.in_(services),
            NearMissReport.occurred_at >= local_midnight_utc(first, rules.zone),
            NearMissReport.occurred_at < local_midnight_utc(last + timedelta(days=1),
                                                            rules.zone))
            .order_by(NearMissReport.occurred_at)).all()
        statuses = set(session.scalars(select(Action.status).join(
            ActionPlanReport, ActionPlanReport.plan_id == Action.plan_id).where(
            ActionPlanReport.report_id.in_([r[0] for r in rows]))))
        described.append(ClusterFinding(
            type_key=type_key, type_name=type_names.get(type_key, type_key), scope=scope,
            scope_name=(service_names if scope == "service" else region_names).get(scope_id,
                                                                                  "?"),
            start=first, end=last, peak=peak, usual=round(usual, 1),
            references=tuple(r[1] for r in rows), action_status=_best_status(statuses)))
    # One story per cluster: a region finding that only repeats one service's finding adds
    # nothing, and a service finding wholly inside a region finding is part of it.
    regions = [f for f in described if f.scope == "region"]
    services = [f for f in described if f.scope == "service"]
    kept_services = [f for f in services if not any(
        r.type_key == f.type_key and set(f.references) <= set(r.references) for r in regions
        if set(r.references) != set(f.references))]
    kept_regions = [r for r in regions if not any(
        s.type_key == r.type_key and set(s.references) == set(r.references) for s in services)]
    return sorted(kept_services + kept_regions, key=lambda f: (f.end, f.peak), reverse=True)
