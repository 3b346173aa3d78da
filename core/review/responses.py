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
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session

from core.audit.models import AuditEvent
from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import Capability, require
from core.clock import to_local, utcnow
from core.config import Settings, settings
from core.db import storable_id
from core.errors import NUL_MESSAGE, NotFound, ValidationFailed, has_nul
from core.organisation.models import Location
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.reports.vocabulary import ReportStatus
from core.review.linked import covers_linked, linked_reports
from core.review.rca import RcaReportLine, _report_lines, parse_references
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


def _suggest(session: Session, reports: Sequence[NearMissReport],
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


def _covers(session: Session, actor: Actor, response_id: int) -> bool:
    return covers_linked(session, actor, LearningResponseReport.report_id,
                         LearningResponseReport.response_id, response_id)


def _load_in_scope(session: Session, actor: Actor, response_id: int, *,
                   lock: bool = False) -> LearningResponse:
    row = session.get(LearningResponse, response_id, with_for_update=lock) \
        if storable_id(response_id) else None
    if row is None or not _covers(session, actor, response_id):
        raise _not_found(response_id)
    return row


def _require_open(row: LearningResponse, doing: str) -> None:
    if row.status != OPEN:
        raise ValidationFailed({"status": f"This learning response is completed and read-only: "
                                          f"you cannot {doing}."})


def _linked(session: Session, response_id: int) -> list[NearMissReport]:
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
                   reason: str = "", title: str = "", now: datetime | None = None,
                   rules: Settings | None = None,
                   templates: LearningResponses | None = None) -> int:
    """Start a learning response of `type_key` over triaged reports in the actor's services;
    returns its id. Its due date follows from the template's time limit, counted from today
    (the provider's day). Choosing other than the suggested type needs a reason."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    rules = rules or settings()
    templates = templates or load_learning_responses()
    now = now or utcnow()
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
        suggestion = _suggest(session, reports, templates)
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
                    reason: str = "", now: datetime | None = None,
                    rules: Settings | None = None,
                    templates: LearningResponses | None = None) -> list[str]:
    """Record that these reports get the full root cause analysis (with the reason when it is
    not the suggestion); the analysis itself is then opened on its own page. Returns the
    references, in order, for the link there."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    require(actor, Capability.RUN_RCA)
    rules = rules or settings()
    templates = templates or load_learning_responses()
    now = now or utcnow()
    wanted = parse_references(references)
    errors = _references_errors(wanted)
    if errors:
        raise ValidationFailed(errors)
    with uow:
        session = uow.session
        reports = _load_reports(session, actor, wanted)
        suggestion = _suggest(session, reports, templates)
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
                 title: str | None = None, now: datetime | None = None,
                 rules: Settings | None = None) -> bool:
    """Save the template's answers, who took part (one name or role a line) and the title of
    an open response. Empty answers and lines are dropped. Returns False when nothing changed
    (nothing written)."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    rules = rules or settings()
    now = now or utcnow()
    limit = rules.report.description_max_chars
    with uow:
        session = uow.session
        row = _load_in_scope(session, actor, response_id, lock=True)
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
                      now: datetime | None = None) -> None:
    """Complete a response once every required question is answered and enough people are
    recorded; it is then read-only and its findings go to the action plan builder."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    now = now or utcnow()
    with uow:
        row = _load_in_scope(uow.session, actor, response_id, lock=True)
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


# -- queries -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResponseSummary:
    id: int
    type_key: str
    type_name: str
    title: str
    status: str
    lead: str
    started_at: datetime
    due_on: date
    completed_at: datetime | None
    references: tuple[str, ...]
    overdue: bool

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def status_label(self) -> str:
        return "Overdue" if self.overdue else STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class ResponseHistoryEntry:
    at: datetime
    who: str
    what: str
    detail: str


