"""Learning responses: the list with the new-response proposal, and one response.

The templates (the provider's file) are read by the page and passed in, like the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from core.auth.actor import Actor
from core.db import read_session
from core.review.response_queries import (
    ResponseDetail,
    ResponseProposal,
    ResponseSummary,
    list_responses,
    response_detail,
    response_proposal,
)
from core.review.response_templates import LearningResponses


@dataclass(frozen=True, slots=True)
class ResponsesPage:
    """The responses the actor may see, and what the new-response form proposes for the
    references typed."""

    summaries: tuple[ResponseSummary, ...]
    proposal: ResponseProposal


def response_link_proposal(actor: Actor, references: Sequence[str], *, today: date,
                           templates: LearningResponses) -> ResponseProposal:
    """What a "start a learning response" link proposes (its suggestion seeds the form)."""
    with read_session() as session:
        return response_proposal(session, actor, references, today=today, templates=templates)


def responses_page(actor: Actor, references: Sequence[str], *, today: date,
                   templates: LearningResponses) -> ResponsesPage:
    with read_session() as session:
        return ResponsesPage(
            summaries=tuple(list_responses(session, actor, today=today, templates=templates)),
            proposal=response_proposal(session, actor, references, today=today,
                                       templates=templates))


def learning_response(actor: Actor, response_id: int, *, today: date,
                      templates: LearningResponses) -> ResponseDetail:
    """One response in full; NotFound if missing or outside the actor's services."""
    with read_session() as session:
        return response_detail(session, actor, response_id, today=today, templates=templates)
