"""Triage answers and the audited log of every workflow move."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class TriageRecord(Base):
    """The four questions answered for one report, with the matrix result and the route."""

    __tablename__ = "triage_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"), unique=True)
    at_risk_now: Mapped[bool]
    immediate_safeguards: Mapped[str | None] = mapped_column(Text)
    safeguarding_trigger: Mapped[bool]
    safeguarding_signals: Mapped[list[Any]] = mapped_column(default=list)
    external_reporting: Mapped[bool] = mapped_column(default=False)
    recurrence: Mapped[str] = mapped_column(String(10))
    related_report_ids: Mapped[list[Any]] = mapped_column(default=list)
    severity: Mapped[str] = mapped_column(String(10))
    matrix_level: Mapped[str] = mapped_column(String(30))
    investigation: Mapped[str] = mapped_column(String(30))
    route: Mapped[str] = mapped_column(String(20))
    notes: Mapped[str | None] = mapped_column(Text)
    triaged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    triaged_at: Mapped[datetime]


class ReportTransition(Base):
    """One workflow move: measured later as time-to-triage and time in each state."""

    __tablename__ = "report_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"))
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_report_transitions_report_at", "report_id", "at"),)
