"""Storing the action plans, their actions and the "what changed" updates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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
from core.auth.service import (
    build_actor,
)
from core.clock import to_utc
from core.config import Settings
from core.feedback.models import (
    FeedbackUpdate,
    FeedbackUpdateAction,
    FeedbackUpdateReport,
    FeedbackUpdateRevision,
    FeedbackUpdateService,
)
from core.organisation.models import Region
from core.reports.models import NearMissReport
from core.review.models import (
    RootCauseAnalysis,
    RootCauseAnalysisReport,
)
from core.taxonomy.service import live_taxonomy
from core.uow import UnitOfWork
from ops.demo.generator import DemoPlaces, DemoService
from ops.demo.plan_specs import _SUSTAINED, _ActionSpec, _Calendar, _PlanSpec
from ops.demo.provider import LATE_START_REGION
from ops.demo.store import _activity_rows


@dataclass(frozen=True)
class _Linked:
    """A stored report an action plan links."""

    report_id: int
    service_id: int
    severity: str | None
    in_cluster: bool


_RCA_WHYS = (
    "Why did the worker find a mismatch? The family note had a newer dose than the care plan.",
    "Why was the care plan older? Families tell whoever is there; nothing brings the change to "
    "the office.",
    "Why does nothing bring it? No step in the visit asks the worker to compare the note and "
    "the plan.",
    "Why was the mismatch caught at all? The worker paused and rang: vigilance, not a control.",
)


def _store_plans(engine: Engine, plans: Sequence[_PlanSpec],
                 links: Mapping[str, Sequence[_Linked]], places: DemoPlaces, *, now: datetime,
                 months: int, seed: int, rules: Settings) -> Counter[str]:
    """Store activity counts, the root cause analysis and the action plans with their
    actions, checks, measures (evaluated on the stored reports) and sustainment checks."""
    counts: Counter[str] = Counter()
    zone = rules.zone
    calendar = _Calendar(now, zone, rules)
    services = {s.id: s for s in places.services}
    by_name = {s.spec.name: s for s in places.services}
    with UnitOfWork(engine) as uow:
        session = uow.session
        dialect = session.get_bind().dialect.name
        upsert = pg_insert if dialect == "postgresql" else sqlite_insert
        activity = _activity_rows(places, now=now, months=months, zone=zone, seed=seed)
        if activity:  # a second load leaves the weeks already there alone
            session.execute(upsert(ActivityCount.__table__).on_conflict_do_nothing(
                index_elements=["service_id", "week_start"]), activity)
        regions = dict(session.execute(select(Region.name, Region.id)).all())
        factor_keys = [f.key for f in live_taxonomy(session).contributing_factors]

        def lead(role: str) -> int | None:
            found = places.leads.get(role) or places.leads.get(Role.QUALITY.value) or ()
            return found[0] if found else None

        def owner(role: str, served: set[int]) -> int | None:
            if role != "supervisor":
                return lead(role)
            common = set.intersection(*(set(services[s].supervisors) for s in served)) \
                if served and served <= set(services) else set()
            first = services[min(served)].supervisors if common else ()
            return next((u for u in first if u in common), None) or lead(Role.QUALITY.value)

        for spec in plans:
            linked = list(links.get(spec.key, ()))
            if not linked:
                continue
            served = {item.service_id for item in linked}
            region_services = {s.id for s in places.services
                               if spec.cluster_region and s.region == spec.cluster_region}
            served |= region_services
            creator = owner(spec.created_by, served)
            if creator is None:
                continue
            rca_id = None
            if spec.rca:
                rca = RootCauseAnalysis(
                    title="Care plan and family note mismatches across services",
                    problem="Workers keep finding that the medication prompt in the care plan "
                            "does not match a recent family note, at several services; each "
                            "time a worker paused and rang the office.",
                    five_whys=list(_RCA_WHYS),
                    contributing_factors=[k for k in factor_keys
                                          if k in ("communication", "support_planning")],
                    findings="Changes reach families before the provider's record, and no step "
                             "in the visit compares the two. Fix: a family-note check at every "
                             "medication visit, and the office updating the record the same "
                             "day.",
                    status="complete", lead_id=creator,
                    opened_at=spec.created_at - timedelta(days=20),
                    completed_at=spec.created_at - timedelta(days=1))
                session.add(rca)
                session.flush()
                rca_id = rca.id
                session.execute(insert(RootCauseAnalysisReport.__table__), [
                    {"rca_id": rca_id, "report_id": item.report_id} for item in linked[:100]])
                counts["root_cause_analyses"] += 1
            plan = ActionPlan(
                title=spec.title, theme=spec.theme, source=spec.source, rca_id=rca_id,
                cluster_type_key="late_shift_start" if spec.source == "cluster" else None,
                cluster_service_id=None, cluster_region_id=regions.get(spec.cluster_region or ""),
                high_potential=any(item.severity == "high" for item in linked),
                clustered=spec.source == "cluster" or any(item.in_cluster for item in linked),
                created_by_id=creator, created_at=spec.created_at)
            session.add(plan)
            session.flush()
            session.execute(insert(ActionPlanReport.__table__), [
                {"plan_id": plan.id, "report_id": item.report_id} for item in linked])
            counts["plans"] += 1
            counts["linked_reports"] += len(linked)
            single = next(iter(served)) if len(served) == 1 else None
            for action_spec in spec.actions:
                action_owner = owner(action_spec.owner, served)
                if action_owner is None:
                    continue
                _store_action(uow, calendar, plan.id, action_spec, action_owner, single,
                              served, by_name, counts)
        uow.record(SYSTEM, "demo.activity_loaded", "activity_count", None,
                   after={"rows": len(activity), "services": len(places.services)})
        uow.record(SYSTEM, "demo.actions_loaded", "action_plan", None, after={
            key: counts[key] for key in ("plans", "actions", "evidence_checks",
                                         "checks_completed", "measures", "verdicts",
                                         "sustainment_checks", "linked_reports",
                                         "root_cause_analyses")})
        uow.commit()
    counts["activity_weeks"] = len(activity)
    return counts


_WHY_TEMPLATE = ("Because staff reported {count} near miss{es} about {theme}: each one showed "
                 "where the old way could fail before anyone was hurt.")


def _store_feedback(engine: Engine, *, now: datetime, rules: Settings) -> Counter[str]:
    """A published "what changed because you reported" update for every control that went
    live, linked to the plan's reports and the action, from the person who led the plan.

    Updates already there (a second load) are left alone; reporters are not notified (the
    demo's history is in the past)."""
    counts: Counter[str] = Counter()
    zone = rules.zone
    with UnitOfWork(engine) as uow:
        session = uow.session
        answered = set(session.scalars(select(FeedbackUpdateAction.action_id)))
        live = session.execute(
            select(Action.id, Action.title, Action.description, Action.go_live_date,
                   Action.plan_id, ActionPlan.theme, ActionPlan.created_by_id)
            .join(ActionPlan, ActionPlan.id == Action.plan_id)
            .where(Action.go_live_date.is_not(None),
                   Action.status.in_([ActionStatus.IN_TEST.value,
                                      ActionStatus.VERIFIED_EFFECTIVE.value]))
            .order_by(Action.id)).all()
        for action_id, title, description, go_live, plan_id, theme, author in live:
            if action_id in answered:
                continue
            published = to_utc(datetime.combine(go_live + timedelta(days=1), time(10)), zone)
            if published > now:
                continue
            reports = session.execute(
                select(NearMissReport.id, NearMissReport.service_id)
                .join(ActionPlanReport, ActionPlanReport.report_id == NearMissReport.id)
                .where(ActionPlanReport.plan_id == plan_id)).all()
            if not reports:
                continue
            why = _WHY_TEMPLATE.format(count=len(reports), es="" if len(reports) == 1 else "es",
                                       theme=theme.lower())
            update = FeedbackUpdate(
                title=title[:200], what_changed=description or title, why=why,
                status="published", published_at=published, published_by_id=author,
                created_by_id=author, created_at=published - timedelta(hours=2),
                updated_at=published, revision=1)
            session.add(update)
            session.flush()
            session.add(FeedbackUpdateRevision(
                update_id=update.id, revision=1, title=update.title,
                what_changed=update.what_changed, why=why, edited_by_id=author,
                edited_at=update.created_at))
            session.execute(insert(FeedbackUpdateReport.__table__), [
                {"update_id": update.id, "report_id": report_id} for report_id, _ in reports])
            session.add(FeedbackUpdateAction(update_id=update.id, action_id=action_id))
            session.execute(insert(FeedbackUpdateService.__table__), [
                {"update_id": update.id, "service_id": service_id}
                for service_id in sorted({service for _, service in reports})])
            counts["feedback_updates"] += 1
            counts["feedback_linked_reports"] += len(reports)
        uow.record(SYSTEM, "demo.feedback_loaded", "feedback_update", None,
                   after={"updates": counts["feedback_updates"],
                          "linked_reports": counts["feedback_linked_reports"]})
        uow.commit()
    return counts


def _store_action(uow: UnitOfWork, calendar: _Calendar, plan_id: int, spec: _ActionSpec,
                  owner_id: int, single: int | None, served: set[int],
                  by_name: Mapping[str, DemoService], counts: Counter[str]) -> None:
    """One action with its evidence checks, measure and sustainment check."""
    session, rules, now = uow.session, calendar.rules, calendar.now
    kind = KINDS_BY_KEY[spec.kind]
    events = [spec.created_at]
    live_at = calendar.at(spec.go_live, 9.0) if spec.go_live else None
    if live_at is not None:
        events.append(live_at)
    ended = spec.verdict_at or spec.stopped_at
    if ended is not None:
        events.append(ended)
    action = Action(
        plan_id=plan_id, title=spec.title, description=spec.description, owner_id=owner_id,
        service_id=single, deadline=spec.deadline, review_date=spec.review_date,
        status=spec.status.value, strength=kind.strength.value, strength_category=kind.key,
        go_live_date=spec.go_live, test_window_days=spec.window_days,
        created_by_id=owner_id, created_at=spec.created_at, updated_at=max(events))
    session.add(action)
    session.flush()
    counts["actions"] += 1
    # Evidence checks: the first ones done, spread from creation to the verdict (or now).
    finish = ended or (live_at + timedelta(days=2) if live_at else None) or \
        now - timedelta(hours=20)
    finish = min(finish, now - timedelta(hours=1))
    for position, name in enumerate(spec.checks):
        done = position < spec.checks_done
        at = spec.created_at + (finish - spec.created_at) * (position + 1) / (spec.checks_done + 1)
        session.add(ActionEvidenceCheck(
            action_id=action.id, position=position, name=name,
            completed_at=at.replace(microsecond=0) if done else None,
            completed_by_id=owner_id if done else None,
            note=f"Done: {name[:1].lower()}{name[1:]}." if done else None))
        counts["evidence_checks"] += 1
        counts["checks_completed"] += done
    if spec.measure is not None:
        measure = spec.measure
        if measure.services == "north":
            service_ids = tuple(sorted(s.id for s in by_name.values()
                                       if s.region == LATE_START_REGION))
        elif measure.services == "all":
            service_ids = ()
        else:
            service_ids = tuple(sorted(served))
        locations = ()
        if measure.location and len(service_ids) == 1:
            locations = tuple(p.id for s in by_name.values() if s.id == service_ids[0]
                              for p in s.places if p.spec.name == measure.location)
        filters = MeasureFilters(type_keys=measure.type_keys, service_ids=service_ids,
                                 location_ids=locations, capture=dict(measure.capture))
        row = VerificationMeasure(action_id=action.id, filters=filters.to_json(),
                                  per=measure.per, direction="decrease", target=measure.target,
                                  baseline_weeks=rules.actions.baseline_weeks)
        if spec.verdict_at is not None and spec.go_live is not None:
            # As confirm_verdict does: the numbers at the time, and the person's verdict.
            evaluation = evaluate(session, filters, per=measure.per, direction="decrease",
                                  target=measure.target, go_live=spec.go_live,
                                  window_days=spec.window_days or 0,
                                  baseline_weeks=rules.actions.baseline_weeks,
                                  today=calendar.local_day(spec.verdict_at),
                                  rules=rules.actions)
            proposal = evaluation.proposal
            row.baseline_value, row.observed_value = evaluation.baseline, evaluation.observed
            row.proposed_verdict, row.p_value = proposal.verdict, proposal.p_value
            if proposal.counts is not None:
                row.baseline_count = proposal.counts.baseline
                row.observed_count = proposal.counts.observed
            counts["verdicts"] += 1
        session.add(row)
        counts["measures"] += 1
    if spec.verdict_at is not None:
        effective = spec.status is ActionStatus.VERIFIED_EFFECTIVE
        measure_row = session.scalar(select(VerificationMeasure).where(
            VerificationMeasure.action_id == action.id)) if spec.measure else None
        if measure_row is not None:
            measure_row.confirmed_verdict = "effective" if effective else "not_effective"
            measure_row.confirmed_by_id, measure_row.confirmed_at = owner_id, spec.verdict_at
            measure_row.confirmation_note = spec.verdict_note
            if effective and measure_row.proposed_verdict != "effective":
                # As confirm_verdict requires: effective against the numbers needs a reason.
                measure_row.override_reason = ("Confirmed on the evidence checks; the counts "
                                               "alone could not tell yet.")
        if effective and spec.go_live is not None:
            # As confirm_verdict schedules it (later when verified at the second look).
            due = sustainment_date(spec.go_live, spec.window_days or 0, rules.actions)
            verified_on = calendar.local_day(spec.verdict_at)
            if due <= verified_on:
                due = verified_on + timedelta(days=rules.actions.sustainment_after_days)
            action.sustainment_check_date = due
            confirmed = calendar.at(due + timedelta(days=2), 14.0)
            sustained = confirmed <= now - timedelta(hours=1)
            session.add(SustainmentCheck(
                action_id=action.id, due_date=due,
                confirmed_at=confirmed if sustained else None,
                confirmed_by_id=owner_id if sustained else None,
                in_place=True if sustained else None, note=_SUSTAINED if sustained else None))
            counts["sustainment_checks"] += 1
    if spec.stopped_at is not None:
        # The reason lives in the audit trail, as set_status records it.
        user = session.get(User, owner_id)
        assert user is not None
        uow.record(build_actor(user), "action.status_changed", "action", action.id,
                   at=spec.stopped_at, before={"status": ActionStatus.IN_PROGRESS.value},
                   after={"status": ActionStatus.STOPPED.value, "note": spec.stop_reason})
