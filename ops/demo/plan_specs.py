"""Action plans as the demo plans them: specs built from the plans in the data files, dated
relative to `now` and to the stories' own dates, and kept to what could have happened by now."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.actions.vocabulary import ActionStatus
from core.clock import to_local, to_utc
from core.config import Settings
from ops.demo.data import Measure, Plan, PlanAction, RootCause, Share

# "cluster_end + 14 days", "created - 12 weeks", "control_go_live"
_EXPRESSION = re.compile(
    r"^(?P<anchor>[a-z_]+)(?: (?P<sign>[+-]) (?P<n>\d+) (?P<unit>day|week)s?)?$")
# "130 days ago", "in 4 days"
_RELATIVE = re.compile(
    r"^(?:(?P<ago>\d+) (?P<u1>day|week)s? ago|in (?P<ahead>\d+) (?P<u2>day|week)s?)$")


@dataclass(frozen=True)
class MeasureSpec:
    """A verification measure: which reports count (services: "linked", "region" or "all")."""

    type_keys: tuple[str, ...]
    services: str = "linked"
    region: str | None = None
    location: str | None = None  # a location name in the (single) measured service
    capture: tuple[tuple[str, str], ...] = ()
    per: str = "week"
    target: float | None = None


@dataclass(frozen=True)
class ActionSpec:
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
    measure: MeasureSpec | None = None


@dataclass(frozen=True)
class PlanSpec:
    """An action plan, which reports it links, and when those reports move on."""

    key: str
    title: str
    theme: str
    source: str  # report | rca | cluster
    created_at: datetime
    created_by: str  # a role id, or "supervisor"
    actions: tuple[ActionSpec, ...]
    outcome: str  # what a linked report's closure says
    link_from: datetime  # it links reports reported in [link_from, link_until)
    link_until: datetime
    link_cap: int
    link_share: float
    planted: str | None = None  # links reports of this planted story ...
    type_key: str | None = None  # ... or of this type (in these services: empty for any)
    services: tuple[str, ...] = ()
    validate_at: datetime | None = None  # linked reports validate then (None: wait in actions)
    close_after: datetime | None = None  # and close after this (None: stay validating)
    rca: RootCause | None = None  # built from a root cause analysis of its reports
    rca_dates: tuple[datetime, datetime] | None = None  # (opened, completed)
    cluster_region: str | None = None


class Calendar:
    """Local days and times relative to `now` (plans are dated from it), and the dates a plan
    names by anchor ("control_go_live", "cluster_end", ...)."""

    def __init__(self, now: datetime, zone: ZoneInfo, rules: Settings,
                 anchors: Mapping[str, date] | None = None):
        self.now, self.zone, self.rules = now, zone, rules
        self.today = to_local(now, zone).date()
        self.anchors = dict(anchors or {})

    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    def at(self, day: date, hour: float = 10.5) -> datetime:
        return to_utc(datetime.combine(day, time()) + timedelta(hours=hour), self.zone)

    def local_day(self, moment: datetime) -> date:
        return to_local(moment, self.zone).date()

    def when(self, text: str, **local: date) -> date:
        """The date a data file writes as "today", "12 days ago", "in 4 days" or "anchor +/- N
        days" (anchors: the calendar's, then `local` ones such as the plan's "created")."""
        if text == "today":
            return self.today
        relative = _RELATIVE.match(text)
        if relative:
            if relative["ago"]:
                return self.today - _span(int(relative["ago"]), relative["u1"])
            return self.today + _span(int(relative["ahead"]), relative["u2"])
        found = _EXPRESSION.match(text)
        if found is None:
            raise ValueError(f"not a date: {text!r}")
        anchors = {**self.anchors, **local}
        if found["anchor"] not in anchors:
            raise ValueError(f"{text!r}: no date called {found['anchor']!r} here")
        moment = anchors[found["anchor"]]
        if found["n"]:
            step = _span(int(found["n"]), found["unit"])
            moment = moment + step if found["sign"] == "+" else moment - step
        return moment

    def action(self, title: str, description: str, kind: str, owner: str, *, created: date,
               deadline: date, review: date, status: ActionStatus, checks: tuple[str, ...],
               done: int | None = None, go_live: date | None = None, window: int | None = None,
               verdict: date | None = None, note: str = "", stopped: date | None = None,
               reason: str = "", measure: MeasureSpec | None = None) -> ActionSpec | None:
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
        return ActionSpec(title, description, kind, owner, self.at(created, 11.0), deadline,
                          review, status, checks, done, go_live, window,
                          self.at(verdict, 15.0) if verdict else None, note,
                          self.at(stopped, 12.0) if stopped else None, reason, measure)


