"""Proportionate learning responses: start, answer, complete, and hand on to action plans.

NHS PSIRF (the Patient Safety Incident Response Framework) names the learning responses a
provider chooses between in proportion to what there is to learn: a swarm huddle, an
after-action review, a multidisciplinary team review, a patient safety incident investigation.
The full root cause analysis (core.review.rca) is one more choice, with its own page.

Triage has already judged each report's severity potential and recurrence; the suggestion table
(core.review.response_templates) turns them into the proportionate response. A response over
several reports is suggested from the highest severity and the highest recurrence among them.
The reviewer may choose another type, but must say why; the reason is in the audit trail.

Who: supervisors (for their services) and quality leads. Scope works as for an analysis: a
response is visible to a service-scoped user only when every report it links is in their
services, otherwise NotFound (the same answer as for one that does not exist). A completed
response is read-only, and its findings go to the action plan builder.

The reads (the list, one response in full, what a link proposes) are in
core.review.response_queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.clock import to_local
from core.config import Settings
from core.db import storable_id
from core.errors import NUL_MESSAGE, NotFound, ValidationFailed, has_nul
from core.organisation.models import Location
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.review.linked import covers_linked, linked_reports
from core.review.rca import parse_references
from core.review.response_models import LearningResponse, LearningResponseReport
from core.review.response_templates import (
    FULL_RCA,
    LearningResponses,
    ResponseTemplate,
    load_learning_responses,
    suggest_response,
)
from core.taxonomy.models import NearMissType
from core.triage.models import TriageRecord
from core.triage.vocabulary import Recurrence, Severity
from core.uow import UnitOfWork

OPEN = "open"
COMPLETED = "completed"
STATUS_LABELS = {OPEN: "Open", COMPLETED: "Completed"}
ENTITY = "learning_response"
TITLE_MAX_CHARS = 200  # the column's width
MAX_REPORTS = 100
MAX_PARTICIPANTS = 40
PARTICIPANT_MAX_CHARS = 200


# -- the suggestion ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Suggestion:
    """The proportionate response for some triaged reports, and the triage answers behind it."""

    type_key: str
    type_name: str
    severity: Severity
    recurrence: Recurrence

    @property
    def basis(self) -> str:
        """"high potential, repeat": what the suggestion follows from."""
        return f"{self.severity.label.lower()} potential, {self.recurrence.label.lower()}"


def _recurrence(session: Session, report: NearMissReport) -> Recurrence:
    """The recurrence triage chose (the report's flags when no triage record exists, as for
    reports loaded in bulk)."""
    chosen = session.scalar(select(TriageRecord.recurrence).where(
        TriageRecord.report_id == report.id))
    if chosen:
        return Recurrence(chosen)
    return (Recurrence.CLUSTER if report.in_cluster
            else Recurrence.REPEAT if report.is_repeat else Recurrence.SINGLE)


def suggest_for(session: Session, reports: Sequence[NearMissReport],
                templates: LearningResponses) -> Suggestion | None:
    """The suggestion for the highest severity and recurrence among the triaged reports; None
    when none of them is triaged yet."""
    triaged = [r for r in reports if r.severity]
    if not triaged:
        return None
    severities, recurrences = list(Severity), list(Recurrence)
    severity = max((Severity(r.severity) for r in triaged), key=severities.index)
    recurrence = max((_recurrence(session, r) for r in triaged), key=recurrences.index)
    key = suggest_response(severity, recurrence, templates)
    return Suggestion(key, templates.name_of(key), severity, recurrence)


def _not_triaged() -> ValidationFailed:
    return ValidationFailed({"references": "Triage these near misses first: the proportionate "
                                           "response follows from their severity potential and "
                                           "recurrence."})


def _reason_errors(chosen: str, suggestion: Suggestion, reason: str, limit: int,
                   templates: LearningResponses) -> dict[str, str]:
    """A reason is required when the choice is not the suggestion."""
    text = reason.strip()
    if chosen != suggestion.type_key and not text:
        return {"reason": f"Say why a {templates.name_of(chosen).lower()} rather than the "
                          f"suggested {suggestion.type_name.lower()} ({suggestion.basis})."}
    if len(text) > limit:
        return {"reason": f"Keep the reason to {limit} characters."}
    if has_nul(text):
        return {"reason": NUL_MESSAGE}
    return {}


def _load_reports(session: Session, actor: Actor, references: Sequence[str]
                  ) -> list[NearMissReport]:
    return [get_in_scope(session, actor, ref) for ref in references]


def _references_errors(wanted: Sequence[str]) -> dict[str, str]:
    if not wanted:
        return {"references": "Link at least one near miss (by its reference)."}
    if len(wanted) > MAX_REPORTS:
        return {"references": f"Link at most {MAX_REPORTS} reports to one response."}
    return {}


# -- scope -------------------------------------------------------------------------------------

def _not_found(response_id: int) -> NotFound:
    return NotFound(f"No learning response #{response_id} among your services.")


def covers_response(session: Session, actor: Actor, response_id: int) -> bool:
    """Every report the response links is in the actor's services."""
    return covers_linked(session, actor, LearningResponseReport.report_id,
                         LearningResponseReport.response_id, response_id)


