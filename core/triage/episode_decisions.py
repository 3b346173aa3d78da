"""Decisions on cluster episodes: a supervisor (for the services they cover) or a quality
lead (for every service) acknowledges an episode or dismisses it with a reason; each decision
is audited and checks the version the person saw. Finding and keeping the episodes is
core.triage.episodes; building an action plan from one links it there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from core.auth.actor import Actor
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
from core.triage.episodes import episode_snapshot, watched
from core.triage.models import ClusterEpisode
from core.triage.vocabulary import EpisodeStatus
from core.uow import UnitOfWork

# Who may acknowledge or dismiss a cluster (role checks here, not only on the page).
DECIDERS = frozenset({Role.SUPERVISOR, Role.QUALITY})


def may_decide(actor: Actor, services: Iterable[int]) -> bool:
    """Supervisors for the services they cover (all of a region's, for a region episode),
    quality leads for every service."""
    return bool(actor.roles & DECIDERS) and all(actor.covers_service(s) for s in services)


def _load_for_decision(session: Session, actor: Actor, episode_id: int, expected_version: int,
                       ) -> tuple[ClusterEpisode, tuple[int, ...]]:
    if not actor.roles & DECIDERS:
        raise PermissionDenied("A supervisor or a quality lead decides on clusters.")
    row = session.get(ClusterEpisode, episode_id, populate_existing=True,
                      with_for_update=True) if storable_id(episode_id) else None
    w = watched(session)
    services = w.members(row.scope, row.region_id if row.scope == "region" else row.service_id
                         ) if row is not None else ()
    if row is None or not any(actor.covers_service(s) for s in services):
        raise NotFound("No such cluster among your services.")
    if not may_decide(actor, services):
        raise PermissionDenied("This cluster spans services you do not supervise: a quality "
                               "lead decides on it.")
    if row.version_id != expected_version:
        raise ConflictError("This cluster changed while you had it open (it may have grown, "
                            f"or someone decided on it: it is now “{row.status}”). Nothing was "
                            "saved: look at it as it is now and decide again.")
    return row, services


def acknowledge_episode(uow: UnitOfWork, actor: Actor, episode_id: int, *,
                        expected_version: int, now: datetime) -> None:
    """Seen and being looked at: no longer at the top of the list until it grows."""
    with uow:
        row, _ = _load_for_decision(uow.session, actor, episode_id, expected_version)
        if EpisodeStatus(row.status) is not EpisodeStatus.OPEN:
            raise ValidationFailed({"status": f"This cluster is already "
                                              f"{EpisodeStatus(row.status).label.lower()}."})
        before = episode_snapshot(row)
        row.status, row.seen_peak = EpisodeStatus.ACKNOWLEDGED.value, row.peak
        row.decided_by_id, row.decided_at = actor.user_id, now
        uow.record(actor, "cluster_episode.acknowledged", "cluster_episode", row.id, at=now,
                   before=before, after=episode_snapshot(row))
        uow.commit()


def dismiss_episode(uow: UnitOfWork, actor: Actor, episode_id: int, *, reason: str,
                    expected_version: int, now: datetime, rules: Settings) -> None:
    """Not a cluster to act on, and why (e.g. one person's reports on a bad week, already
    handled). It opens again only if it grows well past what was seen."""
    why = (reason or "").strip()
    if not why:
        raise ValidationFailed({"reason": "Say why this is not a cluster to act on."})
    if has_nul(why):
        raise ValidationFailed({"reason": NUL_MESSAGE})
    if len(why) > rules.report.description_max_chars:
        raise ValidationFailed({"reason": f"Keep the reason to "
                                          f"{rules.report.description_max_chars} characters."})
    with uow:
        row, _ = _load_for_decision(uow.session, actor, episode_id, expected_version)
        status = EpisodeStatus(row.status)
        if status in (EpisodeStatus.DISMISSED, EpisodeStatus.LINKED):
            raise ValidationFailed({"status": f"This cluster is already {status.label.lower()}."})
        before = episode_snapshot(row)
        row.status, row.reason, row.seen_peak = EpisodeStatus.DISMISSED.value, why, row.peak
        row.decided_by_id, row.decided_at = actor.user_id, now
        uow.record(actor, "cluster_episode.dismissed", "cluster_episode", row.id, at=now,
                   before=before, after=episode_snapshot(row))
        uow.commit()
