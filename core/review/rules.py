"""Review rules (pure): what is still open, what is still missing, and whether a report may
move past review or close. The services and the page both use these."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.reports.vocabulary import Barrier
from core.review.vocabulary import CONTROL_RELIABLE, WOULD_WORK_AGAIN
from core.taxonomy.schema import FieldSpec, GateSpec, NearMissTypeSpec, ValidationItemSpec


def review_fields(template: NearMissTypeSpec) -> tuple[FieldSpec, ...]:
    """The fields asked at review (those taken from the report itself are shown, not asked)."""
    return tuple(f for f in template.fields if f.source is None)


def review_problems(template: NearMissTypeSpec, values: Mapping[str, Any], *,
                    control_reliable: str | None, would_work_again: str | None,
                    barrier_class: str | None) -> dict[str, str]:
    """Everything the review still needs, by field ("Required fields must include", seed 1)."""
    problems: dict[str, str] = {}
    for spec in review_fields(template):
        value = values.get(spec.key)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems[f"field.{spec.key}"] = f"{spec.label} is required for this type."
    if control_reliable not in CONTROL_RELIABLE:
        problems["control_reliable"] = "Answer: was the control that stopped harm reliable?"
    if would_work_again not in WOULD_WORK_AGAIN:
        problems["would_work_again"] = ("Answer: would the same protection work with different "
                                        "staff, timing or pressure?")
    if barrier_class not in Barrier._value2member_map_:
        problems["barrier_class"] = "Classify the barrier that stopped harm."
    return problems


def open_gates(template: NearMissTypeSpec, checked: set[str]) -> list[GateSpec]:
    """The "cannot proceed without" items not yet ticked or marked not applicable."""
    return [gate for gate in template.gates if gate.key not in checked]


def missing_evidence(template: NearMissTypeSpec, evidenced: set[str]) -> list[ValidationItemSpec]:
    """The "auditable validation" items that have no evidence yet."""
    return [item for item in template.validation if item.key not in evidenced]


def describe(items: list[GateSpec] | list[ValidationItemSpec]) -> str:
    return "; ".join(f"“{item.label}”" for item in items)
