"""Read side of "what changed because you reported": the bulletin, a reporter's updates,
the editor's lists, and published updates in a period (for the commissioner pack)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from core.actions.models import Action, ActionPlan, ActionPlanReport
from core.actions.queries import current_clusters
from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import Capability, can, require
from core.auth.roles import Role
from core.clock import to_local
from core.config import Settings
from core.errors import PermissionDenied
from core.escalation.models import Notification
from core.feedback.models import (
    FeedbackUpdate,
    FeedbackUpdateAction,
    FeedbackUpdateReport,
    FeedbackUpdateRevision,
    FeedbackUpdateRole,
    FeedbackUpdateService,
    FeedbackUpdateTheme,
)
from core.feedback.service import (
    NOTIFICATION_KIND,
    PUBLISHED,
    ThemeDraft,
    told_user_ids,
    update_in_scope,
)
from core.organisation.models import Region, Service
from core.reports.models import NearMissReport
from core.taxonomy.models import NearMissType
from core.weeks import local_midnight_utc

# -- who sees what ---------------------------------------------------------------------------


def for_services(service_ids: Iterable[int] | None) -> ColumnElement[bool]:
    """Updates aimed at any of these services, or at every service (none listed)."""
    if service_ids is None:
        return FeedbackUpdate.id.is_not(None)
    targeted = select(FeedbackUpdateService.update_id)
    ours = select(FeedbackUpdateService.update_id).where(
        FeedbackUpdateService.service_id.in_(list(service_ids)))
    return or_(FeedbackUpdate.id.not_in(targeted), FeedbackUpdate.id.in_(ours))


def _for_roles(roles: Iterable[Role]) -> ColumnElement[bool]:
    """Updates aimed at any of these roles, or at every role (none listed)."""
    targeted = select(FeedbackUpdateRole.update_id)
    ours = select(FeedbackUpdateRole.update_id).where(
        FeedbackUpdateRole.role.in_([r.value for r in roles]))
    return or_(FeedbackUpdate.id.not_in(targeted), FeedbackUpdate.id.in_(ours))


def visible_to(actor: Actor) -> list[ColumnElement[bool]]:
    """The published updates a member of staff sees on the bulletin: their services (or
    provider-wide) and their roles (or everyone)."""
    return [FeedbackUpdate.status == PUBLISHED, for_services(actor.service_ids),
            _for_roles(actor.roles)]


def _from_reports_of(user_id: int | None) -> ColumnElement[bool]:
    """Updates linked to a report this user filed under their name."""
    return FeedbackUpdate.id.in_(
        select(FeedbackUpdateReport.update_id)
        .join(NearMissReport, NearMissReport.id == FeedbackUpdateReport.report_id)
        .where(NearMissReport.reporter_id == user_id))


# -- the bulletin ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BulletinItem:
    id: int
    title: str
    what_changed: str
    why: str
    published_at: datetime
    services: list[str]  # empty: every service
    roles: list[str]  # role labels; empty: everyone
    report_count: int
    actions: list[str]
    themes: list[str]
    from_your_reports: bool


def _names_by_update(session: Session, ids: list[int]) -> dict[str, dict[int, list]]:
    """Services, roles, report counts, actions and themes of several updates at once."""
    found: dict[str, dict[int, list]] = {k: defaultdict(list) for k in (
        "services", "roles", "reports", "actions", "themes")}
    if not ids:
        return found
    for uid, name in session.execute(
            select(FeedbackUpdateService.update_id, Service.name)
            .join(Service, Service.id == FeedbackUpdateService.service_id)
            .where(FeedbackUpdateService.update_id.in_(ids)).order_by(Service.name)):
        found["services"][uid].append(name)
    for uid, role in session.execute(
            select(FeedbackUpdateRole.update_id, FeedbackUpdateRole.role)
            .where(FeedbackUpdateRole.update_id.in_(ids))):
        if role in Role._value2member_map_:
            found["roles"][uid].append(Role(role).label)
    for uid, count in session.execute(
            select(FeedbackUpdateReport.update_id, func.count())
            .where(FeedbackUpdateReport.update_id.in_(ids))
            .group_by(FeedbackUpdateReport.update_id)):
        found["reports"][uid] = [count]
    for uid, title in session.execute(
            select(FeedbackUpdateAction.update_id, Action.title)
            .join(Action, Action.id == FeedbackUpdateAction.action_id)
            .where(FeedbackUpdateAction.update_id.in_(ids)).order_by(Action.id)):
        found["actions"][uid].append(title)
    for theme in session.scalars(select(FeedbackUpdateTheme).where(
            FeedbackUpdateTheme.update_id.in_(ids)).order_by(FeedbackUpdateTheme.id)):
        found["themes"][theme.update_id].append(theme_label(
            session, ThemeDraft(theme.type_key, theme.service_id, theme.region_id)))
    return found


def bulletin(session: Session, actor: Actor, *, service_ids: Iterable[int] = (),
             limit: int = 50) -> list[BulletinItem]:
    """The latest published updates this person sees, newest first; optionally only those
    affecting some services (provider-wide updates affect every service)."""
    require(actor, Capability.VIEW_BULLETIN)
    query = select(FeedbackUpdate).where(*visible_to(actor))
    chosen = list(service_ids)
    if chosen:
        query = query.where(for_services(chosen))
    updates = list(session.scalars(query.order_by(FeedbackUpdate.published_at.desc(),
                                                  FeedbackUpdate.id.desc()).limit(limit)))
    ids = [u.id for u in updates]
    names = _names_by_update(session, ids)
    mine = set(session.scalars(select(FeedbackUpdate.id).where(
        FeedbackUpdate.id.in_(ids), _from_reports_of(actor.user_id)))) if ids else set()
    return [BulletinItem(
        id=u.id, title=u.title, what_changed=u.what_changed, why=u.why,
        published_at=u.published_at or u.updated_at, services=names["services"][u.id],
        roles=names["roles"][u.id], report_count=(names["reports"][u.id] or [0])[0],
        actions=names["actions"][u.id], themes=names["themes"][u.id],
        from_your_reports=u.id in mine) for u in updates]


def quarter_bounds(day: date) -> tuple[date, date]:
    """The first day of the quarter a day falls in, and of the next quarter."""
    start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    end = (date(start.year + 1, 1, 1) if start.month == 10
           else date(start.year, start.month + 3, 1))
    return start, end


@dataclass(frozen=True)
class QuarterCount:
    start: date
    end: date  # exclusive
    changes: int  # published updates this person sees, this quarter
    from_your_reports: int  # of all published this quarter, those linked to their own reports


def changes_this_quarter(session: Session, actor: Actor, *, today: date,
                         rules: Settings) -> QuarterCount:
    """'Changes made because you reported' this quarter (local calendar quarter)."""
    require(actor, Capability.VIEW_BULLETIN)
    start, end = quarter_bounds(today)
    in_quarter = [FeedbackUpdate.status == PUBLISHED,
                  FeedbackUpdate.published_at >= local_midnight_utc(start, rules.zone),
                  FeedbackUpdate.published_at < local_midnight_utc(end, rules.zone)]
    changes = session.scalar(select(func.count()).select_from(FeedbackUpdate).where(
        *in_quarter, *visible_to(actor))) or 0
    yours = session.scalar(select(func.count()).select_from(FeedbackUpdate).where(
        *in_quarter, _from_reports_of(actor.user_id))) or 0
    return QuarterCount(start, end, changes, yours)


def bulletin_services(session: Session, actor: Actor) -> list[tuple[int, str]]:
    """Services to filter the bulletin by: the actor's own (every service for org-wide roles)."""
    require(actor, Capability.VIEW_BULLETIN)
    query = select(Service.id, Service.name).where(Service.active.is_(True))
    if actor.service_ids is not None:
        query = query.where(Service.id.in_(actor.service_ids))
    return [(i, n) for i, n in session.execute(query.order_by(Service.name))]


