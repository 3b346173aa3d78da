"""Regulator clocks met on time, per clock per month, against the target (90% by default).

The CMS 2024 HCBS Access Rule (42 CFR 441.302(a)(6)) asks states to show that at least 90% of
critical incidents are handled within the state's timeframes; the portal shows each provider's
own share for each of its clocks.

A clock counts in the month (provider's local time) its deadline fell in, once its outcome is
known: met (on time when at or before the deadline) or, with the deadline passed and nothing
recorded, late. A clock still running is not counted yet, and a withdrawn one (the event was
found not reportable) never is. Governance sees exact counts for the services in view;
commissioners see the whole provider with small counts hidden (core/commissioner/deid.py):
"fewer than 5", complementary suppression, and a share hidden when any count it rests on is
hidden.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.commissioner import deid
from core.commissioner.deid import Cell, SuppressedTable
from core.config import Settings
from core.metrics.governance import Scope
from core.regulator.models import RegulatorClock
from core.reports.models import NearMissReport
from core.weeks import as_date, day_sql, local_midnight_utc

ON_TIME, LATE = "On time", "Late"


@dataclass(frozen=True)
class OnTimeRow:
    """One clock in one month: deadlines that fell due, how many were met on time."""

    key: str
    label: str
    month: str  # "2026-07"
    due: int
    on_time: int

    @property
    def late(self) -> int:
        return self.due - self.on_time

    @property
    def share(self) -> float | None:
        return self.on_time / self.due if self.due else None


@dataclass(frozen=True)
class OnTime:
    """On-time counts for a period, per clock per month (every month of the period listed)."""

    target: float
    months: tuple[str, ...]
    clocks: tuple[tuple[str, str], ...]  # (key, label) in the settings' order, then others
    rows: tuple[OnTimeRow, ...]

    def for_clock(self, key: str) -> list[OnTimeRow]:
        return [row for row in self.rows if row.key == key]

    def frame(self) -> pd.DataFrame:
        """Columns: clock, month, due, on_time, late, share (None when nothing fell due)."""
        return pd.DataFrame([{"clock": r.label, "month": r.month, "due": r.due,
                              "on_time": r.on_time, "late": r.late, "share": r.share}
                             for r in self.rows],
                            columns=["clock", "month", "due", "on_time", "late", "share"])


def _months(start: date, end: date) -> list[str]:
    """The months touching [start, end) as "YYYY-MM"."""
    months, day = [], date(start.year, start.month, 1)
    while day < end:
        months.append(f"{day:%Y-%m}")
        day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return months


def _count(session: Session, scope: Scope, service_ids: frozenset[int] | None, *,
           now: datetime, rules: Settings) -> OnTime:
    zone = rules.zone
    conditions = [RegulatorClock.withdrawn_at.is_(None),
                  RegulatorClock.due_at >= local_midnight_utc(scope.start, zone),
                  RegulatorClock.due_at < local_midnight_utc(scope.end, zone),
                  or_(RegulatorClock.met_at.is_not(None), RegulatorClock.due_at < now)]
    for services in (service_ids, scope.service_ids or None):
        if services is not None:
            conditions.append(RegulatorClock.report_id.in_(
                select(NearMissReport.id).where(NearMissReport.service_id.in_(services))))
    # Counted per clock and local day in SQL (a few rows a day), not clock by clock in
    # Python: 17,000 clocks a year at a million reports took 0.1 s to bucket one by one.
    day = day_sql(session, RegulatorClock.due_at, zone)
    met_in_time = func.count().filter(RegulatorClock.met_at <= RegulatorClock.due_at)
    due: Counter[tuple[str, str]] = Counter()
    on_time: Counter[tuple[str, str]] = Counter()
    for key, local_day, fell_due, in_time in session.execute(
            select(RegulatorClock.key, day, func.count(), met_in_time)
            .where(*conditions).group_by(RegulatorClock.key, day)):
        month = f"{as_date(local_day):%Y-%m}"
        due[key, month] += fell_due
        on_time[key, month] += in_time
    # The latest clock's label names the row.
    latest = select(func.max(RegulatorClock.id)).where(*conditions) \
        .group_by(RegulatorClock.key).scalar_subquery()
    labels: dict[str, str] = {key: label for key, label in session.execute(
        select(RegulatorClock.key, RegulatorClock.label).where(RegulatorClock.id.in_(latest)))}
    configured = [(c.key, c.label) for c in rules.regulator.clocks]
    known = {key for key, _ in configured}
    clocks = configured + sorted((k, v) for k, v in labels.items() if k not in known)
    months = _months(scope.start, scope.end)
    rows = tuple(OnTimeRow(key, labels.get(key, label), month, due[key, month],
                           on_time[key, month])
                 for key, label in clocks for month in months)
    return OnTime(rules.regulator.on_time_target, tuple(months),
                  tuple((key, labels.get(key, label)) for key, label in clocks), rows)


def on_time_by_month(session: Session, actor: Actor, scope: Scope, *, now: datetime,
                     rules: Settings) -> OnTime:
    """Governance: exact on-time counts per clock per month, in the actor's services."""
    require(actor, Capability.VIEW_GOVERNANCE)
    return _count(session, scope, actor.service_ids, now=now, rules=rules)


