"""How an action's verification measure reads: the measure in words and its weekly chart
(with go-live, the test window, baseline and target). Split from ui.action_panels."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.actions.measures import DIRECTION_LABELS, PER_LABELS, MeasureFilters
from ui.charts import level_line


def describe_measure(filters: MeasureFilters, per: str, direction: str, target: float | None,
                     names: dict[str, dict[Any, str]]) -> str:
    """A measure in words: which near misses count, per what, which way is better."""
    parts = []
    for label, values, lookup in (("types", filters.type_keys, "types"),
                                  ("services", filters.service_ids, "services"),
                                  ("locations", filters.location_ids, "locations")):
        if values:
            parts.append(f"{label}: " + ", ".join(
                names.get(lookup, {}).get(v, f"#{v}") for v in values))
    for field, value in filters.capture.items():
        parts.append(f"{field.replace('_', ' ')} = “{value}”")
    counted = "; ".join(parts) if parts else "every near miss"
    text = (f"Counts near misses ({counted}), {PER_LABELS.get(per, per)}. "
            f"{DIRECTION_LABELS.get(direction, direction)}.")
    if target is not None:
        text += f" Target: {target:g}."
    return text


TITLE = "Near misses that count, week by week, before and after go-live"


def weekly_table(series: dict[date, int], *, go_live: date, window_end: date) -> pd.DataFrame:
    """The chart's bars as a table, each week placed before go-live, in the test window or
    after it, in words."""
    def period(week: date) -> str:
        if week < go_live:
            return "Before go-live"
        return "Test window" if week <= window_end else "After the test window"

    return pd.DataFrame({"Week of": [f"{week:%d %b %Y}" for week in series],
                         "Near misses that count": list(series.values()),
                         "Period": [period(week) for week in series]})


def weekly_chart(series: dict[date, int], *, go_live: date, window_end: date,
                 baseline: float | None, per: str, target: float | None,
                 end: date) -> go.Figure:
    """Weekly counts with the go-live line, the test window shaded and the baseline."""
    weeks = list(series)
    shapes: list[dict[str, Any]] = [
        {"type": "rect", "xref": "x", "yref": "paper", "x0": go_live, "x1": window_end,
         "y0": 0, "y1": 1, "fillcolor": "#2e9e6b", "opacity": 0.15, "line": {"width": 0},
         "layer": "below"},
        {"type": "line", "xref": "x", "yref": "paper", "x0": go_live, "x1": go_live, "y0": 0,
         "y1": 1, "line": {"color": "#2e7d32", "width": 2}}]
    notes: list[dict[str, Any]] = [
        {"x": go_live, "y": 1, "xref": "x", "yref": "paper", "text": "Went live ▸ test window",
         "showarrow": False, "xanchor": "right", "yanchor": "bottom",
         "font": {"color": "#2e7d32"}}]
    for level, colour, dash, text, position in (
            (baseline, "#888", "dot", f"Baseline {baseline or 0:.1f}/week", "top left"),
            (target, "#c62828", "dash", f"Target {target or 0:g}/week", "bottom left")):
        if per == "week" and level is not None:
            line, label = level_line(level, colour=colour, dash=dash, text=text,
                                     position=position)
            shapes.append(line)
            notes.extend(label)
    start = weeks[0] if weeks else go_live
    return go.Figure(
        data=[{"type": "bar", "x": weeks, "y": list(series.values()),
               "name": "Near misses that count", "marker": {"color": "#5b7db1"},
               "hovertemplate": "Week of %{x|%d %b %Y}: %{y}<extra></extra>"}],
        layout={"title": {"text": TITLE}, "height": 300,
                "margin": {"l": 10, "r": 10, "t": 60, "b": 10}, "showlegend": False,
                "bargap": 0.25, "shapes": shapes, "annotations": notes,
                "yaxis": {"title": {"text": "Near misses per week"}, "rangemode": "tozero",
                          "dtick": 1 if max(series.values(), default=0) <= 8 else None},
                "xaxis": {"range": [start - timedelta(days=4),
                                    max(end, window_end) + timedelta(days=4)]}})
