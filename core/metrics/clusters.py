"""The weekly cluster review: the cluster episodes of a period, open ones first.

Episodes are found by the cluster rule (core.triage.cluster_rule) when reports are filed, or by
`recompute_episodes` after bulk loads, and stored with their status (core.triage.episodes);
the review reads them instead of re-running the rule over every window on each view.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from core.actions.episodes import EpisodeView, list_episodes
from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.clock import to_local
from core.config import Settings

# One cluster episode as the governance pages, the digest and the packs show it.
ClusterFinding = EpisodeView


def clusters_in_period(session: Session, actor: Actor, start: date, end: date, *,
                       now: datetime, rules: Settings,
                       with_references: bool = True) -> list[ClusterFinding]:
    """Every cluster episode that fired on a day within [start, end): open ones first, then
    acknowledged, linked to an action and dismissed, each the latest first. Without
    `with_references`, each episode's reports are counted, not listed."""
    require(actor, Capability.VIEW_GOVERNANCE)
    return list_episodes(session, actor, start=start, end=end,
                         today=to_local(now, rules.zone).date(), rules=rules,
                         with_references=with_references)
