"""The words of triage (seed 2, "Build triage rules that match community services reality")."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Severity potential: how bad it could have been had the barrier failed."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def label(self) -> str:
        return {"low": "Low", "medium": "Medium", "high": "High"}[self.value]


class Recurrence(StrEnum):
    SINGLE = "single"
    REPEAT = "repeat"
    CLUSTER = "cluster"

    @property
    def label(self) -> str:
        return {"single": "Single", "repeat": "Repeat", "cluster": "Cluster"}[self.value]


class ReviewLevel(StrEnum):
    """The minimum investigation that will reveal the system failure (ordered, shallow first)."""

    NONE = "none"
    SUPERVISOR_REVIEW = "supervisor_review"
    BARRIER_REVIEW = "barrier_review"
    ROOT_CAUSE_ANALYSIS = "root_cause_analysis"

    @property
    def label(self) -> str:
        return REVIEW_LEVEL_LABELS[self]

    @property
    def depth(self) -> int:
        return list(ReviewLevel).index(self)


REVIEW_LEVEL_LABELS: dict[ReviewLevel, str] = {
    ReviewLevel.NONE: "No further investigation",
    ReviewLevel.SUPERVISOR_REVIEW: "Supervisor review",
    ReviewLevel.BARRIER_REVIEW: "Barrier review",
    ReviewLevel.ROOT_CAUSE_ANALYSIS: "Root cause analysis",
}


class Route(StrEnum):
    """Who takes the report forward after triage."""

    SUPERVISOR = "supervisor"
    SAFEGUARDING = "safeguarding"
    CLINICAL = "clinical"
    OPERATIONS = "operations"

    @property
    def label(self) -> str:
        return {"supervisor": "Supervisor", "safeguarding": "Safeguarding lead",
                "clinical": "Clinical lead", "operations": "Operations lead"}[self.value]


class EpisodeStatus(StrEnum):
    """Where a cluster episode stands: open until someone acknowledges it, dismisses it with a
    reason, or an action plan serving its reports links it (listed in this order)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    LINKED = "linked"
    DISMISSED = "dismissed"

    @property
    def label(self) -> str:
        return {"open": "Open", "acknowledged": "Acknowledged", "linked": "Linked to an action",
                "dismissed": "Dismissed"}[self.value]

    @property
    def rank(self) -> int:
        """Open first, then acknowledged, linked and dismissed."""
        return list(EpisodeStatus).index(self)
