"""Root cause analysis: group related near misses, ask "why" until the system cause shows, name
the contributing factors and record findings the action plan builder turns into actions.

Seed 1, example 2: "If similar record mismatches appear elsewhere, the provider may need root
cause analysis that turns repeated incident evidence into practical service fixes."

Scope: an analysis is visible to a service-scoped user only when every report it groups is in
their services; org-wide roles see all. Outside that scope it is NotFound, the same answer as
for an analysis that does not exist. A completed analysis is read-only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.config import Settings
from core.db import storable_id
from core.errors import NotFound, ValidationFailed
from core.organisation.models import Location, Service
from core.reports.models import NearMissReport
from core.reports.repository import get_in_scope
from core.reports.vocabulary import ReportStatus
from core.review.history import HistoryEntry, record_history, user_names
from core.review.linked import covers_linked, linked_reports
from core.review.models import RootCauseAnalysis, RootCauseAnalysisReport
from core.taxonomy.models import NearMissType
from core.taxonomy.service import live_taxonomy, type_version
from core.uow import UnitOfWork

OPEN = "open"
COMPLETE = "complete"
STATUS_LABELS = {OPEN: "Open", COMPLETE: "Complete"}
ENTITY = "root_cause_analysis"
TITLE_MAX_CHARS = 200  # the column's width
MAX_WHYS = 7  # "five whys" is a habit, not a law: allow a couple more, no more
MAX_REPORTS = 100

_REFERENCE_SPLIT = re.compile(r"[\s,;]+")


def parse_references(text: str | Iterable[str] | None) -> list[str]:
    """References as typed or passed in a link ("nm-2026-00012, NM-2026-00007"): trimmed,
    upper-cased, duplicates dropped, order kept."""
    if text is None:
        return []
    parts = _REFERENCE_SPLIT.split(text) if isinstance(text, str) else [
        p for item in text for p in _REFERENCE_SPLIT.split(item or "")]
    seen: dict[str, None] = {}
    for part in parts:
        if part.strip():
            seen.setdefault(part.strip().upper(), None)
    return list(seen)


def _not_found(rca_id: int) -> NotFound:
    return NotFound(f"No root cause analysis #{rca_id} among your services.")


def _covers(session: Session, actor: Actor, rca_id: int) -> bool:
    return covers_linked(session, actor, RootCauseAnalysisReport.report_id,
                         RootCauseAnalysisReport.rca_id, rca_id)


def _load_in_scope(session: Session, actor: Actor, rca_id: int, *,
                   lock: bool = False) -> RootCauseAnalysis:
    rca = session.get(RootCauseAnalysis, rca_id, with_for_update=lock) \
        if storable_id(rca_id) else None
    if rca is None or not _covers(session, actor, rca_id):
        raise _not_found(rca_id)
    return rca


def _require_open(rca: RootCauseAnalysis, doing: str) -> None:
    if rca.status != OPEN:
        raise ValidationFailed({"status": f"This root cause analysis is complete and read-only: "
                                          f"you cannot {doing}."})


def _linked(session: Session, rca_id: int) -> list[NearMissReport]:
    return linked_reports(session, RootCauseAnalysisReport.report_id,
                          RootCauseAnalysisReport.rca_id, rca_id)


def _record_links(uow: UnitOfWork, actor: Actor, rca: RootCauseAnalysis,
                  reports: Sequence[NearMissReport], action: str, now: datetime) -> None:
    """One event on each report too, so a report's own history shows it was grouped."""
    for report in reports:
        uow.record(actor, action, "near_miss_report", report.id, at=now,
                   after={"rca_id": rca.id, "title": rca.title, "reference": report.reference})


def _text_errors(title: str, problem: str, limit: int) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "Give the analysis a short title."
    elif len(title.strip()) > TITLE_MAX_CHARS:
        errors["title"] = f"Keep the title to {TITLE_MAX_CHARS} characters."
    if not problem.strip():
        errors["problem"] = ("State the problem: what keeps happening, where, and what nearly "
                             "went wrong.")
    elif len(problem.strip()) > limit:
        errors["problem"] = f"Keep this to {limit} characters."
    return errors


