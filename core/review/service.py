"""Use cases of review and closure.

A report cannot move on while a "cannot proceed without" gate is open, and cannot close until
every "auditable validation" item carries evidence (who, when, what). The review is done
against the template version current when it started, and keeps it even if the type changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from core.attachments.service import keep_evidence_file
from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.clock import to_utc
from core.config import Settings
from core.errors import NUL_MESSAGE, DomainError, ValidationFailed, has_nul
from core.reports.drafts import clean_field_value
from core.reports.models import NearMissReport
from core.reports.repository import commit_or_conflict, transition
from core.reports.vocabulary import Barrier, ReportStatus
from core.reports.workflow import check_step
from core.review.models import (
    CommunicationDecision,
    GateCheck,
    Review,
    ValidationEvidence,
)
from core.review.rules import describe, missing_evidence, open_gates, review_problems
from core.review.vocabulary import AUDIENCES, CONTROL_RELIABLE, WOULD_WORK_AGAIN
from core.taxonomy.models import NearMissType
from core.taxonomy.schema import NearMissTypeSpec
from core.taxonomy.service import live_taxonomy, type_version
from core.uow import UnitOfWork

REVIEWABLE = (ReportStatus.IN_REVIEW, ReportStatus.ACTIONS, ReportStatus.VALIDATING)


class WorkflowBlocked(DomainError):
    """The report cannot move on yet; `items` are the labels still open."""

    def __init__(self, message: str, items: list[str]):
        super().__init__(message)
        self.items = items


def _review_of(uow: UnitOfWork, report: NearMissReport) -> tuple[Review, NearMissTypeSpec]:
    review = uow.session.scalar(select(Review).where(Review.report_id == report.id))
    if review is None:
        raise ValidationFailed({"review": "The review has not been started yet."})
    return review, type_version(uow.session, report.type_key, review.template_version)


def _in_states(report: NearMissReport, states: tuple[ReportStatus, ...], doing: str) -> None:
    if ReportStatus(report.status) not in states:
        raise ValidationFailed({"status": f"You can {doing} only while the report is "
                                          + " or ".join(f"“{s.label}”" for s in states)
                                          + f"; it is “{ReportStatus(report.status).label}”."})


def _require_review_done(uow: UnitOfWork, report: NearMissReport,
                         ) -> tuple[Review, NearMissTypeSpec]:
    """WorkflowBlocked unless the review is complete and every "cannot proceed without" gate
    is ticked or not applicable. Every move past review checks it, whichever service moves."""
    review, template = _review_of(uow, report)
    problems = review_problems(template, review.field_values,
                               control_reliable=review.control_reliable,
                               would_work_again=review.would_work_again,
                               barrier_class=review.barrier_class)
    if problems:
        raise WorkflowBlocked("The review is not complete. " + " ".join(problems.values()),
                              list(problems.values()))
    checked = set(uow.session.scalars(select(GateCheck.gate_key).where(
        GateCheck.report_id == report.id)))
    still_open = open_gates(template, checked)
    if still_open:
        raise WorkflowBlocked("Cannot proceed without: " + describe(still_open) + ".",
                              [g.label for g in still_open])
    return review, template


@contextmanager
def _status_change(uow: UnitOfWork, actor: Actor, reference: str, *, expected_version: int,
                   rules: Settings) -> Iterator[NearMissReport]:
    """The steps every move of a report's status shares, around what the caller checks and
    records: in one transaction, the report in the actor's scope at the version their page
    showed; committed at the end unless someone else changed it meanwhile (ConflictError)."""
    with uow:
        report = uow.reports.get_in_scope(actor, reference)
        uow.reports.check_version(report, expected_version, rules)
        yield report
        commit_or_conflict(uow, report)


def start_review(uow: UnitOfWork, actor: Actor, reference: str, *, expected_version: int,
                 now: datetime, rules: Settings) -> None:
    """Open the review of a triaged report, fixing the template version it is reviewed with."""
    require(actor, Capability.REVIEW)
    with _status_change(uow, actor, reference, expected_version=expected_version,
                        rules=rules) as report:
        # Closed -> in review is a legal move too, but it is reopening: a quality lead's, with
        # a reason (reopen_report). Starting a review is for a triaged report only.
        check_step(ReportStatus(report.status), ReportStatus.IN_REVIEW,
                   only_from=(ReportStatus.TRIAGED,),
                   why="a closed report goes back into review only when a quality lead "
                       "reopens it, with a reason")
        transition(uow, actor, report, ReportStatus.IN_REVIEW, now=now,
                          reason="Review started")
        current = uow.session.get(NearMissType, report.type_key)
        assert current is not None
        template = type_version(uow.session, report.type_key, current.current_version)
        asked = {f.key for f in template.fields if f.source is None}
        existing = uow.session.scalar(select(Review).where(Review.report_id == report.id))
        if existing is None:  # a reopened report keeps its review
            review = Review(
                report_id=report.id, template_version=current.current_version,
                # What the reporter already gave at capture is the review's starting point.
                field_values={k: v for k, v in (report.capture_fields or {}).items()
                              if k in asked},
                contributing_factors=[], barrier_class=report.barrier,
                reviewer_id=actor.user_id, started_at=now, updated_at=now)
            uow.session.add(review)
            uow.session.flush()
            uow.record(actor, "review.started", "near_miss_report", report.id, at=now,
                       after={"template_version": review.template_version})


@dataclass
class ReviewInput:
    """The review form: the type's fields and the questions leaders ask (seed 1)."""

    field_values: dict[str, Any] = field(default_factory=dict)
    what_stopped_harm: str = ""
    control_reliable: str | None = None
    would_work_again: str | None = None
    would_work_again_note: str = ""
    contributing_factors: list[str] = field(default_factory=list)
    barrier_class: str | None = None
    findings: str = ""


