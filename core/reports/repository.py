"""The report helpers every use case that changes a report shares.

Load a report in the actor's scope, check the version the person saw, move it through the
workflow (checked by the state machine, stamped in `report_transitions` so time to triage and
time in each state can be measured, and audited), and commit or say someone else won the race.
"""

from __future__ import annotations

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


def get_in_scope(session: Session, actor: Actor, reference: str) -> NearMissReport:
    """The report with this reference, if the actor's services cover it (else NotFound)."""
    report = None if has_nul(reference) else session.scalar(select(NearMissReport).where(
        NearMissReport.reference == reference.strip().upper()))
    if report is None or not actor.covers_service(report.service_id):
        # Same answer for "does not exist" and "not yours": references are guessable.
        raise NotFound(f"No near miss {reference.strip().upper()} among your services.")
    return report


def check_version(report: NearMissReport, expected_version: int, rules: Settings) -> None:
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
    """Move a report to `target` if the workflow allows it. Call inside `with uow:`."""
    current = ReportStatus(report.status)
    check_move(current, target)
    report.status = target.value
    report.status_changed_at = now
    uow.session.add(ReportTransition(report_id=report.id, from_status=current.value,
                                     to_status=target.value, at=now,
                                     actor_id=actor.user_id if actor else None, reason=reason))
    uow.record(actor, "report.moved", "near_miss_report", report.id, at=now,
               before={"status": current.value},
               after={"status": target.value, "reason": reason, "reference": report.reference})


def commit_or_conflict(uow: UnitOfWork, report: NearMissReport) -> None:
    try:
        uow.commit()
    except StaleDataError as exc:  # a concurrent change won the race at the database
        raise ConflictError(f"Someone else changed {report.reference} at the same moment. "
                            "Nothing you entered was saved over their change: reload and try "
                            "again.") from exc