# -- use cases ---------------------------------------------------------------------------------

def open_rca(uow: UnitOfWork, actor: Actor, *, title: str, problem: str,
             references: Sequence[str], now: datetime,
             rules: Settings) -> int:
    """Open a root cause analysis over related reports (all in the actor's services); returns
    its id. A reference outside the actor's services is NotFound, like a missing one."""
    require(actor, Capability.RUN_RCA)
    wanted = parse_references(references)
    errors = _text_errors(title, problem, rules.report.description_max_chars)
    if not wanted:
        errors["references"] = "Link at least one near miss (by its reference)."
    elif len(wanted) > MAX_REPORTS:
        errors["references"] = f"Group at most {MAX_REPORTS} reports in one analysis."
    if errors:
        raise ValidationFailed(errors)
    with uow:
        session = uow.session
        reports = [get_in_scope(session, actor, ref) for ref in wanted]
        rca = RootCauseAnalysis(title=title.strip(), problem=problem.strip(), five_whys=[],
                                contributing_factors=[], findings=None, status=OPEN,
                                lead_id=actor.user_id, opened_at=now, completed_at=None)
        session.add(rca)
        session.flush()
        session.add_all([RootCauseAnalysisReport(rca_id=rca.id, report_id=r.id)
                         for r in reports])
        session.flush()
        uow.record(actor, "rca.opened", ENTITY, rca.id, at=now, after={
            "title": rca.title, "problem": rca.problem, "lead": actor.username,
            "references": [r.reference for r in reports]})
        _record_links(uow, actor, rca, reports, "rca.report_linked", now)
        uow.commit()
        return rca.id


@dataclass
class RcaInput:
    """The analysis as edited: "why" answers in order, factor keys from the taxonomy."""

    title: str = ""
    problem: str = ""
    five_whys: list[str] = field(default_factory=list)
    contributing_factors: list[str] = field(default_factory=list)
    findings: str = ""


def _snapshot(rca: RootCauseAnalysis) -> dict[str, object]:
    return {"title": rca.title, "problem": rca.problem, "five_whys": list(rca.five_whys or []),
            "contributing_factors": list(rca.contributing_factors or []),
            "findings": rca.findings}


def update_rca(uow: UnitOfWork, actor: Actor, rca_id: int, data: RcaInput, *,
               now: datetime, rules: Settings) -> bool:
    """Save the problem, the whys, the contributing factors and the findings of an open
    analysis. Empty whys are dropped. Returns False when nothing changed (nothing written)."""
    require(actor, Capability.RUN_RCA)
    limit = rules.report.description_max_chars
    with uow:
        session = uow.session
        rca = _load_in_scope(session, actor, rca_id, lock=True)
        _require_open(rca, "change it")
        errors = _text_errors(data.title, data.problem, limit)
        whys: list[str] = []
        for position, raw in enumerate(data.five_whys, start=1):
            answer = (raw or "").strip()
            if len(answer) > limit:
                errors[f"why.{position}"] = f"Keep this answer to {limit} characters."
            if answer:
                whys.append(answer)
        if len(whys) > MAX_WHYS:
            errors["five_whys"] = f"Stop at {MAX_WHYS} whys: by then the system cause shows."
        factors = [f.key for f in live_taxonomy(session).contributing_factors]
        if set(data.contributing_factors) - set(factors):
            errors["contributing_factors"] = "Choose factors from the list."
        if len(data.findings.strip()) > limit:
            errors["findings"] = f"Keep the findings to {limit} characters."
        if errors:
            raise ValidationFailed(errors)
        before = _snapshot(rca)
        rca.title, rca.problem = data.title.strip(), data.problem.strip()
        rca.five_whys = whys
        rca.contributing_factors = [f for f in factors if f in set(data.contributing_factors)]
        rca.findings = data.findings.strip() or None
        after = _snapshot(rca)
        if after == before:
            uow.rollback()
            return False
        uow.record(actor, "rca.updated", ENTITY, rca.id, at=now, before=before, after=after)
        uow.commit()
        return True


