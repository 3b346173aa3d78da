"""The triage board: open reports by state, most urgent first, paged in SQL.

Urgency (lower is more urgent): an overdue escalation or someone still at risk and not yet
triaged; then safeguarding and stop-the-line; then high potential or cluster; then repeats and
medium potential; then the rest. Within a rank, the oldest report first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.escalation.models import Escalation
from core.i18n import DEFAULT_LANGUAGE
from core.organisation.models import Location, Service
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.reports.workflow import BOARD_COLUMNS
from core.taxonomy.models import NearMissType

FLAG_LABELS: dict[str, str] = {
    "escalation_overdue": "Escalation overdue",
    "still_at_risk": "Still at risk",
    "safeguarding": "Safeguarding",
    "stop_the_line": "Stop the line",
    "interface": "Interface",
    "cluster": "Cluster",
    "repeat": "Repeat",
}


@dataclass(frozen=True)
class BoardFilters:
    """What the board is narrowed to (empty tuples: no narrowing)."""

    service_ids: tuple[int, ...] = ()
    type_keys: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()  # "low" | "medium" | "high" | "untriaged"
    flags: tuple[str, ...] = ()  # any of FLAG_LABELS' keys
    min_age_days: int | None = None
    max_age_days: int | None = None


@dataclass(frozen=True)
class BoardCard:
    id: int
    reference: str
    status: ReportStatus
    type_name: str
    service: str
    location: str
    reported_at: datetime
    severity: str | None
    review_level: str | None
    routed_to: str | None
    flags: tuple[str, ...]
    urgency: int
    version: int
    language: str = DEFAULT_LANGUAGE  # what the reporter wrote in


@dataclass
class Board:
    counts: dict[ReportStatus, int] = field(default_factory=dict)
    columns: dict[ReportStatus, list[BoardCard]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _overdue(now: datetime) -> ColumnElement[bool]:
    return exists().where(Escalation.report_id == NearMissReport.id,
                          Escalation.acknowledged_at.is_(None), Escalation.due_at < now)


def _flag_conditions(now: datetime, interface_types: tuple[str, ...],
                     ) -> dict[str, ColumnElement[bool]]:
    return {
        "escalation_overdue": _overdue(now),
        "still_at_risk": NearMissReport.still_at_risk.is_(True),
        "safeguarding": NearMissReport.safeguarding.is_(True),
        "stop_the_line": NearMissReport.stop_the_line.is_(True),
        "interface": or_(NearMissReport.interface_flag.is_not(None),
                         NearMissReport.type_key.in_(interface_types)),
        "cluster": NearMissReport.in_cluster.is_(True),
        "repeat": NearMissReport.is_repeat.is_(True),
    }


def urgency_rank(now: datetime) -> ColumnElement[int]:
    """The board's ordering rule as one SQL expression (0 = most urgent)."""
    return case(
        (or_(_overdue(now), and_(NearMissReport.still_at_risk.is_(True),
                                 NearMissReport.status == ReportStatus.NEW.value)), 0),
        (or_(NearMissReport.safeguarding.is_(True), NearMissReport.stop_the_line.is_(True)), 1),
        (or_(NearMissReport.severity == "high", NearMissReport.in_cluster.is_(True)), 2),
        (or_(NearMissReport.is_repeat.is_(True), NearMissReport.severity == "medium"), 3),
        else_=4,
    )


def _where(actor: Actor, filters: BoardFilters, now: datetime,
           interface_types: tuple[str, ...]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        NearMissReport.status.in_([s.value for s in BOARD_COLUMNS])]
    if actor.service_ids is not None:
        conditions.append(NearMissReport.service_id.in_(actor.service_ids))
    if filters.service_ids:
        conditions.append(NearMissReport.service_id.in_(filters.service_ids))
    if filters.type_keys:
        conditions.append(NearMissReport.type_key.in_(filters.type_keys))
    if filters.severities:
        wanted = [s for s in filters.severities if s != "untriaged"]
        options = [NearMissReport.severity.in_(wanted)] if wanted else []
        if "untriaged" in filters.severities:
            options.append(NearMissReport.severity.is_(None))
        conditions.append(or_(*options))
    if filters.flags:
        flag_sql = _flag_conditions(now, interface_types)
        conditions.append(or_(*(flag_sql[f] for f in filters.flags if f in flag_sql)))
    if filters.min_age_days is not None:
        conditions.append(NearMissReport.reported_at <= now - timedelta(days=filters.min_age_days))
    if filters.max_age_days is not None:
        conditions.append(NearMissReport.reported_at >= now - timedelta(days=filters.max_age_days))
    return conditions


def board_counts(session: Session, actor: Actor, filters: BoardFilters, *, now: datetime,
                 interface_types: tuple[str, ...] = ("interface_failure",),
                 ) -> dict[ReportStatus, int]:
    """How many open near misses match, per column (the numbers in the column titles)."""
    require(actor, Capability.VIEW_BOARD)
    counts = dict.fromkeys(BOARD_COLUMNS, 0)
    for status, count in session.execute(
            select(NearMissReport.status, func.count())
            .where(*_where(actor, filters, now, interface_types))
            .group_by(NearMissReport.status)):
        counts[ReportStatus(status)] = count
    return counts


def load_board(session: Session, actor: Actor, filters: BoardFilters, *, now: datetime,
               interface_types: tuple[str, ...] = ("interface_failure",),
               page_size: int = 10, pages: dict[ReportStatus, int] | None = None) -> Board:
    """Counts per column and one page of cards per column (pages are 1-based)."""
    conditions = _where(actor, filters, now, interface_types)
    board = Board(counts=board_counts(session, actor, filters, now=now,
                                      interface_types=interface_types))
    flag_sql = _flag_conditions(now, interface_types)
    flag_columns = [flag_sql[name].label(name) for name in FLAG_LABELS]
    rank = urgency_rank(now).label("urgency")
    for status in BOARD_COLUMNS:
        page = (pages or {}).get(status, 1)
        rows = session.execute(
            select(NearMissReport.id, NearMissReport.reference, NearMissReport.status,
                   NearMissType.name, Service.name, Location.name, NearMissReport.reported_at,
                   NearMissReport.severity, NearMissReport.review_level,
                   NearMissReport.routed_to, NearMissReport.version_id, NearMissReport.language,
                   rank, *flag_columns)
            .join(NearMissType, NearMissType.key == NearMissReport.type_key)
            .join(Service, Service.id == NearMissReport.service_id)
            .join(Location, Location.id == NearMissReport.location_id)
            .where(*conditions, NearMissReport.status == status.value)
            .order_by(rank, NearMissReport.reported_at, NearMissReport.id)
            .limit(page_size).offset((max(page, 1) - 1) * page_size)
        ).all()
        board.columns[status] = [
            BoardCard(
                id=r.id, reference=r.reference, status=ReportStatus(r.status),
                type_name=r[3], service=r[4], location=r[5], reported_at=r.reported_at,
                severity=r.severity, review_level=r.review_level, routed_to=r.routed_to,
                flags=tuple(name for name in FLAG_LABELS if getattr(r, name)),
                urgency=r.urgency, version=r.version_id, language=r.language,
            )
            for r in rows
        ]
    return board


def age_text(reported_at: datetime, now: datetime) -> str:
    """A short age for a card: "45 min", "5 h", "3 d"."""
    seconds = max(0, int((now - reported_at).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
