"""De-identification rules: small-number suppression that cannot be undone from the totals or
the labels, truthful labels, percentages that give nothing away, and the level a table over
time is published at."""

from __future__ import annotations

from datetime import date
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commissioner.deid import (
    Cell,
    Status,
    choose_level,
    count,
    derived,
    iso_week,
    label_notes,
    share,
    show,
    suppress_series,
    suppress_table,
)


def texts(cells) -> list[str]:
    return [cell.text for cell in cells]


# -- labels ---------------------------------------------------------------------------------------

def test_small_counts_read_fewer_than_5_and_zero_is_shown():
    cells, total = suppress_series([12, 0, 7, 3, 9])
    assert texts(cells)[1] == "0" and texts(cells)[3] == "fewer than 5"
    assert total.text == "31"


def test_a_cell_hidden_only_to_protect_another_reads_suppressed():
    # 3 alone could be recovered as 31 - 12 - 7 - 9: so 7 is hidden too, but it is not small.
    cells, total = suppress_series([12, 7, 3, 9])
    assert texts(cells) == ["12", "suppressed", "fewer than 5", "9"]
    assert [c.status for c in cells] == [Status.SHOWN, Status.SUPPRESSED, Status.SMALL,
                                         Status.SHOWN]
    assert total.text == "31"


def test_a_large_complement_in_a_table_is_never_labelled_fewer_than_5():
    # The demo's case: 17 safeguarding concerns hidden beside a service with 2.
    table = suppress_table({"Safeguarding": {"Maple": 17, "Oak": 2, "Elm": 30},
                            "Falls": {"Maple": 30, "Oak": 12, "Elm": 14}})
    maple = table.cells[0][0]
    assert maple.status is Status.SUPPRESSED and maple.text == "suppressed"
    assert table.cells[0][1].text == "fewer than 5"
    assert all(c.text != "fewer than 5" for c in table.all_cells() if c.status is not
               Status.SMALL)


def test_two_small_cells_need_no_complement():
    cells, _ = suppress_series([12, 4, 3, 9])
    assert texts(cells) == ["12", "fewer than 5", "fewer than 5", "9"]


def test_a_small_total_reads_fewer_than_5():
    cells, total = suppress_series([2, 1])
    assert texts(cells) == ["fewer than 5", "fewer than 5"]
    assert total.text == "fewer than 5"


def test_a_hidden_cell_keeps_no_value():
    with pytest.raises(ValueError):
        Cell(3, Status.SMALL)
    assert count(3).value is None and count(3).export() == "fewer than 5"
    assert count(0).export() == 0 and count(12).export() == 12


def test_a_board_threshold_of_1_hides_nothing():
    cells, total = suppress_series([12, 1, 0], threshold=1)
    assert texts(cells) == ["12", "1", "0"] and total.text == "13"
    assert share(1, 10, threshold=1).text == "10%"


def test_the_notes_explain_every_label():
    notes = {note.term: note.meaning for note in label_notes(5)}
    assert set(notes) == {"fewer than 5", "suppressed", "0"}
    assert "1 to 4" in notes["fewer than 5"]
    assert "protect another" in notes["suppressed"] and "0 or large" in notes["suppressed"]


def test_weeks_and_display():
    assert iso_week(date(2026, 7, 1)) == "2026-W27"
    assert show(count(2)) == "fewer than 5" and show(count(12)) == "12" and show(None) == "—"
    assert show(derived(2.5, [7])) == "2.5" and show(share(1, 4, threshold=1)) == "25%"


# -- percentages and other figures resting on counts --------------------------------------------

@pytest.mark.parametrize(("part", "whole", "expected"), [
    (3, 10, "suppressed"),   # 30% would reveal the 3
    (7, 10, "suppressed"),   # 70% would reveal the 3 that are left
    (2, 3, "suppressed"),    # the whole itself is small
    (0, 10, "0%"),           # none: points to no one
    (10, 10, "100%"),
    (50, 100, "50%"),
    (5, 10, "50%"),
    (0, 0, "—"),             # no whole, no figure
])
def test_a_percentage_whose_parts_include_a_small_count_is_suppressed(part, whole, expected):
    assert share(part, whole).text == expected


def test_a_rate_or_median_resting_on_a_small_count_is_suppressed():
    assert derived(0.5, [2]).text == "suppressed"  # 0.5 a week over 4 weeks: 2 near misses
    assert derived(0.0, [0]).text == "0" and derived(2.17, [26]).text == "2.17"
    assert derived(0.5, [2]).export() == "suppressed" and derived(2.17, [26]).export() == 2.17


# -- tables: nothing recoverable from the totals or the labels ----------------------------------

def _lines(table):
    hidden = [[c.hidden for c in row] for row in table.cells]
    rows = [[*row, t.hidden] for row, t in zip(hidden, table.row_totals, strict=True)]
    columns = [[hidden[r][c] for r in range(len(hidden))] + [table.column_totals[c].hidden]
               for c in range(len(table.columns))]
    margins = [[t.hidden for t in table.row_totals] + [table.total.hidden],
               [t.hidden for t in table.column_totals] + [table.total.hidden]]
    return rows + columns + margins


def test_a_table_never_leaves_a_lone_hidden_entry_in_any_line_totals_included():
    table = suppress_table([[20, 3, 15], [8, 9, 30], [12, 11, 2]])
    assert table.cells[0][1].text == "fewer than 5" and table.cells[2][2].text == "fewer than 5"
    for line in _lines(table):
        assert sum(line) != 1


def test_the_labels_and_a_shown_total_cannot_pin_a_small_count():
    # Two cells "fewer than 5" adding up to a shown 8 must both be 4: the total goes too.
    table = suppress_table([[4, 4], [0, 0]])
    assert texts(table.cells[0]) == ["fewer than 5", "fewer than 5"]
    assert table.row_totals[0].text == "suppressed"