def add_reports(uow: UnitOfWork, actor: Actor, rca_id: int, references: Sequence[str], *,
                now: datetime) -> list[str]:
    """Link more reports (in the actor's services) to an open analysis; returns those added."""
    require(actor, Capability.RUN_RCA)
    wanted = parse_references(references)
    if not wanted:
        raise ValidationFailed({"references": "Give the reference of the near miss to add."})
    with uow:
        session = uow.session
        rca = _load_in_scope(session, actor, rca_id, lock=True)
        _require_open(rca, "add reports")
        linked = _linked(session, rca.id)
        known = {r.id for r in linked}
        new = [r for r in (get_in_scope(session, actor, ref) for ref in wanted)
               if r.id not in known]
        if not new:
            raise ValidationFailed({"references": "Already linked to this analysis: "
                                                  + ", ".join(wanted) + "."})
        if len(linked) + len(new) > MAX_REPORTS:
            raise ValidationFailed({"references": f"Group at most {MAX_REPORTS} reports in "
                                                  "one analysis."})
        session.add_all([RootCauseAnalysisReport(rca_id=rca.id, report_id=r.id) for r in new])
        session.flush()
        uow.record(actor, "rca.reports_added", ENTITY, rca.id, at=now,
                   before={"references": [r.reference for r in linked]},
                   after={"references": [r.reference for r in (*linked, *new)],
                          "added": [r.reference for r in new]})
        _record_links(uow, actor, rca, new, "rca.report_linked", now)
        uow.commit()
        return [r.reference for r in new]


def remove_report(uow: UnitOfWork, actor: Actor, rca_id: int, reference: str, *,
                  now: datetime) -> None:
    """Unlink a report from an open analysis; the analysis keeps at least one."""
    require(actor, Capability.RUN_RCA)
    with uow:
        session = uow.session
        rca = _load_in_scope(session, actor, rca_id, lock=True)
        _require_open(rca, "remove reports")
        linked = _linked(session, rca.id)
        wanted = reference.strip().upper()
        report = next((r for r in linked if r.reference == wanted), None)
        if report is None:
            raise ValidationFailed({"references": f"{wanted} is not linked to this analysis."})
        if len(linked) == 1:
            raise ValidationFailed({"references": "An analysis keeps at least one report: add "
                                                  "another before removing this one."})
        link = session.get(RootCauseAnalysisReport, (rca.id, report.id))
        session.delete(link)
        session.flush()
        uow.record(actor, "rca.report_removed", ENTITY, rca.id, at=now,
                   before={"references": [r.reference for r in linked]},
                   after={"references": [r.reference for r in linked if r is not report],
                          "removed": report.reference})
        _record_links(uow, actor, rca, [report], "rca.report_unlinked", now)
        uow.commit()


def complete_rca(uow: UnitOfWork, actor: Actor, rca_id: int, *,
                 now: datetime) -> None:
    """Complete the analysis once it has at least one "why" and its findings; it is then
    read-only and its findings go to the action plan builder."""
    require(actor, Capability.RUN_RCA)
    with uow:
        rca = _load_in_scope(uow.session, actor, rca_id, lock=True)
        _require_open(rca, "complete it again")
        errors: dict[str, str] = {}
        if not rca.five_whys:
            errors["five_whys"] = "Answer at least the first “why” before completing."
        if not (rca.findings or "").strip():
            errors["findings"] = ("Record the findings: the system causes and the practical "
                                  "service fixes they point to.")
        if errors:
            raise ValidationFailed(errors)
        rca.status, rca.completed_at = COMPLETE, now
        uow.record(actor, "rca.completed", ENTITY, rca.id, at=now, before={"status": OPEN},
                   after={"status": COMPLETE, "findings": rca.findings,
                          "contributing_factors": list(rca.contributing_factors or [])})
        uow.commit()


