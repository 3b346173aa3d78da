"""Use cases of the action plan builder. Every write is audited; errors name the field.

Rules: an action has an owner who can reach the services it serves, a deadline and a review
date not in the past, and a kind on the action hierarchy. It is never "verified effective"
while an evidence check is open. After its test window the portal proposes a verdict from the
near-miss data; a person confirms it. Weeks later a supervisor confirms the control stayed in
place (seed 2, example 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from core.accounts.service import build_actor
from core.actions.measures import (
    DIRECTION_LABELS,
    PER_LABELS,
    MeasureFilters,
)
from core.actions.models import (
    Action,
    ActionEvidenceCheck,
    ActionPlan,
    ActionPlanReport,
    VerificationMeasure,
)
from core.actions.vocabulary import KINDS_BY_KEY, NEXT_STATUSES, ActionStatus, strength_warning
from core.attachments.service import keep_evidence_file
from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import Capability, can, require
from core.clock import to_local
from core.config import Settings
from core.db import storable_id
from core.errors import (
    NUL_MESSAGE,
    ConflictError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    has_nul,
)
from core.organisation.models import Service
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.review.models import RootCauseAnalysis
from core.review.responses import response_findings_for_actions
from core.triage.episodes import link_plan
from core.uow import UnitOfWork

MAX_EVIDENCE_CHECKS = 10
PLAN_SOURCES = ("report", "rca", "learning_response", "cluster")


@dataclass
class ActionDraft:
    """One action as typed in the builder."""

    title: str = ""
    description: str = ""
    kind: str | None = None  # a key of ACTION_HIERARCHY
    owner_id: int | None = None
    deadline: date | None = None
    review_date: date | None = None
    evidence_checks: list[str] = field(default_factory=list)
    verify_with_measure: bool = True
    test_window_days: int | None = None


@dataclass
class MeasureDraft:
    filters: MeasureFilters = field(default_factory=MeasureFilters)
    per: str = "week"
    direction: str = "decrease"
    target: float | None = None


@dataclass
class PlanDraft:
    """What the builder holds: the theme, its links, the actions and the measure."""

    title: str = ""
    theme: str = ""
    source: str = "report"  # one of PLAN_SOURCES
    report_references: list[str] = field(default_factory=list)
    rca_id: int | None = None
    learning_response_id: int | None = None  # source "learning_response": a completed one
    cluster_type_key: str | None = None
    cluster_service_id: int | None = None
    cluster_region_id: int | None = None
    cluster_episode_id: int | None = None  # built from this cluster episode: links it
    actions: list[ActionDraft] = field(default_factory=list)
    measure: MeasureDraft | None = None


@dataclass(frozen=True)
class PlanCreated:
    plan_id: int
    action_ids: list[int]
    warning: str | None


def _plan_services(session, reports: list[NearMissReport], draft: PlanDraft) -> set[int]:
    services = {r.service_id for r in reports}
    if draft.cluster_service_id:
        services.add(draft.cluster_service_id)
    if draft.cluster_region_id:
        services |= set(session.scalars(select(Service.id).where(
            Service.region_id == draft.cluster_region_id)))
    return services


def validate_action(draft: ActionDraft, index: int, *, today: date, owners: dict[int, Actor],
                    services: set[int], rules: Settings) -> dict[str, str]:
    """Field errors of one action (keys like "actions[2].deadline")."""
    errors: dict[str, str] = {}
    at = f"actions[{index}]"
    if not draft.title.strip():
        errors[f"{at}.title"] = "Give the action a title."
    elif len(draft.title) > 200:
        errors[f"{at}.title"] = "Keep the title to 200 characters."
    elif has_nul(draft.title):
        errors[f"{at}.title"] = NUL_MESSAGE
    if len(draft.description) > rules.report.description_max_chars:
        errors[f"{at}.description"] = (f"Keep the description to "
                                       f"{rules.report.description_max_chars} characters.")
    elif has_nul(draft.description):
        errors[f"{at}.description"] = NUL_MESSAGE
    if draft.kind not in KINDS_BY_KEY:
        errors[f"{at}.kind"] = "Choose what kind of action it is (its strength)."
    owner = owners.get(draft.owner_id or -1)
    if owner is None:
        errors[f"{at}.owner"] = "Choose an owner (an active user)."
    elif any(not owner.covers_service(s) for s in services):
        errors[f"{at}.owner"] = (f"{owner.display_name} cannot reach every service this plan "
                                 "serves; choose an owner who can.")
    if draft.deadline is None:
        errors[f"{at}.deadline"] = "Set a deadline."
    elif draft.deadline < today:
        errors[f"{at}.deadline"] = "The deadline is in the past."
    if draft.review_date is None:
        errors[f"{at}.review_date"] = "Set a review date."
    elif draft.review_date < today:
        errors[f"{at}.review_date"] = "The review date is in the past."
    checks = [c for c in draft.evidence_checks if c.strip()]
    if not checks:
        errors[f"{at}.evidence_checks"] = ("Name at least one evidence check (how you will know "
                                           "it is done).")
    elif len(checks) > MAX_EVIDENCE_CHECKS:
        errors[f"{at}.evidence_checks"] = f"Keep to {MAX_EVIDENCE_CHECKS} evidence checks."
    elif any(len(c.strip()) > 200 for c in checks):
        errors[f"{at}.evidence_checks"] = "Keep each evidence check to 200 characters."
    elif has_nul(*checks):
        errors[f"{at}.evidence_checks"] = NUL_MESSAGE
    if draft.test_window_days is not None and not 1 <= draft.test_window_days <= 365:
        errors[f"{at}.test_window_days"] = "A test window is 1 to 365 days."
    return errors


def _active_owners(session, ids: set[int], *, rules: Settings) -> dict[int, Actor]:
    ids = {i for i in ids if storable_id(i)}
    users = session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True)))
    return {u.id: build_actor(u, rules=rules) for u in users}


def create_plan(uow: UnitOfWork, actor: Actor, draft: PlanDraft, *, now: datetime,
                rules: Settings) -> PlanCreated:
    """Create a plan with its actions (and their measures) in one transaction."""
    require(actor, Capability.MANAGE_ACTIONS)
    today = to_local(now, rules.zone).date()
    with uow:
        session = uow.session
        errors: dict[str, str] = {}
        if not draft.title.strip():
            errors["title"] = "Give the plan a title."
        elif len(draft.title.strip()) > 200:
            errors["title"] = "Keep the title to 200 characters."
        elif has_nul(draft.title):
            errors["title"] = NUL_MESSAGE
        if not draft.theme.strip():
            errors["theme"] = "Say what theme or finding the plan answers."
        elif has_nul(draft.theme):
            errors["theme"] = NUL_MESSAGE
        reports = []
        for reference in dict.fromkeys(r.strip().upper() for r in draft.report_references
                                       if r.strip()):
            try:
                reports.append(get_in_scope(session, actor, reference))
            except NotFound as exc:
                errors["reports"] = str(exc)
        if not reports and draft.source != "cluster":
            errors.setdefault("reports", "Link at least one near miss.")
        if draft.rca_id is not None and (not storable_id(draft.rca_id) or session.get(
                RootCauseAnalysis, draft.rca_id) is None):
            errors["rca"] = "No such root cause analysis."
        errors.update(_source_errors(session, actor, draft))
        if not draft.actions:
            errors["actions"] = "Add at least one action."
        services = _plan_services(session, reports, draft)
        owners = _active_owners(session, {a.owner_id for a in draft.actions if a.owner_id},
                                rules=rules)
        for index, action_draft in enumerate(draft.actions):
            errors.update(validate_action(action_draft, index, today=today, owners=owners,
                                          services=services, rules=rules))
        if draft.measure is not None and any(a.verify_with_measure for a in draft.actions):
            errors.update(_measure_errors(session, draft.measure))
        if errors:
            raise ValidationFailed(errors)
        plan = ActionPlan(
            title=draft.title.strip(), theme=draft.theme.strip(), source=draft.source,
            rca_id=draft.rca_id, learning_response_id=draft.learning_response_id,
            cluster_type_key=draft.cluster_type_key,
            cluster_service_id=draft.cluster_service_id,
            cluster_region_id=draft.cluster_region_id,
            high_potential=any(r.severity == "high" for r in reports),
            clustered=draft.source == "cluster" or any(r.in_cluster for r in reports),
            created_by_id=actor.user_id, created_at=now)
        session.add(plan)
        session.flush()
        for report in reports:
            session.add(ActionPlanReport(
                plan_id=plan.id, report_id=report.id, type_key=report.type_key,
                service_id=report.service_id, location_id=report.location_id,
                person_id=report.person_id, occurred_at=report.occurred_at))
        # The cluster it was built from, and any cluster holding its reports, now has a plan.
        episodes = link_plan(uow, actor, plan.id, reports, episode_id=draft.cluster_episode_id,
                             now=now, rules=rules)
        single_service = next(iter(services)) if len(services) == 1 else None
        action_ids = [
            _add_action(uow, actor, plan, a, draft.measure, single_service, now, rules)
            for a in draft.actions]
        warning = strength_warning([a.kind or "" for a in draft.actions],
                                   high_potential=plan.high_potential, clustered=plan.clustered)
        uow.record(actor, "action_plan.created", "action_plan", plan.id, at=now, after={
            "title": plan.title, "theme": plan.theme, "source": plan.source,
            "reports": [r.reference for r in reports], "rca_id": plan.rca_id,
            "learning_response_id": plan.learning_response_id,
            "cluster": [plan.cluster_type_key, plan.cluster_service_id, plan.cluster_region_id],
            "cluster_episodes": episodes, "actions": action_ids, "strength_warning": warning})
        uow.commit()
        return PlanCreated(plan.id, action_ids, warning)


def _source_errors(session, actor: Actor, draft: PlanDraft) -> dict[str, str]:
    """A plan's source is one the builder knows; one from a learning response names a
    completed response within the actor's services."""
    if draft.source not in PLAN_SOURCES:
        return {"source": "Build the plan from a near miss, a root cause analysis, a learning "
                          "response or a cluster."}
    if draft.source != "learning_response":
        if draft.learning_response_id is not None:
            return {"learning_response": "Only a plan from a learning response names one."}
        return {}
    if draft.learning_response_id is None:
        return {"learning_response": "Name the learning response the plan comes from."}
    try:
        response_findings_for_actions(session, actor, draft.learning_response_id)
    except (NotFound, ValidationFailed) as exc:
        message = (exc.errors.get("status", str(exc)) if isinstance(exc, ValidationFailed)
                   else str(exc))
        return {"learning_response": message}
    return {}


