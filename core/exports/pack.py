"""The governance pack: the period's evidence for a board or a commissioner, gathered here for
the PDF (drawn by core.exports.pack_pdf) and as spreadsheet tables.

The commissioner's pack is built from the de-identified views only (core.commissioner.views),
so nothing identifying can reach it; the board's pack adds what an internal board may see
(action titles, clusters' report references, update titles) and shows exact counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.actions.models import Action
from core.auth.actor import SYSTEM, Actor
from core.auth.models import User
from core.auth.policy import Capability, require
from core.auth.roles import Role
from core.clock import to_local
from core.commissioner import views as cv
from core.commissioner.action_evidence import ActionEvidenceTable, action_evidence
from core.commissioner.deid import Cell, Note, label_notes
from core.commissioner.period import Period
from core.config import Settings
from core.exports.signals import SignalSummary, decision_signals
from core.feedback.models import FeedbackUpdate
from core.metrics.clusters import clusters_in_period
from core.metrics.governance import Scope
from core.organisation.models import Location, Service
from core.reports.models import NearMissReport
from core.reports.vocabulary import BARRIER_LABELS, Barrier, ReportStatus
from core.taxonomy.models import NearMissType
from core.weeks import local_midnight_utc

AUDIENCES = {"board": "Board", "commissioner": "Commissioner / funder"}


def audience_for(actor: Actor, requested: str) -> str:
    """A commissioner always gets the commissioner's pack, whatever they ask for."""
    if requested not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
    if actor.has(Role.COMMISSIONER) and not actor.has(Role.QUALITY):
        return "commissioner"
    return requested


@dataclass
class PackData:
    period: Period
    audience: str
    provider: str
    generated: str
    trend: cv.Trend
    tables: cv.TypeTables
    by_type: cv.Breakdown
    by_barrier: cv.Breakdown
    clusters: list[cv.ClusterEvidence]
    cluster_references: list[list[str]]  # board only
    register: pd.DataFrame
    escalations: list[cv.EscalationTimeliness]
    culture: cv.CultureEvidence
    feedback: list[cv.FeedbackEvidence]
    update_titles: list[tuple[str, str]]  # board only: (date, title)
    previous_total: Cell
    evidence: ActionEvidenceTable  # the evidence per action (exact for a board)
    evidence_titles: dict[int, str]  # board only: action id -> title
    summary: SignalSummary  # the signals that need a decision (page 1)


def gather(session: Session, actor: Actor, period: Period, audience: str, *,
           now: datetime, rules: Settings) -> PackData:
    """Everything the pack shows, de-identified for a commissioner; `now` is the moment the
    pack says it was generated."""
    require(actor, Capability.EXPORT_PACK)
    audience = audience_for(actor, audience)
    suppress = audience == "commissioner"
    scope = Scope(period.start, period.end)
    previous = Scope(period.start - (period.end - period.start), period.start)
    board = audience == "board"
    clusters = cv.clusters(session, actor, scope, rules=rules, suppress=suppress, now=now)
    tables = cv.type_tables(session, actor, scope, rules=rules, suppress=suppress,
                            period_name=period.label)
    breakdowns = cv.breakdowns(session, actor, scope, rules=rules, suppress=suppress,
                               tables=tables)
    episodes = clusters_in_period(session, SYSTEM, scope.start, scope.end, rules=rules, now=now,
                                  with_references=board)
    evidence = _action_evidence(session, actor, board, period, rules, now=now)
    titles = _action_titles(session, evidence) if board else {}
    return PackData(
        period=period, audience=audience, provider=rules.provider_name,
        generated=to_local(now, rules.zone).strftime("%d %b %Y %H:%M"),
        trend=cv.trend(session, actor, Scope(period.start - timedelta(weeks=26), period.end),
                       rules=rules, suppress=suppress, now=now),
        tables=tables, by_type=breakdowns["type"], by_barrier=breakdowns["barrier"],
        clusters=clusters,
        cluster_references=[list(c.references) for c in episodes] if board else [],
        register=_register(session, actor, board, period, rules),
        escalations=cv.escalations(session, actor, scope, rules=rules, suppress=suppress),
        culture=cv.culture(session, actor, scope, rules=rules, suppress=suppress),
        feedback=cv.feedback(session, actor, scope, rules=rules, suppress=suppress),
        update_titles=_update_titles(session, period, rules) if board else [],
        previous_total=cv.total(session, actor, previous, rules=rules, suppress=suppress),
        evidence=evidence, evidence_titles=titles,
        summary=decision_signals(session, actor, period.start, period.end, suppress=suppress,
                                 rules=rules, evidence=evidence, titles=titles,
                                 episodes=episodes, now=now),
    )


def _register(session: Session, actor: Actor, board: bool, period: Period,
              rules: Settings) -> pd.DataFrame:
    """The actions live in the period; a board also sees each action's title and owner."""
    frame = cv.action_register(session, actor, start=period.start, end=period.end,
                               rules=rules, suppress=not board)
    if board and not frame.empty:
        titles = {action_id: (title, owner) for action_id, title, owner in session.execute(
            select(Action.id, Action.title, User.display_name)
            .join(User, User.id == Action.owner_id)
            .where(Action.id.in_(list(frame.index))))}
        frame.insert(0, "Action", [titles[i][0] for i in frame.index])
        frame.insert(1, "Owner", [titles[i][1] for i in frame.index])
    return frame


def _action_evidence(session: Session, actor: Actor, board: bool, period: Period,
                     rules: Settings, *, now: datetime) -> ActionEvidenceTable:
    """The evidence per action of the period: exact for a board, de-identified otherwise."""
    return action_evidence(session, actor, start=period.start, end=period.end, rules=rules,
                           suppress=not board, now=now)


