"""Who must hear about a near miss at once, and by when they must acknowledge (pure rules)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.auth.roles import Role
from core.config import EscalationRules
from core.taxonomy.schema import NearMissTypeSpec


class EscalationKind(StrEnum):
    SAFEGUARDING = "safeguarding"
    SUPERVISOR_ALERT = "supervisor_alert"
    CLINICAL_REVIEW = "clinical_review"
    OPERATIONS = "operations"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]

    @property
    def recipient_role(self) -> Role:
        return KIND_ROLES[self]


KIND_LABELS: dict[EscalationKind, str] = {
    EscalationKind.SAFEGUARDING: "Safeguarding or rights signal",
    EscalationKind.SUPERVISOR_ALERT: "Shift supervisor alert",
    EscalationKind.CLINICAL_REVIEW: "Same-day clinical review",
    EscalationKind.OPERATIONS: "Interface failure: information pathway",
}

KIND_ROLES: dict[EscalationKind, Role] = {
    EscalationKind.SAFEGUARDING: Role.SAFEGUARDING,
    EscalationKind.SUPERVISOR_ALERT: Role.SUPERVISOR,
    EscalationKind.CLINICAL_REVIEW: Role.CLINICAL,
    EscalationKind.OPERATIONS: Role.OPERATIONS,
}


@dataclass(frozen=True)
class EscalationNeed:
    kind: EscalationKind
    reason: str


def needs_for_new_report(type_spec: NearMissTypeSpec, *, still_at_risk: bool,
                         interface_flag: str | None) -> list[EscalationNeed]:
    """The escalations a newly filed report raises at once."""
    needs: list[EscalationNeed] = []
    if type_spec.safeguarding_signal:
        needs.append(EscalationNeed(EscalationKind.SAFEGUARDING,
                                    f"{type_spec.name} reported: decide on safeguarding and "
                                    "external reporting."))
    if still_at_risk or type_spec.stop_the_line:
        why = []
        if still_at_risk:
            why.append("the reporter says someone is still at risk")
        if type_spec.stop_the_line:
            why.append("stop the line: early deterioration not in the handover")
        needs.append(EscalationNeed(EscalationKind.SUPERVISOR_ALERT,
                                    "Check on the person now: " + "; ".join(why) + "."))
    if type_spec.stop_the_line:
        needs.append(EscalationNeed(EscalationKind.CLINICAL_REVIEW,
                                    "Arrange a same-day nurse review or telehealth consult."))
    if type_spec.route_to == "operations" or interface_flag:
        needs.append(EscalationNeed(EscalationKind.OPERATIONS,
                                    "Map the information pathway: where the change was entered, "
                                    "who should have received it, which confirmation step "
                                    "failed."))
    return needs


def due_at(kind: EscalationKind, raised_at: datetime, rules: EscalationRules) -> datetime:
    """When an unacknowledged escalation turns red."""
    return raised_at + timedelta(minutes=rules.acknowledge_within_minutes[kind.value])


def is_overdue(*, due: datetime, acknowledged_at: datetime | None, now: datetime) -> bool:
    return acknowledged_at is None and now > due
