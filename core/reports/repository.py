"""The report repository: how every use case that changes a report finds and moves it.

Load a report in the actor's scope, check the version the person saw, move it through the
workflow (checked by the state machine, stamped in `report_transitions` so time to triage and
time in each state can be measured, and audited), and commit or say someone else won the race.

`ReportRepository` holds those rules once; a storage supplies only how a report is found and
how a move is kept. `SqlAlchemyReportRepository` is the database's, bound to a unit of work's
session and reached as `uow.reports`; tests/fakes.py keeps reports in a dict, so use cases that
need nothing else from the database are tested in milliseconds (tests/unit).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.auth.actor import Actor
from core.clock import to_local
from core.config import Settings
from core.errors import ConflictError, NotFound, has_nul
from core.reports.models import NearMissReport, ReportTransition
from core.reports.vocabulary import ReportStatus
from core.reports.workflow import check_move
from core.uow import UnitOfWork


class ReportRepository(ABC):
    """Reports as the use cases that move them see them: in the actor's scope, at the version
    the person saw, moved only by the workflow's legal moves, each move kept."""

    @abstractmethod
    def _find(self, reference: str) -> NearMissReport | None:
        """The report with this reference (already stripped and upper-cased), whoever's it is."""

    @abstractmethod
    def _keep_move(self, move: ReportTransition) -> None:
        """Keep a workflow move with the report's change, in the same transaction."""

    def get_in_scope(self, actor: Actor, reference: str) -> NearMissReport:
        """The report with this reference, if the actor's services cover it (else NotFound)."""
        report = None if has_nul(reference) else self._find(reference.strip().upper())
        if report is None or not actor.covers_service(report.service_id):
            # Same answer for "does not exist" and "not yours": references are guessable.
            raise NotFound(f"No near miss {reference.strip().upper()} among your services.")
        return report

    def check_version(self, report: NearMissReport, expected_version: int,
                      rules: Settings) -> None:
        """ConflictError unless the report is still at the version the person saw."""
        check_version(report, expected_version, rules)

    def move(self, actor: Actor | None, report: NearMissReport, target: ReportStatus, *,
             now: datetime, reason: str | None = None) -> ReportStatus:
        """Move the report to `target` if the workflow allows it and keep the move; returns the
        state it left. The audit event is the caller's (`transition` records it)."""
        current = ReportStatus(report.status)
        check_move(current, target)
        report.status = target.value
        report.status_changed_at = now
        self._keep_move(ReportTransition(report_id=report.id, from_status=current.value,
                                         to_status=target.value, at=now,
                                         actor_id=actor.user_id if actor else None,
                                         reason=reason))
        return current


class SqlAlchemyReportRepository(ReportRepository):
    """The reports in the database, through one session (a unit of work's, or a read's)."""

    def __init__(self, session: Session):
        self.session = session

    def _find(self, reference: str) -> NearMissReport | None:
        return self.session.scalar(select(NearMissReport).where(
            NearMissReport.reference == reference))

    def _keep_move(self, move: ReportTransition) -> None:
        self.session.add(move)


# Every unit of work opens its report repository on its own session (`uow.reports`); this
# package registers it because core.uow sits below it and may not import it (.importlinter).
UnitOfWork.repositories["reports"] = SqlAlchemyReportRepository


def get_in_scope(session: Session, actor: Actor, reference: str) -> NearMissReport:
    """The report with this reference, if the actor's services cover it (else NotFound).

    For reads through a plain session; a use case inside `with uow:` calls
    `uow.reports.get_in_scope`.
    """
    return SqlAlchemyReportRepository(session).get_in_scope(actor, reference)


def check_version(report: NearMissReport, expected_version: int, rules: Settings) -> None:
    """ConflictError, naming the report's state now, unless it is at `expected_version`."""
    if report.version_id != expected_version:
        when = ""
        if report.status_changed_at is not None:
            when = " at " + to_local(report.status_changed_at, rules.zone).strftime("%H:%M")
        raise ConflictError(
            f"Someone else changed {report.reference} while you had it open (it is now "
            f"“{ReportStatus(report.status).label}”{when}). Nothing you entered was saved "
            "over their change: look at the report as it is now and try again.")


def transition(uow: UnitOfWork, actor: Actor | None, report: NearMissReport,
               target: ReportStatus, *, now: datetime, reason: str | None = None) -> None:
    """Move a report to `target` if the workflow allows it, kept by `uow.reports` and audited.
    Call inside `with uow:`."""
    current = uow.reports.move(actor, report, target, now=now, reason=reason)
    uow.record(actor, "report.moved", "near_miss_report", report.id, at=now,
               before={"status": current.value},
               after={"status": target.value, "reason": reason, "reference": report.reference})


def commit_or_conflict(uow: UnitOfWork, report: NearMissReport) -> None:
    """Commit, or ConflictError if a concurrent change to the report won the race."""
    try:
        uow.commit()
    except StaleDataError as exc:  # a concurrent change won the race at the database
        raise ConflictError(f"Someone else changed {report.reference} at the same moment. "
                            "Nothing you entered was saved over their change: reload and try "
                            "again.") from exc