def _measure_errors(session, measure: MeasureDraft) -> dict[str, str]:
    errors: dict[str, str] = {}
    if measure.per not in PER_LABELS:
        errors["measure.per"] = "Choose per week, per 100 visits or per 100 shifts."
    if measure.direction not in DIRECTION_LABELS:
        errors["measure.direction"] = "Choose which way is better."
    if measure.target is not None and measure.target < 0:
        errors["measure.target"] = "A target cannot be negative."
    matching = session.scalar(select(func.count()).select_from(NearMissReport).where(
        *measure.filters.conditions())) or 0
    if matching == 0:
        errors["measure.filters"] = ("This measure matches no near miss at all, so it could "
                                     "never show an effect. Widen it.")
    return errors


def _add_action(uow: UnitOfWork, actor: Actor, plan: ActionPlan, draft: ActionDraft,
                measure: MeasureDraft | None, service_id: int | None, now: datetime,
                rules: Settings) -> int:
    kind = KINDS_BY_KEY[draft.kind or ""]
    action = Action(
        plan_id=plan.id, title=draft.title.strip(), description=draft.description.strip(),
        owner_id=draft.owner_id, service_id=service_id, deadline=draft.deadline,
        review_date=draft.review_date, status=ActionStatus.PLANNED.value,
        strength=kind.strength.value, strength_category=kind.key,
        test_window_days=(draft.test_window_days or rules.actions.test_window_days)
        if draft.verify_with_measure else draft.test_window_days,
        created_by_id=actor.user_id, created_at=now, updated_at=now)
    uow.session.add(action)
    uow.session.flush()
    for position, name in enumerate(c.strip() for c in draft.evidence_checks if c.strip()):
        uow.session.add(ActionEvidenceCheck(action_id=action.id, position=position, name=name))
    if measure is not None and draft.verify_with_measure:
        uow.session.add(VerificationMeasure(
            action_id=action.id, filters=measure.filters.to_json(), per=measure.per,
            direction=measure.direction, target=measure.target,
            baseline_weeks=rules.actions.baseline_weeks))
    uow.session.flush()
    uow.record(actor, "action.created", "action", action.id, at=now, after={
        "plan_id": plan.id, "title": action.title, "owner_id": action.owner_id,
        "deadline": action.deadline, "review_date": action.review_date,
        "strength": action.strength, "kind": action.strength_category,
        "evidence_checks": [c.strip() for c in draft.evidence_checks if c.strip()],
        "measure": measure.filters.to_json() if measure and draft.verify_with_measure else None})
    return action.id


