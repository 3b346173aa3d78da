"""Reportable-event decisions and their regulator clocks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class RegulatorDecision(Base):
    """Whether an event must be reported to the regulator: who decided, when and why.

    One row per report, holding the current answer; a revision (reportable after all, or not)
    updates it and the audit trail keeps every earlier answer.
    """

    __tablename__ = "regulator_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"), unique=True)
    reportable: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text)
    jurisdiction: Mapped[str] = mapped_column(String(120))
    decided_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revision: Mapped[int] = mapped_column(default=1)


class RegulatorClock(Base):
    """One deadline of a reportable event: due, and met (when, with the state's reference)."""

    __tablename__ = "regulator_clocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("regulator_decisions.id"))
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"))
    key: Mapped[str] = mapped_column(String(40))
    # The rule as it stood when the clock started: later edits of the settings do not move it.
    label: Mapped[str] = mapped_column(String(120))
    rule: Mapped[str] = mapped_column(String(160))  # the rule in words, as it stood
    needs_reference: Mapped[bool] = mapped_column(default=False)
    remind_before_hours: Mapped[float] = mapped_column(default=0)
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    met_at: Mapped[datetime | None]
    met_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None]  # when "met" was recorded (met_at may be earlier)
    state_reference: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None]  # the event was found not reportable after all
    # Reminders sent (each once): before the deadline, and when it has passed.
    reminded_soon_at: Mapped[datetime | None]
    reminded_overdue_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_regulator_clocks_report", "report_id"),
        Index("ix_regulator_clocks_due", "due_at", "met_at"),
        # The clocks still running (a few hundred of tens of thousands), for the board's
        # regulator section (migration 0023).
        Index("ix_regulator_clocks_running", "report_id", "due_at",
              postgresql_where=text("met_at IS NULL AND withdrawn_at IS NULL"),
              sqlite_where=text("met_at IS NULL AND withdrawn_at IS NULL")),
    )

