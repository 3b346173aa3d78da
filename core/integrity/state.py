"""Does every report, escalation, action and plan still hold what the audit trail last recorded?

The audit trail is signed, but the tables it describes are not: someone with database access
can still change a report's status with one UPDATE. This check replays, per row, the audited
values each event's after-state holds (only the fields that every service writing them also
records) and compares the row as it is now with the last audited value of each field.

It reads each table and its events once, both ordered by row id, and merges them (a million
reports are one pass each, never a query per row), inside one snapshot of the database.

Rows the demo loads in bulk have no event of their own (one event records the whole load):
they are counted, not compared. Anywhere else a row without an event of its own is reported:
it did not come through a service.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from itertools import groupby
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Table, Text, cast, func, select

from core.actions.models import Action, ActionPlan
from core.audit.models import AuditEvent
from core.escalation.models import Escalation
from core.reports.models import NearMissReport

# The event's own time (microseconds kept), for columns a service sets to the event's moment.
AT = "@occurred_at"
BATCH = 5000


@dataclass(frozen=True)
class TableCheck:
    """How one table's rows are audited.

    `fields`: for each action, after-state key -> column it records. `implied`: values an
    action sets without recording them (a new escalation is not yet acknowledged).
    `moves`: an action that changes a column from one known value to another without recording
    it (completing an evidence check starts a planned action). `bulk`: the actions that load
    rows without an event of their own (the demo). `label`: a column naming the row in messages.
    """

    table: Table
    entity_type: str
    fields: Mapping[str, Mapping[str, str]]
    implied: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    moves: Mapping[str, Mapping[str, tuple[Any, Any]]] = field(default_factory=dict)
    bulk: tuple[str, ...] = ()
    label: str | None = None

    @property
    def actions(self) -> set[str]:
        return set(self.fields) | set(self.implied) | set(self.moves)


_SNAPSHOT = ("reference", "type_key", "type_version", "description", "occurred_at",
             "reported_at", "service_id", "location_id", "barrier", "still_at_risk",
             "immediate_safeguards", "person_id", "route_id", "staff_group_id", "interface_flag",
             "capture_fields", "reporter_id", "status", "source")
_NOT_TRIAGED = {"severity": None, "review_level": None, "routed_to": None, "triaged_at": None}

CHECKS: tuple[TableCheck, ...] = (
    TableCheck(
        NearMissReport.__table__, "near_miss_report", label="reference",
        fields={
            "report.filed": {**{k: k for k in _SNAPSHOT}, AT: "status_changed_at"},
            "report.imported": {k: k for k in _SNAPSHOT},
            "report.moved": {"status": "status", AT: "status_changed_at"},
            "report.triaged": {"severity": "severity", "investigation": "review_level",
                               "route": "routed_to", AT: "triaged_at"},
        },
        implied={"report.filed": _NOT_TRIAGED, "report.imported": _NOT_TRIAGED},
        bulk=("demo.reports_loaded",)),
    TableCheck(
        Escalation.__table__, "escalation", label="kind",
        fields={
            "escalation.raised": {"kind": "kind", "reason": "reason", "due_at": "due_at"},
            "escalation.acknowledged": {"acknowledged_at": "acknowledged_at"},
            "escalation.decided": {"acknowledged_at": "acknowledged_at",
                                   "decided_at": "decided_at", "decision": "decision"},
        },
        implied={"escalation.raised": {"acknowledged_at": None, "decided_at": None,
                                       "decision": None}},
        bulk=("demo.triage_loaded",)),
    TableCheck(
        Action.__table__, "action", label="title",
        fields={
            "action.created": {"plan_id": "plan_id", "title": "title", "owner_id": "owner_id",
                               "deadline": "deadline", "review_date": "review_date",
                               "strength": "strength", "kind": "strength_category"},
            "action.status_changed": {"status": "status"},
            "action.went_live": {"status": "status", "go_live": "go_live_date",
                                 "test_window_days": "test_window_days"},
            "action.verified": {"status": "status"},
            "action.sustainment_checked": {"status": "status"},
        },
        implied={"action.created": {"status": "planned", "go_live_date": None}},
        moves={"action.evidence_checked": {"status": ("planned", "in_progress")}},
        bulk=("demo.actions_loaded",)),
    TableCheck(
        ActionPlan.__table__, "action_plan", label="title",
        fields={"action_plan.created": {"title": "title", "theme": "theme", "source": "source",
                                        "rca_id": "rca_id",
                                        "learning_response_id": "learning_response_id"}},
        bulk=("demo.actions_loaded",)),
)


@dataclass(frozen=True)
class Mismatch:
    """A row that differs from its last audited state (`field` "(row)": the row itself)."""

    table: str
    row_id: int | str
    label: str | None
    field: str
    in_database: str
    audited: str
    seq: int | None  # the event that last recorded the field

    def describe(self) -> str:
        name = f" ({self.label})" if self.label else ""
        where = f" (event {self.seq})" if self.seq is not None else ""
        return (f"{self.table} row {self.row_id}{name}: {self.field} is {self.in_database} in "
                f"the database, {self.audited} in the audit trail{where}")


@dataclass
class StateReport:
    """Per table: rows compared and rows loaded in bulk; the mismatches (the first `limit`)."""

    compared: dict[str, int] = field(default_factory=dict)
    bulk: dict[str, int] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    total_mismatches: int = 0
    limit: int = 50

    @property
    def ok(self) -> bool:
        return self.total_mismatches == 0

    def add(self, mismatch: Mismatch) -> None:
        self.total_mismatches += 1
        if len(self.mismatches) < self.limit:
            self.mismatches.append(mismatch)


_TO_JSON_FORM: dict[type, Callable[[Any], Any]] = {
    datetime: lambda v: v.isoformat(timespec="seconds"),
    date: lambda v: v.isoformat(),
    Decimal: str,
}


def _plain(value: Any) -> Any:
    """A stored value in the form its audited JSON takes (dates as ISO text, seconds kept)."""
    convert = _TO_JSON_FORM.get(type(value))
    if convert is not None:
        return convert(value)
    return value.value if isinstance(value, Enum) else value


def _shown(value: Any) -> str:
    text = repr(value.isoformat(timespec="microseconds") if isinstance(value, datetime)
                else value)
    return text if len(text) <= 80 else text[:77] + "..."


# What one action tells about a row: implied (column, value) pairs, (after key, column) pairs,
# columns set to the event's own time, and (column, from, to) moves.
_Plan = tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, str], ...], tuple[str, ...],
              tuple[tuple[str, Any, Any], ...]]
# The last audited value of a column: (value, event seq, compared as stored rather than in
# its JSON form).
_Expected = tuple[Any, int, bool]


def _plans(check: TableCheck) -> dict[str, _Plan]:
    return {action: (
        tuple(check.implied.get(action, {}).items()),
        tuple((k, c) for k, c in check.fields.get(action, {}).items() if k != AT),
        tuple(c for k, c in check.fields.get(action, {}).items() if k == AT),
        tuple((c, was, now) for c, (was, now) in check.moves.get(action, {}).items()),
    ) for action in check.actions}


def _fold(plans: Mapping[str, _Plan], events: list[Any]) -> dict[str, _Expected]:
    """The last audited value of each column, replaying a row's events in order."""
    expected: dict[str, _Expected] = {}
    for event in events:
        implied, from_after, at_columns, moves = plans[event.action]
        seq = event.seq
        for column, value in implied:
            expected[column] = (value, seq, False)
        if from_after and event.after_json:
            after = json.loads(event.after_json)
            if isinstance(after, dict):
                for key, column in from_after:
                    if key in after:
                        expected[column] = (after[key], seq, False)
        for column in at_columns:
            expected[column] = (event.occurred_at, seq, True)
        for column, was, now in moves:
            known = expected.get(column)
            if known is not None and known[0] == was:
                expected[column] = (now, seq, False)
    return expected