# -- a reporter's own reports ----------------------------------------------------------------


@dataclass(frozen=True)
class ReportUpdate:
    """A published update linked to one of the reporter's reports."""

    update_id: int
    title: str
    what_changed: str
    why: str
    published_at: datetime
    unread: bool  # the reporter has not marked its notification read yet


def my_reports_told(session: Session, actor: Actor) -> int:
    """How many of the actor's named reports have a published "what changed" update."""
    require(actor, Capability.VIEW_OWN_REPORTS)
    return session.scalar(
        select(func.count(func.distinct(FeedbackUpdateReport.report_id)))
        .join(NearMissReport, NearMissReport.id == FeedbackUpdateReport.report_id)
        .join(FeedbackUpdate, FeedbackUpdate.id == FeedbackUpdateReport.update_id)
        .where(NearMissReport.reporter_id == actor.user_id,
               FeedbackUpdate.status == PUBLISHED)) or 0


def updates_for_my_reports(session: Session, actor: Actor,
                           references: Collection[str] | None = None,
                           ) -> dict[str, list[ReportUpdate]]:
    """Published updates linked to each report the actor filed under their name, by reference
    (newest first); only those of `references` when given (the reports on screen). Their own
    report: they see it whoever the update was aimed at."""
    require(actor, Capability.VIEW_OWN_REPORTS)
    query = (
        select(NearMissReport.reference, NearMissReport.id, FeedbackUpdate)
        .join(FeedbackUpdateReport, FeedbackUpdateReport.report_id == NearMissReport.id)
        .join(FeedbackUpdate, FeedbackUpdate.id == FeedbackUpdateReport.update_id)
        .where(NearMissReport.reporter_id == actor.user_id,
               FeedbackUpdate.status == PUBLISHED)
        .order_by(FeedbackUpdate.published_at.desc(), FeedbackUpdate.id.desc()))
    if references is not None:
        query = query.where(NearMissReport.reference.in_(list(references)))
    rows = session.execute(query).all()
    unread_reports = set(session.scalars(select(Notification.report_id).where(
        Notification.user_id == actor.user_id, Notification.kind == NOTIFICATION_KIND,
        Notification.read_at.is_(None))))
    found: dict[str, list[ReportUpdate]] = defaultdict(list)
    for reference, report_id, update in rows:
        found[reference].append(ReportUpdate(
            update.id, update.title, update.what_changed, update.why,
            update.published_at or update.updated_at, report_id in unread_reports))
    return dict(found)


