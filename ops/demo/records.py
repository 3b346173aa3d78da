"""What happened to a demo near miss after filing, as plain values the store writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Slot:
    """Where a report's id arrives once it is stored (triage records point at earlier ones)."""

    seq: int  # its place in the generated sequence: what makes two runs compare equal
    id: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class DemoNotice:
    """A notification to one recipient of an escalation."""

    user_id: int
    read_at: datetime | None


@dataclass
class DemoEscalation:
    """An escalations row (without report_id) and the notifications it sent."""

    row: dict[str, Any]
    where: str  # "Maple House, Bathroom doorway": for the notification's text
    notices: tuple[DemoNotice, ...] = ()


@dataclass
class DemoRecord:
    """One demo near miss with everything that happened to it up to `now`."""

    report: dict[str, Any]  # a near_miss_reports row (the reference is added when stored)
    slot: Slot
    triage: dict[str, Any] | None = None  # a triage_records row without report_id
    related: tuple[Slot, ...] = ()  # earlier reports the triager linked
    transitions: list[dict[str, Any]] = field(default_factory=list)  # without report_id
    escalations: list[DemoEscalation] = field(default_factory=list)
    review: dict[str, Any] | None = None  # a reviews row without report_id
    gate_checks: list[dict[str, Any]] = field(default_factory=list)  # without report_id
    evidence: list[dict[str, Any]] = field(default_factory=list)  # validation_evidence rows
    communications: list[dict[str, Any]] = field(default_factory=list)
    plan: str | None = None  # the key of the action plan that links it (see _demo_plans)