@dataclass(frozen=True)
class ResponseDetail:
    id: int
    type_key: str
    template: ResponseTemplate
    title: str
    answers: dict[str, str]
    participants: tuple[str, ...]
    suggested_type_key: str
    suggested_name: str
    choice_reason: str | None
    status: str
    due_on: date
    overdue: bool
    lead: str
    started_at: datetime
    completed_at: datetime | None
    reports: tuple[RcaReportLine, ...]
    history: tuple[ResponseHistoryEntry, ...]

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def status_label(self) -> str:
        return "Overdue" if self.overdue else STATUS_LABELS.get(self.status, self.status)

    @property
    def findings(self) -> str:
        return findings_text(self.template, self.answers)


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


@dataclass(frozen=True)
class ResponseProposal:
    """A new response as a link proposes it: the reports found in the actor's services, the
    references that are not, the suggestion, and open responses already about them."""

    reports: tuple[RcaReportLine, ...]
    not_found: tuple[str, ...]
    suggestion: Suggestion | None
    already_open: tuple[ResponseSummary, ...]


@dataclass(frozen=True)
class ReportResponses:
    """A report page's view: the suggested response and the responses about the report."""

    suggestion: Suggestion | None
    suggested_template: ResponseTemplate | None  # None for the full RCA
    responses: tuple[ResponseSummary, ...]


def _names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(session.execute(
        select(User.id, User.display_name).where(User.id.in_(wanted))).all())


def _overdue(row: LearningResponse, today: date) -> bool:
    return row.status == OPEN and today > row.due_on


def _summaries(session: Session, rows: Sequence[LearningResponse], today: date,
               templates: LearningResponses) -> list[ResponseSummary]:
    references: dict[int, list[str]] = {r.id: [] for r in rows}
    if rows:
        for response_id, reference in session.execute(
                select(LearningResponseReport.response_id, NearMissReport.reference)
                .join(NearMissReport, NearMissReport.id == LearningResponseReport.report_id)
                .where(LearningResponseReport.response_id.in_(list(references)))
                .order_by(NearMissReport.occurred_at, NearMissReport.id)):
            references[response_id].append(reference)
    names = _names(session, (r.lead_id for r in rows))
    return [ResponseSummary(
        r.id, r.type_key, str((r.template or {}).get("name") or templates.name_of(r.type_key)),
        r.title, r.status, names.get(r.lead_id, "?"), r.started_at, r.due_on, r.completed_at,
        tuple(references[r.id]), _overdue(r, today)) for r in rows]


def _ordered(query: Select[tuple[LearningResponse]]) -> Select[tuple[LearningResponse]]:
    """Open ones first, the soonest due first, then the newest."""
    return query.order_by(case((LearningResponse.status == OPEN, 0), else_=1),
                          LearningResponse.due_on, LearningResponse.started_at.desc(),
                          LearningResponse.id.desc())