def unread_feedback_notifications(session: Session, actor: Actor) -> list[int]:
    """Ids of the actor's unread "what changed" notifications (to mark them read)."""
    return list(session.scalars(select(Notification.id).where(
        Notification.user_id == actor.user_id, Notification.kind == NOTIFICATION_KIND,
        Notification.read_at.is_(None)).order_by(Notification.id)))


# -- the editor ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateSummary:
    id: int
    title: str
    status: str
    revision: int
    updated_at: datetime
    published_at: datetime | None
    report_count: int
    services: list[str]


def _in_scope_ids(session: Session, actor: Actor) -> list[int]:
    """Updates the actor may edit: everything for org-wide roles; otherwise those aimed at
    their services only, with every linked report in their services."""
    if actor.service_ids is None:
        return list(session.scalars(select(FeedbackUpdate.id)))
    mine = set(actor.service_ids)
    targets: dict[int, set[int]] = defaultdict(set)
    for uid, sid in session.execute(select(FeedbackUpdateService.update_id,
                                           FeedbackUpdateService.service_id)):
        targets[uid].add(sid)
    for uid, sid in session.execute(
            select(FeedbackUpdateReport.update_id, NearMissReport.service_id)
            .join(NearMissReport, NearMissReport.id == FeedbackUpdateReport.report_id)):
        if uid in targets:  # provider-wide updates (no services) are not a supervisor's
            targets[uid].add(sid)
    return [uid for uid, sids in targets.items() if sids <= mine]


