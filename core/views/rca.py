"""Root cause analyses: the list with the new-analysis proposal, and one analysis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.auth.actor import Actor
from core.db import read_session
from core.review.rca import (
    RcaDetail,
    RcaProposal,
    RcaSummary,
    list_rcas,
    rca_detail,
    rca_proposal,
)
from core.taxonomy.service import live_taxonomy


@dataclass(frozen=True, slots=True)
class RcasPage:
    """The analyses the actor may see, what the new-analysis form proposes for the
    references typed, and the contributing factors by key."""

    summaries: tuple[RcaSummary, ...]
    proposal: RcaProposal
    factors: Mapping[str, str]


def rca_link_proposal(actor: Actor, references: Sequence[str]) -> RcaProposal:
    """What an "open a root cause analysis" link proposes (its title seeds the form)."""
    with read_session() as session:
        return rca_proposal(session, actor, references)


def rcas_page(actor: Actor, references: Sequence[str]) -> RcasPage:
    with read_session() as session:
        return RcasPage(
            summaries=tuple(list_rcas(session, actor)),
            proposal=rca_proposal(session, actor, references),
            factors={f.key: f.label for f in live_taxonomy(session).contributing_factors})


def analysis(actor: Actor, rca_id: int) -> RcaDetail:
    """One analysis in full; NotFound if missing or outside the actor's services."""
    with read_session() as session:
        return rca_detail(session, actor, rca_id)