# -- queries -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RcaReportLine:
    """A report grouped by (or proposed for) an analysis."""

    id: int
    reference: str
    type_key: str
    type_name: str
    service: str
    location: str
    occurred_at: datetime
    status: ReportStatus


@dataclass(frozen=True)
class RcaSummary:
    id: int
    title: str
    status: str
    lead: str
    opened_at: datetime
    completed_at: datetime | None
    references: tuple[str, ...]

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class RcaDetail:
    id: int
    title: str
    problem: str
    five_whys: tuple[str, ...]
    contributing_factors: tuple[str, ...]  # keys
    factor_labels: tuple[str, ...]  # labels from the live taxonomy (the key if since removed)
    findings: str | None
    status: str
    lead: str
    opened_at: datetime
    completed_at: datetime | None
    reports: tuple[RcaReportLine, ...]
    history: tuple[HistoryEntry, ...]

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class RcaFindings:
    """What the action plan builder pre-fills from a completed analysis."""

    rca_id: int
    title: str
    findings: str
    report_ids: tuple[int, ...]
    references: tuple[str, ...]
    contributing_factors: tuple[str, ...]
    completed_at: datetime


@dataclass(frozen=True)
class RcaProposal:
    """A new analysis as a link proposes it: the reports found in the actor's services, the
    references that are not, a suggested title, and open analyses already grouping them."""

    reports: tuple[RcaReportLine, ...]
    not_found: tuple[str, ...]
    suggested_title: str
    already_open: tuple[RcaSummary, ...]


def _report_lines(session: Session, report_ids: Sequence[int]) -> list[RcaReportLine]:
    if not report_ids:
        return []
    rows = session.execute(
        select(NearMissReport, NearMissType.name, Service.name, Location.name)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .join(Service, Service.id == NearMissReport.service_id)
        .join(Location, Location.id == NearMissReport.location_id)
        .where(NearMissReport.id.in_(report_ids))
        .order_by(NearMissReport.occurred_at, NearMissReport.id)).all()
    return [RcaReportLine(r.id, r.reference, r.type_key, type_name, service, location,
                          r.occurred_at, ReportStatus(r.status))
            for r, type_name, service, location in rows]


def list_rcas(session: Session, actor: Actor) -> list[RcaSummary]:
    """The analyses the actor may see, open ones first, newest first."""
    require(actor, Capability.RUN_RCA)
    query = select(RootCauseAnalysis)
    if actor.service_ids is not None:
        outside = (select(RootCauseAnalysisReport.rca_id)
                   .join(NearMissReport, NearMissReport.id == RootCauseAnalysisReport.report_id)
                   .where(NearMissReport.service_id.not_in(sorted(actor.service_ids))))
        query = query.where(RootCauseAnalysis.id.not_in(outside),
                            RootCauseAnalysis.id.in_(select(RootCauseAnalysisReport.rca_id)))
    rcas = list(session.scalars(query.order_by(
        case((RootCauseAnalysis.status == OPEN, 0), else_=1),
        RootCauseAnalysis.opened_at.desc(), RootCauseAnalysis.id.desc())))
    references: dict[int, list[str]] = {r.id: [] for r in rcas}
    if rcas:
        for rca_id, reference in session.execute(
                select(RootCauseAnalysisReport.rca_id, NearMissReport.reference)
                .join(NearMissReport, NearMissReport.id == RootCauseAnalysisReport.report_id)
                .where(RootCauseAnalysisReport.rca_id.in_(list(references)))
                .order_by(NearMissReport.occurred_at, NearMissReport.id)):
            references[rca_id].append(reference)
    names = user_names(session, (r.lead_id for r in rcas))
    return [RcaSummary(r.id, r.title, r.status, names.get(r.lead_id, "?"), r.opened_at,
                       r.completed_at, tuple(references[r.id])) for r in rcas]


_HISTORY_LABELS = {"rca.opened": "Opened", "rca.updated": "Saved",
                   "rca.reports_added": "Reports added", "rca.report_removed": "Report removed",
                   "rca.completed": "Completed"}