def editor_updates(session: Session, actor: Actor, *, limit: int = 200) -> list[UpdateSummary]:
    """The updates the actor may edit, drafts first, then newest."""
    require(actor, Capability.PUBLISH_FEEDBACK)
    ids = _in_scope_ids(session, actor)
    updates = list(session.scalars(
        select(FeedbackUpdate).where(FeedbackUpdate.id.in_(ids))
        .order_by(FeedbackUpdate.status == PUBLISHED, FeedbackUpdate.updated_at.desc(),
                  FeedbackUpdate.id.desc()).limit(limit))) if ids else []
    names = _names_by_update(session, [u.id for u in updates])
    return [UpdateSummary(u.id, u.title, u.status, u.revision, u.updated_at, u.published_at,
                          (names["reports"][u.id] or [0])[0], names["services"][u.id])
            for u in updates]


@dataclass(frozen=True)
class RevisionRow:
    revision: int
    title: str
    what_changed: str
    why: str
    edited_by: str
    edited_at: datetime


@dataclass(frozen=True)
class UpdateDetail:
    id: int
    title: str
    what_changed: str
    why: str
    status: str
    revision: int
    published_at: datetime | None
    references: list[str]
    anonymous_references: int
    action_ids: list[int]
    themes: list[ThemeDraft]
    service_ids: list[int]
    roles: list[str]
    revisions: list[RevisionRow]  # newest first
    told_reporters: int


def update_detail(session: Session, actor: Actor, update_id: int) -> UpdateDetail:
    """One update as its editor sees it: text, links, audience and its history."""
    require(actor, Capability.PUBLISH_FEEDBACK)
    update = update_in_scope(session, actor, update_id)
    reports = session.execute(
        select(NearMissReport.reference, NearMissReport.reporter_id)
        .join(FeedbackUpdateReport, FeedbackUpdateReport.report_id == NearMissReport.id)
        .where(FeedbackUpdateReport.update_id == update_id)
        .order_by(NearMissReport.reference)).all()
    revisions = [RevisionRow(r.revision, r.title, r.what_changed, r.why, name, r.edited_at)
                 for r, name in session.execute(
                     select(FeedbackUpdateRevision, User.display_name)
                     .join(User, User.id == FeedbackUpdateRevision.edited_by_id)
                     .where(FeedbackUpdateRevision.update_id == update_id)
                     .order_by(FeedbackUpdateRevision.revision.desc()))]
    return UpdateDetail(
        id=update.id, title=update.title, what_changed=update.what_changed, why=update.why,
        status=update.status, revision=update.revision, published_at=update.published_at,
        references=[ref for ref, _ in reports],
        anonymous_references=sum(1 for _, reporter in reports if reporter is None),
        action_ids=list(session.scalars(select(FeedbackUpdateAction.action_id).where(
            FeedbackUpdateAction.update_id == update_id).order_by(
            FeedbackUpdateAction.action_id))),
        themes=[ThemeDraft(t.type_key, t.service_id, t.region_id) for t in session.scalars(
            select(FeedbackUpdateTheme).where(FeedbackUpdateTheme.update_id == update_id)
            .order_by(FeedbackUpdateTheme.id))],
        service_ids=list(session.scalars(select(FeedbackUpdateService.service_id).where(
            FeedbackUpdateService.update_id == update_id))),
        roles=list(session.scalars(select(FeedbackUpdateRole.role).where(
            FeedbackUpdateRole.update_id == update_id))),
        revisions=revisions, told_reporters=len(told_user_ids(session, update_id)))


@dataclass(frozen=True)
class ActionChoice:
    id: int
    label: str


