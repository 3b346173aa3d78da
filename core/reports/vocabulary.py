"""The fixed words of a near-miss report: barrier classes and workflow states."""

from __future__ import annotations

from enum import StrEnum


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
    Barrier.STAFF_RECOVERY: "Staff noticed and recovered it",
    Barrier.DESIGNED_CONTROL: "A designed check or control caught it (checklist, alert, "
                              "pre-transfer check)",
    Barrier.PERSON_OR_FAMILY: "The person or their family noticed",
    Barrier.CHANCE: "Chance: nothing stopped it, it just didn't happen",
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
    ReportStatus.NEW: "New: waiting for triage",
    ReportStatus.TRIAGED: "Triaged",
    ReportStatus.IN_REVIEW: "In review",
    ReportStatus.ACTIONS: "Actions under way",
    ReportStatus.VALIDATING: "Validating",
    ReportStatus.CLOSED: "Closed",
    ReportStatus.RECLASSIFIED: "Re-classified as an incident",
}
