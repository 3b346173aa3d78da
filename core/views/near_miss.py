"""The near-miss page: one report, its triage proposal or review, plans, responses, look-alikes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core.actions.queries import plans_for_report
from core.auth.actor import Actor
from core.auth.policy import Capability, can
from core.clock import to_local
from core.config import Settings
from core.db import read_session
from core.errors import NotFound
from core.filing.detail import ReportDetail, report_detail
from core.reports.vocabulary import ReportStatus
from core.review.queries import ReviewView, evidence_download, review_view
from core.review.related import ReadAlikePanel, read_alike
from core.review.response_queries import ReportResponses, report_responses
from core.taxonomy.service import live_taxonomy
from core.triage.proposal import TriageProposal, propose_triage
from core.yamlfile import ConfigFileError


@dataclass(frozen=True, slots=True)
class NearMissPage:
    """Everything the near-miss page shows for one report and one actor.

    `proposal` only while the report is new (the triage form); `review` once review started;
    `read_alike` for roles that open reports; `responses` for roles that run learning responses
    once triaged (`responses_error` if the provider's templates file has a mistake).
    """

    detail: ReportDetail
    proposal: TriageProposal | None
    review: ReviewView | None
    signals: Mapping[str, str]
    factors: Mapping[str, str]
    plans: tuple[tuple[int, str], ...]
    read_alike: ReadAlikePanel | None
    responses: ReportResponses | None
    responses_error: str | None


def _read_alike(session: Session, actor: Actor, reference: str,
                rules: Settings) -> ReadAlikePanel | None:
    if not can(actor, Capability.VIEW_REPORT):
        return None
    try:
        return read_alike(session, actor, reference, rules=rules)
    except NotFound:
        return None


def read_alike_panel(actor: Actor, reference: str, *, rules: Settings) -> ReadAlikePanel | None:
    """The read-alike panel alone: None for a role that does not open reports, or outside
    the actor's services (the panel then shows nothing)."""
    with read_session() as session:
        return _read_alike(session, actor, reference, rules)


def near_miss_page(actor: Actor, reference: str, *, now: datetime,
                   rules: Settings) -> NearMissPage:
    """The report `reference` as `actor` sees it; NotFound outside their services."""
    with read_session() as session:
        detail = report_detail(session, actor, reference, now=now)
        proposal = (propose_triage(session, actor, reference, rules=rules)
                    if detail.status is ReportStatus.NEW else None)
        taxonomy = live_taxonomy(session)
        review = (review_view(session, actor, reference)
                  if detail.status not in (ReportStatus.NEW, ReportStatus.TRIAGED) else None)
        plans = (plans_for_report(session, actor, reference)
                 if can(actor, Capability.VIEW_ACTIONS) else [])
        alike = _read_alike(session, actor, reference, rules)
        responses, responses_error = None, None
        if (can(actor, Capability.RUN_LEARNING_RESPONSES)
                and detail.status is not ReportStatus.NEW):
            try:
                responses = report_responses(session, actor, reference,
                                             today=to_local(now, rules.zone).date())
            except NotFound:
                responses = None
            except ConfigFileError as exc:  # the provider's templates file has a mistake
                responses_error = str(exc)
    return NearMissPage(
        detail=detail, proposal=proposal, review=review,
        signals={s.key: s.label for s in taxonomy.safeguarding_signals},
        factors={f.key: f.label for f in taxonomy.contributing_factors},
        plans=tuple(plans), read_alike=alike, responses=responses,
        responses_error=responses_error)


def evidence_file(actor: Actor, attachment_id: int) -> bytes:
    """The bytes of an evidence file the actor may download (read when the button is used)."""
    with read_session() as session:
        return evidence_download(session, actor, attachment_id).data
