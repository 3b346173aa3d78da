"""De-identification rules for what leaves the provider (pure functions, no database).

What a reader sees, and what it means:

- "fewer than 5": this count is from 1 to 4 (`Status.SMALL`). A count that small could point
  to a person, so it is never published.
- "suppressed": hidden so that a count from 1 to 4 cannot be worked out from it
  (`Status.SUPPRESSED`): a complementary cell (a table publishes its totals, so a lone hidden
  cell in a row, column or series would be the total minus the rest: the next smallest cell is
  hidden too), or a percentage, rate or median whose parts include a count from 1 to 4. It is
  almost always 0 or large; only where the labels alone would give a small count away does a
  count from 1 to 4 read "suppressed" instead of "fewer than 5".
- 0 is shown: saying that nothing happened points to no one.

Because the labels say which hidden cells are small, a reader knows more than "hidden": a
small cell is 1 to 4. `suppress_lines` therefore checks every small cell the way such a reader
could, against the totals line by line and trying each value it could take, and hides more
until none can be pinned to one value.

Tables that are too fine to say anything are published at a coarser level: `choose_level`
picks the finest level (week, month, quarter) at which at most a given share of the cells is
hidden, and says why. Dates are coarsened to the ISO week; people are at most a salted
pseudonym.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

DEFAULT_THRESHOLD = 5
SUPPRESSED_LABEL = "suppressed"
LEVELS = ("week", "month", "quarter")
_MAX_AUDIT_PASSES = 200


class Status(StrEnum):
    """Why a published figure reads as it does."""

    SHOWN = "shown"
    SMALL = "small"  # a count from 1 to threshold-1: "fewer than 5"
    SUPPRESSED = "suppressed"  # hidden so that a small count cannot be worked out from it


def hidden_label(threshold: int = DEFAULT_THRESHOLD) -> str:
    """The label of a count from 1 to threshold-1."""
    return f"fewer than {threshold}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Cell:
    """One published figure: its value when shown, else why it is hidden (never its value)."""

    value: int | float | None
    status: Status = Status.SHOWN
    threshold: int = DEFAULT_THRESHOLD
    percent: bool = False

    def __post_init__(self) -> None:
        if self.status is not Status.SHOWN and self.value is not None:
            raise ValueError("a hidden cell keeps no value")

    @property
    def hidden(self) -> bool:
        return self.status is not Status.SHOWN

    @property
    def text(self) -> str:
        """As a reader sees it: "12", "70%", "fewer than 5", "suppressed", or "—" (no figure)."""
        if self.status is Status.SMALL:
            return hidden_label(self.threshold)
        if self.status is Status.SUPPRESSED:
            return SUPPRESSED_LABEL
        if self.value is None:
            return "—"
        return f"{self.value:.0%}" if self.percent else _number(self.value)

    def export(self) -> int | float | str | None:
        """For a spreadsheet: the number when shown (so it can be summed), else the label."""
        if self.hidden:
            return self.text
        if self.value is None or self.percent:
            return None if self.value is None else self.text
        return self.value

    def __str__(self) -> str:
        return self.text


def is_small(value: float | None, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """A count from 1 to threshold-1 (zero is not small: it points to no one)."""
    return value is not None and 0 < value < threshold


def count(value: int, threshold: int = DEFAULT_THRESHOLD) -> Cell:
    """A count published on its own (no total it could be worked out from)."""
    if is_small(value, threshold):
        return Cell(None, Status.SMALL, threshold)
    return Cell(value, Status.SHOWN, threshold)


def derived(value: float | None, parts: Sequence[int], threshold: int = DEFAULT_THRESHOLD, *,
            percent: bool = False) -> Cell:
    """A figure computed from counts (a rate, a median, a percentage): suppressed when any of
    the counts it rests on is from 1 to threshold-1, since it would reveal or narrow it."""
    if any(is_small(part, threshold) for part in parts):
        return Cell(None, Status.SUPPRESSED, threshold, percent)
    return Cell(value, Status.SHOWN, threshold, percent)


def share(part: int, whole: int, threshold: int = DEFAULT_THRESHOLD) -> Cell:
    """part / whole as a percentage, suppressed when the part, the rest (whole - part) or the
    whole is a count from 1 to threshold-1: 3 of 10 as "30%" would reveal the 3, and 7 of
    10 as "70%" the 3 that are left. No whole: no figure ("—")."""
    if whole <= 0:
        return derived(None, [part, whole], threshold, percent=True)
    return derived(part / whole, [part, whole - part, whole], threshold, percent=True)


# -- tables with totals ------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """Entries that add up to another entry: parts (indices) sum to whole (an index)."""

    parts: tuple[int, ...]
    whole: int


def suppress_lines(values: Sequence[int], lines: Sequence[Line],
                   threshold: int = DEFAULT_THRESHOLD, *,
                   force: frozenset[int] = frozenset()) -> list[Status]:
    """Decide which of `values` to hide, when every line's parts and whole are published.

    - Every value from 1 to threshold-1 is SMALL.
    - Entries in `force` are SUPPRESSED (already hidden in a linked table).
    - Complements: a line with exactly one hidden entry gives it away (the whole minus the
      rest), so another entry of that line is SUPPRESSED: the smallest non-zero part, else the
      whole, else a zero part (hiding a zero still makes the lone one ambiguous).
    - Audit: a reader knows that a small entry is 1 to threshold-1 (and a suppressed one only
      that it is 0 or more). While such a reader could pin some small entry to one value from
      its lines, either that entry reads "suppressed" instead, when a line of it is hidden
      throughout (it is the labels, not a total, that give it away, so hiding more would not
      help), or one more entry of its lines is SUPPRESSED.
    """
    status = [Status.SMALL if is_small(v, threshold) else
              Status.SUPPRESSED if i in force else Status.SHOWN for i, v in enumerate(values)]
    while True:
        _complete_lines(values, lines, status)
        pinned = _pinned_small(values, lines, status, threshold)
        if pinned is None:
            return status
        closed = any(all(status[i] is not Status.SHOWN for i in (*line.parts, line.whole))
                     for line in lines if pinned in (*line.parts, line.whole))
        if closed or not _hide_more_around(pinned, values, lines, status):
            status[pinned] = Status.SUPPRESSED


def _candidate(line: Line, values: Sequence[int], status: list[Status]) -> int | None:
    visible = [i for i in line.parts if status[i] is Status.SHOWN]
    non_zero = [i for i in visible if values[i] > 0]
    if non_zero:
        return min(non_zero, key=lambda i: (values[i], i))
    if status[line.whole] is Status.SHOWN and values[line.whole] > 0:
        return line.whole
    if visible:
        return visible[0]
    return line.whole if status[line.whole] is Status.SHOWN else None


def _complete_lines(values: Sequence[int], lines: Sequence[Line], status: list[Status]) -> None:
    changed = True
    while changed:  # each complement can leave a lone hidden entry on a crossing line
        changed = False
        for line in lines:
            entries = (*line.parts, line.whole)
            if sum(status[i] is not Status.SHOWN for i in entries) != 1:
                continue
            chosen = _candidate(line, values, status)
            if chosen is not None:
                status[chosen] = Status.SUPPRESSED
                changed = True


def _hide_more_around(entry: int, values: Sequence[int], lines: Sequence[Line],
                      status: list[Status]) -> bool:
    options = [c for line in lines if entry in (*line.parts, line.whole)
               if (c := _candidate(line, values, status)) is not None]
    if not options:
        return False
    # The smallest non-zero: hiding a 0 beside counts that are all small loosens nothing.
    status[min(options, key=lambda i: (values[i] == 0, values[i], i))] = Status.SUPPRESSED
    return True


def _known_bounds(values: Sequence[int], status: Sequence[Status], threshold: int,
                  ) -> tuple[list[float], list[float]]:
    low: list[float] = []
    high: list[float] = []
    for value, state in zip(values, status, strict=True):
        if state is Status.SHOWN:
            low.append(value)
            high.append(value)
        elif state is Status.SMALL:
            low.append(1)
            high.append(threshold - 1)
        else:
            low.append(0)
            high.append(math.inf)
    return low, high


def _others(total: float, infinite: int, own: float) -> float:
    """A line's sum of bounds without one entry's (infinities counted, never inf - inf)."""
    if own == math.inf:
        return math.inf if infinite > 1 else total
    return math.inf if infinite else total - own


def _touching(lines: Sequence[Line], size: int) -> list[list[int]]:
    """For each entry, the lines it is in."""
    touching: list[list[int]] = [[] for _ in range(size)]
    for index, line in enumerate(lines):
        for i in (*line.parts, line.whole):
            touching[i].append(index)
    return touching


def _narrow(low: list[float], high: list[float], lines: Sequence[Line],
            status: Sequence[Status], threshold: int, touching: list[list[int]],
            start: Sequence[int] | None = None) -> bool:
    """Narrow the bounds line by line until nothing changes; False if they contradict.

    Only lines touching a changed entry are looked at again (`start`: the lines to begin with).
    """
    queue = deque(range(len(lines)) if start is None else start)
    queued = set(queue)
    budget = _MAX_AUDIT_PASSES * max(len(lines), 1)
    while queue and budget:
        budget -= 1
        index = queue.popleft()
        queued.discard(index)
        line = lines[index]
        low_sum = sum(low[i] for i in line.parts)
        finite_high = sum(high[i] for i in line.parts if high[i] != math.inf)
        infinite = sum(high[i] == math.inf for i in line.parts)
        narrowed = [(line.whole, low_sum, math.inf if infinite else finite_high)]
        for i in line.parts:  # a part is the whole less the others
            narrowed.append((i, low[line.whole] - _others(finite_high, infinite, high[i]),
                             high[line.whole] - (low_sum - low[i])))
        for i, new_low, new_high in narrowed:
            lo, hi = max(low[i], new_low), min(high[i], new_high)
            if lo > hi:
                return False
            if (lo, hi) != (low[i], high[i]):
                low[i], high[i] = lo, hi
                for other in touching[i]:
                    if other not in queued:
                        queue.append(other)
                        queued.add(other)
    return True


def bounds(values: Sequence[int], lines: Sequence[Line], status: Sequence[Status],
           threshold: int = DEFAULT_THRESHOLD) -> list[tuple[float, float]]:
    """What a reader of the published figures can tell about each entry: (lowest, highest).

    Shown entries are exact; a small one lies in [1, threshold-1]; a suppressed one is 0 or
    more. Each line narrows its hidden entries (whole = sum of parts) until nothing
    changes. The bounds are sure (the true value lies within) though not always the tightest.
    """
    low, high = _known_bounds(values, status, threshold)
    _narrow(low, high, lines, status, threshold, _touching(lines, len(values)))
    return list(zip(low, high, strict=True))


def _pinned_small(values: Sequence[int], lines: Sequence[Line], status: Sequence[Status],
                  threshold: int) -> int | None:
    """A small entry a reader could pin to one value, if any.

    Beyond the bounds, each value a small entry might take is tried in turn: if all but one
    contradict the published figures, the entry is pinned (a reader can reason the same way).
    """
    if not lines or Status.SMALL not in status:
        return None
    touching = _touching(lines, len(values))
    low, high = _known_bounds(values, status, threshold)
    _narrow(low, high, lines, status, threshold, touching)
    for i, state in enumerate(status):
        if state is not Status.SMALL:
            continue
        possible = 0
        for value in range(int(low[i]), int(high[i]) + 1):
            trial_low, trial_high = list(low), list(high)
            trial_low[i] = trial_high[i] = value
            possible += _narrow(trial_low, trial_high, lines, status, threshold, touching,
                                start=touching[i])
            if possible > 1:
                break
        if possible <= 1:
            return i
    return None


@dataclass(frozen=True)
class SuppressedTable:
    """A two-way table of counts published with its row, column and grand totals."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[Cell, ...], ...]
    row_totals: tuple[Cell, ...]
    column_totals: tuple[Cell, ...]
    total: Cell

    def all_cells(self) -> list[Cell]:
        return [cell for row in self.cells for cell in row]

    @property
    def hidden_share(self) -> float:
        """Of the cells that do not read 0, the share hidden ("fewer than 5" or "suppressed").

        Worked out from the published table alone, so saying it reveals nothing more."""
        cells = self.all_cells()
        not_zero = [c for c in cells if c.hidden or c.value != 0]
        return sum(c.hidden for c in not_zero) / len(not_zero) if not_zero else 0.0

    def tally(self) -> dict[str, int]:
        """How many cells (totals not included) read each way: shown, zero, small, suppressed."""
        result = {"shown": 0, "zero": 0, "small": 0, "suppressed": 0}
        for cell in self.all_cells():
            key = cell.status.value if cell.hidden else ("zero" if cell.value == 0 else "shown")
            result[key] += 1
        return result

    def row_total(self, row: str) -> Cell:
        return self.row_totals[self.rows.index(row)]

    def records(self, row_heading: str, *, total_label: str = "Total", text: bool = False,
                ) -> list[dict[str, int | float | str | None]]:
        """Rows for a spreadsheet: one per row with its total, then a row of column totals.

        Shown counts are numbers (so they can be summed), hidden ones their label; with
        `text`, every figure is as a reader sees it (for a table on screen)."""
        def value(cell: Cell) -> int | float | str | None:
            return cell.text if text else cell.export()

        records: list[dict[str, int | float | str | None]] = []
        for name, cells, row_total in zip(self.rows, self.cells, self.row_totals, strict=True):
            records.append({row_heading: name,
                            **{column: value(cell)
                               for column, cell in zip(self.columns, cells, strict=True)},
                            total_label: value(row_total)})
        records.append({row_heading: total_label,
                        **{column: value(cell)
                           for column, cell in zip(self.columns, self.column_totals,
                                                   strict=True)},
                        total_label: value(self.total)})
        return records


