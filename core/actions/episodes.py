"""Cluster episodes as the board, the governance pages and the digest show them: each with the
references of its reports and the most advanced status of an action serving them.

The episodes themselves are found and kept by `core.triage.episodes`; reading them here, above
triage, is what lets an episode show the plan that answers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.actions.models import Action, ActionPlanReport
from core.actions.vocabulary import best_status
from core.auth.actor import Actor
from core.auth.models import User
from core.config import Settings
from core.organisation.models import Region, Service
from core.reports.models import NearMissReport
from core.taxonomy.models import NearMissType
from core.triage.episodes import watched
from core.triage.models import ClusterEpisode
from core.triage.vocabulary import EpisodeStatus
from core.weeks import local_midnight_utc


def serving_plan(session: Session, report_ids: list[int]) -> int | None:
    """The first action plan that links any of these reports (a cluster episode found over them
    is born linked to it): what `core.triage.episodes`' scans are handed."""
    return session.scalar(select(func.min(ActionPlanReport.plan_id)).where(
        ActionPlanReport.report_id.in_(report_ids)))


@dataclass(frozen=True)
class EpisodeView:
    """A cluster episode as the board, the governance pages and the digest show it."""

    episode_id: int
    version: int
    type_key: str
    type_name: str
    scope: str  # service | region
    scope_id: int
    scope_name: str
    start: date  # the first day of the first window that fired
    opened_on: date
    end: date  # the latest day it fired
    peak: int
    usual: float
    threshold: int
    window_days: int
    status: EpisodeStatus
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    plan_id: int | None
    references: tuple[str, ...]
    action_status: str | None  # the most advanced status of an action serving its reports
    ongoing: bool  # it fired within the last window
    services: tuple[int, ...]

    @property
    def label(self) -> str:
        return (f"{self.type_name} in {self.scope_name} ({self.scope}): {self.peak} in "
                f"{self.window_days} days where {self.usual:g} is usual, "
                f"{self.start:%d %b}–{self.end:%d %b}")


def episode_reports(type_key: str, service_ids: Sequence[int], first_day: date,
                    last_day: date, zone: Any) -> tuple[ColumnElement[bool], ...]:
    """The conditions on near_miss_reports that select an episode's reports: of its type, in
    its services, on its days. Join on them rather than list the reports' ids: at a million
    reports an episode holds thousands, and a literal list of them costs more to send (and
    for psycopg to parse) than the database takes to find them."""
    return (NearMissReport.type_key == type_key, NearMissReport.service_id.in_(service_ids),
            NearMissReport.occurred_at >= local_midnight_utc(first_day, zone),
            NearMissReport.occurred_at < local_midnight_utc(last_day + timedelta(days=1), zone))


def list_episodes(session: Session, actor: Actor, *, start: date | None = None,
                  end: date | None = None, today: date, rules: Settings) -> list[EpisodeView]:
    """Episodes that fired on a day in [start, end) among the actor's services: open ones
    first, then acknowledged, linked and dismissed, each the latest first. Service episodes
    that are part of a region's are inside it, not listed."""
    query = select(ClusterEpisode).where(ClusterEpisode.part_of_id.is_(None))
    if start is not None:
        query = query.where(ClusterEpisode.last_day >= start)
    if end is not None:
        query = query.where(ClusterEpisode.opened_on < end)
    w = watched(session)
    type_names = dict(session.execute(select(NearMissType.key, NearMissType.name)).all())
    service_names = dict(session.execute(select(Service.id, Service.name)).all())
    region_names = dict(session.execute(select(Region.id, Region.name)).all())
    deciders = dict(session.execute(select(User.id, User.display_name)).all())
    views = []
    for row in session.scalars(query):
        scope_id = row.region_id if row.scope == "region" else row.service_id
        assert scope_id is not None
        services = w.members(row.scope, scope_id)
        visible = [s for s in services if actor.covers_service(s)]
        if not visible:
            continue
        in_episode = episode_reports(row.type_key, visible, row.first_day, row.last_day,
                                     rules.zone)
        refs = session.scalars(select(NearMissReport.reference).where(*in_episode)
                               .order_by(NearMissReport.occurred_at)).all()
        actions = set(session.scalars(
            select(Action.status).distinct()
            .join(ActionPlanReport, ActionPlanReport.plan_id == Action.plan_id)
            .join(NearMissReport, NearMissReport.id == ActionPlanReport.report_id)
            .where(*in_episode)))
        if row.plan_id is not None:
            actions |= set(session.scalars(select(Action.status).where(
                Action.plan_id == row.plan_id)))
        views.append(EpisodeView(
            episode_id=row.id, version=row.version_id, type_key=row.type_key,
            type_name=type_names.get(row.type_key, row.type_key), scope=row.scope,
            scope_id=scope_id,
            scope_name=(region_names if row.scope == "region" else service_names).get(
                scope_id, "?"),
            start=row.first_day, opened_on=row.opened_on, end=row.last_day, peak=row.peak,
            usual=round(row.usual, 1), threshold=row.threshold,
            window_days=rules.triage.cluster_window_days, status=EpisodeStatus(row.status),
            reason=row.reason, decided_by=deciders.get(row.decided_by_id or -1),
            decided_at=row.decided_at, plan_id=row.plan_id,
            references=tuple(refs), action_status=best_status(actions),
            ongoing=(today - row.last_day).days < rules.triage.cluster_window_days,
            services=services))
    views.sort(key=lambda v: (v.end, v.peak), reverse=True)
    views.sort(key=lambda v: v.status.rank)
    return views
