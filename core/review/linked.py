"""Reports linked to a review record (a root cause analysis, a learning response): whether an
actor's services cover them all, and the reports in time order. One link table each, same shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.reports.models import NearMissReport


def covers_linked(session: Session, actor: Actor, report_column: Any, owner_column: Any,
                  owner_id: int) -> bool:
    """True when every report linked to `owner_id` is in the actor's services (and one is)."""
    if actor.service_ids is None:
        return True
    services = set(session.scalars(
        select(NearMissReport.service_id)
        .join(report_column.class_, report_column == NearMissReport.id)
        .where(owner_column == owner_id)))
    return bool(services) and services <= actor.service_ids


def linked_reports(session: Session, report_column: Any, owner_column: Any,
                   owner_id: int) -> list[NearMissReport]:
    """The reports linked to `owner_id`, oldest first."""
    return list(session.scalars(
        select(NearMissReport)
        .join(report_column.class_, report_column == NearMissReport.id)
        .where(owner_column == owner_id)
        .order_by(NearMissReport.occurred_at, NearMissReport.id)))
