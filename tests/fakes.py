"""Fakes of the report repository and the unit of work, for use cases that need no SQL.

`FakeReportRepository` keeps reports in a dict and inherits every rule of
`core.reports.repository.ReportRepository` (scope, version, legal moves), supplying only how a
report is found and how a move is kept, so it cannot drift from the database's. It plays the
database: what a transaction changed is kept on commit (each changed report's version goes up,
as SQLAlchemy's `version_id_col` does) and undone on rollback.

`FakeUnitOfWork` keeps the audit events it commits in a list and refuses to commit a change
with no audit event (`UnauditedWrite`), as `core.uow.UnitOfWork` does. It has no session: a use
case that reads other tables fails loudly here and belongs in tests/integration.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import inspect

from core.auth.actor import Actor
from core.reports.models import NearMissReport, ReportTransition
from core.reports.repository import ReportRepository
from core.uow import ANONYMOUS_REPORTER, UnauditedWrite

_COLUMNS = tuple(attr.key for attr in inspect(NearMissReport).column_attrs)


def _row(report: NearMissReport) -> dict[str, Any]:
    """The report's stored values, copied (capture fields are a mutable dict)."""
    return {key: copy.deepcopy(getattr(report, key)) for key in _COLUMNS}


class FakeReportRepository(ReportRepository):
    """Reports by reference in a dict, with their committed workflow moves in a list."""

    def __init__(self, reports: Iterable[NearMissReport] = ()):
        self._reports: dict[str, NearMissReport] = {}
        self._saved: dict[str, dict[str, Any]] = {}  # each report as last committed
        self._staged: list[ReportTransition] = []  # moves of the open transaction
        self.transitions: list[ReportTransition] = []  # committed moves, in order
        for report in reports:
            self.add(report)

    def add(self, report: NearMissReport) -> None:
        """Store a report as already committed (a test's starting data)."""
        self._reports[report.reference] = report
        self._saved[report.reference] = _row(report)

    def _find(self, reference: str) -> NearMissReport | None:
        return self._reports.get(reference)

    def _keep_move(self, move: ReportTransition) -> None:
        self._staged.append(move)

    def changed(self) -> bool:
        """Whether the open transaction changed a report or moved one."""
        return bool(self._staged) or any(_row(report) != self._saved[reference]
                                         for reference, report in self._reports.items())

    def save(self) -> None:
        """Commit: each changed report goes up one version, its moves are kept."""
        for reference, report in self._reports.items():
            if _row(report) != self._saved[reference]:
                report.version_id += 1
                self._saved[reference] = _row(report)
        self.transitions.extend(self._staged)
        self._staged.clear()

    def discard(self) -> None:
        """Roll back: every report as last committed, the transaction's moves dropped."""
        for reference, report in self._reports.items():
            for key, value in self._saved[reference].items():
                setattr(report, key, copy.deepcopy(value))
        self._staged.clear()


@dataclass(frozen=True)
class RecordedEvent:
    """An audit event as `UnitOfWork.record` was called with it."""

    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    before: Any
    after: Any
    at: datetime


class FakeUnitOfWork:
    """`core.uow.UnitOfWork` over a FakeReportRepository: one transaction per `with`."""

    def __init__(self, reports: FakeReportRepository):
        self.reports = reports
        self.events: list[RecordedEvent] = []  # committed, in order
        self._pending: list[RecordedEvent] = []
        self.committed = False
        self.rolled_back = False
        self._done = False

    @property
    def session(self) -> Any:
        raise AssertionError("This use case reads or writes tables beyond the report "
                             "repository: test it against a database in tests/integration.")

    def __enter__(self) -> Self:
        self._pending.clear()
        self.committed = self.rolled_back = self._done = False
        return self

    def record(self, actor: Actor | None, action: str, entity_type: str,
               entity_id: str | int | None, *, before: Any = None, after: Any = None,
               at: datetime) -> None:
        """Queue an audit event; `at` is required here so tests pass the time explicitly."""
        self._pending.append(RecordedEvent(
            actor=actor.username if actor else ANONYMOUS_REPORTER, action=action,
            entity_type=entity_type, entity_id=None if entity_id is None else str(entity_id),
            before=before, after=after, at=at))

    def commit(self) -> None:
        """Keep the changes and their audit events; refuse a change with no audit event."""
        if self.reports.changed() and not self._pending:
            raise UnauditedWrite("this transaction changed data but recorded no audit event")
        self.reports.save()
        self.events.extend(self._pending)
        self._pending.clear()
        self.committed = self._done = True

    def rollback(self) -> None:
        self.reports.discard()
        self._pending.clear()
        self.rolled_back = self._done = True

    def __exit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        if not self._done:
            self.rollback()