def suppress_table(counts: Mapping[str, Mapping[str, int]] | Sequence[Sequence[int]],
                   threshold: int = DEFAULT_THRESHOLD, *, rows: Sequence[str] | None = None,
                   columns: Sequence[str] | None = None,
                   hide_row_totals: frozenset[str] = frozenset(),
                   ) -> SuppressedTable:
    """Hide small counts in a two-way table published with its row, column and grand totals.

    `counts` is {row: {column: count}} (missing counts are 0) or a list of rows; `rows` and
    `columns` fix the order (default: as given). `hide_row_totals` names rows whose total is
    already hidden in a linked table publishing the same totals, so it is hidden here too.
    """
    if isinstance(counts, Mapping):
        row_names = list(rows if rows is not None else counts)
        column_names = list(columns if columns is not None else dict.fromkeys(
            column for row in counts.values() for column in row))
        grid = [[int(counts.get(r, {}).get(c, 0)) for c in column_names] for r in row_names]
    else:
        grid = [[int(v) for v in row] for row in counts]
        row_names = list(rows if rows is not None else (str(i) for i in range(len(grid))))
        width = len(grid[0]) if grid else 0
        column_names = list(columns if columns is not None else (str(i) for i in range(width)))
    n_rows, n_cols = len(grid), len(column_names)
    # Entries: the cells row by row, then the row totals, the column totals, the grand total.
    values = [v for row in grid for v in row]
    row_total_at = n_rows * n_cols
    column_total_at = row_total_at + n_rows
    grand_at = column_total_at + n_cols
    values += [sum(row) for row in grid]
    values += [sum(grid[r][c] for r in range(n_rows)) for c in range(n_cols)]
    values.append(sum(values[row_total_at:column_total_at]))
    lines = [Line(tuple(r * n_cols + c for c in range(n_cols)), row_total_at + r)
             for r in range(n_rows)]
    lines += [Line(tuple(r * n_cols + c for r in range(n_rows)), column_total_at + c)
              for c in range(n_cols)]
    lines.append(Line(tuple(range(row_total_at, column_total_at)), grand_at))
    lines.append(Line(tuple(range(column_total_at, grand_at)), grand_at))
    force = frozenset(row_total_at + r for r, name in enumerate(row_names)
                      if name in hide_row_totals)
    status = suppress_lines(values, lines, threshold, force=force)
    cells = [_cell(values[i], status[i], threshold) for i in range(len(values))]
    return SuppressedTable(
        rows=tuple(row_names), columns=tuple(column_names),
        cells=tuple(tuple(cells[r * n_cols:(r + 1) * n_cols]) for r in range(n_rows)),
        row_totals=tuple(cells[row_total_at:column_total_at]),
        column_totals=tuple(cells[column_total_at:grand_at]), total=cells[grand_at])


