"""Read side of actions: the register (with overdue and due-soon), a plan in full, and the
builder's proposals from a report, a root cause analysis or a cluster."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.accounts.service import build_actor
from core.actions.episodes import (
    EpisodeView,
    episode_totals,
    kept_for_the_session,
    list_episodes,
    plan_links,
)
from core.actions.measures import (
    Evaluation,
    MeasureFilters,
    MeasureToEvaluate,
    evaluate_each,
)
from core.actions.models import (
    Action,
    ActionEvidenceCheck,
    ActionPlan,
    ActionPlanReport,
    SustainmentCheck,
    VerificationMeasure,
)
from core.actions.service import plan_in_scope
from core.actions.vocabulary import KINDS_BY_KEY, ActionStatus, Strength, strength_warning
from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import Capability, can, require
from core.clock import to_local
from core.config import Settings
from core.errors import NotFound
from core.organisation.models import Location, Service
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.review.rca import rca_findings_for_actions
from core.review.responses import response_findings_for_actions
from core.taxonomy.models import NearMissType


def deadline_state(deadline: date, status: ActionStatus, today: date,
                   due_soon_days: int) -> str | None:
    """"overdue", "due_soon" or None: only open actions are late."""
    if status not in (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS):
        return None
    if deadline < today:
        return "overdue"
    if deadline <= today + timedelta(days=due_soon_days):
        return "due_soon"
    return None


def week_bounds(today: date) -> tuple[date, date]:
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


@dataclass(frozen=True)
class RegisterFilters:
    owner_ids: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    service_ids: tuple[int, ...] = ()
    strengths: tuple[str, ...] = ()
    overdue_only: bool = False
    review_this_week: bool = False
    plan_id: int | None = None  # one plan's actions (its page)


@dataclass(frozen=True)
class RegisterRow:
    id: int
    plan_id: int
    plan_title: str
    title: str
    owner: str
    owner_id: int
    service: str | None
    deadline: date
    review_date: date
    status: ActionStatus
    strength: Strength
    kind: str
    go_live: date | None
    window_end: date | None
    sustainment_due: date | None
    checks_done: int
    checks_total: int
    deadline_state: str | None
    review_due_this_week: bool
    version: int


def _visible(actor: Actor):
    """Provider-wide actions and those of the actor's services; an owner always sees theirs."""
    if actor.service_ids is None:
        return Action.id.is_not(None)
    return or_(Action.service_id.is_(None), Action.service_id.in_(actor.service_ids),
               Action.owner_id == actor.user_id)


REGISTER_LIMIT = 500  # rows a page shows; counts and downloads cover every match

_LATE_STATUSES = (ActionStatus.PLANNED.value, ActionStatus.IN_PROGRESS.value)
_OPEN_STATUSES = tuple(s.value for s in ActionStatus if s.open)


def _register_conditions(actor: Actor, filters: RegisterFilters, today: date,
                         ) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_visible(actor)]
    if filters.owner_ids:
        conditions.append(Action.owner_id.in_(filters.owner_ids))
    if filters.statuses:
        conditions.append(Action.status.in_(filters.statuses))
    if filters.service_ids:
        conditions.append(Action.service_id.in_(filters.service_ids))
    if filters.strengths:
        conditions.append(Action.strength.in_(filters.strengths))
    if filters.plan_id is not None:
        conditions.append(Action.plan_id == filters.plan_id)
    if filters.overdue_only:
        conditions += [Action.deadline < today, Action.status.in_(_LATE_STATUSES)]
    if filters.review_this_week:
        _monday, sunday = week_bounds(today)
        conditions += [Action.review_date <= sunday,
                       Action.status.in_(_OPEN_STATUSES)]
    return conditions


@dataclass(frozen=True)
class RegisterCounts:
    """How many actions match a register's filters, and how many are in each state."""

    total: int
    open: int
    overdue: int
    due_soon: int
    in_test: int
    verified_effective: int


