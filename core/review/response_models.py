"""Learning responses (swarm huddle, after-action review, MDT review, PSII) and their reports.

The full root cause analysis keeps its own tables (core.review.models); see
core.review.response_templates for the types.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class LearningResponse(Base):
    """One learning response: its type and the template it started with, the answers, who
    took part, the due date from the template's time limit, and the suggestion it followed or
    the reason it did not."""

    __tablename__ = "learning_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    type_key: Mapped[str] = mapped_column(String(40))
    # The template as it was at the start: later edits of the file do not change its questions.
    template: Mapped[dict[str, Any]] = mapped_column(default=dict)
    title: Mapped[str] = mapped_column(String(200))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    participants: Mapped[list[Any]] = mapped_column(default=list)
    suggested_type_key: Mapped[str] = mapped_column(String(40))
    choice_reason: Mapped[str | None] = mapped_column(Text)  # why not the suggested type
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | completed
    due_on: Mapped[date] = mapped_column(Date)
    lead_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_learning_responses_status_due", "status", "due_on"),)


class LearningResponseReport(Base):
    """A report a learning response is about; one response may serve several reports."""

    __tablename__ = "learning_response_reports"
    # A report's page asks "which responses are about me?": the key leads with the response.
    __table_args__ = (Index("ix_learning_response_reports_report", "report_id"),)

    response_id: Mapped[int] = mapped_column(ForeignKey("learning_responses.id"),
                                             primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"), primary_key=True)
