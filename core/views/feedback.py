"""Feedback pages: the "what changed" bulletin and the editor's page of updates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from core.auth.actor import Actor
from core.clock import to_local
from core.config import Settings
from core.db import read_session
from core.feedback.queries import (
    BulletinItem,
    QuarterCount,
    UpdateDetail,
    UpdateSummary,
    action_choices,
    bulletin,
    bulletin_services,
    changes_this_quarter,
    editor_updates,
    theme_choices,
    theme_label,
    update_detail,
)
from core.feedback.service import ThemeDraft
from core.organisation.queries import service_choices


@dataclass(frozen=True, slots=True)
class BulletinHeader:
    """This quarter's counts and the services the bulletin can be narrowed to."""

    quarter: QuarterCount
    services: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class UpdateEditor:
    """One update being written (None for a new one) and what its form offers: services,
    actions, and themes (current clusters, then those the update already answers)."""

    detail: UpdateDetail | None
    services: Mapping[int, str]
    actions: Mapping[int, str]
    themes: tuple[tuple[ThemeDraft, str], ...]


def bulletin_header(actor: Actor, *, now: datetime, rules: Settings) -> BulletinHeader:
    with read_session() as session:
        return BulletinHeader(
            quarter=changes_this_quarter(session, actor, today=to_local(now, rules.zone).date(),
                                         rules=rules),
            services=tuple(bulletin_services(session, actor)))


def bulletin_items(actor: Actor, service_ids: Iterable[int] = ()) -> tuple[BulletinItem, ...]:
    """The latest published updates the actor sees, newest first (of these services)."""
    with read_session() as session:
        return tuple(bulletin(session, actor, service_ids=service_ids))


def update_list(actor: Actor) -> tuple[UpdateSummary, ...]:
    """The updates the actor may edit, drafts first, then newest."""
    with read_session() as session:
        return tuple(editor_updates(session, actor))


def update_editor(actor: Actor, update_id: int | None, *, now: datetime,
                  rules: Settings) -> UpdateEditor:
    """The update `update_id` (None: a new one) with its form's choices."""
    with read_session() as session:
        detail = update_detail(session, actor, update_id) if update_id is not None else None
        themes = list(theme_choices(session, actor, now=now, rules=rules))
        # A past cluster keeps its link.
        themes += [(theme, theme_label(session, theme)) for theme in
                   (detail.themes if detail else [])]
        return UpdateEditor(
            detail=detail,
            services={c.id: c.label for c in service_choices(session, actor)},
            actions={c.id: c.label for c in action_choices(session, actor)},
            themes=tuple(themes))