def save_review(uow: UnitOfWork, actor: Actor, reference: str, data: ReviewInput, *,
                now: datetime, rules: Settings) -> dict[str, str]:
    """Save the review as far as it goes; returns what is still needed to finish it.

    Values that are wrong (not just missing) are refused with ValidationFailed.
    """
    require(actor, Capability.REVIEW)
    with uow:
        session = uow.session
        report = uow.reports.get_in_scope(actor, reference)
        _in_states(report, REVIEWABLE, "edit the review")
        review, template = _review_of(uow, report)
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for spec in template.fields:
            if spec.source is not None:
                continue
            value, problem = clean_field_value(spec, data.field_values.get(spec.key),
                                                  rules.report)
            if problem:
                errors[f"field.{spec.key}"] = problem
            elif value is not None:
                values[spec.key] = value
        if data.control_reliable is not None and data.control_reliable not in CONTROL_RELIABLE:
            errors["control_reliable"] = "Choose one of the answers."
        if data.would_work_again is not None and data.would_work_again not in WOULD_WORK_AGAIN:
            errors["would_work_again"] = "Choose one of the answers."
        if data.barrier_class is not None and data.barrier_class not in Barrier._value2member_map_:
            errors["barrier_class"] = "Choose one of the barrier classes."
        factors = {f.key for f in live_taxonomy(session).contributing_factors}
        if set(data.contributing_factors) - factors:
            errors["contributing_factors"] = "Choose factors from the list."
        limit = rules.report.description_max_chars
        for name in ("what_stopped_harm", "would_work_again_note", "findings"):
            if len(getattr(data, name)) > limit:
                errors[name] = f"Keep this to {limit} characters."
            elif has_nul(getattr(data, name)):
                errors[name] = NUL_MESSAGE
        if errors:
            raise ValidationFailed(errors)
        before = _review_snapshot(review)
        review.field_values = values
        review.what_stopped_harm = data.what_stopped_harm.strip() or None
        review.control_reliable = data.control_reliable
        review.would_work_again = data.would_work_again
        review.would_work_again_note = data.would_work_again_note.strip() or None
        review.contributing_factors = sorted(set(data.contributing_factors))
        review.barrier_class = data.barrier_class
        review.findings = data.findings.strip() or None
        review.updated_at = now
        uow.record(actor, "review.saved", "near_miss_report", report.id, at=now,
                   before=before, after=_review_snapshot(review))
        uow.commit()
        return review_problems(template, values, control_reliable=review.control_reliable,
                               would_work_again=review.would_work_again,
                               barrier_class=review.barrier_class)


def _review_snapshot(review: Review) -> dict[str, Any]:
    return {"field_values": review.field_values, "what_stopped_harm": review.what_stopped_harm,
            "control_reliable": review.control_reliable,
            "would_work_again": review.would_work_again,
            "would_work_again_note": review.would_work_again_note,
            "contributing_factors": review.contributing_factors,
            "barrier_class": review.barrier_class, "findings": review.findings}