def action_choices(session: Session, actor: Actor, *, limit: int = 300) -> list[ActionChoice]:
    """Actions an update may link: those of the actor's services (newest first)."""
    require(actor, Capability.PUBLISH_FEEDBACK)
    query = (select(Action.id, Action.title, ActionPlan.title, Action.service_id, Action.plan_id)
             .join(ActionPlan, ActionPlan.id == Action.plan_id)
             .order_by(Action.id.desc()).limit(limit))
    if actor.service_ids is not None:
        query = query.where(or_(Action.service_id.in_(actor.service_ids),
                                Action.service_id.is_(None)))
    rows = session.execute(query).all()
    if actor.service_ids is not None:
        # A provider-wide action belongs to the actor if every report of its plan is theirs.
        plan_services: dict[int, set[int]] = defaultdict(set)
        for plan_id, sid in session.execute(
                select(ActionPlanReport.plan_id, NearMissReport.service_id)
                .join(NearMissReport, NearMissReport.id == ActionPlanReport.report_id)
                .where(ActionPlanReport.plan_id.in_({r[4] for r in rows}))):
            plan_services[plan_id].add(sid)
        rows = [r for r in rows if r[3] is not None
                or plan_services[r[4]] <= set(actor.service_ids)]
    return [ActionChoice(i, f"#{i} {title} ({plan})") for i, title, plan, _s, _p in rows]


def theme_label(session: Session, theme: ThemeDraft) -> str:
    """"Transfer / near fall in Maple House" (or "... across the provider")."""
    type_row = session.get(NearMissType, theme.type_key)
    name = type_row.name if type_row else theme.type_key
    if theme.service_id is not None:
        service = session.get(Service, theme.service_id)
        return f"{name} in {service.name if service else '?'}"
    if theme.region_id is not None:
        region = session.get(Region, theme.region_id)
        return f"{name} in the {region.name if region else '?'} region"
    return f"{name} across the provider"


def theme_choices(session: Session, actor: Actor, *, now: datetime, rules: Settings,
                  ) -> list[tuple[ThemeDraft, str]]:
    """Current clusters an update may answer (as themes), with their labels."""
    require(actor, Capability.PUBLISH_FEEDBACK)
    if not can(actor, Capability.VIEW_BOARD):
        return []
    found = []
    for theme in current_clusters(session, actor, now=now, rules=rules, with_references=False):
        draft = ThemeDraft(theme.type_key, service_id=theme.scope_id
                           if theme.scope == "service" else None,
                           region_id=theme.scope_id if theme.scope == "region" else None)
        if actor.service_ids is not None and draft.region_id is not None:
            members = set(session.scalars(select(Service.id).where(
                Service.region_id == draft.region_id)))
            if not members <= actor.service_ids:
                continue
        found.append((draft, theme.label))
    return found


# -- for the commissioner pack ----------------------------------------------------------------


@dataclass(frozen=True)
class PublishedUpdate:
    """A published update as a period summary lists it."""

    id: int
    title: str
    what_changed: str
    published_at: datetime  # stored UTC
    published_on: date  # the provider's local date
    linked_reports: int


def published_updates(session: Session, actor: Actor, start: date, end: date, *,
                      rules: Settings) -> list[PublishedUpdate]:
    """Updates published from local day `start` up to (not including) `end`, oldest first,
    within the actor's services (provider-wide updates included). Title and text are the
    quality lead's free text: show them as text."""
    if not (can(actor, Capability.VIEW_BULLETIN) or can(actor, Capability.VIEW_GOVERNANCE)
            or actor.has(Role.COMMISSIONER)):
        raise PermissionDenied("Your role does not allow you to read what changed.")
    counts = (select(FeedbackUpdateReport.update_id, func.count().label("n"))
              .group_by(FeedbackUpdateReport.update_id).subquery())
    rows = session.execute(
        select(FeedbackUpdate, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.update_id == FeedbackUpdate.id)
        .where(FeedbackUpdate.status == PUBLISHED, for_services(actor.service_ids),
               FeedbackUpdate.published_at >= local_midnight_utc(start, rules.zone),
               FeedbackUpdate.published_at < local_midnight_utc(end, rules.zone))
        .order_by(FeedbackUpdate.published_at, FeedbackUpdate.id)).all()
    return [PublishedUpdate(u.id, u.title, u.what_changed, u.published_at,
                            to_local(u.published_at, rules.zone).date(), int(n))
            for u, n in rows]
