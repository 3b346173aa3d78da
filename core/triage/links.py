"""Linking two related reports in one click, and removing the link.

The reviewer who sees an earlier report that reads alike (core.review.related) says "this
happened before" by linking it. A link is one row per pair (core.triage.models.ReportLink),
the later report first, so linking from either page, twice, or by two people at once is still
one link. The recurrence count (core.triage.recurrence) counts a linked earlier report whatever
its type. Both reports must be among the reviewer's services; linking is part of triage, so
the roles that triage may do it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.config import Settings
from core.errors import ValidationFailed
from core.reports.models import NearMissReport
from core.reports.repository import check_version, get_in_scope
from core.reports.vocabulary import ReportStatus
from core.triage.models import ReportLink
from core.triage.recurrence import propose_recurrence, related_reports
from core.triage.vocabulary import Recurrence
from core.uow import UnitOfWork


@dataclass(frozen=True)
class LinkOutcome:
    """What a link or unlink did: `changed` is False when there was nothing to do."""

    reference: str
    other_reference: str
    changed: bool
    later_reference: str  # the report that counts the other as a recurrence


def _ordered(a: NearMissReport, b: NearMissReport) -> tuple[NearMissReport, NearMissReport]:
    """(later, earlier) by when each happened, then by id: one orientation per pair."""
    return (a, b) if (a.occurred_at, a.id) > (b.occurred_at, b.id) else (b, a)


def _pair(session: Session, actor: Actor, reference: str, other_reference: str,
          expected_version: int | None, rules: Settings,
          ) -> tuple[NearMissReport, NearMissReport]:
    report = get_in_scope(session, actor, reference)
    if expected_version is not None:
        check_version(report, expected_version, rules)
    other = get_in_scope(session, actor, other_reference)
    if other.id == report.id:
        raise ValidationFailed({"other": "A report cannot be linked to itself."})
    return report, other


def _flag_repeat(session: Session, later: NearMissReport, rules: Settings) -> None:
    """Keep the board's "repeat" flag of a report waiting for triage in step with its links.

    Until triage the flag is the portal's proposal, so a new link makes it a repeat and a
    removed one may undo that; from triage on it is the triager's answer and stays.
    """
    if later.status != ReportStatus.NEW.value:
        return
    repeat = later.in_cluster or propose_recurrence(related_reports(
        session, later, window_days=rules.triage.recurrence_window_days, limit=5),
        None) is not Recurrence.SINGLE
    if repeat != later.is_repeat:
        # A flag, not a new version of the report: optimistic locking is for people's edits
        # (as core.triage.service.mark_cluster).
        session.execute(update(NearMissReport).where(NearMissReport.id == later.id)
                        .values(is_repeat=repeat).execution_options(synchronize_session=False))


def link_related(uow: UnitOfWork, actor: Actor, reference: str, other_reference: str, *,
                 expected_version: int | None = None, now: datetime,
                 rules: Settings) -> LinkOutcome:
    """Link the report open (`reference`) with another as related, audited.

    Both must be among the actor's services (NotFound otherwise, as for any report). Linking
    a pair already linked, either way round, changes nothing and records nothing.
    `expected_version`, when given, refuses a link made from a stale view of the report.
    """
    require(actor, Capability.TRIAGE)
    with uow:
        session = uow.session
        report, other = _pair(session, actor, reference, other_reference, expected_version,
                              rules)
        later, earlier = _ordered(report, other)
        if session.scalar(select(ReportLink.id).where(ReportLink.report_id == later.id,
                                                      ReportLink.earlier_id == earlier.id)):
            return LinkOutcome(report.reference, other.reference, False, later.reference)
        link = ReportLink(report_id=later.id, earlier_id=earlier.id, linked_by_id=actor.user_id,
                          linked_at=now)
        session.add(link)
        try:
            session.flush()
        except IntegrityError:
            # Someone linked the same pair at the same moment (PostgreSQL waits for their
            # transaction, then refuses the second row): one link, theirs.
            return LinkOutcome(report.reference, other.reference, False, later.reference)
        _flag_repeat(session, later, rules)
        uow.record(actor, "report.related_linked", "near_miss_report", report.id, at=now,
                   after={"reference": report.reference, "other": other.reference,
                          "later": later.reference, "earlier": earlier.reference,
                          "link_id": link.id})
        uow.commit()
        return LinkOutcome(report.reference, other.reference, True, later.reference)


def unlink_related(uow: UnitOfWork, actor: Actor, reference: str, other_reference: str, *,
                   now: datetime, rules: Settings) -> LinkOutcome:
    """Remove the link between two reports (either way round), audited; no link, no change."""
    require(actor, Capability.TRIAGE)
    with uow:
        session = uow.session
        report, other = _pair(session, actor, reference, other_reference, None, rules)
        later, earlier = _ordered(report, other)
        link = session.scalar(select(ReportLink).where(ReportLink.report_id == later.id,
                                                       ReportLink.earlier_id == earlier.id))
        if link is None:
            return LinkOutcome(report.reference, other.reference, False, later.reference)
        before = {"reference": report.reference, "other": other.reference,
                  "later": later.reference, "earlier": earlier.reference, "link_id": link.id,
                  "linked_by_id": link.linked_by_id,
                  "linked_at": link.linked_at.isoformat(timespec="seconds")}
        session.delete(link)
        session.flush()
        _flag_repeat(session, later, rules)
        uow.record(actor, "report.related_unlinked", "near_miss_report", report.id, at=now,
                   before=before, after={"reference": report.reference,
                                         "other": other.reference, "link_id": None})
        uow.commit()
        return LinkOutcome(report.reference, other.reference, True, later.reference)