def check_gate(uow: UnitOfWork, actor: Actor, reference: str, gate_key: str, *, note: str,
               not_applicable: bool = False, now: datetime) -> None:
    """Tick a "cannot proceed without" item, or mark it not applicable with a reason."""
    require(actor, Capability.REVIEW)
    with uow:
        report = uow.reports.get_in_scope(actor, reference)
        _in_states(report, REVIEWABLE, "tick gates")
        _review, template = _review_of(uow, report)
        gate = next((g for g in template.gates if g.key == gate_key), None)
        if gate is None:
            raise ValidationFailed({"gate": "That is not one of this type's gates."})
        if not_applicable and not gate.may_be_not_applicable:
            raise ValidationFailed({"gate": f"“{gate.label}” cannot be marked not applicable."})
        if not note.strip():
            raise ValidationFailed({"note": "Give the reason it does not apply." if not_applicable
                                    else "Say what was done (a short note is enough)."})
        if has_nul(note):
            raise ValidationFailed({"note": NUL_MESSAGE})
        check = uow.session.scalar(select(GateCheck).where(
            GateCheck.report_id == report.id, GateCheck.gate_key == gate_key))
        before = {"state": check.state, "note": check.note} if check else None
        if check is None:
            check = GateCheck(report_id=report.id, gate_key=gate_key, state="", note="",
                              checked_by_id=actor.user_id, checked_at=now)
            uow.session.add(check)
        check.state = "not_applicable" if not_applicable else "done"
        check.note, check.checked_by_id, check.checked_at = note.strip(), actor.user_id, now
        uow.session.flush()
        uow.record(actor, "review.gate_checked", "near_miss_report", report.id, at=now,
                   before=before, after={"gate": gate_key, "label": gate.label,
                                         "state": check.state, "note": check.note})
        uow.commit()


def finish_review(uow: UnitOfWork, actor: Actor, reference: str, *, next_step: ReportStatus,
                  expected_version: int, now: datetime,
                  rules: Settings) -> None:
    """Move past review, to actions or straight to validating, once it is complete."""
    require(actor, Capability.REVIEW)
    if next_step not in (ReportStatus.ACTIONS, ReportStatus.VALIDATING):
        raise ValidationFailed({"next_step": "Choose actions or validation."})
    with _status_change(uow, actor, reference, expected_version=expected_version,
                        rules=rules) as report:
        _in_states(report, (ReportStatus.IN_REVIEW,), "finish the review")
        _require_review_done(uow, report)
        transition(uow, actor, report, next_step, now=now, reason="Review complete")


def move_to_validating(uow: UnitOfWork, actor: Actor, reference: str, *, expected_version: int,
                       now: datetime, rules: Settings) -> None:
    """Actions are in place: validate that the fix works."""
    require(actor, Capability.REVIEW)
    with _status_change(uow, actor, reference, expected_version=expected_version,
                        rules=rules) as report:
        # From actions only: a report in review gets here through finish_review, which checks
        # the review and its gates; checked again here so no path skips them.
        check_step(ReportStatus(report.status), ReportStatus.VALIDATING,
                   only_from=(ReportStatus.ACTIONS,),
                   why="finish the review first (its answers and every “cannot proceed "
                       "without” item are checked then)")
        _require_review_done(uow, report)
        transition(uow, actor, report, ReportStatus.VALIDATING, now=now,
                          reason="Actions in place; validating")


def record_evidence(uow: UnitOfWork, actor: Actor, reference: str, item_key: str, *, note: str,
                    file: tuple[str, bytes] | None = None, now: datetime,
                    rules: Settings) -> None:
    """Evidence for a validation item: a note (who and when are recorded) and maybe a file."""
    require(actor, Capability.REVIEW)
    if not note.strip():
        raise ValidationFailed({"note": "Describe the evidence (what was checked, seen or done)."})
    if len(note) > rules.report.description_max_chars:
        raise ValidationFailed({"note": f"Keep this to {rules.report.description_max_chars} "
                                        "characters."})
    with uow:
        session = uow.session
        report = uow.reports.get_in_scope(actor, reference)
        _in_states(report, REVIEWABLE, "record validation evidence")
        _review, template = _review_of(uow, report)
        item = next((v for v in template.validation if v.key == item_key), None)
        if item is None:
            raise ValidationFailed({"item": "That is not one of this type's validation items."})
        attachment_id = None
        if file is not None:
            attachment_id = keep_evidence_file(session, actor, file, report_id=report.id,
                                               now=now, rules=rules).id
        evidence = session.scalar(select(ValidationEvidence).where(
            ValidationEvidence.report_id == report.id, ValidationEvidence.item_key == item_key))
        before = ({"note": evidence.note, "attachment_id": evidence.attachment_id}
                  if evidence else None)
        if evidence is None:
            evidence = ValidationEvidence(report_id=report.id, item_key=item_key, note="",
                                          recorded_by_id=actor.user_id, recorded_at=now)
            session.add(evidence)
        evidence.note, evidence.recorded_by_id, evidence.recorded_at = note.strip(), \
            actor.user_id, now
        if attachment_id is not None:
            evidence.attachment_id = attachment_id
        session.flush()
        uow.record(actor, "review.evidence_recorded", "near_miss_report", report.id, at=now,
                   before=before, after={"item": item_key, "label": item.label,
                                         "note": evidence.note,
                                         "attachment_id": evidence.attachment_id})
        uow.commit()