def _action_titles(session: Session, evidence: ActionEvidenceTable) -> dict[int, str]:
    """A board's extra column: each action's title (staff-written; never for a commissioner)."""
    ids = [row.action_id for row in evidence.rows]
    return dict(session.execute(select(Action.id, Action.title).where(Action.id.in_(ids))).all()
                ) if ids else {}


def evidence_records(evidence: ActionEvidenceTable, titles: dict[int, str],
                     ) -> list[dict[str, Any]]:
    """The evidence per action as spreadsheet rows; a board's lead with the action's title."""
    records = evidence.records()
    if not titles:
        return records
    return [{"Action": titles.get(row.action_id, ""), **record}
            for row, record in zip(evidence.rows, records, strict=True)]


def _update_titles(session: Session, period: Period, rules: Settings) -> list[tuple[str, str]]:
    return [(f"{to_local(when, rules.zone):%d %b %Y}", title) for when, title in session.execute(
        select(FeedbackUpdate.published_at, FeedbackUpdate.title).where(
            FeedbackUpdate.status == "published",
            FeedbackUpdate.published_at >= local_midnight_utc(period.start, rules.zone),
            FeedbackUpdate.published_at < local_midnight_utc(period.end, rules.zone))
        .order_by(FeedbackUpdate.published_at))]


# -- spreadsheets ------------------------------------------------------------------------------

NOTES_SHEET = "Notes"
EVIDENCE_SHEET = "Action evidence"


def export_tables(session: Session, actor: Actor, period: Period, audience: str, *,
                  rules: Settings, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Reports and actions as spreadsheet tables for the audience.

    A commissioner gets counts (by service and type for the period, by type over time at the
    level the counts allow, each with its totals, small counts hidden with complements), the
    de-identified register, and a Notes sheet saying what the labels mean and why each table
    is at its level; a board gets the reports themselves.
    """
    require(actor, Capability.EXPORT_PACK)
    audience = audience_for(actor, audience)
    board = audience == "board"
    register = _register(session, actor, board, period, rules)
    actions = [{k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in r.items()}
               for r in register.to_dict("records")]
    evidence = _action_evidence(session, actor, board, period, rules, now=now)
    per_action = evidence_records(evidence, _action_titles(session, evidence) if board else {})
    if board:
        return {"Reports": _board_reports(session, actor, period, rules), "Actions": actions,
                EVIDENCE_SHEET: per_action}
    tables = cv.type_tables(session, actor, Scope(period.start, period.end), rules=rules,
                            period_name=period.label)
    return {"By service and type": tables.by_service.records("Type"),
            "By time and type": tables.over_time.records("Type"),
            "Actions": actions,
            EVIDENCE_SHEET: per_action,
            NOTES_SHEET: [{"Term": note.term, "What it means": note.meaning}
                          for note in commissioner_notes(tables, period, rules, evidence)]}


def commissioner_notes(tables: cv.TypeTables, period: Period, rules: Settings,
                       evidence: ActionEvidenceTable | None = None) -> list[Note]:
    """What every commissioner export explains: its labels, and each table's level."""
    limit = rules.commissioner.suppress_below
    per_action = [Note(EVIDENCE_SHEET, "one row per action with a test window, live in the "
                                       "period: " + evidence.note)] if evidence else []
    return [
        Note("Period", f"{period.label}. No person supported, worker or reporter is "
                       f"identified: no free text, no names, and counts below {limit} hidden."),
        *label_notes(limit),
        Note("Total", "each table publishes its row and column totals; cells are hidden so "
                      "that no hidden figure can be worked out from them. The totals by type "
                      "are the same in both tables, and hidden in both where either hides "
                      "one."),
        Note("By service and type", tables.service_note),
        Note("By time and type", tables.time_note),
        Note("Actions", "one row per action in hand or decided in the period. Actions are the "
                        "provider's own controls, not people, so they are listed and counted "
                        "exactly; a rate before or during the test reads \"suppressed\" when "
                        f"the near misses it counts are from 1 to {limit - 1}."),
        *per_action,
    ]


def note_lines(sheets: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The Notes sheet as lines ("term: meaning"), for the foot of a CSV file."""
    return [f"{row['Term']}: {row['What it means']}" for row in sheets.get(NOTES_SHEET, [])]


def _board_reports(session: Session, actor: Actor, period: Period,
                   rules: Settings) -> list[dict[str, Any]]:
    start, end = (local_midnight_utc(period.start, rules.zone),
                  local_midnight_utc(period.end, rules.zone))
    rows = session.execute(
        select(NearMissReport.reference, NearMissReport.occurred_at, NearMissType.name,
               Service.name, Location.name, NearMissReport.barrier, NearMissReport.status,
               NearMissReport.description)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .join(Service, Service.id == NearMissReport.service_id)
        .join(Location, Location.id == NearMissReport.location_id)
        .where(NearMissReport.occurred_at >= start, NearMissReport.occurred_at < end,
               *([NearMissReport.service_id.in_(actor.service_ids)]
                 if actor.service_ids is not None else []))
        .order_by(NearMissReport.occurred_at)).all()
    return [{"Reference": r[0],
             "Occurred": to_local(r[1], rules.zone).strftime("%Y-%m-%d %H:%M"),
             "Type": r[2], "Service": r[3], "Location": r[4],
             "What stopped harm": BARRIER_LABELS[Barrier(r[5])],
             "Status": ReportStatus(r[6]).label, "What happened": r[7]} for r in rows]
