"""The triage board: open reports by state, most urgent first, paged in SQL.

Urgency (lower is more urgent): an overdue escalation or someone still at risk and not yet
triaged; then safeguarding and stop-the-line; then high potential or cluster; then repeats and
medium potential; then the rest. Within a rank, the oldest report first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Integer, Select, and_, bindparam, case, exists, func, or_, select
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


# The board's statements are built once per shape (which filters are set, whether the actor's
# services narrow it) and given their values as parameters: building one took 4-8 ms a run,
# as long as the read itself at 10k reports.
_NOW = bindparam("now")


def _overdue() -> ColumnElement[bool]:
    return exists().where(Escalation.report_id == NearMissReport.id,
                          Escalation.acknowledged_at.is_(None), Escalation.due_at < _NOW)


def _flag_conditions() -> dict[str, ColumnElement[bool]]:
    return {
        "escalation_overdue": _overdue(),
        "still_at_risk": NearMissReport.still_at_risk.is_(True),
        "safeguarding": NearMissReport.safeguarding.is_(True),
        "stop_the_line": NearMissReport.stop_the_line.is_(True),
        "interface": or_(NearMissReport.interface_flag.is_not(None),
                         NearMissReport.type_key.in_(
                             bindparam("interface_types", expanding=True))),
        "cluster": NearMissReport.in_cluster.is_(True),
        "repeat": NearMissReport.is_repeat.is_(True),
    }


def _urgency(overdue: ColumnElement[bool], still_at_risk: ColumnElement[bool],
             status: ColumnElement[str], safeguarding: ColumnElement[bool],
             stop_the_line: ColumnElement[bool], severity: ColumnElement[str | None],
             cluster: ColumnElement[bool], repeat: ColumnElement[bool]) -> ColumnElement[int]:
    """The board's ordering rule as one SQL expression (0 = most urgent), over a query's flag
    columns (each report's overdue escalation looked up once)."""
    return case(
        (or_(overdue.is_(True), and_(still_at_risk.is_(True),
                                     status == ReportStatus.NEW.value)), 0),
        (or_(safeguarding.is_(True), stop_the_line.is_(True)), 1),
        (or_(severity == "high", cluster.is_(True)), 2),
        (or_(repeat.is_(True), severity == "medium"), 3),
        else_=4,
    )


@dataclass(frozen=True)
class _Shape:
    """What decides a board statement's SQL (its values are parameters)."""

    scoped: bool  # narrowed to the actor's services
    services: bool
    types: bool
    severities: bool
    untriaged: bool  # "not triaged" among the severities chosen
    flags: tuple[str, ...]
    min_age: bool
    max_age: bool


def _shape_and_values(actor: Actor, filters: BoardFilters, now: datetime,
                      interface_types: tuple[str, ...]) -> tuple[_Shape, dict[str, object]]:
    wanted = [s for s in filters.severities if s != "untriaged"]
    flags = tuple(f for f in filters.flags if f in FLAG_LABELS)
    shape = _Shape(scoped=actor.service_ids is not None, services=bool(filters.service_ids),
                   types=bool(filters.type_keys), severities=bool(wanted),
                   untriaged="untriaged" in filters.severities, flags=flags,
                   min_age=filters.min_age_days is not None,
                   max_age=filters.max_age_days is not None)
    values: dict[str, object] = {
        "now": now, "interface_types": list(interface_types),
        "open_statuses": [s.value for s in BOARD_COLUMNS],
        "actor_services": sorted(actor.service_ids or ()),
        "services": list(filters.service_ids), "types": list(filters.type_keys),
        "severities": wanted,
        "reported_by": now - timedelta(days=filters.min_age_days or 0),
        "reported_since": now - timedelta(days=filters.max_age_days or 0)}
    return shape, values


def _where(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        NearMissReport.status.in_(bindparam("open_statuses", expanding=True))]
    if shape.scoped:
        conditions.append(NearMissReport.service_id.in_(
            bindparam("actor_services", expanding=True)))
    if shape.services:
        conditions.append(NearMissReport.service_id.in_(bindparam("services", expanding=True)))
    if shape.types:
        conditions.append(NearMissReport.type_key.in_(bindparam("types", expanding=True)))
    if shape.severities or shape.untriaged:
        options = ([NearMissReport.severity.in_(bindparam("severities", expanding=True))]
                   if shape.severities else [])
        if shape.untriaged:
            options.append(NearMissReport.severity.is_(None))
        conditions.append(or_(*options))
    if shape.flags:
        flag_sql = _flag_conditions()
        conditions.append(or_(*(flag_sql[f] for f in shape.flags)))
    if shape.min_age:
        conditions.append(NearMissReport.reported_at <= bindparam("reported_by"))
    if shape.max_age:
        conditions.append(NearMissReport.reported_at >= bindparam("reported_since"))
    return conditions


@lru_cache(maxsize=64)
def _counts_statement(shape: _Shape) -> Select:
    return (select(NearMissReport.status, func.count()).where(*_where(shape))
            .group_by(NearMissReport.status))


def board_counts(session: Session, actor: Actor, filters: BoardFilters, *, now: datetime,
                 interface_types: tuple[str, ...] = ("interface_failure",),
                 ) -> dict[ReportStatus, int]:
    """How many open near misses match, per column (the numbers in the column titles)."""
    require(actor, Capability.VIEW_BOARD)
    shape, values = _shape_and_values(actor, filters, now, interface_types)
    counts = dict.fromkeys(BOARD_COLUMNS, 0)
    for status, count in session.execute(_counts_statement(shape), values):
        counts[ReportStatus(status)] = count
    return counts


@lru_cache(maxsize=64)
def _board_statement(shape: _Shape) -> Select:
    """Each matching report's place in its column (by urgency, then age) and its column's
    count; then, for only each column's page (parameters `skip_<status>` and `page_size`) and
    every column's first card (for its count), the card and its flags. The names and flags
    are looked up for the forty cards alone: for all of them first, the board at a million
    reports on PostgreSQL (10,703 open) took a third longer than a read per column."""
    flagged = (
        select(NearMissReport.id, NearMissReport.status, NearMissReport.reported_at,
               NearMissReport.still_at_risk, NearMissReport.safeguarding,
               NearMissReport.stop_the_line, NearMissReport.severity, NearMissReport.in_cluster,
               NearMissReport.is_repeat, _overdue().label("escalation_overdue"))
        .where(*_where(shape))
        .subquery("flagged"))
    f = flagged.c
    # PostgreSQL inlines these subqueries and evaluates the urgency (its overdue lookup) for
    # the window's order and for its output alike: on the partial index of unacknowledged
    # escalations (migration 0029) each is an index-only scan of a few rows.
    rank = _urgency(f.escalation_overdue, f.still_at_risk, f.status, f.safeguarding,
                    f.stop_the_line, f.severity, f.in_cluster, f.is_repeat)
    ranked = select(
        f.id, f.status, f.escalation_overdue, rank.label("urgency"),
        func.row_number().over(partition_by=f.status,
                               order_by=(rank, f.reported_at, f.id)).label("place"),
        func.count().over(partition_by=f.status).label("in_column")).subquery("ranked")
    r = ranked.c
    skipped = case({status.value: bindparam(f"skip_{status.value}", type_=Integer)
                    for status in BOARD_COLUMNS}, value=r.status)
    page_size = bindparam("page_size", type_=Integer)
    on_page = (select(ranked)
               .where(or_(r.place == 1, and_(r.place > skipped, r.place <= skipped + page_size)))
               .subquery("on_page"))
    p = on_page.c
    # The flags as the card shows them; the overdue one already worked out for the ranking.
    flag_sql = {**_flag_conditions(), "escalation_overdue": p.escalation_overdue}
    return (
        select(p.status, p.place, p.in_column, p.urgency, NearMissReport.id,
               NearMissReport.reference, NearMissType.name.label("type_name"),
               Service.name.label("service"), Location.name.label("location"),
               NearMissReport.reported_at, NearMissReport.severity,
               NearMissReport.review_level, NearMissReport.routed_to,
               NearMissReport.version_id, NearMissReport.language,
               *(flag_sql[name].label(name) for name in FLAG_LABELS))
        .select_from(on_page)
        .join(NearMissReport, NearMissReport.id == p.id)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .join(Service, Service.id == NearMissReport.service_id)
        .join(Location, Location.id == NearMissReport.location_id)
        .order_by(p.status, p.place))


def load_board(session: Session, actor: Actor, filters: BoardFilters, *, now: datetime,
               interface_types: tuple[str, ...] = ("interface_failure",),
               page_size: int = 10, pages: dict[ReportStatus, int] | None = None) -> Board:
    """Counts per column and one page of cards per column (pages are 1-based), in one read
    (a count and a read per column took six statements, and looked each overdue escalation
    up twice)."""
    require(actor, Capability.VIEW_BOARD)
    shape, values = _shape_and_values(actor, filters, now, interface_types)
    skipped = {status: (max((pages or {}).get(status, 1), 1) - 1) * page_size
               for status in BOARD_COLUMNS}
    values |= {f"skip_{status.value}": n for status, n in skipped.items()}
    values["page_size"] = page_size
    board = Board(counts=dict.fromkeys(BOARD_COLUMNS, 0),
                  columns={status: [] for status in BOARD_COLUMNS})
    for row in session.execute(_board_statement(shape), values):
        status = ReportStatus(row.status)
        board.counts[status] = row.in_column
        # A column's first card comes back for its count even when the page asked for is
        # past the column's end (that page shows no card).
        if skipped[status] < row.place <= skipped[status] + page_size:
            board.columns[status].append(BoardCard(
                id=row.id, reference=row.reference, status=status, type_name=row.type_name,
                service=row.service, location=row.location, reported_at=row.reported_at,
                severity=row.severity, review_level=row.review_level,
                routed_to=row.routed_to,
                flags=tuple(name for name in FLAG_LABELS if getattr(row, name)),
                urgency=row.urgency, version=row.version_id, language=row.language))
    return board


def age_text(reported_at: datetime, now: datetime) -> str:
    """A short age for a card: "45 min", "5 h", "3 d"."""
    seconds = max(0, int((now - reported_at).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"
