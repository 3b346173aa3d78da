"""Commissioners' pages: the evidence of learning (de-identified), and the governance pack."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from core.auth.actor import Actor
from core.clock import to_local
from core.commissioner import views as cv
from core.commissioner.action_evidence import ActionEvidenceTable, action_evidence
from core.commissioner.period import Period
from core.commissioner.regulator import ClockTable, commissioner_on_time
from core.config import Settings
from core.db import get_engine, is_sqlite, read_session
from core.exports.pack import export_tables
from core.exports.pack_pdf import Progress, build_pack
from core.metrics.governance import Scope

TREND_LEAD_WEEKS = 26  # the trend starts this long before the period, to show its context


@dataclass(frozen=True, slots=True)
class EvidencePage:
    """Everything the evidence-of-learning page shows for one period, suppressed as
    core.commissioner.deid says."""

    trend: cv.Trend
    tables: cv.TypeTables
    breakdowns: Mapping[str, cv.Breakdown]
    clusters: tuple[cv.ClusterEvidence, ...]
    register: pd.DataFrame
    per_action: ActionEvidenceTable
    escalations: tuple[cv.EscalationTimeliness, ...]
    culture: cv.CultureEvidence
    feedback: tuple[cv.FeedbackEvidence, ...]
    on_time_target: float
    clock_tables: tuple[ClockTable, ...]


@dataclass(frozen=True, slots=True)
class Pack:
    """The governance pack as a PDF, and its tables for the spreadsheets."""

    pdf: bytes
    sheets: Mapping[str, list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class RegulatorClocks:
    """The evidence page's regulator clocks: they count down by the minute."""

    on_time_target: float
    clock_tables: tuple[ClockTable, ...]


def evidence_page(actor: Actor, period: Period, *, now: datetime,
                  rules: Settings) -> EvidencePage:
    """Everything the evidence-of-learning page shows for `period` at `now`."""
    return with_clocks(evidence_figures(actor, period, now=now, rules=rules),
                       regulator_clocks(actor, period, now=now, rules=rules))


def evidence_figures(actor: Actor, period: Period, *, now: datetime,
                     rules: Settings) -> EvidencePage:
    """The evidence page without its regulator clocks (`with_clocks` adds them). These
    figures read `now` only for its local day (this week, test windows, verdicts due), so a
    cache may keep them for the day; at a million reports they take a second to compute.

    On PostgreSQL two halves run at once, each in a session of its own: the actions'
    (register, clusters, evidence per action: mostly Python, sharing the plans' links) and
    the counts' (mostly SQL). One waits on the database while the other computes: the
    figures' cold time at a million reports went from about 1.0 s to 0.83 s (medians of 8,
    alternating). Each statement reads the latest committed data either way (read
    committed), as in one session."""
    scope = Scope(period.start, period.end)
    today = to_local(now, rules.zone).date()

    def actions_half() -> tuple[tuple[cv.ClusterEvidence, ...], pd.DataFrame,
                                ActionEvidenceTable]:
        with read_session() as session:
            # The register first: it reads every plan link, which the session then keeps
            # for the clusters and the evidence per action.
            register = cv.action_register(session, actor, start=period.start, end=period.end,
                                          rules=rules)
            return (tuple(cv.clusters(session, actor, scope, rules=rules, now=now)), register,
                    action_evidence(session, actor, start=period.start, end=period.end,
                                    rules=rules, today=today, now=now))

    def counts_half() -> tuple[cv.TypeTables, cv.Trend, Mapping[str, cv.Breakdown],
                               tuple[cv.EscalationTimeliness, ...], cv.CultureEvidence,
                               tuple[cv.FeedbackEvidence, ...]]:
        with read_session() as session:
            tables = cv.type_tables(session, actor, scope, rules=rules, period_name=period.label)
            return (tables,
                    cv.trend(session, actor,
                             Scope(period.start - timedelta(weeks=TREND_LEAD_WEEKS), period.end),
                             rules=rules, now=now),
                    cv.breakdowns(session, actor, scope, rules=rules, tables=tables),
                    tuple(cv.escalations(session, actor, scope, rules=rules)),
                    cv.culture(session, actor, scope, rules=rules),
                    tuple(cv.feedback(session, actor, scope, rules=rules)))

    if is_sqlite(get_engine()):
        # The database works in this process, under the same lock as the Python: at once the
        # halves would only take turns (the page at 100k was no faster, often slower).
        clusters, register, per_action = actions_half()
        tables, trend, breakdowns, escalations, culture, feedback = counts_half()
    else:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence") as pool:
            actions = pool.submit(actions_half)
            tables, trend, breakdowns, escalations, culture, feedback = counts_half()
            clusters, register, per_action = actions.result()
    return EvidencePage(trend=trend, tables=tables, breakdowns=breakdowns, clusters=clusters,
                        register=register, per_action=per_action, escalations=escalations,
                        culture=culture, feedback=feedback,
                        on_time_target=rules.regulator.on_time_target, clock_tables=())


def regulator_clocks(actor: Actor, period: Period, *, now: datetime,
                     rules: Settings) -> RegulatorClocks:
    """The period's regulator deadlines met on time, as they stand at `now`."""
    with read_session() as session:
        target, tables = commissioner_on_time(session, actor, Scope(period.start, period.end),
                                              now=now, rules=rules)
    return RegulatorClocks(target, tuple(tables))


def with_clocks(figures: EvidencePage, clocks: RegulatorClocks) -> EvidencePage:
    """The evidence page: its figures with the regulator clocks of the minute."""
    return replace(figures, on_time_target=clocks.on_time_target,
                   clock_tables=clocks.clock_tables)


def governance_pack(actor: Actor, period: Period, audience: str, *, now: datetime,
                    rules: Settings, progress: Progress | None = None) -> Pack:
    """Gather the period's evidence for the audience and render it (the PDF takes a while:
    `progress` hears how far it got)."""
    with read_session() as session:
        return Pack(pdf=build_pack(session, actor, period, audience, now=now, rules=rules,
                                   progress=progress),
                    sheets=export_tables(session, actor, period, audience, rules=rules, now=now))