def register_counts(session: Session, actor: Actor, filters: RegisterFilters, *, today: date,
                    rules: Settings) -> RegisterCounts:
    """The register's figures over every matching action (the page shows a limited list)."""
    require(actor, Capability.VIEW_ACTIONS)
    late = Action.status.in_(_LATE_STATUSES)
    soon = today + timedelta(days=rules.actions.due_soon_days)

    def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(case((condition, 1)))

    row = session.execute(select(
        func.count(),
        count_where(Action.status.in_(_OPEN_STATUSES)),
        count_where(late & (Action.deadline < today)),
        count_where(late & (Action.deadline >= today) & (Action.deadline <= soon)),
        count_where(Action.status == ActionStatus.IN_TEST.value),
        count_where(Action.status == ActionStatus.VERIFIED_EFFECTIVE.value),
    ).select_from(Action).where(*_register_conditions(actor, filters, today))).one()
    return RegisterCounts(*(int(value or 0) for value in row))


def register_choices(session: Session, actor: Actor) -> tuple[dict[int, str], dict[int, str]]:
    """The owners and services the actor's register holds, for its filters (by name)."""
    require(actor, Capability.VIEW_ACTIONS)
    visible = _visible(actor)
    owners = dict(session.execute(
        select(User.id, User.display_name).where(
            User.id.in_(select(Action.owner_id).where(visible)))
        .order_by(User.display_name)).all())
    services = dict(session.execute(
        select(Service.id, Service.name).where(
            Service.id.in_(select(Action.service_id).where(visible)))
        .order_by(Service.name)).all())
    return owners, services


def register(session: Session, actor: Actor, filters: RegisterFilters, *, today: date,
             rules: Settings, limit: int | None = REGISTER_LIMIT,
             ) -> list[RegisterRow]:
    """The action register: overdue first, then the rest of the open ones by deadline, then
    the finished ones, latest deadline first; at most `limit` (None: all)."""
    require(actor, Capability.VIEW_ACTIONS)
    checks = (select(ActionEvidenceCheck.action_id,
                     func.count().label("total"),
                     func.count(ActionEvidenceCheck.completed_at).label("done"))
              .group_by(ActionEvidenceCheck.action_id).subquery())
    pending_sustainment = (select(SustainmentCheck.action_id,
                                  func.min(SustainmentCheck.due_date).label("due"))
                           .where(SustainmentCheck.confirmed_at.is_(None))
                           .group_by(SustainmentCheck.action_id).subquery())
    # In SQL, so that a limit drops the oldest finished actions, never open work.
    is_open = Action.status.in_(_OPEN_STATUSES)
    overdue = Action.status.in_(_LATE_STATUSES) & (Action.deadline < today)
    # The columns a row needs, not Action entities: 500 of them took 10 ms to build and track.
    query = (
        select(Action.id, Action.plan_id, Action.title, Action.owner_id, Action.deadline,
               Action.review_date, Action.status, Action.strength, Action.strength_category,
               Action.go_live_date, Action.test_window_days, Action.version_id,
               ActionPlan.title.label("plan_title"), User.display_name.label("owner"),
               Service.name.label("service"), checks.c.total, checks.c.done,
               pending_sustainment.c.due.label("sustainment_due"))
        .join(ActionPlan, ActionPlan.id == Action.plan_id)
        .join(User, User.id == Action.owner_id)
        .outerjoin(Service, Service.id == Action.service_id)
        .outerjoin(checks, checks.c.action_id == Action.id)
        .outerjoin(pending_sustainment, pending_sustainment.c.action_id == Action.id)
        .where(*_register_conditions(actor, filters, today))
        .order_by(case((overdue, 0), (is_open, 1), else_=2),
                  case((is_open, Action.deadline)), Action.deadline.desc(), Action.id)
        .limit(limit)
    )
    _monday, sunday = week_bounds(today)
    rows = []
    for action in session.execute(query):  # a row: the action's columns, then the rest
        status = ActionStatus(action.status)
        window_end = (action.go_live_date + timedelta(days=action.test_window_days or 0)
                      if action.go_live_date else None)
        rows.append(RegisterRow(
            id=action.id, plan_id=action.plan_id, plan_title=action.plan_title,
            title=action.title, owner=action.owner, owner_id=action.owner_id,
            service=action.service, deadline=action.deadline,
            review_date=action.review_date, status=status, strength=Strength(action.strength),
            kind=KINDS_BY_KEY[action.strength_category].label
            if action.strength_category in KINDS_BY_KEY else action.strength_category,
            go_live=action.go_live_date, window_end=window_end,
            sustainment_due=action.sustainment_due, checks_done=action.done or 0,
            checks_total=action.total or 0,
            deadline_state=deadline_state(action.deadline, status, today,
                                          rules.actions.due_soon_days),
            review_due_this_week=status.open and action.review_date <= sunday,
            version=action.version_id))
    return rows


