"""Action statuses and the action hierarchy (stronger, intermediate, weaker actions)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ActionStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    IN_TEST = "in_test"
    VERIFIED_EFFECTIVE = "verified_effective"
    NOT_EFFECTIVE = "not_effective"
    STOPPED = "stopped"

    @property
    def label(self) -> str:
        return {"planned": "Planned", "in_progress": "In progress", "in_test": "In test",
                "verified_effective": "Verified effective", "not_effective": "Not effective",
                "stopped": "Stopped"}[self.value]

    @property
    def open(self) -> bool:
        return self in (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS, ActionStatus.IN_TEST,
                        ActionStatus.NOT_EFFECTIVE)


# Where an action can go next (the verdict moves are made by confirm_verdict).
NEXT_STATUSES: dict[ActionStatus, frozenset[ActionStatus]] = {
    ActionStatus.PLANNED: frozenset({ActionStatus.IN_PROGRESS, ActionStatus.IN_TEST,
                                     ActionStatus.STOPPED}),
    ActionStatus.IN_PROGRESS: frozenset({ActionStatus.IN_TEST, ActionStatus.STOPPED}),
    ActionStatus.IN_TEST: frozenset({ActionStatus.VERIFIED_EFFECTIVE,
                                     ActionStatus.NOT_EFFECTIVE, ActionStatus.STOPPED}),
    ActionStatus.NOT_EFFECTIVE: frozenset({ActionStatus.IN_PROGRESS, ActionStatus.STOPPED}),
    ActionStatus.VERIFIED_EFFECTIVE: frozenset(),
    ActionStatus.STOPPED: frozenset(),
}


class Strength(StrEnum):
    STRONGER = "stronger"
    INTERMEDIATE = "intermediate"
    WEAKER = "weaker"

    @property
    def label(self) -> str:
        return {"stronger": "Stronger", "intermediate": "Intermediate",
                "weaker": "Weaker"}[self.value]


@dataclass(frozen=True)
class ActionKind:
    """A category of the action hierarchy used in root cause analysis, with an example from
    community services."""

    key: str
    label: str
    strength: Strength
    example: str


ACTION_HIERARCHY: tuple[ActionKind, ...] = (
    ActionKind("physical_change", "Physical or architectural change", Strength.STRONGER,
               "Widen the bathroom doorway; fit a grab rail where the walker is parked."),
    ActionKind("forcing_function", "Forcing function", Strength.STRONGER,
               "The rota cannot be published until every shift shows who confirmed cover."),
    ActionKind("simplify_standardise", "Simplified or standardised process or equipment",
               Strength.STRONGER,
               "One medication record, one place; the same walker position in every room."),
    ActionKind("leadership", "Tangible leadership involvement", Strength.STRONGER,
               "The registered manager observes evening routines weekly until the trend falls."),
    ActionKind("redundancy", "Redundancy", Strength.INTERMEDIATE,
               "A second person confirms the backup worker before an essential visit."),
    ActionKind("staffing_workload", "Staffing or workload change", Strength.INTERMEDIATE,
               "An extra worker at the evening peak; shorter runs on the east route."),
    ActionKind("software", "Software change", Strength.INTERMEDIATE,
               "The scheduling system alerts the rostered worker when a plan changes."),
    ActionKind("checklist", "Checklist or cognitive aid", Strength.INTERMEDIATE,
               "A pre-transfer equipment check card at the bathroom door."),
    ActionKind("read_back", "Read-back", Strength.INTERMEDIATE,
               "Coordinators read back the new visit time to the person or family."),
    ActionKind("standard_communication", "Standardised communication", Strength.INTERMEDIATE,
               "A handover prompt for skin changes, used at every shift change."),
    ActionKind("double_check", "Double check", Strength.WEAKER,
               "A colleague double-checks the medication prompt against the plan."),
    ActionKind("warning", "Warning or sign", Strength.WEAKER,
               "A sign on the medication cupboard: check the family notes."),
    ActionKind("policy_memo", "New policy, procedure or memo", Strength.WEAKER,
               "A memo reminding staff to keep walkers within reach."),
    ActionKind("training", "Training", Strength.WEAKER,
               "A refresher session on safe transfers."),
    ActionKind("more_study", "More study or analysis", Strength.WEAKER,
               "Collect three more months of data before deciding."),
)

KINDS_BY_KEY: dict[str, ActionKind] = {kind.key: kind for kind in ACTION_HIERARCHY}


def strength_warning(kinds: list[str], *, high_potential: bool, clustered: bool) -> str | None:
    """A warning when a plan for a high-potential or clustered theme holds only weaker
    actions: reminders and memos are what seed 2 says to avoid."""
    if not kinds or not (high_potential or clustered):
        return None
    strengths = {KINDS_BY_KEY[k].strength for k in kinds if k in KINDS_BY_KEY}
    if strengths and strengths <= {Strength.WEAKER}:
        theme = "high-potential" if high_potential else "clustered"
        return (f"This plan is for a {theme} theme but holds only weaker actions (double "
                "checks, warnings, memos, training). Rather than issuing reminders, add a "
                "stronger or intermediate control: a physical change, a forcing function, a "
                "standardised process, a checklist or a software change.")
    return None


_STATUS_ORDER = [s.value for s in (ActionStatus.VERIFIED_EFFECTIVE, ActionStatus.IN_TEST,
                                   ActionStatus.IN_PROGRESS, ActionStatus.PLANNED,
                                   ActionStatus.NOT_EFFECTIVE, ActionStatus.STOPPED)]


def best_status(statuses: set[str]) -> str | None:
    """The most advanced of these action statuses (verified effective first), if any."""
    for status in _STATUS_ORDER:
        if status in statuses:
            return status
    return None
