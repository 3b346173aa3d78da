"""The near-miss report table, the per-year reference counter and the log of every workflow
move."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class NearMissReport(Base):
    """One near miss as reported. Depth (triage, review) lives in later tables."""

    __tablename__ = "near_miss_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    type_key: Mapped[str] = mapped_column(ForeignKey("near_miss_types.key"))
    type_version: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime]
    reported_at: Mapped[datetime]
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("locations.id"))
    barrier: Mapped[str] = mapped_column(String(30))
    still_at_risk: Mapped[bool]
    immediate_safeguards: Mapped[str | None] = mapped_column(Text)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people_supported.id"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"))
    staff_group_id: Mapped[int | None] = mapped_column(ForeignKey("staff_groups.id"))
    interface_flag: Mapped[str | None] = mapped_column(String(60))
    capture_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # None when the reporter chose to report without their name: then it is not stored at all.
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="new")
    status_changed_at: Mapped[datetime | None]
    # Flags the triage board shows and sorts by (set at filing, confirmed at triage).
    stop_the_line: Mapped[bool] = mapped_column(default=False)
    safeguarding: Mapped[bool] = mapped_column(default=False)
    in_cluster: Mapped[bool] = mapped_column(default=False)
    is_repeat: Mapped[bool] = mapped_column(default=False)
    severity: Mapped[str | None] = mapped_column(String(10))
    review_level: Mapped[str | None] = mapped_column(String(30))
    routed_to: Mapped[str | None] = mapped_column(String(20))
    triaged_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(12), default="form")
    # The language the reporter wrote in: the text is kept as written, never translated.
    language: Mapped[str] = mapped_column(String(12), default="en", server_default="en")
    # An anonymous reporter's private follow-up code, kept only as a hash (not linked to them).
    follow_up_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Idempotency: the same form submission (double click, re-run) files one report only.
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    version_id: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - optimistic locking

    __table_args__ = (
        Index("ix_near_miss_reports_service_status", "service_id", "status"),
        Index("ix_near_miss_reports_reporter", "reporter_id", "reported_at"),
        # Covering: governance aggregates over a period read the index alone (migration 0008).
        Index("ix_near_miss_reports_period", "occurred_at", "service_id", "type_key",
              "reporter_id", "staff_group_id", "reported_at", "triaged_at", "barrier",
              "location_id", "person_id", "id"),
        # On SQLite only, migration 0027 adds an index on an expression (days from filing to
        # triage) for the median time to triage; SQLAlchemy does not reflect it there.
        # Governance for a supervisor or a commissioner's services over a period.
        Index("ix_near_miss_reports_service_occurred", "service_id", "occurred_at"),
        Index("ix_near_miss_reports_type_occurred", "type_key", "occurred_at"),
        # The cluster rule counts one type in a service (or region) over a window at filing.
        Index("ix_near_miss_reports_type_service_occurred", "type_key", "service_id",
              "occurred_at"),
        # Covering for a measure counting one place's near misses of a type (migration 0022).
        Index("ix_near_miss_reports_location", "location_id", "occurred_at", "type_key",
              "service_id"),
        Index("ix_near_miss_reports_person", "person_id", "occurred_at"),
        Index("ix_near_miss_reports_route", "route_id", "occurred_at"),
        Index("ix_near_miss_reports_status_reported", "status", "reported_at"),
        # The breakdown by interface reads the few flagged reports (4% in the demo) through
        # this, and counts the rest from the day counts (migration 0019).
        Index("ix_near_miss_reports_interface", "occurred_at", "service_id", "type_key",
              "interface_flag", postgresql_where=text("interface_flag IS NOT NULL"),
              sqlite_where=text("interface_flag IS NOT NULL")),
        # Covering for the joins to a report by its id from plan links, feedback links and
        # escalations: read without a heap page per report (migrations 0020 and 0024).
        Index("ix_near_miss_reports_by_id", "id", "occurred_at", "service_id", "type_key",
              "reporter_id", "reported_at", "location_id", "person_id"),
        # The regulator section's events awaiting a decision: the last days' filings
        # (migration 0021).
        Index("ix_near_miss_reports_reported", "reported_at", "service_id", "status"),
    )


class ReferenceCounter(Base):
    """The last reference number issued in a year (NM-2026-00042)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_value: Mapped[int]


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


class NearMissDayCount(Base):
    """Near misses per local day, service, type and barrier: the rollup the weekly figures read
    instead of every report (core/reports/rollup.py keeps it in each write's transaction)."""

    __tablename__ = "near_miss_day_counts"

    day: Mapped[date] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(primary_key=True)
    type_key: Mapped[str] = mapped_column(String(60), primary_key=True)
    barrier: Mapped[str] = mapped_column(String(30), primary_key=True)
    reports: Mapped[int]

    # A verification measure counts one type in some services over a window; a breakdown
    # sums by type or service. The index holds the barrier and the count too, so both read
    # it alone, not a table row per entry (migration 0026).
    __table_args__ = (Index("ix_near_miss_day_counts_type_service_day", "type_key",
                            "service_id", "day", "barrier", "reports"),)


class ReporterWeekCount(Base):
    """Near misses per local week (its Monday), service, type, staff group and reporter: the
    rollup the reporting-culture figures read (distinct reporters by week and staff group)
    instead of every report. 0 stands for "not recorded" (staff group) and for anonymous
    reports (reporter): a key column cannot be empty."""

    __tablename__ = "reporter_week_counts"

    week: Mapped[date] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(primary_key=True)
    type_key: Mapped[str] = mapped_column(String(60), primary_key=True)
    staff_group_id: Mapped[int] = mapped_column(primary_key=True)
    reporter_id: Mapped[int] = mapped_column(primary_key=True)
    reports: Mapped[int]


class LocationWeekCount(Base):
    """Near misses per local week (its Monday), service, type and place: the rollup the cluster
    review's repeats by place read instead of every report of the period."""

    __tablename__ = "location_week_counts"

    week: Mapped[date] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(primary_key=True)
    type_key: Mapped[str] = mapped_column(String(60), primary_key=True)
    location_id: Mapped[int] = mapped_column(primary_key=True)
    reports: Mapped[int]


class PersonWeekCount(Base):
    """Near misses per local week (its Monday), service and person supported (reports naming
    no one are not counted): the rollup the cluster review's repeats by person read. Not by
    type: a person's week holds a few reports of several types, and with the type it would
    be as long as the reports; a scope narrowed to types counts the reports."""

    __tablename__ = "person_week_counts"

    week: Mapped[date] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(primary_key=True)
    reports: Mapped[int]


class RollupState(Base):
    """Whether the rollups (day counts, reporter, place and person weeks) are built, and for
    which time zone's days (one row, id 1). No row: not built yet, and every figure counts
    the reports."""

    __tablename__ = "rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime]
    # Drawn afresh by every write that can move a median time to triage, to acknowledge or to
    # first feedback (or who was told), and by every rebuild (core/reports/rollup.py): those
    # figures are kept per value of it, not per data version. Random, not counted: after a
    # restore, a count could come round again to a value kept for other data.
    timings_version: Mapped[int] = mapped_column(BigInteger, default=0)
