"""Time in one place: the database stores naive UTC; people see the provider's local time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """Now, as naive UTC (the form every timestamp is stored in)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """A stored naive-UTC moment as naive local time in `zone`."""
    return moment.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)


def to_utc(local_moment: datetime, zone: ZoneInfo) -> datetime:
    """A naive local time in `zone` (as a person enters it) as naive UTC."""
    if local_moment.tzinfo is not None:
        return local_moment.astimezone(UTC).replace(tzinfo=None)
    return local_moment.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
