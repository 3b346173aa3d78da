"""Storing the action plans: activity counts (the denominators of "per 100 visits"), the root
cause analysis, the plans with their actions, evidence checks, measures (evaluated on the
stored reports as confirm_verdict does) and sustainment checks, in one audited transaction."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from core.accounts.service import build_actor
from core.actions.measures import MeasureFilters, evaluate, sustainment_date
from core.actions.models import (
    Action,
    ActionEvidenceCheck,
    ActionPlan,
    ActionPlanReport,
    ActivityCount,
    SustainmentCheck,
    VerificationMeasure,
)
from core.actions.vocabulary import KINDS_BY_KEY, ActionStatus
from core.auth.actor import SYSTEM
from core.auth.models import User
from core.auth.roles import Role
from core.clock import to_local, utcnow
from core.config import Settings
from core.organisation.models import Region
from core.review.models import RootCauseAnalysis, RootCauseAnalysisReport
from core.taxonomy.service import live_taxonomy
from core.uow import UnitOfWork
from core.weeks import week_start_of
from ops.demo.data import demo_data
from ops.demo.places import DemoPlaces
from ops.demo.plan_specs import ActionSpec, Calendar, MeasureSpec, PlanSpec
from ops.demo.provider import DAY_PROGRAMME, HOME_CARE, demo_window

_DATA = demo_data()
_SUSTAINED = _DATA.everyday.after_filing.sustained_note


@dataclass(frozen=True)
class Linked:
    """A stored report an action plan links."""

    report_id: int
    service_id: int
    severity: str | None
    in_cluster: bool
    # What the link carries of its report (core.actions.models.ActionPlanReport).
    type_key: str
    location_id: int
    person_id: int | None
    occurred_at: datetime


def activity_rows(places: DemoPlaces, *, now: datetime, months: int, zone: ZoneInfo,
                  seed: int) -> list[dict[str, Any]]:
    """Visits and shifts per service and week over the demo's period (the denominators of
    "per 100 visits/shifts"): growing a little, dipping at Christmas, never exact."""
    rng = random.Random(f"demo-activity-{seed}")
    start, _ = demo_window(now, months)
    first = week_start_of(to_local(start, zone).date())
    last = week_start_of(to_local(now, zone).date())
    weeks = (last - first).days // 7 + 1
    rows = []
    for service in places.services:
        found = _DATA.provider.activity.get(service.spec.kind)
        per_visit = found.visits_per_person if found else None
        per_shift = found.shifts_per_person if found else 6.0
        people = max(1, len(service.spec.people))
        for index in range(weeks):
            week = first + timedelta(weeks=index)
            scale = (0.92 + 0.1 * index / max(1, weeks - 1)) * rng.uniform(0.95, 1.05)
            if (week.month, week.day) >= (12, 20) or (week.month, week.day) <= (1, 3):
                scale *= 0.85 if service.spec.kind in (HOME_CARE, DAY_PROGRAMME) else 1.0
            rows.append({
                "service_id": service.id, "week_start": week,
                "visits": round(people * per_visit * scale) if per_visit else None,
                "shifts": round(people * per_shift * scale) if per_shift else None})
    return rows


def _store_activity(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert the weeks not stored yet (a second load leaves those already there alone)."""
    stored = set(session.execute(select(ActivityCount.service_id, ActivityCount.week_start)))
    missing = [r for r in rows if (r["service_id"], r["week_start"]) not in stored]
    if missing:
        session.execute(insert(ActivityCount.__table__), missing)
    return len(missing)


class _Owners:
    """Who owns a plan or an action: a lead by role, or a supervisor covering its services."""

    def __init__(self, places: DemoPlaces):
        self.places = places
        self.services = {s.id: s for s in places.services}

    def lead(self, role: str) -> int | None:
        leads = self.places.leads
        found = leads.get(role) or leads.get(Role.QUALITY.value) or ()
        return found[0] if found else None

    def of(self, role: str, served: set[int]) -> int | None:
        if role != "supervisor":
            return self.lead(role)
        services = self.services
        common = set.intersection(*(set(services[s].supervisors) for s in served)) \
            if served and served <= set(services) else set()
        first = services[min(served)].supervisors if common else ()
        return next((u for u in first if u in common), None) or self.lead(Role.QUALITY.value)


def _store_rca(session: Session, spec: PlanSpec, linked: Sequence[Linked], lead: int,
               factor_keys: Sequence[str]) -> int | None:
    """The root cause analysis a plan was built from (with the reports it looked at)."""
    if spec.rca is None or spec.rca_dates is None:
        return None
    rca = RootCauseAnalysis(
        title=spec.rca.title, problem=spec.rca.problem, five_whys=list(spec.rca.five_whys),
        contributing_factors=[k for k in factor_keys if k in spec.rca.factors],
        findings=spec.rca.findings, status="complete", lead_id=lead,
        opened_at=spec.rca_dates[0], completed_at=spec.rca_dates[1])
    session.add(rca)
    session.flush()
    session.execute(insert(RootCauseAnalysisReport.__table__), [
        {"rca_id": rca.id, "report_id": item.report_id} for item in linked[:100]])
    return rca.id


