"""When a regulator clock is due, and where it stands (pure functions, no database).

Moments are stored as naive UTC (core/clock.py); the jurisdiction's calendar is the
provider's local one. Three units:

- `hours`: elapsed time. 24 hours from 22:00 is 22:00 the next day, or 23:00 / 21:00 local
  across a change of clocks, because the law counts hours that pass.
- `days`: calendar days on the local calendar, at the same local time of day (or, with
  `end_of_day`, at the end of that day). A change of clocks does not move it by an hour.
- `business_days`: days that are neither a Saturday, a Sunday nor a public holiday of the
  jurisdiction (the `holidays` package, by country and subdivision). Counted from the start
  when that is a business day (Friday 16:00 + 1 business day = Monday 16:00, or Tuesday 16:00
  when Monday is a holiday); a start on a weekend or a holiday counts from the beginning of the
  next business day (Saturday 10:00 + 1 business day = the end of Monday).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from core.clock import to_local, to_utc
from core.config import ClockRule

IsHoliday = Callable[[date], bool]


@lru_cache(maxsize=16)
def _calendar(country: str, subdivision: str | None) -> object:
    import holidays

    # Years are added as they are asked for (the package's default), so any date works.
    return holidays.country_holidays(country, subdiv=subdivision)


def public_holidays(country: str, subdivision: str | None = None) -> IsHoliday:
    """Whether a date is a public holiday in the jurisdiction (country, subdivision)."""
    calendar = _calendar(country, subdivision)
    return lambda day: day in calendar  # type: ignore[operator]


def no_holidays(_day: date) -> bool:
    """A calendar with weekends only."""
    return False


def is_business_day(day: date, is_holiday: IsHoliday) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and not is_holiday(day)


def next_business_day(day: date, is_holiday: IsHoliday) -> date:
    """The first business day after `day`."""
    day += timedelta(days=1)
    while not is_business_day(day, is_holiday):
        day += timedelta(days=1)
    return day


def due_at(start: datetime, clock: ClockRule, zone: ZoneInfo,
           is_holiday: IsHoliday = no_holidays) -> datetime:
    """When a clock started at `start` (naive UTC) is due (naive UTC)."""
    if clock.unit == "hours":
        return start + timedelta(hours=clock.within)
    local = to_local(start, zone)
    if clock.unit == "days":
        day, at = local.date() + timedelta(days=clock.within), local.time()
    else:
        day, at = local.date(), local.time()
        if not clock.end_of_day and not is_business_day(day, is_holiday):
            # Nothing counts until the next business day begins: Saturday + 1 business day
            # is due as Monday ends (Tuesday 00:00), as "by the end of" would have it.
            day = next_business_day(day, is_holiday)
            at = time(0, 0)
        for _ in range(clock.within):
            day = next_business_day(day, is_holiday)
    if clock.end_of_day:
        return to_utc(datetime.combine(day + timedelta(days=1), time(0, 0)), zone)
    return to_utc(datetime.combine(day, at), zone)


class ClockState(StrEnum):
    RUNNING = "running"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    MET = "met"
    MET_LATE = "met_late"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS: dict[ClockState, str] = {
    ClockState.RUNNING: "Running",
    ClockState.DUE_SOON: "Due soon",
    ClockState.OVERDUE: "Overdue",
    ClockState.MET: "Met on time",
    ClockState.MET_LATE: "Met late",
    ClockState.WITHDRAWN: "Withdrawn",
}


def clock_state(*, due: datetime, met_at: datetime | None, withdrawn_at: datetime | None,
                now: datetime, remind_before_hours: float) -> ClockState:
    """Where a clock stands at `now`."""
    if met_at is not None:
        return ClockState.MET if met_at <= due else ClockState.MET_LATE
    if withdrawn_at is not None:
        return ClockState.WITHDRAWN
    if now > due:
        return ClockState.OVERDUE
    if now >= due - timedelta(hours=remind_before_hours):
        return ClockState.DUE_SOON
    return ClockState.RUNNING


def duration_text(delta: timedelta) -> str:
    """A span as people say it: "45 min", "5 h 20 min", "3 days 4 h"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {mins} min" if mins else "")
    return f"{mins} min"


def time_left_text(*, due: datetime, now: datetime) -> str:
    """"5 h 20 min left" before the deadline, "overdue by 2 h" after it."""
    if now > due:
        return f"overdue by {duration_text(now - due)}"
    return f"{duration_text(due - now)} left"


@dataclass(frozen=True)
class CandidateFacts:
    """What makes an event a candidate for reporting (read from a report and its escalations)."""

    type_key: str
    escalation_kinds: frozenset[str]
    harm_reached: bool
    still_at_risk: bool


def candidate_reasons(facts: CandidateFacts, *, escalation_kinds: tuple[str, ...],
                      type_keys: tuple[str, ...], harm_reached: bool,
                      still_at_risk: bool) -> list[str]:
    """Why the settings put this event in front of a decider (empty: not a candidate)."""
    reasons = []
    for kind in escalation_kinds:
        if kind in facts.escalation_kinds:
            reasons.append(f"{kind.replace('_', ' ')} escalation")
    if facts.type_key in type_keys:
        reasons.append("its type")
    if harm_reached and facts.harm_reached:
        reasons.append("harm reached the person")
    if still_at_risk and facts.still_at_risk:
        reasons.append("someone was still at risk")
    return reasons