@dataclass
class CommunicationInput:
    audience: str | None = None
    communicated: bool | None = None
    what: str = ""
    communicated_at: datetime | None = None  # naive local time as entered


def record_communication(uow: UnitOfWork, actor: Actor, reference: str,
                         data: CommunicationInput, *, now: datetime,
                         rules: Settings) -> None:
    """A decision about telling family, representative, case manager or funder (seed 1)."""
    require(actor, Capability.REVIEW)
    errors: dict[str, str] = {}
    if data.audience not in AUDIENCES:
        errors["audience"] = "Choose who it is about."
    if data.communicated is None:
        errors["communicated"] = "Say whether it was communicated."
    if not data.what.strip():
        errors["what"] = ("Say what was communicated." if data.communicated
                          else "Say why it was not needed.")
    elif has_nul(data.what):
        errors["what"] = NUL_MESSAGE
    try:
        at_utc = to_utc(data.communicated_at, rules.zone) if data.communicated_at else None
    except OverflowError:  # a date at the very edge of the calendar
        at_utc = None
        errors["communicated_at"] = "That date is out of range."
    if "communicated_at" in errors:
        pass
    elif data.communicated and at_utc is None:
        errors["communicated_at"] = "Say when it was communicated."
    elif at_utc is not None and at_utc > now:
        errors["communicated_at"] = "That time is in the future."
    if errors:
        raise ValidationFailed(errors)
    with uow:
        report = uow.reports.get_in_scope(actor, reference)
        _in_states(report, (ReportStatus.TRIAGED, *REVIEWABLE), "record communication")
        decision = CommunicationDecision(
            report_id=report.id, audience=data.audience or "", communicated=bool(
                data.communicated), what=data.what.strip(),
            communicated_at=at_utc if data.communicated else None,
            decided_by_id=actor.user_id, recorded_at=now)
        uow.session.add(decision)
        uow.session.flush()
        uow.record(actor, "review.communication_recorded", "near_miss_report", report.id,
                   at=now, after={"audience": decision.audience,
                                  "communicated": decision.communicated, "what": decision.what,
                                  "communicated_at": decision.communicated_at})
        uow.commit()


def close_report(uow: UnitOfWork, actor: Actor, reference: str, *, outcome: str,
                 expected_version: int, now: datetime,
                 rules: Settings) -> None:
    """Close once every validation item has evidence; records who, when and the outcome."""
    require(actor, Capability.REVIEW)
    if not outcome.strip():
        raise ValidationFailed({"outcome": "Record the outcome: what changed, and is the control "
                                           "reliable now?"})
    with _status_change(uow, actor, reference, expected_version=expected_version,
                        rules=rules) as report:
        _in_states(report, (ReportStatus.VALIDATING,), "close the report")
        review, template = _require_review_done(uow, report)
        before = {"closed_at": review.closed_at, "outcome": review.outcome}
        evidenced = set(uow.session.scalars(select(ValidationEvidence.item_key).where(
            ValidationEvidence.report_id == report.id)))
        missing = missing_evidence(template, evidenced)
        if missing:
            raise WorkflowBlocked("Cannot close until every validation item has evidence: "
                                  + describe(missing) + ".", [m.label for m in missing])
        review.closed_at, review.closed_by_id = now, actor.user_id
        review.outcome = outcome.strip()
        transition(uow, actor, report, ReportStatus.CLOSED, now=now, reason="Closed")
        uow.record(actor, "review.closed", "near_miss_report", report.id, at=now,
                   before=before, after={"closed_at": now, "outcome": review.outcome})


def reopen_report(uow: UnitOfWork, actor: Actor, reference: str, *, reason: str,
                  expected_version: int, now: datetime,
                  rules: Settings) -> None:
    """A quality lead reopens a closed report into review, with a reason (audited)."""
    require(actor, Capability.REOPEN)
    if not reason.strip():
        raise ValidationFailed({"reason": "Give the reason for reopening."})
    with _status_change(uow, actor, reference, expected_version=expected_version,
                        rules=rules) as report:
        check_step(ReportStatus(report.status), ReportStatus.IN_REVIEW,
                   only_from=(ReportStatus.CLOSED,), why="only a closed report is reopened")
        review, _template = _review_of(uow, report)
        before = {"closed_at": review.closed_at, "outcome": review.outcome}
        transition(uow, actor, report, ReportStatus.IN_REVIEW, now=now,
                          reason=f"Reopened: {reason.strip()}")
        review.closed_at, review.closed_by_id, review.outcome = None, None, None
        uow.record(actor, "review.reopened", "near_miss_report", report.id, at=now,
                   before=before, after={"reason": reason.strip()})
