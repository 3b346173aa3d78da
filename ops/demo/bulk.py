"""Storing the generated reports and their history, one audited transaction per chunk."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Engine, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.auth.actor import SYSTEM
from core.clock import to_local
from core.config import Settings
from core.escalation.models import Escalation, Notification
from core.escalation.rules import EscalationKind
from core.reports.models import NearMissReport, ReferenceCounter
from core.review.models import CommunicationDecision, GateCheck, Review, ValidationEvidence
from core.triage.models import ReportTransition, TriageRecord
from core.uow import UnitOfWork
from ops.demo.records import DemoEscalation, DemoRecord


def _reserve_numbers(session: Session, year: int, count: int) -> int:
    """Take `count` reference numbers of `year` at once; returns the first one."""
    dialect = session.get_bind().dialect.name
    upsert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        upsert(ReferenceCounter)
        .values(year=year, last_value=count)
        .on_conflict_do_update(index_elements=[ReferenceCounter.year],
                               set_={"last_value": ReferenceCounter.last_value + count})
        .returning(ReferenceCounter.last_value)
    )
    return session.execute(statement).scalar_one() - count + 1


def _notification_text(kind: EscalationKind, reference: str, escalation: DemoEscalation,
                       rules: Settings) -> tuple[str, str]:
    """The title and body core.escalation.service.raise_escalation writes."""
    due_local = to_local(escalation.row["due_at"], rules.zone).strftime("%d %b %H:%M")
    body = (f"{kind.label} for near miss {reference} at {escalation.where}.\n"
            f"{escalation.row['reason']}\nAcknowledge by {due_local} in the portal: "
            f"{rules.email.portal_url}")
    return f"{kind.label}: {reference}"[:200], body


def _insert_reports(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert report rows (a plain executemany, the fast path); their new ids in row order."""
    table = NearMissReport.__table__
    # Ids only grow, so this transaction's rows are above the highest id seen before them;
    # matching on the reference leaves out anything another writer added meanwhile.
    before = session.scalar(select(func.max(table.c.id))) or 0
    _insert_many(session, table, rows)
    ids = {reference: report_id for reference, report_id in session.execute(
        select(table.c.reference, table.c.id).where(table.c.id > before))}
    return [ids[row["reference"]] for row in rows]


def _sqlite_value(column: Any) -> Callable[[Any], Any] | None:
    """How SQLAlchemy stores a value of this column on SQLite (None: as it is)."""
    kind = column.type
    if isinstance(kind, DateTime):
        return lambda v: v if v is None else v.isoformat(" ", "microseconds")
    if isinstance(kind, Date):
        return lambda v: v if v is None else v.isoformat()
    if isinstance(kind, JSON):
        return lambda v: v if v is None else json.dumps(v)
    return None


@lru_cache(maxsize=32)
def _sqlite_insert(table: Any, names: tuple[str, ...],
                   ) -> tuple[str, Callable[[dict[str, Any]], Any],
                              tuple[tuple[int, Callable[[Any], Any]], ...]] | None:
    """A plain INSERT for the driver, a getter of a row's values and the conversions they
    need (by position); None when a column left out has a default SQLAlchemy would fill in
    (then SQLAlchemy inserts)."""
    left_out = [c for c in table.c if c.name not in names and not c.primary_key]
    if len(names) < 2 or any(c.default is not None or c.server_default is not None
                             for c in left_out):
        return None
    statement = (f"INSERT INTO {table.name} ({', '.join(names)}) "
                 f"VALUES ({', '.join('?' for _ in names)})")
    conversions = tuple((index, convert) for index, name in enumerate(names)
                        if (convert := _sqlite_value(table.c[name])) is not None)
    return statement, itemgetter(*names), conversions


def _insert_many(session: Session, table: Any, rows: list[dict[str, Any]], *,
                 ids: bool = False) -> list[int]:
    """Insert many rows at once; with `ids`, their new ids in row order (slower: RETURNING).

    On SQLite the rows go straight to the driver, stored exactly as SQLAlchemy would store
    them: its per-row bind processing would otherwise dominate a large load.
    """
    if not rows:
        return []
    if not ids:
        names = tuple(rows[0])
        plain = _sqlite_insert(table, names) if session.get_bind().dialect.name == "sqlite" \
            else None
        if plain is None:
            session.execute(insert(table), rows)
            return []
        statement, values_of, conversions = plain
        values = []
        for row in rows:
            value = list(values_of(row))
            for index, convert in conversions:
                value[index] = convert(value[index])
            values.append(tuple(value))
        session.connection().exec_driver_sql(statement, values)
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(statement, rows).scalars())


