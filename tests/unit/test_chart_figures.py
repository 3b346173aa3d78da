"""The portal's figures as a reader sees them: lines at their values, labelled in words, and
the layout a page asks for kept. Each figure is built in one go from plain dicts (ui/charts.py
says why), so these check what the old add_hline / update_layout calls used to draw."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from ui.charts import level_line
from ui.governance import bar_figure, barrier_share_figure
from ui.measure_chart import weekly_chart


def test_a_level_line_spans_the_plot_at_its_value_with_its_label_where_asked():
    line, [label] = level_line(2.5, colour="#888", dash="dot", text="Baseline 2.5/week",
                               position="top left")
    assert (line["xref"], line["x0"], line["x1"]) == ("x domain", 0, 1)
    assert line["y0"] == line["y1"] == 2.5
    assert line["line"] == {"color": "#888", "dash": "dot"}
    assert (label["text"], label["x"], label["xanchor"], label["y"], label["yanchor"]) == (
        "Baseline 2.5/week", 0, "left", 2.5, "bottom")
    _, [below_right] = level_line(1, colour="#c62828", dash="dash", text="Target 1/week",
                                  position="bottom right")
    assert (below_right["x"], below_right["xanchor"], below_right["yanchor"]) == (
        1, "right", "top")
    assert level_line(3, colour="#000", dash="dash")[1] == []


def test_the_measure_chart_draws_the_baseline_target_go_live_and_test_window():
    weeks = {date(2026, 1, 5) + timedelta(weeks=i): i % 4 for i in range(12)}
    figure = weekly_chart(weeks, go_live=date(2026, 2, 2), window_end=date(2026, 3, 2),
                          baseline=2.5, per="week", target=1.0, end=date(2026, 3, 30))
    shapes = figure.layout.shapes
    window = next(s for s in shapes if s.type == "rect")
    assert (window.x0, window.x1) == (date(2026, 2, 2), date(2026, 3, 2))
    levels = {s.y0: s.line.dash for s in shapes if s.type == "line" and s.xref == "x domain"}
    assert levels == {2.5: "dot", 1.0: "dash"}
    assert [a.text for a in figure.layout.annotations] == [
        "Went live ▸ test window", "Baseline 2.5/week", "Target 1/week"]
    assert list(figure.data[0].y) == list(weeks.values())
    # Per month or per 100 reports, the weekly bars have no weekly baseline to draw.
    monthly = weekly_chart(weeks, go_live=date(2026, 2, 2), window_end=date(2026, 3, 2),
                           baseline=2.5, per="month", target=1.0, end=date(2026, 3, 30))
    assert [a.text for a in monthly.layout.annotations] == ["Went live ▸ test window"]


def test_a_breakdown_lists_the_largest_group_on_top_with_its_name_escaped():
    frame = pd.DataFrame({"key": ["Kitchen <b>", "Hall", "Garden"], "count": [5, 9, 2]})
    [bars] = bar_figure(frame, title="Near misses by place").data
    # Plotly draws a horizontal bar chart bottom up: the largest last is the top bar.
    assert list(bars.y) == ["Garden", "Kitchen <b>", "Hall"]
    assert list(bars.x) == [2, 5, 9]
    figure = bar_figure(frame, title="Near misses by place")
    assert list(figure.layout.yaxis.ticktext) == ["Garden", "Kitchen &lt;b&gt;", "Hall"]
    upright = bar_figure(frame, title="By week", horizontal=False)
    assert list(upright.data[0].x) == ["Kitchen <b>", "Hall", "Garden"]
    assert upright.layout.height == 360


def test_the_barrier_chart_keeps_its_legend_title_when_a_page_places_the_legend():
    mix = pd.DataFrame({"month": [pd.Timestamp("2026-01-01")] * 2, "barrier": ["staff",
                                                                              "system"],
                        "count": [1, 3]})
    figure = barrier_share_figure(mix, height=600, font={"size": 20},
                                  legend={"orientation": "h", "font": {"size": 18}})
    assert figure.layout.legend.title.text == "What stopped harm"
    assert (figure.layout.legend.orientation, figure.layout.legend.font.size) == ("h", 18)
    assert figure.layout.font.size == 20
    assert [list(trace.y) for trace in figure.data] == [[25.0], [75.0]]


def test_each_barrier_band_shows_its_colour_under_its_hatch():
    staff, designed = ("Staff noticed and recovered it",
                       "A designed check or control caught it (checklist, alert, "
                       "pre-transfer check)")
    mix = pd.DataFrame({"month": [pd.Timestamp("2026-01-01")] * 3,
                        "barrier": [staff, designed, "Something new"], "count": [1, 3, 1]})
    bands = {trace.name: trace for trace in barrier_share_figure(mix, height=380).data}
    # Staff recovery is hatched: white lines on its own orange, not on nothing.
    assert bands[staff].fillpattern.shape == "/"
    assert bands[staff].fillpattern.fgcolor == "#ffffff"
    assert bands[staff].fillpattern.bgcolor == bands[staff].fillcolor == "rgba(232, 113, 10, 0.5)"
    assert bands[designed].fillpattern.shape == ""
    assert bands[designed].fillcolor == "rgba(11, 110, 79, 0.5)"
    # A barrier the palette does not name is still drawn, in a colour plotly picks.
    assert bands["Something new"].fillcolor is None