def list_responses(session: Session, actor: Actor, *, today: date,
                   templates: LearningResponses | None = None) -> list[ResponseSummary]:
    """The responses the actor may see: open ones first, the soonest due first."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    templates = templates or load_learning_responses()
    query = select(LearningResponse)
    if actor.service_ids is not None:
        outside = (select(LearningResponseReport.response_id)
                   .join(NearMissReport, NearMissReport.id == LearningResponseReport.report_id)
                   .where(NearMissReport.service_id.not_in(sorted(actor.service_ids))))
        query = query.where(LearningResponse.id.not_in(outside),
                            LearningResponse.id.in_(select(LearningResponseReport.response_id)))
    rows = list(session.scalars(_ordered(query)))
    return _summaries(session, rows, today, templates)


_HISTORY_LABELS = {"learning_response.started": "Started", "learning_response.saved": "Saved",
                   "learning_response.completed": "Completed"}


def _history(session: Session, response_id: int) -> list[ResponseHistoryEntry]:
    events = list(session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == ENTITY, AuditEvent.entity_id == str(response_id))
        .order_by(AuditEvent.seq)))
    names = _names(session, (e.actor_id for e in events))
    entries = []
    for event in events:
        after = json.loads(event.after_json) if event.after_json else {}
        detail = ""
        if event.action == "learning_response.started":
            detail = ", ".join(after.get("references", []))
            if after.get("reason"):
                detail += f" · chosen instead of the suggestion: {after['reason']}"
        entries.append(ResponseHistoryEntry(
            event.occurred_at, names.get(event.actor_id or 0, event.actor),
            _HISTORY_LABELS.get(event.action, event.action), detail))
    return entries


def response_detail(session: Session, actor: Actor, response_id: int, *, today: date,
                    templates: LearningResponses | None = None) -> ResponseDetail:
    """One response in full; NotFound if missing or outside the actor's services."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    templates = templates or load_learning_responses()
    row = _load_in_scope(session, actor, response_id)
    report_ids = list(session.scalars(select(LearningResponseReport.report_id).where(
        LearningResponseReport.response_id == row.id)))
    return ResponseDetail(
        id=row.id, type_key=row.type_key, template=template_of(row), title=row.title,
        answers={str(k): str(v) for k, v in (row.answers or {}).items()},
        participants=tuple(str(p) for p in row.participants or []),
        suggested_type_key=row.suggested_type_key,
        suggested_name=templates.name_of(row.suggested_type_key),
        choice_reason=row.choice_reason, status=row.status, due_on=row.due_on,
        overdue=_overdue(row, today), lead=_names(session, [row.lead_id]).get(row.lead_id, "?"),
        started_at=row.started_at, completed_at=row.completed_at,
        reports=tuple(_report_lines(session, report_ids)),
        history=tuple(_history(session, row.id)))


def response_findings_for_actions(session: Session, actor: Actor,
                                  response_id: int) -> ResponseFindings:
    """The hand-off to the action plan builder: a completed response's findings and the
    reports it serves. An open response has no findings to hand on yet (ValidationFailed on
    "status")."""
    require(actor, Capability.MANAGE_ACTIONS)
    row = _load_in_scope(session, actor, response_id)
    if row.status != COMPLETED or row.completed_at is None:
        raise ValidationFailed({"status": "Complete the learning response first: its findings "
                                          "may still change while it is open."})
    template = template_of(row)
    reports = _linked(session, row.id)
    return ResponseFindings(
        response_id=row.id, type_name=template.name, title=row.title,
        theme=findings_text(template, row.answers or {}) or row.title,
        report_ids=tuple(r.id for r in reports), references=tuple(r.reference for r in reports),
        completed_at=row.completed_at)


def response_proposal(session: Session, actor: Actor, references: Sequence[str], *,
                      today: date, templates: LearningResponses | None = None
                      ) -> ResponseProposal:
    """What a "start a learning response" link proposes, seen through the actor's scope."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    templates = templates or load_learning_responses()
    found: list[NearMissReport] = []
    missing: list[str] = []
    for reference in parse_references(references):
        try:
            found.append(get_in_scope(session, actor, reference))
        except NotFound:
            missing.append(reference)
    lines = {line.id: line for line in _report_lines(session, [r.id for r in found])}
    wanted = {r.reference for r in found}
    already = tuple(s for s in list_responses(session, actor, today=today, templates=templates)
                    if s.is_open and wanted & set(s.references))
    return ResponseProposal(tuple(lines[r.id] for r in found), tuple(missing),
                            _suggest(session, found, templates), already)


def report_responses(session: Session, actor: Actor, reference: str, *, today: date,
                     templates: LearningResponses | None = None) -> ReportResponses:
    """For a report's page: its suggested response (once triaged) and the responses about it."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    templates = templates or load_learning_responses()
    report = get_in_scope(session, actor, reference)
    suggestion = (_suggest(session, [report], templates)
                  if report.status != ReportStatus.NEW.value else None)
    ids = select(LearningResponseReport.response_id).where(
        LearningResponseReport.report_id == report.id)
    rows = list(session.scalars(_ordered(select(LearningResponse).where(
        LearningResponse.id.in_(ids)))))
    visible = [r for r in rows if _covers(session, actor, r.id)]
    return ReportResponses(
        suggestion, templates.template(suggestion.type_key) if suggestion else None,
        tuple(_summaries(session, visible, today, templates)))