def _cell(value: int, status: Status, threshold: int) -> Cell:
    return Cell(value if status is Status.SHOWN else None, status, threshold)


def suppress_series(counts: Sequence[int], threshold: int = DEFAULT_THRESHOLD, *,
                    hide_total: bool = False) -> tuple[list[Cell], Cell]:
    """Hide small counts in a list published with its total; returns (cells, total).

    `hide_total`: the total is already hidden elsewhere (it is hidden here too)."""
    values = [int(v) for v in counts]
    lines = [Line(tuple(range(len(values))), len(values))]
    force = frozenset({len(values)}) if hide_total else frozenset()
    status = suppress_lines([*values, sum(values)], lines, threshold, force=force)
    cells = [_cell(v, s, threshold) for v, s in zip([*values, sum(values)], status, strict=True)]
    return cells[:-1], cells[-1]


# -- the level a table is published at ---------------------------------------------------------

@dataclass(frozen=True)
class LevelChoice:
    """The level a table over time is published at, and why."""

    level: str
    tried: tuple[tuple[str, float], ...]  # (level, hidden share), finest first
    limit: float  # the largest hidden share the rule accepts
    totals_hidden: frozenset[str] = frozenset()  # levels at which some total would be hidden

    def _usable(self, level: str) -> bool:
        return dict(self.tried)[level] <= self.limit and level not in self.totals_hidden

    @property
    def fits(self) -> bool:
        """False when no level tried hides as little as the rule asks."""
        return self._usable(self.level)

    def explanation(self) -> str:
        """One or two sentences for a caption or a note: the level chosen and why."""
        shares = dict(self.tried)
        chosen = _level_phrase(self.level)
        title = chosen[0].upper() + chosen[1:]
        allowed = f"the {self.limit:.0%} the rule allows"
        if not self.fits:
            which = ("" if len(self.tried) == 1 else " (the coarsest level)"
                     if self.level == self.tried[-1][0] else " (the level hiding least)")
            return (f"{title}{which}: {shares[self.level]:.0%} of the cells that are not 0 "
                    f"are hidden, more than {allowed}, so the table says little; its totals "
                    "say more.")
        finer = []
        for level, value in self.tried:
            if level == self.level:
                break
            totals = f" (and some {_ADVERBS.get(level, level)} totals)" \
                if level in self.totals_hidden else ""
            finer.append(f"{_level_phrase(level)} {value:.0%}{totals}")
        if not finer:
            return (f"{title}: {shares[self.level]:.0%} of the cells that are not 0 are hidden "
                    f"(at most {allowed}).")
        return (f"{title}, because {' and '.join(finer)} of the cells that are not 0 would be "
                f"hidden, more than {allowed}; {chosen} {shares[self.level]:.0%} are.")


