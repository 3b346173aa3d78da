"""The fixed words of a near-miss report: barrier classes and workflow states."""

from __future__ import annotations

from enum import StrEnum

from core.i18n import N_


class Barrier(StrEnum):
    """What stopped harm. Governance counts these: staff recovery is not a reliable control."""

    STAFF_RECOVERY = "staff_recovery"
    DESIGNED_CONTROL = "designed_control"
    PERSON_OR_FAMILY = "person_or_family"
    CHANCE = "chance"

    @property
    def label(self) -> str:
        return BARRIER_LABELS[self]


BARRIER_LABELS: dict[Barrier, str] = {
    Barrier.STAFF_RECOVERY: N_("Staff noticed and recovered it"),
    Barrier.DESIGNED_CONTROL: N_("A designed check or control caught it (checklist, alert, "
                                 "pre-transfer check)"),
    Barrier.PERSON_OR_FAMILY: N_("The person or their family noticed"),
    Barrier.CHANCE: N_("Chance: nothing stopped it, it just didn't happen"),
}


class ReportStatus(StrEnum):
    """Where a report is in its workflow (the state machine arrives with triage)."""

    NEW = "new"
    TRIAGED = "triaged"
    IN_REVIEW = "in_review"
    ACTIONS = "actions"
    VALIDATING = "validating"
    CLOSED = "closed"
    RECLASSIFIED = "reclassified"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[ReportStatus, str] = {
    ReportStatus.NEW: N_("New: waiting for triage"),
    ReportStatus.TRIAGED: N_("Triaged"),
    ReportStatus.IN_REVIEW: N_("In review"),
    ReportStatus.ACTIONS: N_("Actions under way"),
    ReportStatus.VALIDATING: N_("Validating"),
    ReportStatus.CLOSED: N_("Closed"),
    ReportStatus.RECLASSIFIED: N_("Re-classified as an incident"),
}