def _history_detail(action: str, after: dict) -> str:
    if action == "rca.opened":
        return ", ".join(after.get("references", []))
    if action == "rca.reports_added":
        return ", ".join(after.get("added", []))
    if action == "rca.report_removed":
        return str(after.get("removed", ""))
    return ""


def rca_detail(session: Session, actor: Actor, rca_id: int) -> RcaDetail:
    """One analysis in full; NotFound if missing or outside the actor's services."""
    require(actor, Capability.RUN_RCA)
    rca = _load_in_scope(session, actor, rca_id)
    labels = {f.key: f.label for f in live_taxonomy(session).contributing_factors}
    factors = tuple(rca.contributing_factors or [])
    report_ids = list(session.scalars(select(RootCauseAnalysisReport.report_id).where(
        RootCauseAnalysisReport.rca_id == rca.id)))
    return RcaDetail(
        id=rca.id, title=rca.title, problem=rca.problem, five_whys=tuple(rca.five_whys or []),
        contributing_factors=factors, factor_labels=tuple(labels.get(f, f) for f in factors),
        findings=rca.findings, status=rca.status,
        lead=user_names(session, [rca.lead_id]).get(rca.lead_id, "?"), opened_at=rca.opened_at,
        completed_at=rca.completed_at, reports=tuple(_report_lines(session, report_ids)),
        history=tuple(record_history(session, ENTITY, rca.id, labels=_HISTORY_LABELS,
                                     detail=_history_detail)))


def rca_findings_for_actions(session: Session, actor: Actor, rca_id: int) -> RcaFindings:
    """The hand-off to the action plan builder: a completed analysis's findings, the reports
    it grouped and its contributing factors. An open analysis has no findings to hand on yet
    (ValidationFailed on "status")."""
    require(actor, Capability.RUN_RCA)
    rca = _load_in_scope(session, actor, rca_id)
    if rca.status != COMPLETE or rca.completed_at is None:
        raise ValidationFailed({"status": "Complete the root cause analysis first: its findings "
                                          "may still change while it is open."})
    reports = _linked(session, rca.id)
    return RcaFindings(rca_id=rca.id, title=rca.title, findings=rca.findings or "",
                       report_ids=tuple(r.id for r in reports),
                       references=tuple(r.reference for r in reports),
                       contributing_factors=tuple(rca.contributing_factors or []),
                       completed_at=rca.completed_at)


def _suggested_title(session: Session, report: NearMissReport, type_name: str,
                     count: int) -> str:
    """The first report's type, with its first answered choice at capture (e.g. the source of
    a medication discrepancy): "Medication discrepancy: Care plan vs family note"."""
    title = type_name
    spec = type_version(session, report.type_key, report.type_version)
    answers = report.capture_fields or {}
    choice = next((str(answers[f.key]) for f in spec.fields
                   if f.capture and f.kind == "choice" and answers.get(f.key)), None)
    if choice:
        title += f": {choice}"
    if count > 1:
        title += f" ({count} reports)"
    return title[:TITLE_MAX_CHARS]


def rca_proposal(session: Session, actor: Actor, references: Sequence[str]) -> RcaProposal:
    """What a "open a root cause analysis" link proposes, seen through the actor's scope."""
    require(actor, Capability.RUN_RCA)
    found: list[NearMissReport] = []
    missing: list[str] = []
    for reference in parse_references(references):
        try:
            found.append(get_in_scope(session, actor, reference))
        except NotFound:
            missing.append(reference)
    lines = {line.id: line for line in _report_lines(session, [r.id for r in found])}
    ordered = tuple(lines[r.id] for r in found)  # the link's order: the report under review first
    title = (_suggested_title(session, found[0], ordered[0].type_name, len(found))
             if found else "")
    wanted = {r.reference for r in found}
    already = tuple(s for s in list_rcas(session, actor)
                    if s.is_open and wanted & set(s.references))
    return RcaProposal(ordered, tuple(missing), title, already)
