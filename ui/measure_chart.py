"""How an action's verification measure reads: the measure in words and its weekly chart
(with go-live, the test window, baseline and target). Split from ui.action_panels."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from core.actions.measures import DIRECTION_LABELS, PER_LABELS, MeasureFilters


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
    fig = go.Figure(go.Bar(x=weeks, y=list(series.values()), name="Near misses that count",
                           marker_color="#5b7db1",
                           hovertemplate="Week of %{x|%d %b %Y}: %{y}<extra></extra>"))
    fig.add_shape(type="rect", xref="x", yref="paper", x0=go_live, x1=window_end, y0=0, y1=1,
                  fillcolor="#2e9e6b", opacity=0.15, line_width=0, layer="below")
    fig.add_shape(type="line", xref="x", yref="paper", x0=go_live, x1=go_live, y0=0, y1=1,
                  line={"color": "#2e7d32", "width": 2})
    fig.add_annotation(x=go_live, y=1, xref="x", yref="paper", text="Went live ▸ test window",
                       showarrow=False, xanchor="right", yanchor="bottom",
                       font={"color": "#2e7d32"})
    if per == "week" and baseline is not None:
        fig.add_hline(y=baseline, line_dash="dot", line_color="#888",
                      annotation_text=f"Baseline {baseline:.1f}/week",
                      annotation_position="top left")
    if per == "week" and target is not None:
        fig.add_hline(y=target, line_dash="dash", line_color="#c62828",
                      annotation_text=f"Target {target:g}/week",
                      annotation_position="bottom left")
    start = weeks[0] if weeks else go_live
    fig.update_layout(title=TITLE, height=300, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      showlegend=False, bargap=0.25,
                      yaxis={"title": "Near misses per week", "rangemode": "tozero",
                             "dtick": 1 if max(series.values(), default=0) <= 8 else None},
                      xaxis={"range": [start - timedelta(days=4),
                                       max(end, window_end) + timedelta(days=4)]})
    return fig
