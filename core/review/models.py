"""Review tables: the review itself, gate checks, validation evidence, communication decisions,
and root cause analyses grouping related reports (evidence files are in core.attachments)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class Review(Base):
    """The review of one report against the template version it was reviewed with."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"), unique=True)
    template_version: Mapped[int]
    field_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The questions leaders ask (seed 1, "Turning near misses into prevention action").
    what_stopped_harm: Mapped[str | None] = mapped_column(Text)
    control_reliable: Mapped[str | None] = mapped_column(String(10))  # yes | partly | no
    would_work_again: Mapped[str | None] = mapped_column(String(10))  # yes | unsure | no
    would_work_again_note: Mapped[str | None] = mapped_column(Text)
    contributing_factors: Mapped[list[Any]] = mapped_column(default=list)
    barrier_class: Mapped[str | None] = mapped_column(String(30))
    findings: Mapped[str | None] = mapped_column(Text)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Closure: who closed, when, and the outcome (a quality lead may reopen, with a reason).
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(Text)


class GateCheck(Base):
    """A "cannot proceed without" item ticked (or marked not applicable) by a named user."""

    __tablename__ = "gate_checks"
    __table_args__ = (UniqueConstraint("report_id", "gate_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"))
    gate_key: Mapped[str] = mapped_column(String(60))
    state: Mapped[str] = mapped_column(String(16))  # done | not_applicable
    note: Mapped[str] = mapped_column(Text)
    checked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    checked_at: Mapped[datetime]


class ValidationEvidence(Base):
    """Evidence for one "auditable validation" item: who, when, what (and maybe a file)."""

    __tablename__ = "validation_evidence"
    __table_args__ = (UniqueConstraint("report_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"))
    item_key: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(Text)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class CommunicationDecision(Base):
    """A decision about telling family, a representative, the case manager or the funder."""

    __tablename__ = "communication_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"))
    audience: Mapped[str] = mapped_column(String(30))
    communicated: Mapped[bool]
    what: Mapped[str] = mapped_column(Text)  # what was said, or why it was not needed
    communicated_at: Mapped[datetime | None]
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]

    __table_args__ = (Index("ix_communication_decisions_report", "report_id"),)


class RootCauseAnalysis(Base):
    """A root cause analysis grouping related reports (5 whys, factors, findings)."""

    __tablename__ = "root_cause_analyses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    problem: Mapped[str] = mapped_column(Text)
    five_whys: Mapped[list[Any]] = mapped_column(default=list)
    contributing_factors: Mapped[list[Any]] = mapped_column(default=list)
    findings: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | complete
    lead_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class RootCauseAnalysisReport(Base):
    __tablename__ = "root_cause_analysis_reports"
    __table_args__ = (Index("ix_root_cause_analysis_reports_report", "report_id"),)

    rca_id: Mapped[int] = mapped_column(ForeignKey("root_cause_analyses.id"), primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"), primary_key=True)