def _event_groups(conn: Connection, check: TableCheck,
                  report: StateReport) -> Iterator[tuple[int, list[Any]]]:
    """Each row's events, ordered by row id: by the id's length, then its text, which is
    numeric order for ids written the one way a service writes them."""
    entity_id = AuditEvent.entity_id
    text_order = entity_id.collate("C") if conn.dialect.name == "postgresql" else entity_id
    rows = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
        select(AuditEvent.entity_id, AuditEvent.seq, AuditEvent.action,
               AuditEvent.occurred_at, AuditEvent.after_json)
        .where(AuditEvent.entity_type == check.entity_type, entity_id.is_not(None),
               AuditEvent.action.in_(sorted(check.actions)))
        .order_by(func.length(entity_id), text_order, AuditEvent.seq))
    for key, group in groupby(rows, key=lambda r: r.entity_id):
        events = list(group)
        if not key.isdigit() or str(int(key)) != key:
            report.add(Mismatch(check.table.name, key, None, "(row)", "not a row id",
                                f"named by {len(events)} events", events[-1].seq))
            continue
        yield int(key), events


def _has_bulk_load(conn: Connection, check: TableCheck) -> bool:
    if not check.bulk:
        return False
    return conn.execute(select(AuditEvent.seq).where(AuditEvent.action.in_(check.bulk))
                        .limit(1)).first() is not None


