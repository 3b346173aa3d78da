"""Weeks and days in the provider's local time, as SQL that works on SQLite and PostgreSQL.

Timestamps are stored as naive UTC. PostgreSQL converts them with the zone's rules. SQLite has
no time zones, so it shifts each timestamp by the offset in force at that moment, read from the
zone's daylight-saving changes (computed once per zone) as a CASE over the change moments.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import Date, case, cast, func, literal_column
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from core.clock import to_utc


def week_start_of(moment: date | datetime) -> date:
    """The Monday of the week a moment falls in."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def local_midnight_utc(day: date, zone: ZoneInfo) -> datetime:
    """The stored (naive UTC) moment at which a local day begins."""
    return to_utc(datetime.combine(day, time.min), zone)


FIRST_YEAR = 2000  # before this, SQLite uses the zone's offset of 1 January 2000


def _offset_minutes(zone: ZoneInfo, utc_moment: datetime) -> int:
    offset = utc_moment.replace(tzinfo=UTC).astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


@lru_cache(maxsize=16)
def offset_changes(zone: ZoneInfo, last_year: int) -> tuple[tuple[datetime, int], ...]:
    """The zone's UTC offsets as (naive UTC moment it starts, minutes), oldest first."""
    moment = datetime(FIRST_YEAR, 1, 1)
    changes = [(moment, _offset_minutes(zone, moment))]
    end = datetime(last_year + 1, 1, 1)
    while moment < end:
        following = moment + timedelta(days=1)
        if _offset_minutes(zone, following) != changes[-1][1]:
            low, high = moment, following  # the change lies in (low, high]
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if _offset_minutes(zone, middle) == changes[-1][1]:
                    low = middle
                else:
                    high = middle
            high = high.replace(second=0, microsecond=0)
            changes.append((high, _offset_minutes(zone, high)))
        moment = following
    return tuple(changes)


def local_sql(session: Session, column: ColumnElement, zone: ZoneInfo) -> ColumnElement:
    """SQL for a stored (naive UTC) timestamp as naive local time in `zone`."""
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone(zone.key, func.timezone("UTC", column))
    changes = offset_changes(zone, datetime.now(UTC).year + 2)
    if len(changes) == 1:
        return func.datetime(column, f"{changes[0][1]:+d} minutes")
    # Newest change first: most near misses are recent, so most rows stop at the first test.
    # Inline literals (made here, not from input) keep the statement short and cacheable.
    shift = case(*[(column >= literal_column(f"'{start:%Y-%m-%d %H:%M:%S}'"),
                    literal_column(f"'{minutes:+d} minutes'"))
                   for start, minutes in reversed(changes[1:])],
                 else_=literal_column(f"'{changes[0][1]:+d} minutes'"))
    return func.datetime(column, shift)



def week_start_sql(session: Session, column: ColumnElement, zone: ZoneInfo) -> ColumnElement:
    """SQL for the local Monday (a date) of the week of a stored timestamp."""
    local = local_sql(session, column, zone)
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("week", local), Date)
    # SQLite: step forward to Sunday, then back to that week's Monday.
    return func.date(local, "weekday 0", "-6 days")


def day_sql(session: Session, column: ColumnElement, zone: ZoneInfo) -> ColumnElement:
    """SQL for the local date of a stored timestamp."""
    local = local_sql(session, column, zone)
    if session.get_bind().dialect.name == "postgresql":
        return cast(local, Date)
    return func.date(local)


def as_date(value: object) -> date:
    """A day or week key from either dialect (SQLite returns text, PostgreSQL a date)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
