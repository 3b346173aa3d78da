"""De-identification rules for what leaves the provider (pure functions).

- Small numbers: a count from 1 to threshold-1 is hidden ("fewer than 5"); zero is shown.
- Complementary suppression: a hidden cell must not be recoverable from a published total,
  so wherever a row or column (or a series with its total) has exactly one hidden cell, the
  next smallest visible cell is hidden too (a non-zero one if there is any), until no line
  has a lone hidden cell.
- Dates are coarsened to the ISO week; people are at most a salted pseudonym.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

DEFAULT_THRESHOLD = 5


def hidden_label(threshold: int) -> str:
    return f"fewer than {threshold}"


def _primary(value: int | None, threshold: int) -> bool:
    return value is not None and 0 < value < threshold


def suppress_series(counts: Sequence[int], threshold: int = DEFAULT_THRESHOLD,
                    ) -> tuple[list[int | None], int | None]:
    """Hide small counts in a list published with its total; returns (cells, total).

    None marks a hidden value. The total itself is hidden when it is small.
    """
    values: list[int | None] = list(counts)
    hidden = [_primary(v, threshold) for v in values]
    total = sum(int(v) for v in counts)
    if sum(hidden) == 1:
        visible = [(v, i) for i, v in enumerate(values) if not hidden[i] and v]
        visible = visible or [(0, i) for i, _ in enumerate(values) if not hidden[i]]
        if visible:
            hidden[min(visible)[1]] = True
    cells = [None if h else v for v, h in zip(values, hidden, strict=True)]
    return cells, (None if _primary(total, threshold) else total)


def suppress_table(table: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Hide small counts in a two-way table whose row and column totals are published.

    Returns a frame of the same shape with hidden cells as None (object dtype).
    """
    values = table.fillna(0).astype(int).to_numpy().tolist()
    rows, cols = len(values), len(values[0]) if values else 0
    hidden = [[_primary(values[r][c], threshold) for c in range(cols)] for r in range(rows)]
    changed = True
    while changed:  # each pass can create new lone cells on the crossing lines
        changed = False
        lines = [[(r, c) for c in range(cols)] for r in range(rows)]
        lines += [[(r, c) for r in range(rows)] for c in range(cols)]
        for line in lines:
            lone = [cell for cell in line if hidden[cell[0]][cell[1]]]
            if len(lone) != 1:
                continue
            candidates = [(values[r][c], (r, c)) for r, c in line
                          if not hidden[r][c] and values[r][c] > 0]
            # A line of zeros around it: hiding a zero makes the lone value ambiguous too.
            candidates = candidates or [(0, (r, c)) for r, c in line if not hidden[r][c]]
            if candidates:
                r, c = min(candidates)[1]
                hidden[r][c] = True
                changed = True
    result = pd.DataFrame([[None if hidden[r][c] else values[r][c] for c in range(cols)]
                           for r in range(rows)], index=table.index, columns=table.columns,
                          dtype=object)
    return result


def show(value: int | float | None, threshold: int = DEFAULT_THRESHOLD) -> str:
    """A count as published: the number, or "fewer than N"."""
    return hidden_label(threshold) if value is None else f"{value:g}"


def iso_week(day: date) -> str:
    """A date coarsened to its ISO week, e.g. "2026-W27"."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"