def _check_table(conn: Connection, check: TableCheck, report: StateReport) -> None:
    table = check.table
    name = table.name
    columns = sorted({*(c for m in check.fields.values() for c in m.values()),
                      *(c for m in (*check.implied.values(), *check.moves.values()) for c in m)})
    # JSON columns come as text, parsed only for rows that have events to compare with.
    as_text = {c for c in columns if isinstance(table.c[c].type, JSON)}
    wanted = [table.c.id, *(cast(table.c[c], Text).label(c) if c in as_text else table.c[c]
                            for c in columns)]
    if check.label and check.label not in columns:
        wanted.append(table.c[check.label])
    bulk_loaded = _has_bulk_load(conn, check)
    report.compared[name] = report.bulk[name] = 0

    def gone(row_id: int, events: list[Any]) -> None:
        report.add(Mismatch(name, row_id, None, "(row)", "missing",
                            f"recorded by {len(events)} events", events[-1].seq))

    plans = _plans(check)
    position = {column: index for index, column in enumerate(c.name for c in wanted)}
    label_at = position.get(check.label) if check.label else None
    groups = _event_groups(conn, check, report)
    pending = next(groups, None)
    rows = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
        select(*wanted).order_by(table.c.id))
    for row in rows:
        while pending is not None and pending[0] < row.id:
            gone(*pending)
            pending = next(groups, None)
        label = row[label_at] if label_at is not None else None
        if pending is None or pending[0] != row.id:
            if bulk_loaded:
                report.bulk[name] += 1
            else:
                report.add(Mismatch(name, row.id, label, "(row)", "present",
                                    "not recorded by any event of its own", None))
            continue
        expected = _fold(plans, pending[1])
        pending = next(groups, None)
        report.compared[name] += 1
        for column, (value, seq, exact) in expected.items():
            stored = row[position[column]]
            if column in as_text and stored is not None:
                stored = json.loads(stored)
            if (stored if exact else _plain(stored)) != value:
                report.add(Mismatch(name, row.id, label, column, _shown(stored), _shown(value),
                                    seq))
    while pending is not None:
        gone(*pending)
        pending = next(groups, None)


def verify_state(engine: Engine, *, limit: int = 50,
                 checks: tuple[TableCheck, ...] = CHECKS,
                 progress: Callable[[str], None] | None = None) -> StateReport:
    """Compare every audited row with the last audited state of each of its fields."""
    report = StateReport(limit=limit)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            for check in checks:
                if progress:
                    progress(check.table.name)
                _check_table(conn, check, report)
    return report
