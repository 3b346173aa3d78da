"""Storing the generated reports and their history, one audited transaction per chunk.

One insert path for both databases: SQLAlchemy Core `insert()` with a list of rows, which it
sends as an executemany (and as batched multi-row INSERTs with RETURNING where ids are needed:
"insertmanyvalues", on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.auth.actor import SYSTEM
from core.clock import to_local, utcnow
from core.config import Settings
from core.escalation.models import Escalation, Notification
from core.escalation.rules import EscalationKind
from core.reports.models import NearMissReport, ReferenceCounter, ReportTransition
from core.review.models import CommunicationDecision, GateCheck, Review, ValidationEvidence
from core.triage.models import TriageRecord
from core.uow import UnitOfWork
from ops.demo.records import DemoEscalation, DemoRecord


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]], *,
                ids: bool = False) -> list[int]:
    """Insert many rows at once; with `ids`, their new ids in row order."""
    if not rows:
        return []
    if not ids:
        session.execute(insert(table), rows)
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.execute(statement, rows).scalars())


def reserve_numbers(session: Session, year: int, count: int) -> int:
    """Take `count` reference numbers of `year` at once; returns the first one (the same
    upsert as core.filing.service.next_reference, safe beside concurrent filing)."""
    upsert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
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


def _store_reports(session: Session, records: list[DemoRecord], rules: Settings) -> None:
    """Number the reports (continuing each year's counter where it stands, in the same
    transaction, so a failed chunk leaves no gap), insert them and note their ids."""
    rows = [record.report for record in records]
    years = [to_local(row["reported_at"], rules.zone).year for row in rows]
    next_number = {year: reserve_numbers(session, year, count)
                   for year, count in sorted(Counter(years).items())}
    for row, year in zip(rows, years, strict=True):
        row["reference"] = f"{rules.reference_prefix}-{year}-{next_number[year]:05d}"
        next_number[year] += 1
    # A plain executemany and one read of the new ids is faster than RETURNING in row order
    # (on PostgreSQL more than twice). Ids only grow, so this transaction's rows are above the
    # highest id before them; matching on the reference leaves out anything filed meanwhile.
    table = NearMissReport.__table__
    before = session.scalar(select(func.max(table.c.id))) or 0
    insert_rows(session, table, rows)
    ids = {reference: report_id for reference, report_id in session.execute(
        select(table.c.reference, table.c.id).where(table.c.id > before))}
    for record in records:
        record.slot.id = ids[record.report["reference"]]


@dataclass
class _History:
    """One chunk's history rows, each with its report's id."""

    tables: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    # An undecided escalation leaves `decision` out, so it is SQL NULL as the service
    # leaves it (a JSON null otherwise): decided and undecided ones go in apart.
    escalations: dict[bool, list[tuple[DemoRecord, DemoEscalation]]] = field(
        default_factory=lambda: {True: [], False: []})

    def add(self, table: Table, rows: list[dict[str, Any]], report_id: int | None) -> None:
        self.tables.setdefault(table, []).extend({**r, "report_id": report_id} for r in rows)


def _history_rows(records: list[DemoRecord], counts: Counter[str]) -> _History:
    found = _History()
    for table in (TriageRecord.__table__, ReportTransition.__table__, Review.__table__,
                  GateCheck.__table__, ValidationEvidence.__table__,
                  CommunicationDecision.__table__):
        found.tables[table] = []
    for record in records:
        report_id = record.slot.id
        if record.triage is not None:
            linked = sorted({s.id for s in record.related if s.id is not None})
            found.add(TriageRecord.__table__,
                      [{**record.triage, "related_report_ids": linked}], report_id)
        found.add(ReportTransition.__table__, record.transitions, report_id)
        if record.review is not None:
            found.add(Review.__table__, [record.review], report_id)
            counts["closed"] += record.review["closed_at"] is not None
            found.add(GateCheck.__table__, record.gate_checks, report_id)
            found.add(ValidationEvidence.__table__, record.evidence, report_id)
            found.add(CommunicationDecision.__table__, record.communications, report_id)
        for escalation in record.escalations:
            counts["escalations"] += 1
            counts["acknowledged"] += escalation.row["acknowledged_at"] is not None
            counts["decided"] += escalation.row["decided_at"] is not None
            found.escalations["decision" in escalation.row].append((record, escalation))
    return found


def _store_escalations(session: Session, found: _History, rules: Settings) -> int:
    """The escalations, and a notification for each recipient of a recent one."""
    notifications = []
    for group in found.escalations.values():
        rows = [{**e.row, "report_id": record.slot.id} for record, e in group]
        escalation_ids = insert_rows(session, Escalation.__table__, rows, ids=True)
        for (record, escalation), escalation_id in zip(group, escalation_ids, strict=True):
            if not escalation.notices:
                continue
            kind = EscalationKind(escalation.row["kind"])
            title, body = _notification_text(kind, record.report["reference"], escalation, rules)
            notifications.extend({
                "user_id": notice.user_id, "report_id": record.slot.id,
                "escalation_id": escalation_id, "kind": f"escalation.{kind.value}",
                "title": title, "body": body, "created_at": escalation.row["raised_at"],
                "read_at": notice.read_at, "email_to": None, "email_status": "not_needed",
                "email_attempts": 0, "email_error": None, "email_sent_at": None,
            } for notice in escalation.notices)
    insert_rows(session, Notification.__table__, notifications)
    return len(notifications)


def _record_events(uow: UnitOfWork, rows: list[dict[str, Any]], counts: Counter[str]) -> None:
    """Three audit events per chunk, with the counts: the chain stays short and verifiable."""
    references = {"first_reference": rows[0]["reference"],
                  "last_reference": rows[-1]["reference"]}
    uow.record(SYSTEM, "demo.reports_loaded", "near_miss_report", None,
               after={"count": len(rows), **references}, at=utcnow())
    uow.record(SYSTEM, "demo.triage_loaded", "near_miss_report", None, after={
        **{key: counts[key] for key in ("triaged", "transitions", "escalations",
                                        "acknowledged", "decided", "notifications")},
        **references}, at=utcnow())
    uow.record(SYSTEM, "demo.reviews_loaded", "near_miss_report", None, after={
        "reviews": counts["reviews"], "closed": counts["closed"],
        "transitions": counts["review_transitions"], "gate_checks": counts["gate_checks"],
        "evidence": counts["evidence"], "communications": counts["communications"],
        **references}, at=utcnow())


def store_chunk(engine: Engine, records: list[DemoRecord], *, rules: Settings) -> Counter[str]:
    """Number and insert one chunk of reports and their history in one audited transaction."""
    counts: Counter[str] = Counter()
    with UnitOfWork(engine) as uow:
        session = uow.session
        _store_reports(session, records, rules)
        found = _history_rows(records, counts)
        for table, rows in found.tables.items():
            insert_rows(session, table, rows)
        notifications = _store_escalations(session, found, rules)
        tables = found.tables
        triaged = len(tables[TriageRecord.__table__])
        # Each triage moved its report once (new -> triaged); the rest are later moves.
        counts.update(
            reports=len(records), triaged=triaged, transitions=triaged,
            review_transitions=len(tables[ReportTransition.__table__]) - triaged,
            reviews=len(tables[Review.__table__]), gate_checks=len(tables[GateCheck.__table__]),
            evidence=len(tables[ValidationEvidence.__table__]),
            communications=len(tables[CommunicationDecision.__table__]),
            notifications=notifications)
        _record_events(uow, [record.report for record in records], counts)
        uow.commit()
    return counts
