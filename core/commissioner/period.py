"""Periods as people write them: 2026-Q3, 2026-07, 2026, or 2026-07-01..2026-09-30."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive
    label: str


def _next_month(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 1)


def parse_period(text: str) -> Period:
    """Read a period; ValueError says which forms are accepted."""
    value = text.strip().upper()
    if match := re.fullmatch(r"(\d{4})-Q([1-4])", value):
        year, quarter = int(match[1]), int(match[2])
        start = date(year, 3 * quarter - 2, 1)
        return Period(start, _next_month(year, 3 * quarter), f"{year} Q{quarter}")
    if match := re.fullmatch(r"(\d{4})-(\d{2})", value):
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12:
            start = date(year, month, 1)
            return Period(start, _next_month(year, month), f"{start:%B %Y}")
    if match := re.fullmatch(r"(\d{4})", value):
        year = int(match[1])
        return Period(date(year, 1, 1), date(year + 1, 1, 1), str(year))
    if match := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", value):
        start, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
        if last >= start:
            return Period(start, date.fromordinal(last.toordinal() + 1),
                          f"{start:%d %b %Y} to {last:%d %b %Y}")
    raise ValueError(f"cannot read the period {text!r}: use 2026-Q3, 2026-07, 2026 or "
                     "2026-07-01..2026-09-30")
