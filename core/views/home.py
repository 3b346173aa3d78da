"""The home page: what needs this person now, one section per role they hold.

Each section is a few tiles. A tile is a count in care words ("3 near misses to triage, 1 past
its clock"), how urgent it is, and the page that clears it. Every count is taken with the query
the linked page itself uses, for the same actor, so the number on the tile is the number on the
page (tests/integration/test_home.py holds that). Sections come most urgent first; a tile that
two roles would both show (the regulator clocks) is shown once, in the first section.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import IntEnum

import pandas as pd
from sqlalchemy.orm import Session

from core.accounts.users import list_users
from core.actions.queries import RegisterFilters, current_clusters, register, register_counts
from core.actions.vocabulary import ActionStatus
from core.auth.actor import Actor
from core.auth.policy import Capability, can
from core.auth.roles import Role
from core.clock import to_local
from core.commissioner.period import Period, parse_period
from core.commissioner.views import action_register
from core.config import Settings
from core.db import read_session
from core.escalation.queries import inbox
from core.escalation.rules import EscalationKind
from core.metrics.governance import Scope, weekly_series
from core.regulator.queries import regulator_board
from core.reports.queries import my_report_counts
from core.reports.vocabulary import ReportStatus
from core.spc import SpcRules, xmr
from core.taxonomy.service import live_taxonomy
from core.triage.board import BoardFilters, board_counts
from core.triage.vocabulary import EpisodeStatus
from core.weeks import week_start_of

# The trends page opens on the last 52 weeks (ui.governance.PERIODS, index 2).
TREND_WEEKS = 52


class Urgency(IntEnum):
    """How soon a tile needs the person; lower is sooner. Said in words on the tile too, so
    colour is never the only sign."""

    OVERDUE = 0  # something is past its clock
    WAITING = 1  # something waits for this person
    FOR_INFORMATION = 2  # worth knowing, nothing to do by a deadline
    NOTHING = 3  # nothing waiting

    @property
    def label(self) -> str:
        return URGENCY_LABELS[self]


URGENCY_LABELS: dict[Urgency, str] = {
    Urgency.OVERDUE: "Overdue",
    Urgency.WAITING: "Waiting for you",
    Urgency.FOR_INFORMATION: "For information",
    Urgency.NOTHING: "Nothing waiting",
}


@dataclass(frozen=True, slots=True)
class Tile:
    """One count and the page that clears it."""

    key: str  # unique on the page ("triage", "regulator", ...)
    title: str  # "To triage"
    count: int | None  # None: a link without a count (the report form)
    label: str  # care words: "3 near misses to triage, 1 past its clock"; "Nothing waiting"
    urgency: Urgency
    page: str  # a page key of core.auth.policy.PAGES
    link: str  # the link's words: "Open the triage board"
    detail: str = ""  # a second line: what the count covers
    query: tuple[tuple[str, str], ...] = ()  # query parameters, for a page that takes a filter


@dataclass(frozen=True, slots=True)
class HomeSection:
    role: Role
    title: str  # the role's label
    tiles: tuple[Tile, ...]

    @property
    def urgency(self) -> Urgency:
        return min((t.urgency for t in self.tiles), default=Urgency.NOTHING)


@dataclass(frozen=True, slots=True)
class HomePage:
    sections: tuple[HomeSection, ...]  # most urgent first
    today: date

    @property
    def tiles(self) -> tuple[Tile, ...]:
        return tuple(t for s in self.sections for t in s.tiles)


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _waiting(count: int, overdue: int = 0) -> Urgency:
    return Urgency.OVERDUE if overdue else Urgency.WAITING if count else Urgency.NOTHING


@dataclass(frozen=True, slots=True)
class _Context:
    session: Session
    actor: Actor
    now: datetime
    today: date
    rules: Settings


# -- the tiles ----------------------------------------------------------------------------------

def _triage(c: _Context) -> Tile:
    """New near misses in the actor's services (the board's New column), and how many have an
    escalation nobody acknowledged in time (the board's "Escalation overdue" flag)."""
    interface_types = tuple(t.key for t in live_taxonomy(c.session).types
                            if t.route_to == "operations")
    new = board_counts(c.session, c.actor, BoardFilters(), now=c.now,
                       interface_types=interface_types)[ReportStatus.NEW]
    late = board_counts(c.session, c.actor, BoardFilters(flags=("escalation_overdue",)),
                        now=c.now, interface_types=interface_types)[ReportStatus.NEW]
    label = (f"{_plural(new, 'near miss', 'near misses')} to triage"
             + (f", {late} past {'its' if late == 1 else 'their'} clock (overdue)"
                if late else "")) if new else "Nothing waiting"
    return Tile("triage", "To triage", new, label, _waiting(new, late), "board",
                "Open the triage board", detail="New near misses in your services.")


def _regulator(c: _Context) -> Tile:
    """Possibly reportable events awaiting a decision, and regulator clocks running (the
    board's regulator section, whose title shows the same three numbers)."""
    board = regulator_board(c.session, c.actor, now=c.now, rules=c.rules, page_size=1)
    running, overdue, to_decide = board.running_total, board.overdue, board.awaiting_total
    parts = []
    if to_decide:
        parts.append(f"{_plural(to_decide, 'event')} to decide on reporting")
    if running:
        parts.append(f"{_plural(running, 'event')} with a clock running")
    if overdue:
        parts.append(f"{_plural(overdue, 'clock')} overdue")
    label = ", ".join(parts) or "Nothing waiting"
    return Tile("regulator", "Regulator clocks", to_decide + running, label,
                _waiting(to_decide + running, overdue), "board", "Open the regulator clocks",
                detail=f"Deadlines for reporting to {board.jurisdiction}.")


_ESCALATION_WORDS: dict[EscalationKind, tuple[str, str]] = {
    EscalationKind.SAFEGUARDING: ("Open escalations", "safeguarding or rights signal"),
    EscalationKind.SUPERVISOR_ALERT: ("Shift alerts", "shift supervisor alert"),
    EscalationKind.CLINICAL_REVIEW: ("Clinical reviews", "same-day clinical review"),
    EscalationKind.OPERATIONS: ("Interface failures", "interface failure to map"),
}


def _escalations(role: Role) -> Callable[[_Context], Tile | None]:
    """Escalations of the role's kind not yet decided (the inbox's "Waiting for you"), and
    those not acknowledged in time (its "Overdue")."""
    kind = next((k for k in EscalationKind if k.recipient_role is role), None)

    def tile(c: _Context) -> Tile | None:
        if kind is None:
            return None
        items = [i for i in inbox(c.session, c.actor, now=c.now) if i.kind is kind]
        waiting = len(items)
        overdue = sum(1 for i in items if i.overdue)
        title, one = _ESCALATION_WORDS[kind]
        label = (_plural(waiting, one) + " to act on"
                 + (f", {overdue} not acknowledged in time (overdue)" if overdue else "")
                 ) if waiting else "Nothing waiting"
        return Tile(f"escalations_{kind.value}", title, waiting, label,
                    _waiting(waiting, overdue), "inbox", "Open the inbox",
                    detail="Acknowledge, then record the decision.")
    return tile


def _actions_due(c: _Context) -> Tile:
    """Open actions past their deadline or due soon (the register's two figures)."""
    counts = register_counts(c.session, c.actor, RegisterFilters(), today=c.today,
                             rules=c.rules)
    due = counts.overdue + counts.due_soon
    parts = []
    if counts.overdue:
        parts.append(f"{_plural(counts.overdue, 'action')} overdue")
    if counts.due_soon:
        parts.append(f"{_plural(counts.due_soon, 'action')} due within "
                     f"{_plural(c.rules.actions.due_soon_days, 'day')}")
    return Tile("actions_due", "Actions due", due, ", ".join(parts) or "Nothing waiting",
                _waiting(due, counts.overdue), "actions", "Open the action register",
                detail=f"{_plural(counts.open, 'open action')} in all.")


def evidence_to_check(status: ActionStatus, window_end: date | None,
                      sustainment_due: date | None, today: date) -> str | None:
    """"verdict" when an action's test window has ended and its verdict waits for a person,
    "sustainment" when its still-in-place check is due; else None."""
    if status is ActionStatus.IN_TEST and window_end is not None and window_end <= today:
        return "verdict"
    if (sustainment_due is not None and sustainment_due <= today
            and status is not ActionStatus.STOPPED):
        return "sustainment"
    return None


def _evidence(c: _Context) -> Tile:
    """Actions whose evidence waits for a look: a test window ended (verdict to confirm), or a
    still-in-place check due (the register's "Test window ends" and "Still-in-place check")."""
    rows = register(c.session, c.actor, RegisterFilters(), today=c.today, rules=c.rules,
                    limit=None)
    found = [evidence_to_check(r.status, r.window_end, r.sustainment_due, c.today)
             for r in rows]
    verdicts, checks = found.count("verdict"), found.count("sustainment")
    parts = []
    if verdicts:
        parts.append(f"{_plural(verdicts, 'test window')} ended: verdict to confirm")
    if checks:
        parts.append(f"{_plural(checks, 'still-in-place check')} due")
    return Tile("evidence", "Evidence to check", verdicts + checks,
                ", ".join(parts) or "Nothing waiting", _waiting(verdicts + checks),
                "actions", "Check the evidence",
                detail="Is the control working, and is it still in place?")


def _clusters(c: _Context) -> Tile:
    """Cluster episodes nobody has acknowledged, dismissed or answered with a plan (the
    board's Clusters section: "N open")."""
    themes = current_clusters(c.session, c.actor, now=c.now, rules=c.rules,
                              with_references=False)
    waiting = sum(1 for t in themes if t.status is EpisodeStatus.OPEN)
    label = (f"{_plural(waiting, 'cluster')} to acknowledge" if waiting else "Nothing waiting")
    return Tile("clusters", "Clusters", waiting, label, _waiting(waiting), "board",
                "Open the clusters",
                detail=(f"{_plural(len(themes), 'cluster')} in the last six weeks, on the "
                        "triage board." if themes else "No cluster in the last six weeks."))


def _trends(c: _Context) -> Tile:
    """Weeks with a special-cause signal on the chart of all near misses over the last 52
    complete weeks (the trends page's "Weeks with a signal", as it opens)."""
    current = week_start_of(c.today)
    end = current + timedelta(days=7)
    series = weekly_series(c.session, c.actor, Scope(end - timedelta(weeks=TREND_WEEKS), end),
                           rules=c.rules)
    series = series[series.index < pd.Timestamp(current)]
    if series.empty:
        return Tile("trends", "Trends", 0, "No complete week yet", Urgency.NOTHING, "trends",
                    "Open the trends")
    frame = xmr(series, rules=SpcRules(**c.rules.spc.model_dump()))
    signals = int(frame["special_cause"].sum())
    latest = frame.iloc[-1]
    if bool(latest["special_cause"]):
        higher = latest["value"] > latest["mean"]
        label = (f"Last week was {'higher' if higher else 'lower'} than usual (a signal); "
                 f"{_plural(signals, 'week')} with a signal in {TREND_WEEKS} weeks")
        urgency = Urgency.WAITING
    else:
        label = (f"{_plural(signals, 'week')} with a signal in {TREND_WEEKS} weeks; last week "
                 "was usual" if signals else f"No signal in {TREND_WEEKS} weeks: usual variation")
        urgency = Urgency.FOR_INFORMATION if signals else Urgency.NOTHING
    return Tile("trends", "Trends", signals, label, urgency, "trends", "Open the trends",
                detail=f"{int(series.sum())} near misses in the last {TREND_WEEKS} weeks.")


def last_quarter(today: date) -> Period:
    """The last complete quarter (where the evidence page opens)."""
    year, quarter = today.year, (today.month - 1) // 3 + 1
    year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    return parse_period(f"{year}-Q{quarter}")


def _evidence_of_learning(c: _Context) -> Tile:
    """Actions verified effective among those live in the last complete quarter (the evidence
    page's "Actions verified effective", as it opens). Actions are counted exactly: they are
    the provider's controls, not people."""
    period = last_quarter(c.today)
    actions = action_register(c.session, c.actor, start=period.start, end=period.end,
                              rules=c.rules)
    verified = int((actions["Verdict"] == "effective").sum()) if not actions.empty else 0
    label = (f"{_plural(verified, 'action')} verified effective in {period.label}" if verified
             else f"No action verified effective in {period.label}")
    return Tile("evidence_of_learning", "Evidence of learning", verified, label,
                Urgency.FOR_INFORMATION if verified else Urgency.NOTHING, "evidence",
                "Open the evidence",
                detail=f"{_plural(len(actions), 'action')} in hand or concluded in "
                       f"{period.label}.")


def _users(c: _Context) -> Tile:
    """Accounts whose sign-in is paused after wrong passwords (the users page's Status)."""
    users = list_users(c.session, now=c.now)
    paused = sum(1 for u in users if u.sign_in_paused)
    active = sum(1 for u in users if u.active)
    disabled = len(users) - active
    label = (f"{_plural(paused, 'sign-in')} paused after wrong passwords" if paused
             else "Nothing waiting")
    return Tile("users", "Users", paused, label, _waiting(paused), "users",
                "Open users and roles",
                detail=f"{_plural(active, 'active user')}, {disabled} disabled.")


def _report(c: _Context) -> Tile:
    return Tile("report", "Report a near miss", None, "A minute or two, from any device",
                Urgency.FOR_INFORMATION, "report", "Report a near miss")


def _my_reports(c: _Context) -> Tile:
    """The actor's named reports still being worked on (My reports' figure)."""
    working = my_report_counts(c.session, c.actor).being_worked_on
    label = (f"{working} of your reports still being worked on" if working
             else "None of your reports is still open")
    return Tile("my_reports", "My reports", working, label,
                Urgency.FOR_INFORMATION if working else Urgency.NOTHING, "my_reports",
                "Open my reports")


# Each role's tiles, in the order they show. A role's section is built only for a person who
# holds the role; the queries check the capability again (core.auth.policy).
SECTIONS: dict[Role, tuple[Callable[[_Context], Tile | None], ...]] = {
    Role.SUPERVISOR: (_triage, _escalations(Role.SUPERVISOR), _regulator),
    Role.SAFEGUARDING: (_escalations(Role.SAFEGUARDING), _regulator),
    Role.CLINICAL: (_escalations(Role.CLINICAL),),
    Role.OPERATIONS: (_escalations(Role.OPERATIONS),),
    Role.QUALITY: (_actions_due, _evidence, _clusters, _regulator),
    Role.GOVERNANCE: (_trends,),
    Role.COMMISSIONER: (_evidence_of_learning,),
    Role.ADMIN: (_users,),
    Role.REPORTER: (_report, _my_reports),
}
ROLE_ORDER: tuple[Role, ...] = tuple(SECTIONS)


def _sections(c: _Context, roles: Iterable[Role]) -> list[HomeSection]:
    shown: set[str] = set()
    sections = []
    for role in sorted(roles, key=ROLE_ORDER.index):
        # Regulator clocks go to the roles the settings make deciders.
        builders = [b for b in SECTIONS[role]
                    if b is not _regulator or role.value in c.rules.regulator.deciders]
        tiles = []
        for build in builders:
            tile = build(c)
            if tile is not None and tile.key not in shown:
                shown.add(tile.key)
                tiles.append(tile)
        if tiles:
            # Most urgent first here too; between equals, the order above.
            sections.append(HomeSection(role, role.label,
                                        tuple(sorted(tiles, key=lambda t: t.urgency))))
    # Most urgent first; between equals, the order of SECTIONS.
    return sorted(sections, key=lambda s: s.urgency)


def home_page(actor: Actor, *, now: datetime, rules: Settings) -> HomePage:
    """The home page of this person: a section per role they hold, most urgent first."""
    today = to_local(now, rules.zone).date()
    roles = [r for r in actor.roles if r in SECTIONS]
    if not can(actor, Capability.VIEW_HOME):
        roles = []  # a frontline worker only: they start at the report form instead
    with read_session() as session:
        context = _Context(session, actor, now, today, rules)
        return HomePage(tuple(_sections(context, roles)), today)
