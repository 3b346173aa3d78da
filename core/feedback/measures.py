"""Governance measures of the feedback loop: do reporters hear what changed, and how soon?

- time from report to first feedback: median hours from filing to the first published update
  linked to the report (reports in the period that have had feedback);
- share of reporters told: of the people who reported under their name in the period, how many
  have a published update linked to one of those reports (and the same per report);
- updates published per month in the period.

Reports are chosen as on every governance view (the period, services and types of the scope,
within the actor's services). The reports that heard are found in SQL, and the median of their
hours (tens of thousands at a million reports) taken from that one read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from statistics import median

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.auth.policy import Capability, require
from core.clock import to_local
from core.config import Settings
from core.feedback.models import FeedbackUpdate, FeedbackUpdateReport
from core.feedback.queries import for_services
from core.feedback.service import PUBLISHED
from core.metrics.governance import Scope, _hours_between, kept_by_timings
from core.reports.models import NearMissReport
from core.weeks import local_midnight_utc


@dataclass(frozen=True)
class FeedbackMeasures:
    median_hours_to_feedback: float | None
    reports_with_feedback: int
    named_reporters: int
    reporters_told: int
    named_reports: int
    named_reports_told: int
    updates_published: int
    monthly: pd.DataFrame = field(repr=False)  # columns: month (first day), updates

    @property
    def reporters_told_share(self) -> float | None:
        return self.reporters_told / self.named_reporters if self.named_reporters else None

    @property
    def updates_per_month(self) -> float | None:
        months = len(self.monthly)
        return self.updates_published / months if months else None


def _months(start: date, end: date) -> list[date]:
    """The first days of the months from `start` up to the day before `end`."""
    months, month = [], date(start.year, start.month, 1)
    while month < end:
        months.append(month)
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return months


def feedback_measures(session: Session, actor: Actor, scope: Scope, *,
                      rules: Settings) -> FeedbackMeasures:
    require(actor, Capability.VIEW_GOVERNANCE)
    where = scope.conditions(actor, rules.zone)
    # When a report was linked to an update already published, it heard at the update's
    # last edit (the link carries no time of its own); otherwise at publication.
    heard_at = case((FeedbackUpdate.published_at >= NearMissReport.reported_at,
                     FeedbackUpdate.published_at), else_=FeedbackUpdate.updated_at)
    # The scope's reports that heard, each with when it first heard: driven from the links
    # (tens of thousands at a million reports), never from every report in the period.
    first = (select(FeedbackUpdateReport.report_id.label("report_id"),
                    NearMissReport.reporter_id.label("reporter_id"),
                    NearMissReport.reported_at.label("reported_at"),
                    func.min(heard_at).label("first_at"))
             .join(FeedbackUpdate, FeedbackUpdate.id == FeedbackUpdateReport.update_id)
             .join(NearMissReport, NearMissReport.id == FeedbackUpdateReport.report_id)
             .where(FeedbackUpdate.status == PUBLISHED, *where)
             .group_by(FeedbackUpdateReport.report_id, NearMissReport.reporter_id,
                       NearMissReport.reported_at).subquery())
    named = NearMissReport.reporter_id.is_not(None)
    weeks = scope.reporter_weeks(session, actor, rules.zone)

    def heard() -> tuple[float | None, int, dict[int, int]]:
        """The median hours to first feedback, the reports that heard, and per reporter how
        many of theirs heard: one read of the reports that heard (about 15,000 at a million
        reports; two passes, one for the median and one per reporter, took 0.3 s), kept
        until a write moves what they read (feedback published or linked, a report's time,
        scope or reporter: the timings version)."""
        rows = session.execute(select(
            first.c.reporter_id,
            _hours_between(session, first.c.reported_at, first.c.first_at))).all()
        told = Counter(reporter_id for reporter_id, _hours in rows if reporter_id is not None)
        hours = [float(h) for _reporter, h in rows]
        return (median(hours) if hours else None), len(rows), dict(told)

    hours, with_feedback, told = kept_by_timings(session, "feedback", actor, scope, rules, heard)
    if weeks is None:
        # One pass over the period's named reports, grouped by reporter (a few hundred rows):
        # two COUNT(DISTINCT) passes took 0.35 s at a million reports.
        per_reporter = session.execute(
            select(NearMissReport.reporter_id, func.count(), func.count(first.c.report_id))
            .select_from(NearMissReport)
            .outerjoin(first, first.c.report_id == NearMissReport.id)
            .where(*where, named).group_by(NearMissReport.reporter_id)).all()
    else:
        # Named reports per reporter from the reporter weeks; those told, from the few reports
        # an update links.
        counts: dict[int, int] = {}
        for _week, _group, reporter_id, n in weeks:
            if reporter_id is not None:
                counts[reporter_id] = counts.get(reporter_id, 0) + n
        per_reporter = [(reporter, n, told.get(reporter, 0)) for reporter, n in counts.items()]
    reporters = len(per_reporter)
    reports = sum(count for _reporter, count, _told in per_reporter)
    reporters_told = sum(1 for _reporter, _count, told in per_reporter if told)
    reports_told = sum(told for _reporter, _count, told in per_reporter)
    service_ids = (scope.service_ids if scope.service_ids else
                   None if actor.service_ids is None else tuple(actor.service_ids))
    published = list(session.scalars(select(FeedbackUpdate.published_at).where(
        FeedbackUpdate.status == PUBLISHED, for_services(service_ids),
        FeedbackUpdate.published_at >= local_midnight_utc(scope.start, rules.zone),
        FeedbackUpdate.published_at < local_midnight_utc(scope.end, rules.zone))))
    per_month = dict.fromkeys(_months(scope.start, scope.end), 0)
    for moment in published:
        local_day = to_local(moment, rules.zone).date()
        month = date(local_day.year, local_day.month, 1)
        per_month[month] = per_month.get(month, 0) + 1
    monthly = pd.DataFrame(sorted(per_month.items()), columns=["month", "updates"])
    return FeedbackMeasures(
        median_hours_to_feedback=hours, reports_with_feedback=with_feedback,
        named_reporters=reporters or 0, reporters_told=reporters_told or 0,
        named_reports=reports or 0, named_reports_told=reports_told or 0,
        updates_published=len(published), monthly=monthly)