@dataclass(frozen=True)
class ClockTable:
    """One clock's months for a commissioner: counts with suppression, and on-time shares."""

    key: str
    label: str
    table: SuppressedTable  # rows: months; columns: On time, Late; row totals: fell due
    shares: tuple[Cell, ...]  # per month, as the rows
    total_share: Cell

    def records(self) -> list[dict[str, str]]:
        """Rows for a table on screen: month, fell due, on time, late, on time %."""
        rows = []
        for month, cells, total, share in zip(self.table.rows, self.table.cells,
                                              self.table.row_totals, self.shares, strict=True):
            rows.append({"Month": month, "Fell due": total.text, ON_TIME: cells[0].text,
                         LATE: cells[1].text, "On time %": share.text})
        rows.append({"Month": "Total", "Fell due": self.table.total.text,
                     ON_TIME: self.table.column_totals[0].text,
                     LATE: self.table.column_totals[1].text,
                     "On time %": self.total_share.text})
        return rows


def _share(on_time: Cell, late: Cell, due: Cell, threshold: int) -> Cell:
    """The on-time share, hidden when any count it rests on is hidden: from the share and the
    total (or either part) a hidden count would be worked out."""
    if on_time.hidden or late.hidden or due.hidden:
        return Cell(None, deid.Status.SUPPRESSED, threshold, percent=True)
    assert isinstance(on_time.value, int | float) and isinstance(due.value, int | float)
    return deid.share(int(on_time.value), int(due.value), threshold)


def commissioner_on_time(session: Session, actor: Actor, scope: Scope, *, now: datetime,
                         rules: Settings) -> tuple[float, list[ClockTable]]:
    """Commissioners: the whole provider's on-time counts per clock per month, de-identified.
    Returns the target and one table per clock."""
    require(actor, Capability.VIEW_COMMISSIONER_EVIDENCE)
    threshold = rules.commissioner.suppress_below
    counts = _count(session, Scope(scope.start, scope.end), None, now=now, rules=rules)
    tables = []
    for key, label in counts.clocks:
        rows = counts.for_clock(key)
        table = deid.suppress_table({r.month: {ON_TIME: r.on_time, LATE: r.late}
                                     for r in rows}, threshold, rows=counts.months,
                                    columns=[ON_TIME, LATE])
        shares = tuple(_share(cells[0], cells[1], total, threshold)
                       for cells, total in zip(table.cells, table.row_totals, strict=True))
        total_share = _share(table.column_totals[0], table.column_totals[1], table.total,
                             threshold)
        tables.append(ClockTable(key, label, table, shares, total_share))
    return counts.target, tables