@dataclass(frozen=True)
class CheckView:
    id: int
    name: str
    completed_at: datetime | None
    completed_by: str | None
    note: str | None


@dataclass(frozen=True)
class SustainmentView:
    id: int
    due_date: date
    confirmed_at: datetime | None
    confirmed_by: str | None
    in_place: bool | None
    note: str | None


@dataclass(frozen=True)
class ActionView:
    row: RegisterRow
    description: str
    checks: list[CheckView]
    measure: VerificationMeasure | None
    evaluation: Evaluation | None
    sustainment: list[SustainmentView]


@dataclass(frozen=True)
class PlanDetail:
    plan: ActionPlan
    created_by: str
    reports: list[tuple[str, str, str, str]]  # reference, type, where, status
    actions: list[ActionView]
    warning: str | None


def plan_detail(session: Session, actor: Actor, plan_id: int, *, today: date,
                rules: Settings) -> PlanDetail:
    """A plan with its reports, actions, evidence checks, measures and their evaluation."""
    require(actor, Capability.VIEW_ACTIONS)
    plan = plan_in_scope(session, actor, plan_id)
    rows = register(session, actor, RegisterFilters(plan_id=plan_id), today=today, rules=rules,
                    limit=None)
    ids = [r.id for r in rows]
    names = dict(session.execute(select(User.id, User.display_name)).all())
    checks: dict[int, list[CheckView]] = defaultdict(list)
    for check in session.scalars(select(ActionEvidenceCheck).where(
            ActionEvidenceCheck.action_id.in_(ids)).order_by(ActionEvidenceCheck.position)):
        checks[check.action_id].append(CheckView(check.id, check.name, check.completed_at,
                                                 names.get(check.completed_by_id or 0),
                                                 check.note))
    measures = {m.action_id: m for m in session.scalars(select(VerificationMeasure).where(
        VerificationMeasure.action_id.in_(ids)))}
    sustainment: dict[int, list[SustainmentView]] = defaultdict(list)
    for item in session.scalars(select(SustainmentCheck).where(
            SustainmentCheck.action_id.in_(ids)).order_by(SustainmentCheck.due_date)):
        sustainment[item.action_id].append(SustainmentView(
            item.id, item.due_date, item.confirmed_at, names.get(item.confirmed_by_id or 0),
            item.in_place, item.note))
    descriptions = dict(session.execute(select(Action.id, Action.description).where(
        Action.id.in_(ids))).all())
    # Each live action's measure, evaluated together (`evaluate_each`).
    evaluated = [(row.id, MeasureToEvaluate.of(
        measure, row.go_live, (row.window_end - row.go_live).days if row.window_end else 0))
        for row in rows if (measure := measures.get(row.id)) is not None
        and row.go_live is not None]
    evaluations = dict(zip([action_id for action_id, _ in evaluated], evaluate_each(
        session, [asked for _, asked in evaluated], today=today, rules=rules), strict=True))
    actions = [ActionView(row, descriptions.get(row.id, ""), checks[row.id],
                          measures.get(row.id), evaluations.get(row.id), sustainment[row.id])
               for row in rows]
    reports = [
        (ref, type_name, f"{service} · {location}", status)
        for ref, type_name, service, location, status in session.execute(
            select(NearMissReport.reference, NearMissType.name, Service.name, Location.name,
                   NearMissReport.status)
            .join(ActionPlanReport, ActionPlanReport.report_id == NearMissReport.id)
            .join(NearMissType, NearMissType.key == NearMissReport.type_key)
            .join(Service, Service.id == NearMissReport.service_id)
            .join(Location, Location.id == NearMissReport.location_id)
            .where(ActionPlanReport.plan_id == plan_id).order_by(NearMissReport.occurred_at))]
    warning = strength_warning([session.get(Action, i).strength_category for i in ids],
                               high_potential=plan.high_potential, clustered=plan.clustered)
    return PlanDetail(plan, names.get(plan.created_by_id, "?"), reports, actions, warning)