def store_chunk(engine: Engine, records: list[DemoRecord], *, rules: Settings) -> Counter[str]:
    """Number and insert one chunk of reports and their history in one audited transaction."""
    rows = [record.report for record in records]
    years = [to_local(row["reported_at"], rules.zone).year for row in rows]
    counts: Counter[str] = Counter()
    with UnitOfWork(engine) as uow:
        session = uow.session
        # Continue each year's counter where it stands (the form may have filed some), in the
        # same transaction as the rows, so a failed chunk leaves no gap.
        next_number = {year: _reserve_numbers(session, year, count)
                       for year, count in sorted(Counter(years).items())}
        for row, year in zip(rows, years, strict=True):
            row["reference"] = f"{rules.reference_prefix}-{year}-{next_number[year]:05d}"
            next_number[year] += 1
        for record, report_id in zip(records, _insert_reports(session, rows), strict=True):
            record.slot.id = report_id

        triage_rows, transition_rows = [], []
        review_rows, gate_rows, evidence_rows, communication_rows = [], [], [], []
        # Grouped by (decided, notified): an undecided escalation leaves `decision` out, so it is
        # SQL NULL as the service leaves it, and only notified ones need their ids back.
        escalations: dict[tuple[bool, bool], list[tuple[DemoRecord, DemoEscalation]]] = {
            (decided, notified): [] for decided in (True, False) for notified in (True, False)}
        for record in records:
            report_id = record.slot.id
            if record.triage is not None:
                linked = sorted({s.id for s in record.related if s.id is not None})
                triage_rows.append({**record.triage, "report_id": report_id,
                                    "related_report_ids": linked})
            transition_rows.extend({**t, "report_id": report_id} for t in record.transitions)
            if record.review is not None:
                review_rows.append({**record.review, "report_id": report_id})
                counts["closed"] += record.review["closed_at"] is not None
                gate_rows.extend({**g, "report_id": report_id} for g in record.gate_checks)
                evidence_rows.extend({**e, "report_id": report_id} for e in record.evidence)
                communication_rows.extend({**c, "report_id": report_id}
                                          for c in record.communications)
            for escalation in record.escalations:
                counts["escalations"] += 1
                counts["acknowledged"] += escalation.row["acknowledged_at"] is not None
                counts["decided"] += escalation.row["decided_at"] is not None
                escalations["decision" in escalation.row, bool(escalation.notices)].append(
                    (record, escalation))
        _insert_many(session, TriageRecord.__table__, triage_rows)
        _insert_many(session, ReportTransition.__table__, transition_rows)
        _insert_many(session, Review.__table__, review_rows)
        _insert_many(session, GateCheck.__table__, gate_rows)
        _insert_many(session, ValidationEvidence.__table__, evidence_rows)
        _insert_many(session, CommunicationDecision.__table__, communication_rows)
        notification_rows = []
        for (_decided, notified), group in escalations.items():
            escalation_rows = [{**e.row, "report_id": record.slot.id} for record, e in group]
            if not notified:
                _insert_many(session, Escalation.__table__, escalation_rows)
                continue
            escalation_ids = _insert_many(session, Escalation.__table__, escalation_rows,
                                          ids=True)
            for (record, escalation), escalation_id in zip(group, escalation_ids, strict=True):
                kind = EscalationKind(escalation.row["kind"])
                title, body = _notification_text(kind, record.report["reference"], escalation,
                                                 rules)
                notification_rows.extend({
                    "user_id": notice.user_id, "report_id": record.slot.id,
                    "escalation_id": escalation_id, "kind": f"escalation.{kind.value}",
                    "title": title, "body": body, "created_at": escalation.row["raised_at"],
                    "read_at": notice.read_at, "email_to": None, "email_status": "not_needed",
                    "email_attempts": 0, "email_error": None, "email_sent_at": None,
                } for notice in escalation.notices)
        _insert_many(session, Notification.__table__, notification_rows)
        # Each triage moved its report once (new -> triaged); the rest are later moves.
        counts.update(reports=len(rows), triaged=len(triage_rows), transitions=len(triage_rows),
                      review_transitions=len(transition_rows) - len(triage_rows),
                      reviews=len(review_rows), gate_checks=len(gate_rows),
                      evidence=len(evidence_rows), communications=len(communication_rows),
                      notifications=len(notification_rows))
        references = {"first_reference": rows[0]["reference"],
                      "last_reference": rows[-1]["reference"]}
        uow.record(SYSTEM, "demo.reports_loaded", "near_miss_report", None,
                   after={"count": len(rows), **references})
        uow.record(SYSTEM, "demo.triage_loaded", "near_miss_report", None, after={
            **{key: counts[key] for key in ("triaged", "transitions", "escalations",
                                            "acknowledged", "decided", "notifications")},
            **references})
        uow.record(SYSTEM, "demo.reviews_loaded", "near_miss_report", None, after={
            "reviews": counts["reviews"], "closed": counts["closed"],
            "transitions": counts["review_transitions"], "gate_checks": counts["gate_checks"],
            "evidence": counts["evidence"], "communications": counts["communications"],
            **references})
        uow.commit()
    return counts