def response_in_scope(session: Session, actor: Actor, response_id: int, *,
                      lock: bool = False) -> LearningResponse:
    """The response, if the actor may see it; NotFound otherwise (as for one that does not
    exist)."""
    row = session.get(LearningResponse, response_id, with_for_update=lock) \
        if storable_id(response_id) else None
    if row is None or not covers_response(session, actor, response_id):
        raise _not_found(response_id)
    return row


def _require_open(row: LearningResponse, doing: str) -> None:
    if row.status != OPEN:
        raise ValidationFailed({"status": f"This learning response is completed and read-only: "
                                          f"you cannot {doing}."})


def response_reports(session: Session, response_id: int) -> list[NearMissReport]:
    """The reports the response links."""
    return linked_reports(session, LearningResponseReport.report_id,
                          LearningResponseReport.response_id, response_id)


def template_of(row: LearningResponse) -> ResponseTemplate:
    """The template the response started with (stored with it)."""
    return ResponseTemplate.model_validate(row.template)


def findings_text(template: ResponseTemplate, answers: Mapping[str, str]) -> str:
    """The answers to the template's findings fields, each under its question: the theme of
    the action plan a completed response opens."""
    parts = []
    for key in template.findings:
        answer = str(answers.get(key) or "").strip()
        field = template.field(key)
        if answer and field is not None:
            parts.append(f"{field.label}\n{answer}")
    return "\n\n".join(parts)


# -- use cases ---------------------------------------------------------------------------------

def _default_title(session: Session, template: ResponseTemplate,
                   report: NearMissReport) -> str:
    type_name = session.scalar(select(NearMissType.name).where(
        NearMissType.key == report.type_key)) or report.type_key
    location = session.scalar(select(Location.name).where(Location.id == report.location_id))
    title = f"{template.name}: {type_name}" + (f", {location}" if location else "")
    return title[:TITLE_MAX_CHARS]


def _title_errors(title: str) -> dict[str, str]:
    if len(title.strip()) > TITLE_MAX_CHARS:
        return {"title": f"Keep the title to {TITLE_MAX_CHARS} characters."}
    if has_nul(title):
        return {"title": NUL_MESSAGE}
    return {}


def _record_links(uow: UnitOfWork, actor: Actor, row: LearningResponse,
                  reports: Sequence[NearMissReport], now: datetime) -> None:
    """One event on each report too, so a report's own history shows the response."""
    for report in reports:
        uow.record(actor, "learning_response.report_linked", "near_miss_report", report.id,
                   at=now, after={"learning_response_id": row.id, "type": row.type_key,
                                  "title": row.title, "reference": report.reference})


