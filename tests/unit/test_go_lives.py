"""Go-live markers on a chart's time axis (core.metrics.go_lives): numbered in date order,
never overlapping, and named in the legend table below the chart. Pure, no database."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.metrics.go_lives import (
    legend_rows,
    place_markers,
    position_day,
    rows_used,
)

START = date(2026, 6, 1)  # a Monday
END = START + timedelta(weeks=26)


def overlapping(places, gap):
    """Pairs of markers in one row whose centres are closer than a marker's width."""
    return [(a.number, b.number) for a in places for b in places
            if a.number < b.number and a.row == b.row
            and abs(a.position - b.position) < gap - 1e-9]


def test_markers_are_numbered_in_date_order_and_sit_on_their_dates_when_apart():
    days = [START + timedelta(days=n) for n in (90, 10, 50)]
    places = place_markers(days, start=START, end=END, gap=5)
    assert [place.number for place in places] == [1, 2, 3]
    assert [place.day for place in places] == sorted(days)
    assert [place.position for place in places] == [10, 50, 90]
    assert {place.row for place in places} == {0}
    assert rows_used(places) == 1


def test_go_lives_in_one_week_stack_instead_of_overlapping():
    # Four go-lives on Monday to Thursday of one week, a marker about five days wide.
    days = [START + timedelta(days=70 + n) for n in range(4)]
    places = place_markers(days, start=START, end=END, gap=5, max_rows=4)
    assert [place.row for place in places] == [0, 1, 2, 3]
    assert all(place.offset(START) == 0 for place in places)  # each on its own day
    assert overlapping(places, 5) == []


def test_when_the_rows_are_full_a_marker_moves_aside_as_little_as_it_can():
    days = [START + timedelta(days=70)] * 4
    places = place_markers(days, start=START, end=END, gap=5, max_rows=3)
    assert [place.row for place in places[:3]] == [0, 1, 2]
    fourth = places[3]
    assert abs(fourth.offset(START)) == 5  # one marker's width beside the others
    assert overlapping(places, 5) == []
    assert rows_used(places) == 3


def test_same_day_go_lives_keep_the_order_given():
    day = START + timedelta(days=30)
    places = place_markers([day, day - timedelta(days=1), day], start=START, end=END, gap=3)
    # The earlier day is number 1; the two on one day follow in the order given.
    assert [(place.number, place.day) for place in places] == [
        (1, day - timedelta(days=1)), (2, day), (3, day)]


def test_markers_stay_inside_the_axis_so_none_is_cut_at_an_edge():
    days = [START, START + timedelta(days=1), END, END + timedelta(days=30)]
    places = place_markers(days, start=START, end=END, gap=6, max_rows=1)
    span = (END - START).days
    assert all(3 - 1e-9 <= place.position <= span - 3 + 1e-9 for place in places)
    assert overlapping(places, 6) == []


def test_twelve_go_lives_close_together_stay_apart():
    """The demo's case: twelve go-lives, several in one week, on a half-year chart."""
    offsets = [20, 21, 21, 22, 24, 27, 28, 35, 36, 90, 150, 181]
    days = [START + timedelta(days=n) for n in offsets]
    gap = (END - START).days * 42 / 1300  # a 36 px marker on a 1,300 px plot
    places = place_markers(days, start=START, end=END, gap=gap, max_rows=3)
    assert [place.number for place in places] == list(range(1, 13))
    assert overlapping(places, gap) == []
    assert rows_used(places) <= 3
    # Markers that had to move aside stay near their day (within three markers' widths).
    assert max(abs(place.offset(START)) for place in places) <= 3 * gap


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=-10, max_value=200), max_size=30),
       st.floats(min_value=0.5, max_value=30), st.integers(min_value=1, max_value=5))
def test_markers_never_overlap_whatever_the_dates(offsets, gap, max_rows):
    days = [START + timedelta(days=n) for n in offsets]
    places = place_markers(days, start=START, end=END, gap=gap, max_rows=max_rows)
    assert sorted(place.number for place in places) == list(range(1, len(days) + 1))
    assert sorted(place.day for place in places) == sorted(days)
    assert overlapping(places, gap) == []
    span = (END - START).days
    assert all(-1e-9 <= place.position <= span + 1e-9 for place in places)


def test_a_bad_gap_is_refused():
    with pytest.raises(ValueError, match="gap"):
        place_markers([START], start=START, end=END, gap=0)
    with pytest.raises(ValueError, match="max_rows"):
        place_markers([START], start=START, end=END, gap=1, max_rows=0)


def test_a_marker_is_drawn_at_its_position_as_a_time():
    assert str(position_day(START, 2.5)) == "2026-06-03 12:00:00"


def test_the_legend_numbers_as_the_chart_and_gives_each_strength():
    marks = [(START + timedelta(days=9), "Walker check (Falls)", "Intermediate"),
             (START + timedelta(days=2), "Grab rail (Falls)", "Stronger"),
             # A commissioner's mark names only the kind of control: its strength follows.
             (START + timedelta(days=20), "Training"),
             (START + timedelta(days=21), "Something else")]
    rows = legend_rows(marks)
    assert [(row.number, row.action, row.strength) for row in rows] == [
        (1, "Grab rail (Falls)", "Stronger"), (2, "Walker check (Falls)", "Intermediate"),
        (3, "Training", "Weaker"), (4, "Something else", "")]
    places = place_markers([mark[0] for mark in marks], start=START, end=END, gap=1)
    assert [(place.number, place.day) for place in places] == [(row.number, row.day)
                                                               for row in rows]


def test_the_pack_chart_numbers_its_go_lives_without_overlap_or_labels():
    """The PDF's chart draws the same numbered markers (kinds and dates go in its table)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from core.exports.pack_pdf import _go_live_markers

    weeks = pd.date_range(START, periods=26, freq="7D")
    marks = [(START + timedelta(days=n), "Checklist or cognitive aid")
             for n in (20, 21, 21, 22, 24, 27, 28, 35, 36, 90, 150, 181)]
    figure, axes = plt.subplots(figsize=(7.5, 3.2), dpi=150)
    try:
        axes.plot(list(weeks), [5] * 26)
        _go_live_markers(axes, weeks, marks)
        figure.tight_layout()
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        numbers = [text for text in axes.texts if text.get_text()]
        assert sorted(int(text.get_text()) for text in numbers) == list(range(1, 13))
        boxes = [text.get_bbox_patch().get_window_extent(renderer) for text in numbers]
        assert not [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes)
                    if i < j and a.overlaps(b)]
        # Every marker sits in the band the chart made below its data, inside the axes.
        inside = axes.get_window_extent(renderer)
        assert all(inside.x0 <= box.x0 and box.x1 <= inside.x1 + 1 for box in boxes)
        assert all(box.y1 <= axes.transData.transform((0, 5))[1] for box in boxes)
    finally:
        plt.close(figure)