def _feasible(grid, table, threshold=5):
    """Every value each cell takes over all the tables a reader cannot tell apart from the
    published one (small: 1..threshold-1; suppressed: 0 or more; totals as published)."""
    rows, columns = len(grid), len(grid[0])
    ceiling = sum(map(sum, grid)) + (15 if table.total.hidden else 0)

    def fits(cell, value):
        if not cell.hidden:
            return cell.value == value
        return 0 < value < threshold if cell.status is Status.SMALL else value >= 0

    def domain(cell):
        if not cell.hidden:
            return [cell.value]
        return range(1, threshold) if cell.status is Status.SMALL else range(ceiling + 1)

    order = list(product(range(rows), range(columns)))
    candidate = [[0] * columns for _ in range(rows)]
    seen: dict[tuple[int, int], set[int]] = {}

    def fill(k: int) -> None:  # depth first, dropping a branch as soon as a total is broken
        if k == len(order):
            if fits(table.total, sum(map(sum, candidate))):
                for r, c in order:
                    seen.setdefault((r, c), set()).add(candidate[r][c])
            return
        r, c = order[k]
        for value in domain(table.cells[r][c]):
            candidate[r][c] = value
            row_sum = sum(candidate[r][:c + 1])
            column_sum = sum(candidate[i][c] for i in range(r + 1))
            if (not table.row_totals[r].hidden and row_sum > table.row_totals[r].value) or (
                    not table.column_totals[c].hidden
                    and column_sum > table.column_totals[c].value):
                break
            if c == columns - 1 and not fits(table.row_totals[r], row_sum):
                continue
            if r == rows - 1 and not fits(table.column_totals[c], column_sum):
                continue
            fill(k + 1)
        candidate[r][c] = 0

    fill(0)
    return seen


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=2, max_value=3).flatmap(lambda width: st.lists(
    st.lists(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 9]), min_size=width,
             max_size=width), min_size=2, max_size=2)))
def test_no_small_count_can_be_worked_out_by_a_reader_of_the_labels(rows):
    table = suppress_table(rows)
    seen = _feasible(rows, table)
    for r, c in product(range(len(rows)), range(len(rows[0]))):
        if table.cells[r][c].status is Status.SMALL:
            assert len(seen[(r, c)]) > 1, (rows, [texts(row) for row in table.cells])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=40), min_size=3, max_size=3),
                min_size=2, max_size=6))
def test_every_small_count_is_hidden_and_labelled_truthfully(rows):
    table = suppress_table(rows)
    for r, c in product(range(len(rows)), range(3)):
        cell, value = table.cells[r][c], rows[r][c]
        if 0 < value < 5:
            assert cell.hidden  # "fewer than 5", or rarely "suppressed" (see deid)
        if cell.status is Status.SMALL:
            assert 0 < value < 5 and cell.text == "fewer than 5"
        if not cell.hidden:
            assert cell.value == value
    for line in _lines(table):
        assert sum(line) != 1


@pytest.mark.parametrize("counts", [[1], [4, 4], [0, 0, 6], [1, 1, 1, 1]])
def test_series_edge_cases(counts):
    cells, total = suppress_series(counts)
    assert all(c.hidden or c.value == 0 or c.value >= 5 for c in [*cells, total])


def test_the_hidden_share_is_worked_out_from_the_published_table():
    table = suppress_table([[12, 0, 3], [9, 0, 8], [20, 0, 30]])
    # The 3 is small; 12, 8 and 9 are hidden so that no line has a lone hidden cell. The 0s
    # shown do not count, so nothing about the hidden cells' values goes into the share.
    assert table.tally() == {"shown": 2, "zero": 3, "small": 1, "suppressed": 3}
    assert table.hidden_share == pytest.approx(4 / 6)


# -- the level a table over time is published at ------------------------------------------------

def test_the_finest_level_within_the_limit_is_chosen():
    choice = choose_level([("week", 0.10), ("month", 0.0), ("quarter", 0.0)], 0.25)
    assert choice.level == "week" and choice.fits
    assert choice.explanation().startswith("By week: 10%")


def test_weeks_hiding_too_much_go_monthly_and_say_why():
    choice = choose_level([("week", 0.71), ("month", 0.21), ("quarter", 0.0)], 0.25)
    assert choice.level == "month" and choice.fits
    text = choice.explanation()
    assert "By month, because by week 71%" in text and "by month 21%" in text
    assert "25%" in text


def test_months_hiding_too_much_go_quarterly():
    choice = choose_level([("week", 0.74), ("month", 0.52), ("quarter", 0.18)], 0.25)
    assert choice.level == "quarter" and choice.fits
    assert "by week 74% and by month 52%" in choice.explanation()


def test_when_no_level_fits_the_least_hidden_is_used_and_the_note_says_so():
    choice = choose_level([("week", 0.9), ("month", 0.6), ("quarter", 0.6)], 0.25)
    assert choice.level == "quarter" and not choice.fits  # the coarser on a tie
    assert "says little" in choice.explanation()
    least = choose_level([("week", 0.9), ("month", 0.4), ("quarter", 0.5)], 0.25)
    assert least.level == "month" and "(the level hiding least)" in least.explanation()


def test_a_level_that_would_hide_a_total_over_time_is_passed_over():
    # The trend chart publishes the totals over time: a level hiding one is not used.
    choice = choose_level([("week", 0.2), ("month", 0.1)], 0.25,
                          totals_hidden=frozenset({"week"}))
    assert choice.level == "month"
    assert "by week 20% (and some weekly totals)" in choice.explanation()