def start_response(uow: UnitOfWork, actor: Actor, *, type_key: str, references: Sequence[str],
                   reason: str = "", title: str = "", now: datetime, rules: Settings,
                   templates: LearningResponses | None = None) -> int:
    """Start a learning response of `type_key` over triaged reports in the actor's services;
    returns its id. Its due date follows from the template's time limit, counted from today
    (the provider's day). Choosing other than the suggested type needs a reason."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    templates = templates or load_learning_responses()
    wanted = parse_references(references)
    errors = _references_errors(wanted)
    template = templates.template(type_key)
    if type_key == FULL_RCA:
        errors["type"] = "A full root cause analysis is opened on its own page."
    elif template is None:
        errors["type"] = "Choose one of the response types offered."
    errors.update(_title_errors(title))
    if errors or template is None:
        raise ValidationFailed(errors)
    with uow:
        session = uow.session
        reports = _load_reports(session, actor, wanted)
        suggestion = suggest_for(session, reports, templates)
        if suggestion is None:
            raise _not_triaged()
        errors = _reason_errors(type_key, suggestion, reason,
                                rules.report.description_max_chars, templates)
        if errors:
            raise ValidationFailed(errors)
        today = to_local(now, rules.zone).date()
        row = LearningResponse(
            type_key=type_key, template=template.model_dump(mode="json"),
            title=title.strip() or _default_title(session, template, reports[0]),
            answers={}, participants=[], suggested_type_key=suggestion.type_key,
            choice_reason=reason.strip() or None, status=OPEN,
            due_on=template.time_limit.due(today), lead_id=actor.user_id, started_at=now,
            completed_at=None)
        session.add(row)
        session.flush()
        session.add_all([LearningResponseReport(response_id=row.id, report_id=r.id)
                         for r in reports])
        session.flush()
        uow.record(actor, "learning_response.started", ENTITY, row.id, at=now, after={
            "type": row.type_key, "title": row.title, "suggested": suggestion.type_key,
            "severity": suggestion.severity.value, "recurrence": suggestion.recurrence.value,
            "reason": row.choice_reason, "due_on": row.due_on.isoformat(),
            "time_limit": template.time_limit.label, "lead": actor.username,
            "references": [r.reference for r in reports]})
        _record_links(uow, actor, row, reports, now)
        uow.commit()
        return row.id


def choose_full_rca(uow: UnitOfWork, actor: Actor, *, references: Sequence[str],
                    reason: str = "", now: datetime, rules: Settings,
                    templates: LearningResponses | None = None) -> list[str]:
    """Record that these reports get the full root cause analysis (with the reason when it is
    not the suggestion); the analysis itself is then opened on its own page. Returns the
    references, in order, for the link there."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    require(actor, Capability.RUN_RCA)
    templates = templates or load_learning_responses()
    wanted = parse_references(references)
    errors = _references_errors(wanted)
    if errors:
        raise ValidationFailed(errors)
    with uow:
        session = uow.session
        reports = _load_reports(session, actor, wanted)
        suggestion = suggest_for(session, reports, templates)
        if suggestion is None:
            raise _not_triaged()
        errors = _reason_errors(FULL_RCA, suggestion, reason,
                                rules.report.description_max_chars, templates)
        if errors:
            raise ValidationFailed(errors)
        # One event, on the first report, naming them all.
        uow.record(actor, "learning_response.rca_chosen", "near_miss_report", reports[0].id,
                   at=now, after={"type": FULL_RCA, "suggested": suggestion.type_key,
                                  "severity": suggestion.severity.value,
                                  "recurrence": suggestion.recurrence.value,
                                  "reason": reason.strip() or None,
                                  "references": [r.reference for r in reports]})
        uow.commit()
        return [r.reference for r in reports]


def _snapshot(row: LearningResponse) -> dict[str, object]:
    return {"title": row.title, "answers": dict(row.answers or {}),
            "participants": list(row.participants or [])}