def _store_plan(uow: UnitOfWork, c: Calendar, spec: PlanSpec, linked: Sequence[Linked],
                owners: _Owners, known: Mapping[str, Any], counts: Counter[str]) -> None:
    """One plan with the reports it links, its root cause analysis and its actions."""
    session, places = uow.session, owners.places
    served = {item.service_id for item in linked} | {
        s.id for s in places.services if spec.cluster_region and s.region == spec.cluster_region}
    creator = owners.of(spec.created_by, served)
    if creator is None:
        return
    rca_id = _store_rca(session, spec, linked, creator, known["factors"])
    counts["root_cause_analyses"] += rca_id is not None
    plan = ActionPlan(
        title=spec.title, theme=spec.theme, source=spec.source, rca_id=rca_id,
        cluster_type_key=spec.type_key if spec.source == "cluster" else None,
        cluster_service_id=None, cluster_region_id=known["regions"].get(spec.cluster_region or ""),
        high_potential=any(item.severity == "high" for item in linked),
        clustered=spec.source == "cluster" or any(item.in_cluster for item in linked),
        created_by_id=creator, created_at=spec.created_at)
    session.add(plan)
    session.flush()
    session.execute(insert(ActionPlanReport.__table__), [
        {"plan_id": plan.id, "report_id": item.report_id, "type_key": item.type_key,
         "service_id": item.service_id, "location_id": item.location_id,
         "person_id": item.person_id, "occurred_at": item.occurred_at} for item in linked])
    counts["plans"] += 1
    counts["linked_reports"] += len(linked)
    for action_spec in spec.actions:
        owner = owners.of(action_spec.owner, served)
        if owner is not None:
            _store_action(uow, c, plan.id, action_spec, owner, served, places, counts)


def store_plans(engine: Engine, plans: Sequence[PlanSpec], links: Mapping[str, Sequence[Linked]],
                places: DemoPlaces, *, calendar: Calendar, months: int, seed: int,
                rules: Settings) -> Counter[str]:
    """Store activity counts, the root cause analysis and the action plans with their
    actions, checks, measures and sustainment checks (plans that link nothing are skipped)."""
    counts: Counter[str] = Counter()
    owners = _Owners(places)
    with UnitOfWork(engine) as uow:
        session = uow.session
        activity = activity_rows(places, now=calendar.now, months=months, zone=rules.zone,
                                 seed=seed)
        stored = _store_activity(session, activity)
        known = {"regions": dict(session.execute(select(Region.name, Region.id)).all()),
                 "factors": [f.key for f in live_taxonomy(session).contributing_factors]}
        for spec in plans:
            linked = list(links.get(spec.key, ()))
            if linked:
                _store_plan(uow, calendar, spec, linked, owners, known, counts)
        uow.record(SYSTEM, "demo.activity_loaded", "activity_count", None,
                   after={"rows": stored, "services": len(places.services)}, at=utcnow())
        uow.record(SYSTEM, "demo.actions_loaded", "action_plan", None, after={
            key: counts[key] for key in ("plans", "actions", "evidence_checks",
                                         "checks_completed", "measures", "verdicts",
                                         "sustainment_checks", "linked_reports",
                                         "root_cause_analyses")}, at=utcnow())
        uow.commit()
    counts["activity_weeks"] = len(activity)
    return counts


# -- one action ---------------------------------------------------------------------------------

def _store_checks(session: Session, c: Calendar, action_id: int, spec: ActionSpec,
                  owner_id: int, finish: datetime, counts: Counter[str]) -> None:
    """Evidence checks: the first ones done, spread from creation to the verdict (or now)."""
    for position, name in enumerate(spec.checks):
        done = position < spec.checks_done
        at = spec.created_at + (finish - spec.created_at) * (position + 1) / (spec.checks_done + 1)
        session.add(ActionEvidenceCheck(
            action_id=action_id, position=position, name=name,
            completed_at=at.replace(microsecond=0) if done else None,
            completed_by_id=owner_id if done else None,
            note=f"Done: {name[:1].lower()}{name[1:]}." if done else None))
        counts["evidence_checks"] += 1
        counts["checks_completed"] += done


def _filters(measure: MeasureSpec, served: set[int], places: DemoPlaces) -> MeasureFilters:
    """Which reports a measure counts: the plan's services, a region's, or all."""
    if measure.services == "region":
        service_ids = tuple(sorted(s.id for s in places.services if s.region == measure.region))
    elif measure.services == "all":
        service_ids = ()
    else:
        service_ids = tuple(sorted(served))
    locations: tuple[int, ...] = ()
    if measure.location and len(service_ids) == 1:
        locations = tuple(p.id for s in places.services if s.id == service_ids[0]
                          for p in s.places if p.spec.name == measure.location)
    return MeasureFilters(type_keys=measure.type_keys, service_ids=service_ids,
                          location_ids=locations, capture=dict(measure.capture))


