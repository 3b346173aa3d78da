"""Action plans as the demo plans them: specs, and the calendar they are dated by."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.actions.vocabulary import ActionStatus
from core.clock import to_local, to_utc
from core.config import Settings

# ---------------------------------------------------------------------------------------------
# Action plans: the three planted patterns' controls and a handful of others
# ---------------------------------------------------------------------------------------------

_LINK_SHARE_OTHER = 0.35  # of the candidate reports, how many a plan's builder links
_SUSTAINED = "Supervisory review: the control is still in place and used on every shift."


@dataclass(frozen=True)
class _MeasureSpec:
    """A verification measure: which reports count (services: "linked", "north" or "all")."""

    type_keys: tuple[str, ...]
    services: str = "linked"
    location: str | None = None  # a location name in the (single) measured service
    capture: tuple[tuple[str, str], ...] = ()
    per: str = "week"
    target: float | None = None


@dataclass(frozen=True)
class _ActionSpec:
    """One action as it stands at `now`: dates are local, times naive UTC."""

    title: str
    description: str
    kind: str  # a key of ACTION_HIERARCHY
    owner: str  # a role id, or "supervisor" (one covering every service the plan serves)
    created_at: datetime
    deadline: date
    review_date: date
    status: ActionStatus
    checks: tuple[str, ...]
    checks_done: int
    go_live: date | None = None
    window_days: int | None = None
    verdict_at: datetime | None = None  # verified effective or not effective then
    verdict_note: str = ""
    stopped_at: datetime | None = None
    stop_reason: str = ""
    measure: _MeasureSpec | None = None


@dataclass(frozen=True)
class _PlanSpec:
    """An action plan, which reports it links, and when those reports move on."""

    key: str
    title: str
    theme: str
    source: str  # report | rca | cluster
    created_at: datetime
    created_by: str  # a role id, or "supervisor"
    actions: tuple[_ActionSpec, ...]
    outcome: str  # what a linked report's closure says
    link_from: datetime  # it links reports reported in [link_from, link_until)
    link_until: datetime
    link_cap: int
    link_share: float
    planted: str | None = None  # links reports of this planted pattern ...
    type_key: str | None = None  # ... or of this type (in these services: empty for any)
    services: tuple[str, ...] = ()
    validate_at: datetime | None = None  # linked reports validate then (None: wait in actions)
    close_after: datetime | None = None  # and close after this (None: stay validating)
    rca: bool = False  # built from a root cause analysis of its reports
    cluster_region: str | None = None


class _Calendar:
    """Local days and times relative to `now` (plans are dated from it)."""

    def __init__(self, now: datetime, zone: ZoneInfo, rules: Settings):
        self.now, self.zone, self.rules = now, zone, rules
        self.today = to_local(now, zone).date()

    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    def at(self, day: date, hour: float = 10.5) -> datetime:
        return to_utc(datetime.combine(day, time()) + timedelta(hours=hour), self.zone)

    def local_day(self, moment: datetime) -> date:
        return to_local(moment, self.zone).date()

    def action(self, title: str, description: str, kind: str, owner: str, *, created: date,
               deadline: date, review: date, status: ActionStatus, checks: tuple[str, ...],
               done: int | None = None, go_live: date | None = None, window: int | None = None,
               verdict: date | None = None, note: str = "", stopped: date | None = None,
               reason: str = "", measure: _MeasureSpec | None = None) -> _ActionSpec | None:
        """An action as far as today allows (a verdict still to come leaves it in test)."""
        today = self.today
        if created >= today:
            return None
        window = window or (self.rules.actions.test_window_days if go_live else None)
        if status in (ActionStatus.VERIFIED_EFFECTIVE, ActionStatus.NOT_EFFECTIVE) and (
                verdict is None or verdict > today):
            status, verdict = ActionStatus.IN_TEST, None
        if status is ActionStatus.STOPPED and (stopped is None or stopped > today):
            status, stopped = ActionStatus.IN_PROGRESS, None
        if status is ActionStatus.IN_TEST and (go_live is None or go_live > today):
            status, go_live = ActionStatus.IN_PROGRESS, None
        if status in (ActionStatus.PLANNED, ActionStatus.IN_PROGRESS):
            go_live = None
        if status is ActionStatus.PLANNED:
            done = 0
        total = len(checks)
        if status is ActionStatus.VERIFIED_EFFECTIVE:
            done = total  # never verified effective while a check is open
        done = total if done is None else min(done, total)
        if status is ActionStatus.IN_PROGRESS and done == 0 and total > 1:
            done = 1  # work has visibly started
        return _ActionSpec(title, description, kind, owner, self.at(created, 11.0), deadline,
                           review, status, checks, done, go_live, window,
                           self.at(verdict, 15.0) if verdict else None, note,
                           self.at(stopped, 12.0) if stopped else None, reason, measure)


def _plan(calendar: _Calendar, key: str, title: str, theme: str, *, created: date,
          created_by: str, actions: Sequence[_ActionSpec | None], outcome: str,
          link_from: datetime, link_until: datetime, link_cap: int, link_share: float,
          validate_with: int | None = None, close_with: int | None = None,
          close_after: datetime | None = None, source: str = "report", **kind: Any,
          ) -> _PlanSpec | None:
    """A plan if it could have been made by now: linked reports validate when action
    `validate_with` goes live and close once action `close_with` has its verdict (or stop)."""
    kept = tuple(a for a in actions if a is not None)
    if created >= calendar.today or not kept or link_from >= link_until:
        return None
    by_title = {a.title: a for a in kept}
    chosen = [by_title.get(a.title) if a is not None else None for a in actions]
    validate_at = None
    if validate_with is not None and (lead := chosen[validate_with]) and lead.go_live:
        validate_at = calendar.at(lead.go_live, 9.0)
    if close_with is not None and (lead := chosen[close_with]):
        close_after = lead.verdict_at or lead.stopped_at
    if validate_at is None:
        close_after = None
    return _PlanSpec(key, title, theme, source, calendar.at(created), created_by, kept, outcome,
                     link_from, link_until, link_cap, link_share, validate_at=validate_at,
                     close_after=close_after, **kind)
