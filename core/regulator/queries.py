"""What pages show of regulator clocks: an event's decision and clocks, and the board's list."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, exists, false, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.auth.actor import Actor
from core.auth.models import User
from core.auth.policy import Capability, require
from core.config import Settings
from core.escalation.models import Escalation
from core.organisation.models import Service
from core.regulator.clocks import (
    CandidateFacts,
    ClockState,
    candidate_reasons,
    clock_state,
    duration_text,
    time_left_text,
)
from core.regulator.models import RegulatorClock, RegulatorDecision
from core.regulator.service import may_decide
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.taxonomy.models import NearMissType

RUNNING_STATES = (ClockState.RUNNING, ClockState.DUE_SOON, ClockState.OVERDUE)


@dataclass(frozen=True)
class ClockView:
    """One deadline as a page shows it."""

    clock_id: int
    key: str
    label: str
    rule: str
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    state_reference: str | None
    note: str | None
    needs_reference: bool
    state: ClockState
    time_left: str  # "5 h 20 min left", "overdue by 2 h", "met 3 h early", "met 1 h late"

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


@dataclass(frozen=True)
class DecisionView:
    reportable: bool
    reason: str
    decided_at: datetime
    decided_by: str | None
    revision: int
    jurisdiction: str


@dataclass(frozen=True)
class EventClocks:
    """A possibly reportable event: why it is a candidate, the decision, and its clocks."""

    report_id: int
    reference: str
    type_name: str
    service: str
    known_at: datetime
    candidate_reasons: tuple[str, ...]
    decision: DecisionView | None
    clocks: tuple[ClockView, ...]
    may_decide: bool

    @property
    def running(self) -> tuple[ClockView, ...]:
        return tuple(c for c in self.clocks if c.running)


@dataclass(frozen=True)
class RegulatorBoard:
    """The board's section: candidates awaiting a decision, and events with clocks running."""

    jurisdiction: str
    awaiting: tuple[EventClocks, ...]  # one page of them
    running: tuple[EventClocks, ...]  # one page of them
    window_days: int
    awaiting_total: int
    running_total: int
    overdue: int  # clocks past their deadline among all the running ones
    awaiting_page: int = 1  # the pages shown (1 when the one asked for is past the end)
    running_page: int = 1


def _clock_view(clock: RegulatorClock, now: datetime) -> ClockView:
    state = clock_state(due=clock.due_at, met_at=clock.met_at, withdrawn_at=clock.withdrawn_at,
                        now=now, remind_before_hours=clock.remind_before_hours)
    if clock.met_at is not None:
        gap = clock.due_at - clock.met_at
        left = (f"met {duration_text(gap)} early" if gap >= timedelta(0)
                else f"met {duration_text(-gap)} late")
    elif state is ClockState.WITHDRAWN:
        left = "withdrawn: not reportable"
    else:
        left = time_left_text(due=clock.due_at, now=now)
    return ClockView(clock.id, clock.key, clock.label, clock.rule, clock.started_at,
                     clock.due_at, clock.met_at, clock.state_reference, clock.note,
                     clock.needs_reference, state, left)


def _candidate_filter(rules: Settings) -> ColumnElement[bool]:
    wanted = rules.regulator.candidates
    conditions: list[ColumnElement[bool]] = []
    if wanted.escalation_kinds:
        conditions.append(exists().where(Escalation.report_id == NearMissReport.id,
                                         Escalation.kind.in_(wanted.escalation_kinds)))
    if wanted.type_keys:
        conditions.append(NearMissReport.type_key.in_(wanted.type_keys))
    if wanted.harm_reached:
        conditions.append(NearMissReport.status == ReportStatus.RECLASSIFIED.value)
    if wanted.still_at_risk:
        conditions.append(NearMissReport.still_at_risk.is_(True))
    return or_(*conditions) if conditions else false()


def _events(session: Session, actor: Actor, report_ids: Sequence[int], *, now: datetime,
            rules: Settings) -> list[EventClocks]:
    """EventClocks for these reports, in the order given."""
    if not report_ids:
        return []
    ids = list(dict.fromkeys(report_ids))
    reports = {r.id: (r, type_name, service) for r, type_name, service in session.execute(
        select(NearMissReport, NearMissType.name, Service.name)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .join(Service, Service.id == NearMissReport.service_id)
        .where(NearMissReport.id.in_(ids)))}
    kinds: dict[int, set[str]] = defaultdict(set)
    for report_id, kind in session.execute(select(Escalation.report_id, Escalation.kind).where(
            Escalation.report_id.in_(ids))):
        kinds[report_id].add(kind)
    decisions = {d.report_id: (d, name) for d, name in session.execute(
        select(RegulatorDecision, User.display_name)
        .outerjoin(User, User.id == RegulatorDecision.decided_by_id)
        .where(RegulatorDecision.report_id.in_(ids)))}
    clocks: dict[int, list[ClockView]] = defaultdict(list)
    for clock in session.scalars(select(RegulatorClock).where(
            RegulatorClock.report_id.in_(ids)).order_by(RegulatorClock.id)):
        clocks[clock.report_id].append(_clock_view(clock, now))
    wanted = rules.regulator.candidates
    events = []
    for report_id in ids:
        if report_id not in reports:
            continue
        report, type_name, service = reports[report_id]
        facts = CandidateFacts(report.type_key, frozenset(kinds[report_id]),
                               report.status == ReportStatus.RECLASSIFIED.value,
                               report.still_at_risk)
        reasons = candidate_reasons(facts, escalation_kinds=wanted.escalation_kinds,
                                    type_keys=wanted.type_keys, harm_reached=wanted.harm_reached,
                                    still_at_risk=wanted.still_at_risk)
        decision = None
        if report_id in decisions:
            row, name = decisions[report_id]
            decision = DecisionView(row.reportable, row.reason, row.decided_at, name,
                                    row.revision, row.jurisdiction)
        events.append(EventClocks(report.id, report.reference, type_name, service,
                                  report.reported_at, tuple(reasons), decision,
                                  tuple(clocks[report_id]),
                                  may_decide(actor, report.service_id, rules=rules)))
    return events