_ADVERBS = {"week": "weekly", "month": "monthly", "quarter": "quarterly"}


def _level_phrase(level: str) -> str:
    return f"by {level}" if level in LEVELS else f"for {level}"


def choose_level(shares: Sequence[tuple[str, float]], limit: float, *,
                 totals_hidden: frozenset[str] = frozenset()) -> LevelChoice:
    """The finest level whose hidden share is at most `limit`.

    `shares` lists (level, hidden share) from the finest level to the coarsest. A level in
    `totals_hidden` would hide some of its totals over time, which another output (a chart)
    publishes: it is not chosen while another level will do. When none fits, the level hiding
    the least is chosen (the coarser on a tie), and the choice says it does not fit.
    """
    if not shares:
        raise ValueError("no level to choose from")
    tried = tuple(shares)
    for level, hidden in shares:
        if hidden <= limit and level not in totals_hidden:
            return LevelChoice(level, tried, limit, totals_hidden)
    pool = [i for i, (level, _) in enumerate(shares) if level not in totals_hidden] \
        or list(range(len(shares)))
    best = min(pool, key=lambda i: (shares[i][1], -i))
    return LevelChoice(shares[best][0], tried, limit, totals_hidden)


# -- what the labels mean ------------------------------------------------------------------------

@dataclass(frozen=True)
class Note:
    term: str
    meaning: str


def label_notes(threshold: int = DEFAULT_THRESHOLD) -> list[Note]:
    """What "fewer than N", "suppressed" and 0 mean, in the words every output uses."""
    return [
        Note(hidden_label(threshold),
             f"the count is from 1 to {threshold - 1}. It is hidden because a number that small "
             "could point to a person."),
        Note(SUPPRESSED_LABEL,
             f"hidden so that a count from 1 to {threshold - 1} cannot be worked out from it: a "
             "cell that would give a hidden count away by subtraction from the published "
             "totals, or a percentage, rate or median resting on such a count. It is hidden to "
             "protect another figure, so its real value may be 0 or large."),
        Note("0", "none: a zero points to no one, so it is shown."),
    ]


def show(value: Cell | int | float | None) -> str:
    """A figure as published: a Cell's text, or a plain number (None: no figure, "—")."""
    if isinstance(value, Cell):
        return value.text
    return "—" if value is None else _number(value)


def iso_week(day: date) -> str:
    """A date coarsened to its ISO week, e.g. "2026-W27"."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