# -- the builder's proposals -------------------------------------------------------------------

@dataclass(frozen=True)
class PlanProposal:
    """What the builder opens with: links, a title, a theme and a measure matching it."""

    source: str
    title: str
    theme: str
    references: list[str]
    rca_id: int | None = None
    learning_response_id: int | None = None
    cluster_type_key: str | None = None
    cluster_service_id: int | None = None
    cluster_region_id: int | None = None
    cluster_episode_id: int | None = None
    measure: MeasureFilters = field(default_factory=MeasureFilters)
    high_potential: bool = False
    clustered: bool = False


def proposal_from_report(session: Session, actor: Actor, reference: str) -> PlanProposal:
    """A plan for one report: its type in its service (and location, for a repeat)."""
    require(actor, Capability.MANAGE_ACTIONS)
    report = get_in_scope(session, actor, reference)
    type_name = session.get(NearMissType, report.type_key).name  # type: ignore[union-attr]
    service = session.get(Service, report.service_id)
    location = session.get(Location, report.location_id)
    capture = {}
    source = (report.capture_fields or {}).get("source_of_discrepancy")
    if source:
        capture["source_of_discrepancy"] = source
    measure = MeasureFilters(
        type_keys=(report.type_key,), service_ids=(report.service_id,),
        location_ids=(report.location_id,) if report.is_repeat else (), capture=capture)
    where = f"{location.name}, {service.name}" if report.is_repeat and location and service \
        else (service.name if service else "")
    return PlanProposal(
        source="report", title=f"{type_name}: {where}", theme=report.description[:500],
        references=[report.reference], measure=measure,
        high_potential=report.severity == "high", clustered=report.in_cluster)


def proposal_from_rca(session: Session, actor: Actor, rca_id: int) -> PlanProposal:
    """A plan from a completed root cause analysis: its findings and its reports."""
    require(actor, Capability.MANAGE_ACTIONS)
    findings = rca_findings_for_actions(session, actor, rca_id)
    reports = list(session.scalars(select(NearMissReport).where(
        NearMissReport.id.in_(findings.report_ids))))
    return PlanProposal(
        source="rca", title=findings.title, theme=findings.findings or findings.title,
        references=list(findings.references), rca_id=findings.rca_id,
        measure=_measure_of(reports), high_potential=any(r.severity == "high" for r in reports),
        clustered=any(r.in_cluster for r in reports))


def _measure_of(reports: list[NearMissReport]) -> MeasureFilters:
    """The reports' types, and their source of discrepancy when they all share one."""
    types = tuple(sorted({r.type_key for r in reports}))
    sources = {(r.capture_fields or {}).get("source_of_discrepancy") for r in reports} - {None}
    return MeasureFilters(type_keys=types,
                          capture={"source_of_discrepancy": sources.pop()}
                          if len(sources) == 1 else {})


