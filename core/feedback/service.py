"""Use cases of "what changed because you reported": write, edit (with history), publish.

An update says what changed (a revised checklist, a new handover prompt, a changed scheduling
rule), why (the reports, actions and clusters behind it) and whom it affects (services and
roles; none listed means everyone). Publishing tells every named reporter of a linked report,
once per update, in the portal and by email. A report filed without a name has nobody to
notify: its reporter sees the update through their private follow-up code.

Quality leads publish for the whole provider; a supervisor only for their own services: the
reports they link and the services they target must all be theirs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.actions.models import Action
from core.actions.service import plan_in_scope
from core.audit.models import AuditEvent
from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import ROLE_CAPABILITIES, Capability, require
from core.auth.roles import Role
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
from core.escalation.service import notify
from core.feedback.models import (
    FeedbackUpdate,
    FeedbackUpdateAction,
    FeedbackUpdateReport,
    FeedbackUpdateRevision,
    FeedbackUpdateRole,
    FeedbackUpdateService,
    FeedbackUpdateTheme,
)
from core.i18n import translator
from core.organisation.models import Region, Service
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.taxonomy.models import NearMissType
from core.uow import UnitOfWork

DRAFT = "draft"
PUBLISHED = "published"
TITLE_MAX_CHARS = 200
NOTIFICATION_KIND = "feedback.update"
# The audit events that record who was told about an update (read back to tell each once).
_TELLING_EVENTS = ("feedback_update.published", "feedback_update.edited")


def audience_roles() -> list[Role]:
    """The roles an update can be aimed at: everyone who reads the bulletin."""
    readers = ROLE_CAPABILITIES[Capability.VIEW_BULLETIN]
    return [role for role in Role if role in readers]


@dataclass(frozen=True)
class ThemeDraft:
    """A cluster or theme the update answers: a type in a service or a region (or anywhere)."""

    type_key: str
    service_id: int | None = None
    region_id: int | None = None


@dataclass
class UpdateDraft:
    """What the writer of an update typed and chose."""

    title: str = ""
    what_changed: str = ""
    why: str = ""
    report_references: Sequence[str] = ()
    action_ids: Sequence[int] = ()
    themes: Sequence[ThemeDraft] = ()
    service_ids: Sequence[int] = ()
    roles: Sequence[str] = ()


@dataclass(frozen=True)
class PublishResult:
    update_id: int
    told_user_ids: list[int]
    notification_ids: list[int]
    anonymous_reports: int  # linked reports filed without a name (seen through their code)
    already_published: bool = False


@dataclass
class _Checked:
    reports: list[NearMissReport] = field(default_factory=list)
    action_ids: list[int] = field(default_factory=list)
    themes: list[ThemeDraft] = field(default_factory=list)
    service_ids: list[int] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)


def _check(session: Session, actor: Actor, draft: UpdateDraft, rules: Settings) -> _Checked:
    """Validate a draft and resolve its links within the actor's services.

    Typed references outside the actor's services are field errors (same words as "does not
    exist"); services, actions and themes, which are picked from the actor's own lists, are
    refused outright when outside them.
    """
    limit = rules.report.description_max_chars
    errors: dict[str, str] = {}
    title = draft.title.strip()
    if not title:
        errors["title"] = "Give the update a short title."
    elif len(title) > TITLE_MAX_CHARS:
        errors["title"] = f"Keep the title to {TITLE_MAX_CHARS} characters (it has {len(title)})."
    if not draft.what_changed.strip():
        errors["what_changed"] = "Say what changed."
    for name in ("what_changed", "why"):
        size = len(getattr(draft, name).strip())
        if size > limit:
            errors[name] = f"Keep this to {limit} characters (it has {size})."
    for name in ("title", "what_changed", "why"):
        if name not in errors and has_nul(getattr(draft, name)):
            errors[name] = NUL_MESSAGE
    checked = _Checked()
    missing = []
    for reference in dict.fromkeys(r.strip().upper() for r in draft.report_references
                                   if r.strip()):
        try:
            checked.reports.append(get_in_scope(session, actor, reference))
        except NotFound:
            missing.append(reference)
    if missing:
        errors["reports"] = f"No near miss {', '.join(missing)} among your services."
    for action_id in dict.fromkeys(draft.action_ids):
        _check_action(session, actor, action_id)
        checked.action_ids.append(action_id)
    for theme in dict.fromkeys(draft.themes):
        _check_theme(session, actor, theme)
        checked.themes.append(theme)
    for service_id in dict.fromkeys(draft.service_ids):
        if not storable_id(service_id) or session.get(Service, service_id) is None:
            raise NotFound("No such service.")
        if not actor.covers_service(service_id):
            raise PermissionDenied("You can only publish updates for your own services.")
        checked.service_ids.append(service_id)
    if actor.service_ids is not None and not checked.service_ids:
        errors["services"] = ("Choose the services it affects: you publish updates for your "
                              "own services.")
    allowed_roles = {r.value for r in audience_roles()}
    for role in dict.fromkeys(draft.roles):
        if role not in allowed_roles:
            errors["roles"] = f"Unknown role {role!r}."
        else:
            checked.roles.append(role)
    if errors:
        raise ValidationFailed(errors)
    return checked


def _check_action(session: Session, actor: Actor, action_id: int) -> None:
    action = session.get(Action, action_id) if storable_id(action_id) else None
    if action is None:
        raise NotFound(f"No action #{action_id} among your services.")
    if action.service_id is not None:
        if not actor.covers_service(action.service_id):
            raise NotFound(f"No action #{action_id} among your services.")
        return
    plan_in_scope(session, actor, action.plan_id)  # NotFound outside the actor's services


def _check_theme(session: Session, actor: Actor, theme: ThemeDraft) -> None:
    if session.get(NearMissType, theme.type_key) is None:
        raise NotFound(f"No near-miss type {theme.type_key!r}.")
    if theme.service_id is not None and theme.region_id is not None:
        raise ValidationFailed({"themes": "A theme is in a service or a region, not both."})
    if theme.service_id is not None:
        if session.get(Service, theme.service_id) is None:
            raise NotFound("No such service.")
        if not actor.covers_service(theme.service_id):
            raise PermissionDenied("That cluster is not in one of your services.")
    elif theme.region_id is not None:
        if session.get(Region, theme.region_id) is None:
            raise NotFound("No such region.")
        members = set(session.scalars(select(Service.id).where(
            Service.region_id == theme.region_id)))
        if actor.service_ids is not None and not members <= actor.service_ids:
            raise PermissionDenied("That region has services that are not yours.")
    elif actor.service_ids is not None:
        raise PermissionDenied("Choose a cluster in one of your services.")


def update_in_scope(session: Session, actor: Actor, update_id: int) -> FeedbackUpdate:
    """The update if the actor may edit it: everything it targets and links is theirs."""
    update = session.get(FeedbackUpdate, update_id) if storable_id(update_id) else None
    if update is None:
        raise NotFound(f"No update #{update_id} among your services.")
    if actor.service_ids is None:
        return update
    services = set(session.scalars(select(FeedbackUpdateService.service_id).where(
        FeedbackUpdateService.update_id == update_id)))
    report_services = set(session.scalars(select(NearMissReport.service_id).join(
        FeedbackUpdateReport, FeedbackUpdateReport.report_id == NearMissReport.id).where(
        FeedbackUpdateReport.update_id == update_id)))
    if not services or not (services | report_services) <= actor.service_ids:
        raise NotFound(f"No update #{update_id} among your services.")
    return update


def _sorted_themes(themes: Any) -> list[list[Any]]:
    return [list(t) for t in sorted(themes, key=lambda t: (t[0], t[1] or 0, t[2] or 0))]


def snapshot(session: Session, update: FeedbackUpdate) -> dict[str, Any]:
    """The audited state of an update (its text and every link)."""
    uid = update.id
    return {
        "title": update.title, "what_changed": update.what_changed, "why": update.why,
        "status": update.status, "revision": update.revision,
        "published_at": update.published_at,
        "reports": sorted(session.scalars(select(NearMissReport.reference).join(
            FeedbackUpdateReport, FeedbackUpdateReport.report_id == NearMissReport.id).where(
            FeedbackUpdateReport.update_id == uid))),
        "actions": sorted(session.scalars(select(FeedbackUpdateAction.action_id).where(
            FeedbackUpdateAction.update_id == uid))),
        "themes": _sorted_themes((t.type_key, t.service_id, t.region_id) for t in session.scalars(
            select(FeedbackUpdateTheme).where(FeedbackUpdateTheme.update_id == uid))),
        "services": sorted(session.scalars(select(FeedbackUpdateService.service_id).where(
            FeedbackUpdateService.update_id == uid))),
        "roles": sorted(session.scalars(select(FeedbackUpdateRole.role).where(
            FeedbackUpdateRole.update_id == uid))),
    }


_EDITABLE = ("title", "what_changed", "why", "reports", "actions", "themes", "services", "roles")


def _proposed(draft: UpdateDraft, checked: _Checked) -> dict[str, Any]:
    """The editable part of `snapshot` as the draft would leave it."""
    return {
        "title": draft.title.strip(), "what_changed": draft.what_changed.strip(),
        "why": draft.why.strip(), "reports": sorted(r.reference for r in checked.reports),
        "actions": sorted(checked.action_ids),
        "themes": _sorted_themes((t.type_key, t.service_id, t.region_id) for t in checked.themes),
        "services": sorted(checked.service_ids), "roles": sorted(checked.roles),
    }


def _write_links(session: Session, update_id: int, checked: _Checked) -> None:
    for model in (FeedbackUpdateReport, FeedbackUpdateAction, FeedbackUpdateTheme,
                  FeedbackUpdateService, FeedbackUpdateRole):
        session.execute(delete(model).where(model.update_id == update_id))
    for report in checked.reports:
        session.add(FeedbackUpdateReport(update_id=update_id, report_id=report.id))
    for action_id in checked.action_ids:
        session.add(FeedbackUpdateAction(update_id=update_id, action_id=action_id))
    for theme in checked.themes:
        session.add(FeedbackUpdateTheme(update_id=update_id, type_key=theme.type_key,
                                        service_id=theme.service_id, region_id=theme.region_id))
    for service_id in checked.service_ids:
        session.add(FeedbackUpdateService(update_id=update_id, service_id=service_id))
    for role in checked.roles:
        session.add(FeedbackUpdateRole(update_id=update_id, role=role))
    session.flush()


def _add_revision(session: Session, actor: Actor, update: FeedbackUpdate, now: datetime) -> None:
    session.add(FeedbackUpdateRevision(
        update_id=update.id, revision=update.revision, title=update.title,
        what_changed=update.what_changed, why=update.why, edited_by_id=actor.user_id,
        edited_at=now))


def create_update(uow: UnitOfWork, actor: Actor, draft: UpdateDraft, *,
                  now: datetime, rules: Settings) -> int:
    """Save a new update as a draft (revision 1); returns its id."""
    require(actor, Capability.PUBLISH_FEEDBACK)
    with uow:
        session = uow.session
        checked = _check(session, actor, draft, rules)
        update = FeedbackUpdate(
            title=draft.title.strip(), what_changed=draft.what_changed.strip(),
            why=draft.why.strip(), status=DRAFT, created_by_id=actor.user_id, created_at=now,
            updated_at=now, revision=1)
        session.add(update)
        session.flush()
        _add_revision(session, actor, update, now)
        _write_links(session, update.id, checked)
        uow.record(actor, "feedback_update.created", "feedback_update", update.id, at=now,
                   after=snapshot(session, update))
        uow.commit()
        return update.id


def edit_update(uow: UnitOfWork, actor: Actor, update_id: int, draft: UpdateDraft, *,
                expected_revision: int, now: datetime,
                rules: Settings) -> int:
    """Save a new revision of an update (earlier text is kept); returns the revision number.

    Editing a published update tells the named reporters of any newly linked report.
    """
    require(actor, Capability.PUBLISH_FEEDBACK)
    with uow:
        session = uow.session
        update = update_in_scope(session, actor, update_id)
        if update.revision != expected_revision:
            raise ConflictError(
                f"Someone else saved this update while you had it open (it is now at revision "
                f"{update.revision}). Nothing you entered was saved over their change: look at "
                "it as it is now and try again.")
        checked = _check(session, actor, draft, rules)
        before = snapshot(session, update)
        if _proposed(draft, checked) == {k: before[k] for k in _EDITABLE}:
            return update.revision  # nothing changed: no new revision
        update.title, update.what_changed, update.why = (
            draft.title.strip(), draft.what_changed.strip(), draft.why.strip())
        _write_links(session, update.id, checked)
        update.revision += 1
        update.updated_at = now
        _add_revision(session, actor, update, now)
        told: list[int] = []
        notes: list[int] = []
        if update.status == PUBLISHED:
            told, notes = _tell_reporters(uow, update, now, rules)
        uow.record(actor, "feedback_update.edited", "feedback_update", update.id, at=now,
                   before=before, after={**snapshot(session, update), "told_user_ids": told,
                                         "notification_ids": notes})
        uow.commit()
        return update.revision


def publish_update(uow: UnitOfWork, actor: Actor, update_id: int, *,
                   expected_revision: int | None = None, now: datetime,
                   rules: Settings) -> PublishResult:
    """Publish: all staff it is aimed at see it, and the named reporters of its reports are
    told (once). Publishing an already published update changes nothing."""
    require(actor, Capability.PUBLISH_FEEDBACK)
    with uow:
        session = uow.session
        update = update_in_scope(session, actor, update_id)
        if expected_revision is not None and update.revision != expected_revision:
            raise ConflictError(
                f"Someone else saved this update while you had it open (it is now at revision "
                f"{update.revision}). Look at it as it is now before you publish.")
        anonymous = _anonymous_reports(session, update.id)
        if update.status == PUBLISHED:
            return PublishResult(update.id, [], [], anonymous, already_published=True)
        links = snapshot(session, update)
        if not (links["reports"] or links["actions"] or links["themes"]):
            raise ValidationFailed({"reports": "Link the near misses, actions or cluster behind "
                                               "the change before publishing: that is what "
                                               "tells people it changed because they reported."})
        update.status, update.published_at, update.published_by_id = PUBLISHED, now, actor.user_id
        update.updated_at = now
        told, notes = _tell_reporters(uow, update, now, rules)
        uow.record(actor, "feedback_update.published", "feedback_update", update.id, at=now,
                   before=links, after={**snapshot(session, update), "told_user_ids": told,
                          "notification_ids": notes, "anonymous_reports": anonymous})
        uow.commit()
        return PublishResult(update.id, told, notes, anonymous)


def _anonymous_reports(session: Session, update_id: int) -> int:
    return len(list(session.scalars(select(NearMissReport.id).join(
        FeedbackUpdateReport, FeedbackUpdateReport.report_id == NearMissReport.id).where(
        FeedbackUpdateReport.update_id == update_id, NearMissReport.reporter_id.is_(None)))))


def told_user_ids(session: Session, update_id: int) -> set[int]:
    """Users already told about this update (the audit trail records each telling)."""
    told: set[int] = set()
    for after in session.scalars(select(AuditEvent.after_json).where(
            AuditEvent.entity_type == "feedback_update",
            AuditEvent.entity_id == str(update_id),
            AuditEvent.action.in_(_TELLING_EVENTS))):
        told.update(json.loads(after or "{}").get("told_user_ids") or [])
    return told


def _tell_reporters(uow: UnitOfWork, update: FeedbackUpdate, now: datetime,
                    rules: Settings) -> tuple[list[int], list[int]]:
    """Notify each named reporter of a linked report who has not been told yet (one message
    per person, naming their report references only: no one's name, no report text)."""
    session = uow.session
    rows = session.execute(
        select(NearMissReport.reporter_id, NearMissReport.id, NearMissReport.reference)
        .join(FeedbackUpdateReport, FeedbackUpdateReport.report_id == NearMissReport.id)
        .where(FeedbackUpdateReport.update_id == update.id,
               NearMissReport.reporter_id.is_not(None))
        .order_by(NearMissReport.reported_at, NearMissReport.id)).all()
    by_user: dict[int, list[tuple[int, str]]] = {}
    for user_id, report_id, reference in rows:
        by_user.setdefault(user_id, []).append((report_id, reference))
    waiting = set(by_user) - told_user_ids(session, update.id)
    if not waiting:
        return [], []
    users = list(session.scalars(select(User).where(User.id.in_(waiting),
                                                    User.active.is_(True)).order_by(User.id)))
    notification_ids: list[int] = []
    for user in users:
        reports = by_user[user.id]
        # In the language the person chose: the portal's message and the e-mail alike.
        gettext, ngettext = translator(user.language).gettext, translator(user.language).ngettext
        references = ", ".join(ref for _report_id, ref in reports)
        first = reports[0][1] if len(reports) == 1 else ngettext(
            "{reference} and {count} more", "{reference} and {count} more",
            len(reports) - 1).format(reference=reports[0][1], count=len(reports) - 1)
        body = gettext("A “what changed because you reported” update has been published about "
                       "near misses you reported ({references}).\n"
                       "Thank you for reporting. Read what changed next to your report under "
                       "My reports: {url}").format(references=references,
                                                   url=rules.email.portal_url)
        notification_ids += notify(uow, [user], kind=NOTIFICATION_KIND,
                                   title=gettext("What changed because you reported: "
                                                 "{reports}").format(reports=first),
                                   body=body, report_id=reports[0][0], escalation_id=None,
                                   now=now, rules=rules)
    return [u.id for u in users], notification_ids
