"""Feedback to staff: "what changed because you reported" updates, and the cues guides."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class FeedbackUpdate(Base):
    """A short published update tied to the reports (and actions, themes) behind it."""

    __tablename__ = "feedback_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    what_changed: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | published
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(default=1)


class FeedbackUpdateRevision(Base):
    """Every saved text of an update: edits keep their history."""

    __tablename__ = "feedback_update_revisions"

    update_id: Mapped[int] = mapped_column(ForeignKey("feedback_updates.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    what_changed: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text)
    edited_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    edited_at: Mapped[datetime]


class FeedbackUpdateReport(Base):
    __tablename__ = "feedback_update_reports"
    # "What changed because of my reports" looks updates up by report.
    __table_args__ = (Index("ix_feedback_update_reports_report", "report_id"),)

    update_id: Mapped[int] = mapped_column(ForeignKey("feedback_updates.id"), primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"), primary_key=True)


class FeedbackUpdateAction(Base):
    __tablename__ = "feedback_update_actions"

    update_id: Mapped[int] = mapped_column(ForeignKey("feedback_updates.id"), primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), primary_key=True)


class FeedbackUpdateTheme(Base):
    """A cluster or theme the update answers (a type in a service or region)."""

    __tablename__ = "feedback_update_themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("feedback_updates.id"))
    type_key: Mapped[str] = mapped_column(String(60))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))


class FeedbackUpdateService(Base):
    """Who it affects: services (none listed: every service)."""

    __tablename__ = "feedback_update_services"

    update_id: Mapped[int] = mapped_column(ForeignKey("feedback_updates.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)


class FeedbackUpdateRole(Base):
    """Who it affects: roles (none listed: every role)."""

    __tablename__ = "feedback_update_roles"

    update_id: Mapped[int] = mapped_column(ForeignKey("feedback_updates.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(30), primary_key=True)


class CueGuideText(Base):
    """The one-page near-miss cues guide of an audience, as the administrator last saved it."""

    __tablename__ = "cue_guides"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    markdown: Mapped[str] = mapped_column(Text)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]