def proposal_from_learning_response(session: Session, actor: Actor,
                                    response_id: int) -> PlanProposal:
    """A plan from a completed learning response (huddle, review, investigation): its
    findings as the theme and its reports linked, as for a root cause analysis."""
    require(actor, Capability.MANAGE_ACTIONS)
    findings = response_findings_for_actions(session, actor, response_id)
    reports = list(session.scalars(select(NearMissReport).where(
        NearMissReport.id.in_(findings.report_ids))))
    return PlanProposal(
        source="learning_response", title=findings.title, theme=findings.theme,
        references=list(findings.references), learning_response_id=findings.response_id,
        measure=_measure_of(reports), high_potential=any(r.severity == "high" for r in reports),
        clustered=any(r.in_cluster for r in reports))


# A cluster as the builder and the "what changed" updates take it: one episode.
ClusterTheme = EpisodeView


def current_clusters(session: Session, actor: Actor, *, now: datetime, rules: Settings,
                     days: int = 42, with_references: bool = True,
                     latest: int = 0) -> list[ClusterTheme]:
    """Cluster episodes that fired in the last weeks: open ones first (core.triage.episodes).
    `with_references` and `latest` as in `list_episodes`."""
    require(actor, Capability.VIEW_BOARD)
    today = to_local(now, rules.zone).date()
    return list_episodes(session, actor, start=today - timedelta(days=days), today=today,
                         rules=rules, with_references=with_references, latest=latest)


def cluster_totals(session: Session, actor: Actor, *, now: datetime, rules: Settings,
                   days: int = 42) -> tuple[int, int]:
    """Of the episodes `current_clusters` lists, how many are open and how many in all."""
    require(actor, Capability.VIEW_BOARD)
    today = to_local(now, rules.zone).date()
    return episode_totals(session, actor, start=today - timedelta(days=days))


def proposal_from_cluster(session: Session, actor: Actor, type_key: str, scope: str,
                          scope_id: int, *, now: datetime,
                          episode_id: int | None = None, rules: Settings) -> PlanProposal:
    """A plan for a cluster episode (by its id, else the latest of that type and scope): its
    type in its service or region, all its reports linked; creating the plan links it."""
    require(actor, Capability.MANAGE_ACTIONS)
    theme = next((t for t in current_clusters(session, actor, now=now, rules=rules)
                  if (t.episode_id == episode_id if episode_id is not None
                      else (t.type_key, t.scope, t.scope_id) == (type_key, scope, scope_id))),
                 None)
    if theme is None:
        raise NotFound("That cluster is not among your services any more.")
    type_key, scope, scope_id = theme.type_key, theme.scope, theme.scope_id
    service_ids: tuple[int, ...]
    if scope == "region":
        service_ids = tuple(session.scalars(select(Service.id).where(
            Service.region_id == scope_id)))
    else:
        service_ids = (scope_id,)
    return PlanProposal(
        source="cluster",
        title=f"Cluster: {theme.type_name} in {theme.scope_name} ({len(theme.references)} "
              f"reports, {theme.start:%d %b}–{theme.end:%d %b})",
        theme=f"A cluster of {theme.type_name.lower()} near misses in {theme.scope_name}.",
        references=list(theme.references), cluster_type_key=type_key,
        cluster_episode_id=theme.episode_id,
        cluster_service_id=scope_id if scope == "service" else None,
        cluster_region_id=scope_id if scope == "region" else None,
        measure=MeasureFilters(type_keys=(type_key,), service_ids=service_ids),
        clustered=True,
        high_potential=bool(session.scalar(select(func.count()).where(
            NearMissReport.reference.in_(theme.references), NearMissReport.severity == "high"))))