def _span(count: int, unit: str) -> timedelta:
    return timedelta(weeks=count) if unit == "week" else timedelta(days=count)


def build_plan(calendar: Calendar, key: str, title: str, theme: str, *, created: date,
               created_by: str, actions: Sequence[ActionSpec | None], outcome: str,
               link_from: datetime, link_until: datetime, link_cap: int, link_share: float,
               validate_with: int | None = None, close_with: int | None = None,
               close_after: datetime | None = None, source: str = "report", **kind: Any,
               ) -> PlanSpec | None:
    """A plan if it could have been made by now: linked reports validate when action
    `validate_with` goes live and close once action `close_with` has its verdict (or stop)."""
    kept = tuple(a for a in actions if a is not None)
    if created >= calendar.today or not kept or link_from >= link_until:
        return None
    validate_at = None
    if validate_with is not None and (lead := actions[validate_with]) and lead.go_live:
        validate_at = calendar.at(lead.go_live, 9.0)
    if close_with is not None and (lead := actions[close_with]):
        close_after = lead.verdict_at or lead.stopped_at
    if validate_at is None:
        close_after = None
    return PlanSpec(key, title, theme, source, calendar.at(created), created_by, kept, outcome,
                    link_from, link_until, link_cap, link_share, validate_at=validate_at,
                    close_after=close_after, **kind)


# -- from the data files ---------------------------------------------------------------------

# The type of near miss each story's reports are (a cluster plan records it).
STORY_TYPES = {"doorway_falls": "transfer_near_fall", "family_notes": "medication_discrepancy",
               "late_start_cluster": "late_shift_start"}


def _measure(data: Measure | None) -> MeasureSpec | None:
    if data is None:
        return None
    return MeasureSpec(tuple(data.types), data.services, data.region, data.location,
                       tuple(data.capture.items()), data.per, data.target)


def make_action(data: PlanAction, c: Calendar, plan_created: date) -> ActionSpec | None:
    """An action from its data, dated (None: not made by now)."""
    created = c.when(data.created, created=plan_created) if data.created else plan_created
    go_live = c.when(data.go_live, created=created) if data.go_live else None
    window = data.test_days or (c.rules.actions.test_window_days if go_live else None)
    local = {"created": created}
    if go_live is not None:
        local["go_live"] = go_live
        local["second_look"] = go_live + timedelta(
            days=(window or 0) + c.rules.actions.sustainment_after_days)

    def when(text: str | None) -> date | None:
        return c.when(text, **local) if text else None

    deadline, review = when(data.deadline), when(data.review)
    assert deadline is not None and review is not None
    return c.action(data.title, data.description, data.kind, data.owner, created=created,
                    deadline=deadline, review=review, status=ActionStatus(data.status),
                    checks=tuple(data.checks), done=data.checks_done, go_live=go_live,
                    window=window, verdict=when(data.verdict), note=data.verdict_note,
                    stopped=when(data.stopped), reason=data.stop_reason,
                    measure=_measure(data.measure))


def _link_share(share: float | Share, story_count: int) -> float:
    """The share of candidate reports the plan's builder links."""
    if isinstance(share, Share):
        return min(1.0, share.aim / max(1, share.of_story * story_count))
    return share


def make_plan(data: Plan, c: Calendar, story_counts: Mapping[str, int]) -> PlanSpec | None:
    """A plan from its data, dated (None: it could not have been made by now)."""
    created = c.when(data.created)
    links = data.links
    rca_dates = None
    if data.rca is not None:
        rca_dates = (c.at(c.when(data.rca.opened, created=created)),
                     c.at(c.when(data.rca.completed, created=created)))
    return build_plan(
        c, data.key, data.title, data.theme, created=created, created_by=data.created_by,
        actions=[make_action(a, c, created) for a in data.actions], outcome=data.outcome,
        link_from=c.at(c.when(links.from_, created=created), 0),
        link_until=c.at(c.when(links.until, created=created), 0), link_cap=links.at_most,
        link_share=_link_share(links.share, story_counts.get(links.story or "", 0)),
        validate_with=data.validate_when_live - 1 if data.validate_when_live else None,
        close_with=data.close_when_decided - 1 if data.close_when_decided else None,
        close_after=c.at(c.when(data.close_after, created=created))
        if data.close_after else None, source=data.source, planted=links.story,
        type_key=links.type or STORY_TYPES.get(links.story or ""),
        services=tuple(links.services), rca=data.rca, rca_dates=rca_dates,
        cluster_region=data.cluster_region)