def save_answers(uow: UnitOfWork, actor: Actor, response_id: int, *,
                 answers: Mapping[str, str], participants: Sequence[str],
                 title: str | None = None, now: datetime, rules: Settings) -> bool:
    """Save the template's answers, who took part (one name or role a line) and the title of
    an open response. Empty answers and lines are dropped. Returns False when nothing changed
    (nothing written)."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    limit = rules.report.description_max_chars
    with uow:
        session = uow.session
        row = response_in_scope(session, actor, response_id, lock=True)
        _require_open(row, "change it")
        template = template_of(row)
        errors: dict[str, str] = {}
        if title is not None:
            errors.update(_title_errors(title))
            if not title.strip():
                errors["title"] = "Give the response a short title."
        kept: dict[str, str] = {}
        for key, raw in answers.items():
            if template.field(key) is None:
                errors[f"answers.{key}"] = "Not a question of this response's template."
                continue
            answer = (raw or "").strip()
            if len(answer) > limit:
                errors[f"answers.{key}"] = f"Keep this answer to {limit} characters."
            elif has_nul(answer):
                errors[f"answers.{key}"] = NUL_MESSAGE
            elif answer:
                kept[key] = answer
        people = [p.strip() for p in participants if p and p.strip()]
        if len(people) > MAX_PARTICIPANTS:
            errors["participants"] = f"Record at most {MAX_PARTICIPANTS} people."
        elif any(len(p) > PARTICIPANT_MAX_CHARS for p in people):
            errors["participants"] = f"Keep each line to {PARTICIPANT_MAX_CHARS} characters."
        elif has_nul(*people):
            errors["participants"] = NUL_MESSAGE
        if errors:
            raise ValidationFailed(errors)
        before = _snapshot(row)
        if title is not None:
            row.title = title.strip()
        # Answers of the template's fields, in the template's order.
        row.answers = {f.key: kept[f.key] for f in template.fields if f.key in kept}
        row.participants = list(dict.fromkeys(people))
        after = _snapshot(row)
        if after == before:
            uow.rollback()
            return False
        uow.record(actor, "learning_response.saved", ENTITY, row.id, at=now, before=before,
                   after=after)
        uow.commit()
        return True


def complete_response(uow: UnitOfWork, actor: Actor, response_id: int, *,
                      now: datetime) -> None:
    """Complete a response once every required question is answered and enough people are
    recorded; it is then read-only and its findings go to the action plan builder."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    with uow:
        row = response_in_scope(uow.session, actor, response_id, lock=True)
        _require_open(row, "complete it again")
        template = template_of(row)
        answers = row.answers or {}
        errors = {f"answers.{f.key}": "Answer this before completing."
                  for f in template.fields if f.required and not answers.get(f.key)}
        if not findings_text(template, answers):
            errors.setdefault("findings", "Record the findings: they are what the action plan "
                                          "builder receives.")
        if len(row.participants or []) < template.min_participants:
            errors["participants"] = (f"Record who took part: at least "
                                      f"{template.min_participants} for a "
                                      f"{template.name.lower()}.")
        if errors:
            raise ValidationFailed(errors)
        row.status, row.completed_at = COMPLETED, now
        uow.record(actor, "learning_response.completed", ENTITY, row.id, at=now,
                   before={"status": OPEN},
                   after={"status": COMPLETED, "findings": findings_text(template, answers),
                          "participants": list(row.participants or [])})
        uow.commit()


# -- the hand-on to action plans ---------------------------------------------------------------

@dataclass(frozen=True)
class ResponseFindings:
    """What the action plan builder pre-fills from a completed response."""

    response_id: int
    type_name: str
    title: str
    theme: str
    report_ids: tuple[int, ...]
    references: tuple[str, ...]
    completed_at: datetime


def response_findings_for_actions(session: Session, actor: Actor,
                                  response_id: int) -> ResponseFindings:
    """The hand-off to the action plan builder: a completed response's findings and the
    reports it serves. An open response has no findings to hand on yet (ValidationFailed on
    "status")."""
    require(actor, Capability.MANAGE_ACTIONS)
    row = response_in_scope(session, actor, response_id)
    if row.status != COMPLETED or row.completed_at is None:
        raise ValidationFailed({"status": "Complete the learning response first: its findings "
                                          "may still change while it is open."})
    template = template_of(row)
    reports = response_reports(session, row.id)
    return ResponseFindings(
        response_id=row.id, type_name=template.name, title=row.title,
        theme=findings_text(template, row.answers or {}) or row.title,
        report_ids=tuple(r.id for r in reports), references=tuple(r.reference for r in reports),
        completed_at=row.completed_at)