def events_for(session: Session, actor: Actor, references: Sequence[str], *, now: datetime,
               rules: Settings) -> dict[str, EventClocks]:
    """Each of these reports (within the actor's services) with its decision and clocks."""
    require(actor, Capability.VIEW_REPORT)
    if not references:
        return {}
    # The actor's services are checked on the rows (as in running_clocks_for: given both,
    # SQLite walked every report of the services to find a page's references).
    ids = [report_id for report_id, service_id in session.execute(
        select(NearMissReport.id, NearMissReport.service_id)
        .where(NearMissReport.reference.in_(list(references))))
        if actor.covers_service(service_id)]
    events = _events(session, actor, ids, now=now, rules=rules)
    return {event.reference: event for event in events}


def running_clocks_for(session: Session, actor: Actor, references: Sequence[str], *,
                       now: datetime) -> dict[str, tuple[ClockView, ...]]:
    """The clocks still running of each of these reports (within the actor's services), by
    reference, in the order they were started: all a board card shows of the regulator. A
    report with none is left out. One read, where a card's whole event (its decision,
    reasons, every clock) took five."""
    require(actor, Capability.VIEW_REPORT)
    if not references:
        return {}
    # The actor's services are checked on the rows, not in the WHERE: given both, SQLite
    # walked every report of the services (thousands) to find the page's forty references.
    query = (select(NearMissReport.reference, NearMissReport.service_id, RegulatorClock)
             .join(NearMissReport, NearMissReport.id == RegulatorClock.report_id)
             .where(NearMissReport.reference.in_(list(references)),
                    RegulatorClock.met_at.is_(None), RegulatorClock.withdrawn_at.is_(None))
             .order_by(RegulatorClock.id))
    running: dict[str, list[ClockView]] = defaultdict(list)
    for reference, service_id, clock in session.execute(query):
        if actor.covers_service(service_id):
            running[reference].append(_clock_view(clock, now))
    return {reference: tuple(clocks) for reference, clocks in running.items()}


def regulator_board(session: Session, actor: Actor, *, now: datetime,
                    rules: Settings, page_size: int = 50, awaiting_page: int = 1,
                    running_page: int = 1, details: bool = True) -> RegulatorBoard:
    """Candidates of the last `candidates.window_days` with no decision yet (oldest first), and
    reportable events with a clock still running (soonest deadline first): a page of each,
    with how many there are in all and how many running clocks are overdue. Without
    `details`, the totals only (the pages' events are left empty): all a closed section
    shows."""
    require(actor, Capability.VIEW_BOARD)
    window = rules.regulator.candidates.window_days
    undecided = ~exists().where(RegulatorDecision.report_id == NearMissReport.id)
    awaiting = (select(NearMissReport.id)
                .where(_candidate_filter(rules), undecided,
                       NearMissReport.reported_at >= now - timedelta(days=window)))
    open_clock = (RegulatorClock.met_at.is_(None), RegulatorClock.withdrawn_at.is_(None))
    running = (select(RegulatorClock.report_id)
               .join(NearMissReport, NearMissReport.id == RegulatorClock.report_id)
               .where(*open_clock).group_by(RegulatorClock.report_id))
    overdue = (select(func.count()).select_from(RegulatorClock)
               .join(NearMissReport, NearMissReport.id == RegulatorClock.report_id)
               .where(*open_clock, RegulatorClock.due_at < now))
    if actor.service_ids is not None:
        awaiting = awaiting.where(NearMissReport.service_id.in_(actor.service_ids))
        running = running.where(NearMissReport.service_id.in_(actor.service_ids))
        overdue = overdue.where(NearMissReport.service_id.in_(actor.service_ids))

    def page(query: Select, order: tuple[ColumnElement, ...], number: int,
             ) -> tuple[list[int], int, int]:
        """(the page's report ids, how many there are in all, the page shown): counted in the
        same pass (COUNT(*) OVER () is taken before the LIMIT). A page past the end (the list
        shrank) shows the first, as the page's control then does."""
        number = max(number, 1)
        rows = session.execute(query.add_columns(func.count().over()).order_by(*order)
                               .limit(page_size).offset((number - 1) * page_size)).all()
        if not rows and number > 1:
            return page(query, order, 1)
        return [report_id for report_id, _ in rows], rows[0][1] if rows else 0, number

    awaiting_ids, awaiting_total, awaiting_shown = page(
        awaiting, (NearMissReport.reported_at, NearMissReport.id), awaiting_page)
    running_ids, running_total, running_shown = page(
        running, (func.min(RegulatorClock.due_at), RegulatorClock.report_id), running_page)
    if not details:
        awaiting_ids, running_ids = [], []
    return RegulatorBoard(
        jurisdiction=rules.regulator.jurisdiction,
        awaiting=tuple(_events(session, actor, awaiting_ids, now=now, rules=rules)),
        running=tuple(_events(session, actor, running_ids, now=now, rules=rules)),
        window_days=window, awaiting_total=awaiting_total, running_total=running_total,
        overdue=session.scalar(overdue) or 0, awaiting_page=awaiting_shown,
        running_page=running_shown)

