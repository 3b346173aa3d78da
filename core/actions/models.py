"""Action plans and their actions, evidence checks, verification measures, sustainment checks,
and the activity counts that give rates a denominator."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class ActionPlan(Base):
    """A plan built from a report, a root cause analysis, a learning response or a cluster."""

    __tablename__ = "action_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    theme: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # report | rca | learning_response | cluster
    rca_id: Mapped[int | None] = mapped_column(ForeignKey("root_cause_analyses.id"))
    learning_response_id: Mapped[int | None] = mapped_column(
        ForeignKey("learning_responses.id"))
    # A cluster theme: the type and the service or region it gathered in.
    cluster_type_key: Mapped[str | None] = mapped_column(String(60))
    cluster_service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    cluster_region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    high_potential: Mapped[bool] = mapped_column(default=False)
    clustered: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class ActionPlanReport(Base):
    """A report the plan (and every action in it) serves; one plan may serve many reports.

    The report's type, place, person and day are copied onto the link when it is made: a
    report's filed details never change (core.integrity checks them against its filing), and
    the governance pages ask which actions serve the reports of a period, a type, a place or
    a person. Read from the links alone, 2,000 links of a year at 100k reports take 1.4 ms;
    each looked up in the reports, 5.5 ms (the repeats' statuses: 3.0 against 7.7 ms)."""

    __tablename__ = "action_plan_reports"
    # A report's page asks "which plans serve me?": the key leads with the plan.
    __table_args__ = (Index("ix_action_plan_reports_report", "report_id"),
                      Index("ix_action_plan_reports_occurred", "occurred_at"))

    plan_id: Mapped[int] = mapped_column(ForeignKey("action_plans.id"), primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("near_miss_reports.id"), primary_key=True)
    type_key: Mapped[str] = mapped_column(String(60))
    service_id: Mapped[int]
    location_id: Mapped[int]
    person_id: Mapped[int | None]
    occurred_at: Mapped[datetime]


class Action(Base):
    """One improvement action: owner, deadline, review date, strength, status, test window."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("action_plans.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("services.id"))
    deadline: Mapped[date] = mapped_column(Date)
    review_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    strength: Mapped[str] = mapped_column(String(14))  # stronger | intermediate | weaker
    strength_category: Mapped[str] = mapped_column(String(40))
    go_live_date: Mapped[date | None] = mapped_column(Date)
    test_window_days: Mapped[int | None]
    sustainment_check_date: Mapped[date | None] = mapped_column(Date)
    last_reminded_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version_id: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version_id}  # noqa: RUF012 - optimistic locking
    __table_args__ = (
        Index("ix_actions_owner_status", "owner_id", "status"),
        Index("ix_actions_deadline", "deadline"),
        Index("ix_actions_plan", "plan_id"),
    )


class ActionEvidenceCheck(Base):
    """A named check an action needs before it can be called done, with its evidence."""

    __tablename__ = "action_evidence_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id"))


class VerificationMeasure(Base):
    """How the effect of an action is judged from the near-miss data itself.

    Which reports count (filters), per week or per 100 visits/shifts, which way is better,
    an optional target; the baseline and the observed rate are computed, a person confirms.
    """

    __tablename__ = "verification_measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"), unique=True)
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    per: Mapped[str] = mapped_column(String(12), default="week")  # week | 100_visits | 100_shifts
    direction: Mapped[str] = mapped_column(String(10), default="decrease")
    target: Mapped[float | None]
    baseline_weeks: Mapped[int] = mapped_column(default=12)
    baseline_value: Mapped[float | None]
    observed_value: Mapped[float | None]
    proposed_verdict: Mapped[str | None] = mapped_column(String(20))
    confirmed_verdict: Mapped[str | None] = mapped_column(String(20))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None]
    confirmation_note: Mapped[str | None] = mapped_column(Text)
    # The evidence as proposed when the verdict was confirmed: the counts compared and the
    # chance of a change that large with no real change (see core.actions.evidence).
    baseline_count: Mapped[int | None]
    observed_count: Mapped[int | None]
    p_value: Mapped[float | None]
    # Why "effective" was confirmed although the numbers did not propose it (audited too).
    override_reason: Mapped[str | None] = mapped_column(Text)


class SustainmentCheck(Base):
    """Weeks after the test window: is the control still in place? (seed 2, example 3)."""

    __tablename__ = "sustainment_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id"))
    due_date: Mapped[date] = mapped_column(Date)
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    in_place: Mapped[bool | None]
    note: Mapped[str | None] = mapped_column(Text)


class ActivityCount(Base):
    """Visits and shifts delivered in a week by a service: the denominator of rates."""

    __tablename__ = "activity_counts"
    __table_args__ = (UniqueConstraint("service_id", "week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    week_start: Mapped[date] = mapped_column(Date)
    visits: Mapped[int | None]
    shifts: Mapped[int | None]