def add_actions(uow: UnitOfWork, actor: Actor, plan_id: int, drafts: list[ActionDraft],
                measure: MeasureDraft | None = None, *, now: datetime,
                rules: Settings) -> list[int]:
    """More actions for an existing plan (same checks as at creation)."""
    require(actor, Capability.MANAGE_ACTIONS)
    with uow:
        session = uow.session
        plan = plan_in_scope(session, actor, plan_id)
        reports = list(session.scalars(select(NearMissReport).join(
            ActionPlanReport, ActionPlanReport.report_id == NearMissReport.id).where(
            ActionPlanReport.plan_id == plan.id)))
        services = _plan_services(session, reports, PlanDraft(
            cluster_service_id=plan.cluster_service_id,
            cluster_region_id=plan.cluster_region_id))
        owners = _active_owners(session, {a.owner_id for a in drafts if a.owner_id},
                                rules=rules)
        errors: dict[str, str] = {}
        for index, draft in enumerate(drafts):
            errors.update(validate_action(draft, index, today=to_local(now, rules.zone).date(),
                                          owners=owners, services=services, rules=rules))
        if measure is not None:
            errors.update(_measure_errors(session, measure))
        if not drafts:
            errors["actions"] = "Add at least one action."
        if errors:
            raise ValidationFailed(errors)
        single = next(iter(services)) if len(services) == 1 else None
        ids = [_add_action(uow, actor, plan, d, measure, single, now, rules) for d in drafts]
        uow.commit()
        return ids


