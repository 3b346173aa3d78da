"""Triage answers, cluster episodes, and the links reviewers make between related reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
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


class ClusterEpisode(Base):
    """One burst of one near-miss type in a service or a region, found by the cluster rule.

    Days are the provider's local days. It stays one episode while its windows keep firing
    (`last_day` moves on); a person acknowledges it, dismisses it with a reason, or an action
    plan serving its reports links it. An acknowledged or dismissed episode opens again when it
    has grown well past `seen_peak`. A service episode that a region episode turned out to be
    part of points at it (`part_of_id`) and is shown inside it, not beside it.
    """

    __tablename__ = "cluster_episodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    type_key: Mapped[str] = mapped_column(ForeignKey("near_miss_types.key"))
    scope: Mapped[str] = mapped_column(String(10))  # service | region
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    first_day: Mapped[date] = mapped_column(Date)  # the first day of the first window that fired
    opened_on: Mapped[date] = mapped_column(Date)  # the day it first fired
    last_day: Mapped[date] = mapped_column(Date)  # the latest day it fired
    peak: Mapped[int]  # the most reports in one window
    usual: Mapped[float]  # the usual count per window when it opened
    threshold: Mapped[int]  # the count that made it a cluster when it opened
    seen_peak: Mapped[int]  # the peak when it was raised or last decided on
    status: Mapped[str] = mapped_column(String(20), default="open")
    reason: Mapped[str | None] = mapped_column(Text)  # why it was dismissed
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("action_plans.id"))
    part_of_id: Mapped[int | None] = mapped_column(ForeignKey("cluster_episodes.id"))
    opened_at: Mapped[datetime]  # when the portal raised it
    alerted_at: Mapped[datetime]  # when it was raised or last opened again by growing
    version_id: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - two people deciding at once

    __table_args__ = (
        # Filing looks up the episode a new firing window continues.
        Index("ix_cluster_episodes_series", "type_key", "scope", "service_id", "region_id",
              "last_day"),
        # The board and the governance pages: a period's episodes, open ones first.
        Index("ix_cluster_episodes_last_day", "last_day", "status"),
    )


class ReportLink(Base):
    """Two reports a reviewer said are related ("this happened before"), linked in one click.

    Stored once per pair, oriented by time: `report_id` is the later report (the recurrence),
    `earlier_id` the one it repeats (earlier by when it happened, then by id). Linking from
    either report's page finds the same row, so linking twice is one link. The recurrence
    count (core.triage.recurrence) counts a linked earlier report even when its type differs.
    Removing a link deletes the row; the audit trail keeps who linked and unlinked it.
    """

    __tablename__ = "report_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"))
    earlier_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"))
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    linked_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("report_id", "earlier_id"),
        CheckConstraint("report_id <> earlier_id", name="distinct"),
        # A report's links are read from both ends: as the later report and as the earlier.
        Index("ix_report_links_earlier", "earlier_id"),
    )
