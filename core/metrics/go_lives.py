"""Where a chart draws its actions' go-live markers, and the legend table that names them.

A control chart marks each action's go-live with a numbered marker on the time axis; the
numbers lead to a table below the chart (number, action, date, strength). Titles are what
people typed, so they live only in that table, never in the chart.

Placement, in words: markers are numbered in date order (1 is the earliest). Each sits on its
go-live date in the lowest row where it does not touch a marker already placed (markers closer
than `gap` touch). When `max_rows` rows are taken at that date, it moves sideways, in the row
where the move is smallest, to the nearest free place (a connector shows its true date). Only
when no row has room anywhere on the axis is another row opened: markers never overlap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from core.actions.vocabulary import ACTION_HIERARCHY

_KIND_STRENGTH = {kind.label: kind.strength.label for kind in ACTION_HIERARCHY}


@dataclass(frozen=True)
class MarkerPlace:
    """One go-live marker: its `number` in the legend, its `day`, where it is drawn
    (`position`, in days from the axis start) and its `row` (0 nearest the axis)."""

    number: int
    day: date
    position: float
    row: int

    def offset(self, start: date) -> float:
        """How far (days) the marker was moved sideways from its go-live date."""
        return self.position - (self.day - start).days


def place_markers(days: Sequence[date], *, start: date, end: date, gap: float,
                  max_rows: int = 4) -> list[MarkerPlace]:
    """Numbered, non-overlapping places for go-live markers on an axis from `start` to `end`.

    `gap` is the least distance (days) between the centres of two markers in one row: a
    marker's width in the axis's units. Markers stay within [start + gap/2, end - gap/2] so
    none is cut at an edge (a date outside is drawn at the nearest edge). The result is in
    date order, numbered from 1; same-day go-lives keep the order given.
    """
    if not math.isfinite(gap) or gap <= 0:
        raise ValueError(f"gap must be a positive number of days, not {gap!r}")
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    span = (end - start).days
    low, high = gap / 2, span - gap / 2
    if high < low:  # an axis narrower than one marker: the middle, one row each
        low = high = span / 2
    rows: list[list[float]] = []
    placed: list[MarkerPlace] = []
    ordered = sorted(enumerate(days), key=lambda item: (item[1], item[0]))
    for number, (_given, day) in enumerate(ordered, start=1):
        wanted = min(max((day - start).days, low), high)
        row = next((r for r, taken in enumerate(rows) if _free(wanted, taken, gap)), None)
        position = wanted
        if row is None and len(rows) < max_rows:
            row = len(rows)
            rows.append([])
        elif row is None:
            moves = [(abs(spot - wanted), r, spot) for r, taken in enumerate(rows)
                     if (spot := _nearest_free(wanted, taken, gap, low, high)) is not None]
            if moves:
                _distance, row, position = min(moves)
            else:
                row = len(rows)
                rows.append([])
        rows[row].append(position)
        placed.append(MarkerPlace(number, day, position, row))
    return placed


def rows_used(places: Sequence[MarkerPlace]) -> int:
    """How many rows the markers take (0 when there are none)."""
    return max((place.row for place in places), default=-1) + 1


def position_day(start: date, position: float) -> datetime:
    """The date-time where a marker is drawn (a fractional day is a time of day)."""
    return datetime.combine(start, datetime.min.time()) + timedelta(days=position)


@dataclass(frozen=True)
class LegendRow:
    """A row of the table below a chart: the marker's number, the action (or, for a
    commissioner, the kind of control), when it went live and the action's strength."""

    number: int
    action: str
    day: date
    strength: str


def legend_rows(marks: Sequence[tuple[Any, ...]]) -> list[LegendRow]:
    """The legend of `marks` ((day, label) or (day, label, strength)), numbered as
    `place_markers` numbers them. A mark without a strength whose label is a kind of the
    action hierarchy (the commissioner's marks) takes that kind's strength."""
    ordered = sorted(enumerate(marks), key=lambda item: (item[1][0], item[0]))
    rows = []
    for number, (_given, mark) in enumerate(ordered, start=1):
        day, label = mark[0], str(mark[1])
        strength = str(mark[2]) if len(mark) > 2 and mark[2] else _KIND_STRENGTH.get(label, "")
        rows.append(LegendRow(number, label, day, strength))
    return rows


def _free(position: float, taken: list[float], gap: float) -> bool:
    # A hair of tolerance: markers exactly one gap apart touch but do not overlap.
    return all(abs(position - other) >= gap - 1e-9 for other in taken)


def _nearest_free(wanted: float, taken: list[float], gap: float, low: float,
                  high: float) -> float | None:
    """The free place in a row nearest `wanted`, within [low, high]; None if the row is full."""
    candidates = [wanted, low, high]
    for other in taken:
        candidates += [other - gap, other + gap]
    free = [spot for spot in candidates if low - 1e-9 <= spot <= high + 1e-9
            and _free(spot, taken, gap)]
    return min(free, key=lambda spot: (abs(spot - wanted), spot)) if free else None