def plan_types(session: Session) -> dict[int, frozenset[str]]:
    """Each action plan's near-miss types: its reports' and its cluster's. Kept for the
    session, as the plans' links are (the evidence page's register and its evidence per
    action both ask)."""
    def read() -> dict[int, frozenset[str]]:
        types: dict[int, set[str]] = {}
        for plan_id, type_key, _service, _occurred in plan_links(session):
            types.setdefault(plan_id, set()).add(type_key)
        for plan_id, type_key in session.execute(
                select(ActionPlan.id, ActionPlan.cluster_type_key)
                .where(ActionPlan.cluster_type_key.is_not(None))):
            types.setdefault(plan_id, set()).add(type_key)
        return {plan_id: frozenset(keys) for plan_id, keys in types.items()}

    return kept_for_the_session(session, "plan types", read)


# -- small reads for the pages: owners to choose from, the reports a plan links, plans of a report

@dataclass(frozen=True)
class OwnerChoice:
    """An active user who could own an action (core still checks they reach its services)."""

    id: int
    name: str
    services: str  # "all services" or the names of theirs
    service_ids: frozenset[int] | None

    @property
    def label(self) -> str:
        return f"{self.name} · {self.services}"

    def reaches(self, service_ids: set[int]) -> bool:
        return self.service_ids is None or service_ids <= self.service_ids


def owner_choices(session: Session, actor: Actor, *, rules: Settings) -> list[OwnerChoice]:
    """Active users who may see the action register, by name (owners of actions)."""
    require(actor, Capability.VIEW_ACTIONS)
    names = dict(session.execute(select(Service.id, Service.name)).all())
    choices = []
    for user in session.scalars(select(User).where(User.active.is_(True))
                                .order_by(User.display_name, User.id)):
        owner = build_actor(user, rules=rules)
        if not can(owner, Capability.VIEW_ACTIONS):
            continue
        services = ("all services" if owner.service_ids is None else
                    ", ".join(sorted(names.get(i, "?") for i in owner.service_ids))
                    or "no services")
        choices.append(OwnerChoice(user.id, user.display_name, services, owner.service_ids))
    return choices


@dataclass(frozen=True)
class LinkedReport:
    id: int
    reference: str
    type_name: str
    service_id: int
    where: str
    occurred_at: datetime
    status: str
    high_potential: bool
    clustered: bool


def linked_reports(session: Session, actor: Actor, references: list[str],
                   ) -> tuple[list[LinkedReport], list[str]]:
    """The linked reports the actor may open (a role that opens near-miss reports, and a
    service of theirs: a supervisor sees their own services' only), and the references not
    listed. Anyone else who sees the action register gets none of them."""
    require(actor, Capability.VIEW_ACTIONS)
    may_open = can(actor, Capability.VIEW_REPORT)
    found: list[LinkedReport] = []
    missing: list[str] = []
    for reference in dict.fromkeys(r.strip().upper() for r in references if r.strip()):
        try:
            if not may_open:
                raise NotFound(reference)
            report = get_in_scope(session, actor, reference)
        except NotFound:
            missing.append(reference)
            continue
        type_ = session.get(NearMissType, report.type_key)
        service = session.get(Service, report.service_id)
        location = session.get(Location, report.location_id)
        found.append(LinkedReport(
            report.id, report.reference, type_.name if type_ else report.type_key,
            report.service_id, f"{service.name if service else '?'} · "
                               f"{location.name if location else '?'}",
            report.occurred_at, report.status, report.severity == "high", report.in_cluster))
    return found, missing


def plans_for_report(session: Session, actor: Actor, reference: str) -> list[tuple[int, str]]:
    """The action plans serving a report: (plan id, title), newest first."""
    require(actor, Capability.VIEW_ACTIONS)
    report = get_in_scope(session, actor, reference)
    return [(plan_id, title) for plan_id, title in session.execute(
        select(ActionPlan.id, ActionPlan.title)
        .join(ActionPlanReport, ActionPlanReport.plan_id == ActionPlan.id)
        .where(ActionPlanReport.report_id == report.id)
        .order_by(ActionPlan.id.desc()))]
