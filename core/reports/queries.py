"""Read-side queries over near-miss reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.organisation.models import Location, Service
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.taxonomy.models import NearMissType


@dataclass(frozen=True)
class MyReportRow:
    """A line of "My reports"."""

    reference: str
    reported_at: datetime
    occurred_at: datetime
    type_name: str
    service: str
    location: str
    status: ReportStatus
    still_at_risk: bool
    description: str


def my_reports(session: Session, actor: Actor, *, limit: int = 200) -> list[MyReportRow]:
    """The reports the actor filed under their name, newest first."""
    require(actor, Capability.VIEW_OWN_REPORTS)
    rows = session.execute(
        select(NearMissReport.reference, NearMissReport.reported_at, NearMissReport.occurred_at,
               NearMissType.name, Service.name, Location.name, NearMissReport.status,
               NearMissReport.still_at_risk, NearMissReport.description)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .join(Service, Service.id == NearMissReport.service_id)
        .join(Location, Location.id == NearMissReport.location_id)
        .where(NearMissReport.reporter_id == actor.user_id)
        .order_by(NearMissReport.reported_at.desc(), NearMissReport.id.desc())
        .limit(limit)
    ).all()
    return [MyReportRow(r[0], r[1], r[2], r[3], r[4], r[5], ReportStatus(r[6]), r[7], r[8])
            for r in rows]


@dataclass(frozen=True)
class MyReportCounts:
    """All of the actor's named reports, not only the newest shown."""

    reported: int
    being_worked_on: int  # neither closed nor reclassified


def my_report_counts(session: Session, actor: Actor) -> MyReportCounts:
    require(actor, Capability.VIEW_OWN_REPORTS)
    finished = (ReportStatus.CLOSED.value, ReportStatus.RECLASSIFIED.value)
    reported, working = session.execute(
        select(func.count(), func.count().filter(NearMissReport.status.not_in(finished)))
        .where(NearMissReport.reporter_id == actor.user_id)).one()
    return MyReportCounts(reported or 0, working or 0)


def count_reports(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(NearMissReport)) or 0
