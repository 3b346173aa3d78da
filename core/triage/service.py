"""Use cases of triage and of moving a report through its workflow.

Every move is checked by the state machine, stamped in `report_transitions` (so time to triage
and time in each state can be measured) and audited. Two people changing one report at once:
the second gets a ConflictError naming the new state, and nothing is overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.sql import ColumnElement

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.config import Settings
from core.errors import NUL_MESSAGE, ValidationFailed, has_nul
from core.escalation.rules import EscalationKind
from core.escalation.service import any_escalation, open_escalation, raise_escalation
from core.reports.models import NearMissReport
from core.reports.repository import commit_or_conflict, transition
from core.reports.vocabulary import ReportStatus
from core.reports.workflow import check_move
from core.taxonomy.service import live_taxonomy
from core.triage.matrix import review_level
from core.triage.models import TriageRecord
from core.triage.vocabulary import Recurrence, ReviewLevel, Route, Severity
from core.uow import UnitOfWork


@dataclass
class TriageAnswers:
    """The triage form: the four questions, the matrix inputs and the route."""

    at_risk_now: bool | None = None
    immediate_safeguards: str = ""
    safeguarding_trigger: bool | None = None
    safeguarding_signals: list[str] = field(default_factory=list)
    external_reporting: bool = False
    recurrence: str | None = None
    related_report_ids: list[int] = field(default_factory=list)
    severity: str | None = None
    investigation: str | None = None
    route: str | None = None
    notes: str = ""


@dataclass(frozen=True)
class TriageOutcome:
    reference: str
    matrix_level: ReviewLevel
    investigation: ReviewLevel
    route: Route
    escalations_raised: tuple[str, ...]


def validate_answers(answers: TriageAnswers, *, signal_keys: set[str], rules: Settings,
                     ) -> tuple[dict[str, str], ReviewLevel | None]:
    """Check the triage answers; returns (errors by field, the matrix's review level)."""
    errors: dict[str, str] = {}
    if answers.at_risk_now is None:
        errors["at_risk_now"] = "Answer: is anyone still at risk right now?"
    elif answers.at_risk_now and not answers.immediate_safeguards.strip():
        errors["immediate_safeguards"] = ("Someone is at risk: record the immediate safeguards "
                                          "taken before anything else.")
    if answers.safeguarding_trigger is None:
        errors["safeguarding_trigger"] = ("Answer: does it trigger safeguarding or external "
                                          "reporting?")
    elif answers.safeguarding_trigger and not answers.safeguarding_signals:
        errors["safeguarding_signals"] = "Choose the safeguarding or rights signal(s)."
    unknown = set(answers.safeguarding_signals) - signal_keys
    if unknown:
        errors["safeguarding_signals"] = "Choose signals from the list."
    try:
        recurrence = Recurrence(answers.recurrence) if answers.recurrence else None
    except ValueError:
        recurrence = None
    if recurrence is None:
        errors["recurrence"] = "Answer: is it a single event, a repeat or part of a cluster?"
    try:
        severity = Severity(answers.severity) if answers.severity else None
    except ValueError:
        severity = None
    if severity is None:
        errors["severity"] = "Choose the severity potential: how bad could it have been?"
    level = review_level(severity, recurrence, rules.triage) if severity and recurrence else None
    try:
        investigation = ReviewLevel(answers.investigation) if answers.investigation else None
    except ValueError:
        investigation = None
    if investigation is None:
        errors["investigation"] = "Choose the minimum investigation."
    elif level is not None and investigation.depth < level.depth:
        errors["investigation"] = (f"The matrix asks for at least “{level.label}” here: high "
                                   "potential or clustered near misses get deeper review even "
                                   "with no harm.")
    try:
        Route(answers.route or "")
    except ValueError:
        errors["route"] = "Choose who takes it forward."
    for name in ("notes", "immediate_safeguards"):
        if has_nul(getattr(answers, name)):
            errors[name] = NUL_MESSAGE
    if len(answers.notes) > rules.report.description_max_chars:
        errors["notes"] = f"Keep notes to {rules.report.description_max_chars} characters."
    if len(answers.immediate_safeguards) > rules.report.description_max_chars:
        errors["immediate_safeguards"] = (f"Keep this to {rules.report.description_max_chars} "
                                          "characters.")
    return errors, level


def triage_report(uow: UnitOfWork, actor: Actor, reference: str, answers: TriageAnswers, *,
                  expected_version: int, now: datetime,
                  rules: Settings) -> TriageOutcome:
    """Record the triage of a new report and move it to "triaged" (escalating as needed)."""
    require(actor, Capability.TRIAGE)
    with uow:
        report = uow.reports.get_in_scope(actor, reference)
        uow.reports.check_version(report, expected_version, rules)
        check_move(ReportStatus(report.status), ReportStatus.TRIAGED)
        # The rest reads and writes more than reports (taxonomy, triage record, escalations).
        session = uow.session
        signal_keys = {s.key for s in live_taxonomy(session).safeguarding_signals}
        errors, level = validate_answers(answers, signal_keys=signal_keys, rules=rules)
        if errors:
            raise ValidationFailed(errors)
        assert level is not None and answers.investigation and answers.route
        investigation, route = ReviewLevel(answers.investigation), Route(answers.route)
        recurrence = Recurrence(answers.recurrence or "")
        record = TriageRecord(
            report_id=report.id, at_risk_now=bool(answers.at_risk_now),
            immediate_safeguards=answers.immediate_safeguards.strip() or None,
            safeguarding_trigger=bool(answers.safeguarding_trigger),
            safeguarding_signals=sorted(answers.safeguarding_signals),
            external_reporting=answers.external_reporting, recurrence=recurrence.value,
            related_report_ids=sorted(set(answers.related_report_ids)),
            severity=answers.severity or "", matrix_level=level.value,
            investigation=investigation.value, route=route.value,
            notes=answers.notes.strip() or None, triaged_by_id=actor.user_id, triaged_at=now,
        )
        session.add(record)
        report.severity = answers.severity
        report.review_level = investigation.value
        report.routed_to = route.value
        report.triaged_at = now
        report.is_repeat = recurrence is not Recurrence.SINGLE
        report.in_cluster = recurrence is Recurrence.CLUSTER
        report.safeguarding = report.safeguarding or bool(answers.safeguarding_trigger)
        transition(uow, actor, report, ReportStatus.TRIAGED, now=now,
                          reason=f"Triaged: {level.label} by the matrix")
        raised: list[str] = []
        wanted: list[tuple[EscalationKind, str]] = []
        if answers.safeguarding_trigger:
            wanted.append((EscalationKind.SAFEGUARDING,
                           "Triage found a safeguarding or rights signal: decide on "
                           "safeguarding and external reporting."))
        if route is Route.OPERATIONS:
            wanted.append((EscalationKind.OPERATIONS,
                           "Routed to operations at triage: map the information pathway."))
        if answers.at_risk_now:
            wanted.append((EscalationKind.SUPERVISOR_ALERT,
                           "Triage found someone still at risk: confirm the immediate "
                           "safeguards."))
        for kind, why in wanted:
            # A new risk needs a new alert; safeguarding and operations are asked once.
            already = (open_escalation(session, report.id, kind)
                       if kind is EscalationKind.SUPERVISOR_ALERT
                       else any_escalation(session, report.id, kind))
            if already is None:
                raise_escalation(uow, actor, report, kind, why, now=now, rules=rules)
                raised.append(kind.value)
        session.flush()
        uow.record(actor, "report.triaged", "near_miss_report", report.id, at=now, after={
            "reference": report.reference, "at_risk_now": record.at_risk_now,
            "safeguarding_trigger": record.safeguarding_trigger,
            "safeguarding_signals": record.safeguarding_signals,
            "external_reporting": record.external_reporting, "recurrence": record.recurrence,
            "related_report_ids": record.related_report_ids, "severity": record.severity,
            "matrix_level": record.matrix_level, "investigation": record.investigation,
            "route": record.route, "notes": record.notes,
        })
        commit_or_conflict(uow, report)
        return TriageOutcome(report.reference, level, investigation, route, tuple(raised))


def reclassify_as_incident(uow: UnitOfWork, actor: Actor, reference: str, *, reason: str,
                           incident_reference: str = "", expected_version: int,
                           now: datetime, rules: Settings) -> None:
    """Harm reached the person after all: hand the report to the incident process.

    Nothing is deleted; the report keeps its whole history and stays readable here.
    """
    require(actor, Capability.RECLASSIFY)
    if not reason.strip():
        raise ValidationFailed({"reason": "Say what harm reached the person and why this is now "
                                          "an incident."})
    with uow:
        report = uow.reports.get_in_scope(actor, reference)
        uow.reports.check_version(report, expected_version, rules)
        why = reason.strip()
        if incident_reference.strip():
            why += f" (incident {incident_reference.strip()})"
        transition(uow, actor, report, ReportStatus.RECLASSIFIED, now=now, reason=why)
        commit_or_conflict(uow, report)


def mark_cluster(uow: UnitOfWork, members: ColumnElement[bool]) -> list[int]:
    """Flag the members of a cluster (the reports `members` selects) not flagged yet; returns
    the ids changed, in order. One UPDATE … RETURNING by the members' conditions: at a million
    reports an episode holds thousands, and listing their ids cost more than flagging them."""
    # A bulk flag, not a new version of each report: optimistic locking is for edits.
    return sorted(uow.session.scalars(
        update(NearMissReport).where(members, NearMissReport.in_cluster.is_(False))
        .values(in_cluster=True).returning(NearMissReport.id)
        .execution_options(synchronize_session=False)))