def plan_in_scope(session, actor: Actor, plan_id: int) -> ActionPlan:
    plan = session.get(ActionPlan, plan_id) if storable_id(plan_id) else None
    if plan is None:
        raise NotFound(f"No action plan #{plan_id} among your services.")
    report_services = set(session.scalars(select(NearMissReport.service_id).join(
        ActionPlanReport, ActionPlanReport.report_id == NearMissReport.id).where(
        ActionPlanReport.plan_id == plan_id)))
    if actor.service_ids is not None and not report_services <= actor.service_ids:
        raise NotFound(f"No action plan #{plan_id} among your services.")
    return plan


def action_for(session, actor: Actor, action_id: int, *, owner_may: bool) -> Action:
    """The action if the actor may change it: an action manager in scope, or (when allowed)
    its owner."""
    action = session.get(Action, action_id) if storable_id(action_id) else None
    if action is None:
        raise NotFound("No such action.")
    if owner_may and action.owner_id == actor.user_id:
        return action
    if not can(actor, Capability.MANAGE_ACTIONS):
        raise PermissionDenied("Only the action's owner or a lead can change it.")
    plan_in_scope(session, actor, action.plan_id)
    return action


def check_action_version(action: Action, expected_version: int | None) -> None:
    if expected_version is not None and action.version_id != expected_version:
        raise ConflictError(f"Someone else changed “{action.title}” while you had it open; it "
                            f"is now {ActionStatus(action.status).label.lower()}. Nothing was "
                            "saved over their change.")


