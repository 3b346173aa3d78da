"""Escalations (with their decision timeline) and notifications (in-app, with an email outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class Escalation(Base):
    """A report sent to a lead at once: raised -> acknowledged -> decided, each timed."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[dict[str, Any] | None]

    __table_args__ = (
        Index("ix_escalations_kind_open", "kind", "decided_at"),
        Index("ix_escalations_report", "report_id"),
        # The escalations not yet acknowledged (a few of a hundred thousand), for the board's
        # "escalation overdue" (migration 0029).
        Index("ix_escalations_unacknowledged", "report_id", "due_at",
              postgresql_where=text("acknowledged_at IS NULL"),
              sqlite_where=text("acknowledged_at IS NULL")),
        # A period's escalations by when they were raised, with what their timeliness reads
        # (the commissioner's evidence, the digest, the signals export; migration 0030).
        Index("ix_escalations_raised", "raised_at", "kind", "acknowledged_at", "due_at"),
    )


class Notification(Base):
    """A message to one user; shown in their inbox and, if they have an email, emailed."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("near_miss_reports.id"))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalations.id"))
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    email_to: Mapped[str | None] = mapped_column(String(254))
    # not_needed | pending | sent | failed
    email_status: Mapped[str] = mapped_column(String(12), default="not_needed")
    email_attempts: Mapped[int] = mapped_column(default=0)
    email_error: Mapped[str | None] = mapped_column(Text)
    email_sent_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        Index("ix_notifications_email_status", "email_status"),
    )
