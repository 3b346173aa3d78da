"""A worker's pages: the report form's reference data, and My reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.auth.actor import Actor
from core.db import read_session
from core.feedback.cues import CueGuide, guide_for
from core.feedback.queries import (
    ReportUpdate,
    my_reports_told,
    unread_feedback_notifications,
    updates_for_my_reports,
)
from core.i18n import DEFAULT_LANGUAGE
from core.organisation.queries import ReportingOptions, reporting_options
from core.reports.queries import MyReportCounts, MyReportRow, my_report_counts, my_reports
from core.taxonomy.schema import TaxonomySpec
from core.taxonomy.service import live_taxonomy


@dataclass(frozen=True, slots=True)
class ReportForm:
    """What the report form offers this actor: types, their services and places, the cues."""

    taxonomy: TaxonomySpec
    options: ReportingOptions
    cues: CueGuide


@dataclass(frozen=True, slots=True)
class MyReportsPage:
    """The reports the actor filed under their name (newest first), the counts, and the
    "what changed" updates about them (by reference)."""

    rows: tuple[MyReportRow, ...]
    counts: MyReportCounts
    told: int
    updates: Mapping[str, list[ReportUpdate]]
    unread_notification_ids: tuple[int, ...]
    type_names: Mapping[str, str]  # a type's name as stored -> in the reader's language


def type_names_in(session: Session, language: str) -> dict[str, str]:
    """Each near-miss type's name as the reports carry it, and in `language` (the taxonomy's
    translation; as stored when it has none)."""
    return {spec.name: spec.name_in(language) for spec in live_taxonomy(session).types}


def type_names(language: str) -> dict[str, str]:
    """`type_names_in` in a read session of its own (the follow-up page)."""
    with read_session() as session:
        return type_names_in(session, language)


def report_form(actor: Actor, language: str = DEFAULT_LANGUAGE) -> ReportForm:
    with read_session() as session:
        return ReportForm(taxonomy=live_taxonomy(session),
                          options=reporting_options(session, actor),
                          cues=guide_for(session, actor, language))


def my_reports_page(actor: Actor, language: str = DEFAULT_LANGUAGE) -> MyReportsPage:
    with read_session() as session:
        rows = my_reports(session, actor)
        return MyReportsPage(
            rows=tuple(rows), counts=my_report_counts(session, actor),
            told=my_reports_told(session, actor),
            updates=updates_for_my_reports(session, actor, [r.reference for r in rows]),
            unread_notification_ids=tuple(unread_feedback_notifications(session, actor)),
            type_names=type_names_in(session, language))
