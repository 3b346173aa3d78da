"""Reading learning responses (core.review.responses starts, answers and completes them): the
list a reviewer works from, one response in full with its history, what a "start a learning
response" link proposes, and a report page's responses. Scope as for the services: a response
is seen only by someone whose services hold every report it links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, case, select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.errors import NotFound
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.reports.vocabulary import ReportStatus
from core.review.history import HistoryEntry, record_history, user_names
from core.review.rca import RcaReportLine, _report_lines, parse_references
from core.review.response_models import LearningResponse, LearningResponseReport
from core.review.response_templates import (
    LearningResponses,
    ResponseTemplate,
    load_learning_responses,
)
from core.review.responses import (
    ENTITY,
    OPEN,
    STATUS_LABELS,
    Suggestion,
    covers_response,
    findings_text,
    response_in_scope,
    suggest_for,
    template_of,
)


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
    history: tuple[HistoryEntry, ...]

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
    names = user_names(session, (r.lead_id for r in rows))
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


def _history_detail(action: str, after: dict) -> str:
    if action != "learning_response.started":
        return ""
    detail = ", ".join(after.get("references", []))
    if after.get("reason"):
        detail += f" · chosen instead of the suggestion: {after['reason']}"
    return detail


def response_detail(session: Session, actor: Actor, response_id: int, *, today: date,
                    templates: LearningResponses | None = None) -> ResponseDetail:
    """One response in full; NotFound if missing or outside the actor's services."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    templates = templates or load_learning_responses()
    row = response_in_scope(session, actor, response_id)
    report_ids = list(session.scalars(select(LearningResponseReport.report_id).where(
        LearningResponseReport.response_id == row.id)))
    return ResponseDetail(
        id=row.id, type_key=row.type_key, template=template_of(row), title=row.title,
        answers={str(k): str(v) for k, v in (row.answers or {}).items()},
        participants=tuple(str(p) for p in row.participants or []),
        suggested_type_key=row.suggested_type_key,
        suggested_name=templates.name_of(row.suggested_type_key),
        choice_reason=row.choice_reason, status=row.status, due_on=row.due_on,
        overdue=_overdue(row, today), lead=user_names(session, [row.lead_id]).get(row.lead_id, "?"),
        started_at=row.started_at, completed_at=row.completed_at,
        reports=tuple(_report_lines(session, report_ids)),
        history=tuple(record_history(session, ENTITY, row.id, labels=_HISTORY_LABELS,
                                     detail=_history_detail)))


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
                            suggest_for(session, found, templates), already)


def report_responses(session: Session, actor: Actor, reference: str, *, today: date,
                     templates: LearningResponses | None = None) -> ReportResponses:
    """For a report's page: its suggested response (once triaged) and the responses about it."""
    require(actor, Capability.RUN_LEARNING_RESPONSES)
    templates = templates or load_learning_responses()
    report = get_in_scope(session, actor, reference)
    suggestion = (suggest_for(session, [report], templates)
                  if report.status != ReportStatus.NEW.value else None)
    ids = select(LearningResponseReport.response_id).where(
        LearningResponseReport.report_id == report.id)
    rows = list(session.scalars(_ordered(select(LearningResponse).where(
        LearningResponse.id.in_(ids)))))
    visible = [r for r in rows if covers_response(session, actor, r.id)]
    return ReportResponses(
        suggestion, templates.template(suggestion.type_key) if suggestion else None,
        tuple(_summaries(session, visible, today, templates)))