def _store_measure(session: Session, c: Calendar, action_id: int, spec: ActionSpec,
                   owner_id: int, served: set[int], places: DemoPlaces,
                   counts: Counter[str]) -> None:
    """The verification measure, with its numbers and the person's verdict once decided."""
    measure, rules = spec.measure, c.rules
    assert measure is not None
    filters = _filters(measure, served, places)
    row = VerificationMeasure(action_id=action_id, filters=filters.to_json(), per=measure.per,
                              direction="decrease", target=measure.target,
                              baseline_weeks=rules.actions.baseline_weeks)
    counts["measures"] += 1
    if spec.verdict_at is not None and spec.go_live is not None:
        # As confirm_verdict does: the numbers at the time, and the person's verdict.
        evaluation = evaluate(session, filters, per=measure.per, direction="decrease",
                              target=measure.target, go_live=spec.go_live,
                              window_days=spec.window_days or 0,
                              baseline_weeks=rules.actions.baseline_weeks,
                              today=c.local_day(spec.verdict_at), rules=rules)
        proposal = evaluation.proposal
        row.baseline_value, row.observed_value = evaluation.baseline, evaluation.observed
        row.proposed_verdict, row.p_value = proposal.verdict, proposal.p_value
        if proposal.counts is not None:
            row.baseline_count = proposal.counts.baseline
            row.observed_count = proposal.counts.observed
        counts["verdicts"] += 1
    if spec.verdict_at is not None:
        effective = spec.status is ActionStatus.VERIFIED_EFFECTIVE
        row.confirmed_verdict = "effective" if effective else "not_effective"
        row.confirmed_by_id, row.confirmed_at = owner_id, spec.verdict_at
        row.confirmation_note = spec.verdict_note
        if effective and row.proposed_verdict != "effective":
            # As confirm_verdict requires: effective against the numbers needs a reason.
            row.override_reason = ("Confirmed on the evidence checks; the counts alone could "
                                   "not tell yet.")
    session.add(row)


def _store_sustainment(session: Session, c: Calendar, action: Action, spec: ActionSpec,
                       owner_id: int, counts: Counter[str]) -> None:
    """As confirm_verdict schedules it (later when verified at the second look)."""
    assert spec.go_live is not None and spec.verdict_at is not None
    rules = c.rules.actions
    due = sustainment_date(spec.go_live, spec.window_days or 0, rules)
    verified_on = c.local_day(spec.verdict_at)
    if due <= verified_on:
        due = verified_on + timedelta(days=rules.sustainment_after_days)
    action.sustainment_check_date = due
    confirmed = c.at(due + timedelta(days=2), 14.0)
    sustained = confirmed <= c.now - timedelta(hours=1)
    session.add(SustainmentCheck(
        action_id=action.id, due_date=due, confirmed_at=confirmed if sustained else None,
        confirmed_by_id=owner_id if sustained else None,
        in_place=True if sustained else None, note=_SUSTAINED if sustained else None))
    counts["sustainment_checks"] += 1


def _store_action(uow: UnitOfWork, c: Calendar, plan_id: int, spec: ActionSpec,
                  owner_id: int, served: set[int], places: DemoPlaces,
                  counts: Counter[str]) -> None:
    """One action with its evidence checks, measure and sustainment check."""
    session, now = uow.session, c.now
    kind = KINDS_BY_KEY[spec.kind]
    live_at = c.at(spec.go_live, 9.0) if spec.go_live else None
    ended = spec.verdict_at or spec.stopped_at
    action = Action(
        plan_id=plan_id, title=spec.title, description=spec.description, owner_id=owner_id,
        service_id=next(iter(served)) if len(served) == 1 else None, deadline=spec.deadline,
        review_date=spec.review_date, status=spec.status.value,
        strength=kind.strength.value, strength_category=kind.key, go_live_date=spec.go_live,
        test_window_days=spec.window_days, created_by_id=owner_id, created_at=spec.created_at,
        updated_at=max(t for t in (spec.created_at, live_at, ended) if t is not None))
    session.add(action)
    session.flush()
    counts["actions"] += 1
    finish = ended or (live_at + timedelta(days=2) if live_at else None) or \
        now - timedelta(hours=20)
    _store_checks(session, c, action.id, spec, owner_id, min(finish, now - timedelta(hours=1)),
                  counts)
    if spec.measure is not None:
        _store_measure(session, c, action.id, spec, owner_id, served, places, counts)
    if spec.verdict_at is not None and spec.status is ActionStatus.VERIFIED_EFFECTIVE \
            and spec.go_live is not None:
        _store_sustainment(session, c, action, spec, owner_id, counts)
    if spec.stopped_at is not None:
        # The reason lives in the audit trail, as set_status records it.
        user = session.get(User, owner_id)
        assert user is not None
        uow.record(build_actor(user, rules=c.rules), "action.status_changed", "action", action.id,
                   at=spec.stopped_at, before={"status": ActionStatus.IN_PROGRESS.value},
                   after={"status": ActionStatus.STOPPED.value, "note": spec.stop_reason})
