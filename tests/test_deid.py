"""De-identification rules: small-number suppression that cannot be undone from the totals."""

from __future__ import annotations

from datetime import date
from itertools import product

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commissioner.deid import iso_week, show, suppress_series, suppress_table


def test_small_counts_are_hidden_and_zero_is_shown():
    cells, total = suppress_series([12, 0, 7, 3, 9])
    assert cells[1] == 0 and cells[3] is None
    assert total == 31


def test_a_lone_hidden_cell_takes_the_next_smallest_with_it():
    # 3 alone could be recovered as 31 - 12 - 7 - 9: so 7 is hidden too.
    cells, _ = suppress_series([12, 7, 3, 9])
    assert cells == [12, None, None, 9]


def test_two_hidden_cells_need_no_complement():
    cells, _ = suppress_series([12, 4, 3, 9])
    assert cells == [12, None, None, 9]


def test_a_small_total_is_hidden():
    cells, total = suppress_series([2, 1])
    assert cells == [None, None] and total is None


def test_a_table_never_leaves_a_lone_hidden_cell_in_any_row_or_column():
    table = pd.DataFrame([[20, 3, 15], [8, 9, 30], [12, 11, 2]],
                         index=["a", "b", "c"], columns=["x", "y", "z"])
    out = suppress_table(table)
    hidden = out.isna()
    assert hidden.loc["a", "y"] and hidden.loc["c", "z"]
    for line in [hidden.loc[r] for r in out.index] + [hidden[c] for c in out.columns]:
        assert line.sum() != 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=40), min_size=3, max_size=3),
                min_size=2, max_size=6))
def test_no_hidden_cell_is_recoverable_from_row_and_column_totals(rows):
    table = pd.DataFrame(rows)
    out = suppress_table(table)
    hidden = out.isna()
    for r, c in product(range(len(out)), range(len(out.columns))):
        value = table.iat[r, c]
        if 0 < value < 5:
            assert hidden.iat[r, c]
    for line in [hidden.iloc[r] for r in range(len(out))] + [hidden[c] for c in out.columns]:
        assert line.sum() != 1


def test_weeks_and_display():
    assert iso_week(date(2026, 7, 1)) == "2026-W27"
    assert show(None) == "fewer than 5" and show(12) == "12"


@pytest.mark.parametrize("counts", [[1], [4, 4], [0, 0, 6]])
def test_series_edge_cases(counts):
    cells, _ = suppress_series(counts)
    assert all(c is None or c == 0 or c >= 5 for c in cells)
