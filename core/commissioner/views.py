"""The commissioner's evidence: provider-wide aggregates, de-identified.

No free text, no names, no person references, no staff or reporter identity; dates coarsened
to the week; counts below the threshold suppressed everywhere, with complementary suppression.
Aggregates are computed provider-wide (a commissioner sees the whole provider) and then
de-identified here, so nothing identifying ever reaches a page or an export.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.actions.models import (
    Action,
    ActionPlan,
    ActionPlanReport,
    SustainmentCheck,
    VerificationMeasure,
)
from core.actions.vocabulary import KINDS_BY_KEY, ActionStatus, Strength
from core.auth.actor import SYSTEM, Actor
from core.auth.policy import Capability, require
from core.clock import to_local, utcnow
from core.commissioner.deid import iso_week, suppress_series
from core.config import Settings, settings
from core.escalation.models import Escalation
from core.escalation.rules import EscalationKind
from core.feedback.models import FeedbackUpdate, FeedbackUpdateReport
from core.metrics import governance as gov
from core.metrics.clusters import clusters_in_period
from core.metrics.weeks import local_midnight_utc, week_start_of
from core.organisation.models import Service
from core.reports.models import NearMissReport
from core.spc import SpcRules, xmr
from core.taxonomy.models import NearMissType
from core.taxonomy.service import live_taxonomy

# Dimensions a commissioner may see: none of them names a place, a person or a worker.
DIMENSIONS = {"type": "Type", "service": "Service", "barrier": "What stopped harm",
              "interface": "Interface"}


def threshold(rules: Settings | None = None) -> int:
    return (rules or settings()).commissioner.suppress_below


@dataclass(frozen=True)
class Trend:
    """A control chart of provider-wide near misses, weekly (monthly if weeks are small)."""

    frame: pd.DataFrame  # xmr output, indexed by period start
    granularity: str  # week | month
    go_lives: list[tuple[date, str]]  # (period start, the control's kind; no free text)
    controls_live: int = 0  # how many went live in all (go_lives marks the best evidenced)


def _check(actor: Actor) -> None:
    require(actor, Capability.VIEW_COMMISSIONER_EVIDENCE)


def trend(session: Session, actor: Actor, scope: gov.Scope, *,
          rules: Settings | None = None, suppress: bool = True) -> Trend:
    _check(actor)
    rules = rules or settings()
    limit = threshold(rules) if suppress else 1  # a board sees exact counts
    # Whole weeks only: a part-week at either end of the period would look like a fall.
    first = scope.start if scope.start.weekday() == 0 else (
        week_start_of(scope.start) + timedelta(days=7))
    complete_end = min(week_start_of(scope.end), week_start_of(_today(rules)))
    weekly = gov.weekly_series(session, SYSTEM, gov.Scope(
        start=first, end=max(first, complete_end), service_ids=scope.service_ids,
        type_keys=scope.type_keys), rules=rules)
    series, granularity = weekly, "week"
    if ((weekly > 0) & (weekly < limit)).any():
        # Small weekly counts would be hidden; months keep the chart whole.
        series = weekly.groupby(weekly.index.to_period("M")).sum()
        series.index = series.index.to_timestamp()
        granularity = "month"
    if ((series > 0) & (series < limit)).any():
        series = series.where((series == 0) | (series >= limit))
        series = series.dropna()
    marks = []
    controls = gov.control_rows(session, scope, None)
    for day, _title, _plan, kind, _linked in controls:
        label = KINDS_BY_KEY[kind].label if kind in KINDS_BY_KEY else "Control"
        start = week_start_of(day) if granularity == "week" else day.replace(day=1)
        marks.append((start, label))
    frame = xmr(series.astype(float), rules=SpcRules(**rules.spc.model_dump()))
    frame.attrs = {}
    return Trend(frame, granularity, gov.marks_of(marks).marks, len(controls))


def _today(rules: Settings) -> date:
    return to_local(utcnow(), rules.zone).date()


@dataclass(frozen=True)
class Breakdown:
    rows: list[tuple[str, int | None]]  # label, count (None: fewer than the threshold)
    total: int | None


def breakdown(session: Session, actor: Actor, scope: gov.Scope, dimension: str, *,
              rules: Settings | None = None, suppress: bool = True) -> Breakdown:
    """Near misses by one safe dimension, small counts hidden so totals cannot reveal them."""
    _check(actor)
    if dimension not in DIMENSIONS:
        raise ValueError(f"{dimension!r} is not a dimension commissioners see")
    rules = rules or settings()
    frame = gov.breakdown(session, SYSTEM, scope, dimension, rules=rules,
                          interface_labels=_interface_labels(session))
    cells, total = suppress_series(list(frame["count"]),
                                   threshold(rules) if suppress else 1)
    return Breakdown(list(zip(frame["key"].astype(str), cells, strict=True)), total)


def _interface_labels(session: Session) -> dict[str, str]:
    return {f.key: f.label for f in live_taxonomy(session).interface_flags}


@dataclass(frozen=True)
class ClusterEvidence:
    type_name: str
    where: str
    from_week: str
    to_week: str
    reports: int | None  # None: fewer than the threshold
    actions: list[str]  # "Checklist (intermediate): verified effective"


def _action_summaries(session: Session, report_refs: tuple[str, ...]) -> list[str]:
    rows = session.execute(
        select(Action.strength_category, Action.strength, Action.status).distinct()
        .join(ActionPlanReport, ActionPlanReport.plan_id == Action.plan_id)
        .join(NearMissReport, NearMissReport.id == ActionPlanReport.report_id)
        .where(NearMissReport.reference.in_(report_refs))).all()
    summaries = []
    for kind, strength, status in rows:
        label = KINDS_BY_KEY[kind].label if kind in KINDS_BY_KEY else kind
        summaries.append(f"{label} ({Strength(strength).label.lower()}): "
                         f"{ActionStatus(status).label.lower()}")
    return sorted(summaries)


def clusters(session: Session, actor: Actor, scope: gov.Scope, *,
             rules: Settings | None = None, suppress: bool = True) -> list[ClusterEvidence]:
    """Clusters found in the period and what was done about them (no references)."""
    _check(actor)
    rules = rules or settings()
    limit = threshold(rules) if suppress else 1  # a board sees exact counts
    found = []
    for cluster in clusters_in_period(session, SYSTEM, scope.start, scope.end, rules=rules):
        count = len(cluster.references)
        found.append(ClusterEvidence(
            type_name=cluster.type_name, where=f"{cluster.scope_name} ({cluster.scope})",
            from_week=iso_week(cluster.start), to_week=iso_week(cluster.end),
            reports=count if count >= limit else None,
            actions=_action_summaries(session, cluster.references)))
    return found


_STATUS_VERDICTS = {ActionStatus.VERIFIED_EFFECTIVE.value: "effective",
                    ActionStatus.NOT_EFFECTIVE.value: "not_effective"}


def action_register(session: Session, actor: Actor, *, start: date | None = None,
                    end: date | None = None, rules: Settings | None = None) -> pd.DataFrame:
    """Actions with their kind and strength, theme, dates as weeks, status and verification,
    indexed by action id. With `start`/`end`, those live in the period: created before its
    end, and still in hand (planned, in progress, in test) or last changed (a verdict, a
    stop, a sustainment check) on or after its start.

    Titles and descriptions are free text written by staff, so they are not shown: the kind
    on the action hierarchy says what sort of control it is.
    """
    _check(actor)
    rules = rules or settings()
    in_period: list[ColumnElement[bool]] = []
    if end is not None:
        in_period.append(Action.created_at < local_midnight_utc(end, rules.zone))
    if start is not None:
        in_hand = (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS, ActionStatus.IN_TEST)
        in_period.append(Action.status.in_([s.value for s in in_hand])
                         | (Action.updated_at >= local_midnight_utc(start, rules.zone)))
    themes: dict[int, set[str]] = {}
    for plan_id, type_name in session.execute(
            select(ActionPlanReport.plan_id, NearMissType.name).distinct()
            .join(NearMissReport, NearMissReport.id == ActionPlanReport.report_id)
            .join(NearMissType, NearMissType.key == NearMissReport.type_key)):
        themes.setdefault(plan_id, set()).add(type_name)
    for plan_id, type_name in session.execute(
            select(ActionPlan.id, NearMissType.name)
            .join(NearMissType, NearMissType.key == ActionPlan.cluster_type_key)):
        themes.setdefault(plan_id, set()).add(type_name)
    services = dict(session.execute(select(Service.id, Service.name)).all())
    sustained = {action_id: in_place for action_id, in_place in session.execute(
        select(SustainmentCheck.action_id, SustainmentCheck.in_place)
        .where(SustainmentCheck.confirmed_at.is_not(None)))}
    rows, ids = [], []
    for action, measure in session.execute(
            select(Action, VerificationMeasure)
            .outerjoin(VerificationMeasure, VerificationMeasure.action_id == Action.id)
            .where(*in_period).order_by(Action.deadline, Action.id)):
        ids.append(action.id)
        kind = KINDS_BY_KEY.get(action.strength_category)
        rows.append({
            "Theme": ", ".join(sorted(themes.get(action.plan_id, set()))) or "—",
            "Service": services.get(action.service_id, "Provider-wide"),
            "Kind of action": kind.label if kind else action.strength_category,
            "Strength": Strength(action.strength).label,
            "Status": ActionStatus(action.status).label,
            "Deadline (week)": iso_week(action.deadline),
            "Went live (week)": iso_week(action.go_live_date) if action.go_live_date else "",
            # A verdict confirmed on a measure, else the one the status records.
            "Verdict": ((measure.confirmed_verdict if measure else None)
                        or _STATUS_VERDICTS.get(action.status, "")).replace("_", " "),
            "Before (rate)": round(measure.baseline_value, 2)
            if measure and measure.baseline_value is not None else None,
            "During test (rate)": round(measure.observed_value, 2)
            if measure and measure.observed_value is not None else None,
            "Still in place": {True: "yes", False: "no"}.get(sustained.get(action.id), ""),
        })
    return pd.DataFrame(rows, index=pd.Index(ids, name="action_id"))


@dataclass(frozen=True)
class EscalationTimeliness:
    kind: str
    raised: int | None
    median_minutes: float | None
    within_time: str  # e.g. "92%" or "fewer than 5"


def escalations(session: Session, actor: Actor, scope: gov.Scope, *,
                rules: Settings | None = None, suppress: bool = True) -> list[EscalationTimeliness]:
    """How fast escalations were acknowledged, by kind (hidden where there are few)."""
    _check(actor)
    rules = rules or settings()
    limit = threshold(rules) if suppress else 1  # a board sees exact counts
    result = []
    for kind in EscalationKind:
        rows = session.execute(select(Escalation.raised_at, Escalation.acknowledged_at,
                                      Escalation.due_at).where(
            Escalation.kind == kind.value,
            Escalation.raised_at >= local_midnight_utc(scope.start, rules.zone),
            Escalation.raised_at < local_midnight_utc(scope.end, rules.zone))).all()
        count = len(rows)
        if count == 0:
            continue
        if count < limit:
            result.append(EscalationTimeliness(kind.label, None, None, f"fewer than {limit}"))
            continue
        waits = [(a - r).total_seconds() / 60 for r, a, _ in rows if a]
        on_time = sum(1 for _, a, d in rows if a and a <= d)
        result.append(EscalationTimeliness(kind.label, count,
                                           round(median(waits), 0) if waits else None,
                                           f"{on_time / count:.0%}"))
    return result


@dataclass(frozen=True)
class CultureEvidence:
    reports: int | None
    reporters: int | None
    anonymous_share: str
    median_hours_to_triage: float | None


def culture(session: Session, actor: Actor, scope: gov.Scope, *,
            rules: Settings | None = None, suppress: bool = True) -> CultureEvidence:
    _check(actor)
    rules = rules or settings()
    limit = threshold(rules) if suppress else 1  # a board sees exact counts
    measured = gov.reporting_culture(session, SYSTEM, scope, rules=rules)
    return CultureEvidence(
        reports=measured.reports if measured.reports >= limit else None,
        reporters=measured.distinct_reporters if measured.distinct_reporters >= limit else None,
        anonymous_share=f"{measured.anonymous_share:.0%}" if measured.reports >= limit
        else f"fewer than {limit} reports",
        median_hours_to_triage=round(measured.median_hours_to_triage, 1)
        if measured.median_hours_to_triage is not None and measured.reports >= limit else None)


@dataclass(frozen=True)
class FeedbackEvidence:
    month: str
    updates: int
    reports_behind_them: int | None


def feedback(session: Session, actor: Actor, scope: gov.Scope, *,
             rules: Settings | None = None, suppress: bool = True) -> list[FeedbackEvidence]:
    """"What changed because you reported": updates published per month (counts only)."""
    _check(actor)
    rules = rules or settings()
    limit = threshold(rules) if suppress else 1  # a board sees exact counts
    published = session.execute(
        select(FeedbackUpdate.id, FeedbackUpdate.published_at,
               func.count(FeedbackUpdateReport.report_id))
        .outerjoin(FeedbackUpdateReport, FeedbackUpdateReport.update_id == FeedbackUpdate.id)
        .where(FeedbackUpdate.status == "published",
               FeedbackUpdate.published_at >= local_midnight_utc(scope.start, rules.zone),
               FeedbackUpdate.published_at < local_midnight_utc(scope.end, rules.zone))
        .group_by(FeedbackUpdate.id, FeedbackUpdate.published_at)).all()
    months: dict[str, list[int]] = {}
    for _, when, linked in published:
        months.setdefault(f"{when:%Y-%m}", []).append(linked)
    return [FeedbackEvidence(month, len(links), sum(links) if sum(links) >= limit else None)
            for month, links in sorted(months.items())]


def period_label(start: date, end: date) -> str:
    return f"{start:%d %b %Y} to {(end - timedelta(days=1)):%d %b %Y}"