def set_status(uow: UnitOfWork, actor: Actor, action_id: int, target: ActionStatus, *,
               note: str = "", expected_version: int | None = None,
               now: datetime) -> None:
    """Move an action on (in progress, stopped, back in progress after "not effective")."""
    with uow:
        action = action_for(uow.session, actor, action_id, owner_may=True)
        check_action_version(action, expected_version)
        current = ActionStatus(action.status)
        if target in (ActionStatus.VERIFIED_EFFECTIVE, ActionStatus.NOT_EFFECTIVE):
            raise ValidationFailed({"status": "Record the verdict after the test window "
                                              "(confirm effective or not effective)."})
        if target is ActionStatus.IN_TEST:
            raise ValidationFailed({"status": "Set the go-live date to start the test window."})
        if target not in NEXT_STATUSES[current]:
            raise ValidationFailed({"status": f"An action that is {current.label.lower()} "
                                              f"cannot become {target.label.lower()}."})
        if target is ActionStatus.STOPPED and not note.strip():
            raise ValidationFailed({"note": "Say why the action is stopped."})
        action.status, action.updated_at = target.value, now
        uow.record(actor, "action.status_changed", "action", action.id, at=now,
                   before={"status": current.value},
                   after={"status": target.value, "note": note.strip() or None})
        uow.commit()


def set_go_live(uow: UnitOfWork, actor: Actor, action_id: int, go_live: date, *,
                expected_version: int | None = None, now: datetime,
                rules: Settings) -> date:
    """The control went live: the test window starts; returns the window's end."""
    with uow:
        action = action_for(uow.session, actor, action_id, owner_may=True)
        check_action_version(action, expected_version)
        current = ActionStatus(action.status)
        if ActionStatus.IN_TEST not in NEXT_STATUSES[current]:
            raise ValidationFailed({"go_live": f"An action that is {current.label.lower()} "
                                               "cannot start a test window."})
        if go_live > to_local(now, rules.zone).date() + timedelta(days=60):
            raise ValidationFailed({"go_live": "Set the go-live date when the control is about "
                                               "to go live (within 60 days)."})
        action.go_live_date = go_live
        action.test_window_days = action.test_window_days or rules.actions.test_window_days
        action.status, action.updated_at = ActionStatus.IN_TEST.value, now
        uow.record(actor, "action.went_live", "action", action.id, at=now,
                   before={"status": current.value},
                   after={"status": ActionStatus.IN_TEST.value, "go_live": go_live,
                          "test_window_days": action.test_window_days})
        uow.commit()
        return go_live + timedelta(days=action.test_window_days)


def complete_evidence_check(uow: UnitOfWork, actor: Actor, check_id: int, *, note: str,
                            file: tuple[str, bytes] | None = None,
                            now: datetime, rules: Settings) -> None:
    """Complete a named evidence check: who, when, a note, and maybe a file."""
    with uow:
        session = uow.session
        check = session.get(ActionEvidenceCheck, check_id) if storable_id(check_id) else None
        if check is None:
            raise NotFound("No such evidence check.")
        action = action_for(session, actor, check.action_id, owner_may=True)
        if not note.strip():  # checked after the permission: a refusal says nothing else
            raise ValidationFailed({"note": "Describe the evidence (what was checked, seen "
                                            "or done)."})
        if not ActionStatus(action.status).open:
            raise ValidationFailed({"note": "The action is closed; its evidence is final."})
        attachment_id = None
        if file is not None:
            attachment_id = keep_evidence_file(session, actor, file, report_id=None, now=now,
                                               rules=rules).id
        before = {"completed_at": check.completed_at, "note": check.note}
        check.completed_at, check.completed_by_id, check.note = now, actor.user_id, note.strip()
        if attachment_id is not None:
            check.attachment_id = attachment_id
        if action.status == ActionStatus.PLANNED.value:
            action.status = ActionStatus.IN_PROGRESS.value  # work has visibly started
        action.updated_at = now
        uow.record(actor, "action.evidence_checked", "action", action.id, at=now, before=before,
                   after={"check": check.name, "note": check.note,
                          "attachment_id": check.attachment_id})
        uow.commit()
