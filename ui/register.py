"""The action register's reads, each kept by the data version and the day, and its timeline.

A register run repeated with nothing written (a toggle turned back, a plan chosen to open, a
return to the page) is served from these caches; any committed write moves the data version
(core.audit.queries.data_version), so the next run reads afresh. What is overdue or due soon
depends on the day, which is part of each key. Each entry is kept for the person who read it
(the whole actor: "My actions" are theirs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import plotly.graph_objects as go

from core.actions.queries import RegisterCounts, RegisterFilters, RegisterRow
from core.auth.actor import Actor
from core.config import settings
from core.views import actions as views
from ui.charts import TITLED_MARGIN
from ui.governance import kept_per_person, version
from ui.text import chart_text

__all__ = ["TIMELINE_LIMIT", "ShownRegister", "filter_choices", "page"]

TIMELINE_LIMIT = 40  # open actions the timeline draws (overdue first, as the register lists)
# The timeline's deadline markers by state: each its own shape and a legend entry in words, so
# colour is never the only signal (WCAG 1.4.1).
DEADLINE_MARKERS = (("overdue", "Deadline, overdue", "x", "#c62828"),
                    ("due_soon", "Deadline, due soon", "triangle-up", "#b35c00"),
                    ("", "Deadline", "diamond", "#3465a4"))


@dataclass(frozen=True, slots=True)
class ShownRegister:
    """What the register page draws: the first rows that match and the figures over all of
    them (core's RegisterPage), the open actions its timeline shows and the timeline's figure
    (None without open actions). Kept and shared: st.plotly_chart only reads the figure."""

    rows: tuple[RegisterRow, ...]
    counts: RegisterCounts
    timeline: tuple[RegisterRow, ...]
    timeline_figure: go.Figure | None


def filter_choices(actor: Actor) -> views.RegisterChoices:
    """The owners and services the actor's register holds, by name."""
    return _filter_choices(version(), actor)


def page(actor: Actor, filters: RegisterFilters, *, today: date) -> ShownRegister:
    """The register as of `today`, its timeline drawn (the figure is kept with the rows:
    building and checking it took about 5 ms a run, for a chart that changes with them)."""
    return _page(version(), actor, filters, today)


# `version` and `day` are named without an underscore so that Streamlit keys the entries by
# them.
_kept = kept_per_person(RegisterFilters)


@_kept
def _filter_choices(version: int, actor: Actor) -> views.RegisterChoices:
    return views.register_filter_choices(actor)


@_kept
def _page(version: int, actor: Actor, filters: RegisterFilters, day: date) -> ShownRegister:
    read = views.register_page(actor, filters, today=day, rules=settings())
    timeline = tuple(r for r in read.rows if r.status.open)[:TIMELINE_LIMIT]
    return ShownRegister(read.rows, read.counts, timeline,
                         _timeline_figure(timeline, day) if timeline else None)


def _timeline_figure(rows: tuple[RegisterRow, ...], day: date) -> go.Figure:
    """Each open action's deadline-to-review line, its deadline marked by state and its review
    date, today marked."""
    labels = [f"#{r.id} {chart_text(r.title, 40)}" for r in rows]
    hover = [chart_text(f"{r.title} · {r.owner}", 90) for r in rows]
    # Each action's deadline-to-review line, all in one trace (None breaks the line between
    # actions): a trace per action took plotly 1 ms each to build, on every run.
    traces: list[dict[str, Any]] = [{
        "type": "scatter", "x": [when for r in rows for when in (r.deadline, r.review_date,
                                                                     None)],
        "y": [name for label in labels for name in (label, label, None)], "mode": "lines",
        "line": {"color": "#c8c8c8", "width": 2}, "hoverinfo": "skip", "showlegend": False,
        "connectgaps": False}]
    # One trace per deadline state (DEADLINE_MARKERS).
    for state, name, symbol, colour in DEADLINE_MARKERS:
        picked = [i for i, r in enumerate(rows) if (r.deadline_state or "") == state]
        if picked:
            traces.append({
                "type": "scatter", "x": [rows[i].deadline for i in picked],
                "y": [labels[i] for i in picked], "mode": "markers", "name": name,
                "marker": {"symbol": symbol, "size": 12, "color": colour},
                "text": [hover[i] for i in picked],
                "hovertemplate": "%{text}<br>" + name + " %{x|%d %b %Y}<extra></extra>"})
    traces.append({
        "type": "scatter", "x": [r.review_date for r in rows], "y": labels,
        "mode": "markers", "name": "Review date",
        "marker": {"symbol": "circle-open", "size": 11, "color": "#2e7d32",
                   "line": {"width": 2}},
        "text": hover, "hovertemplate": "%{text}<br>Review %{x|%d %b %Y}<extra></extra>"})
    return go.Figure(data=traces, layout={
        "title": {"text": "Deadlines and review dates of open actions"},
        "height": 140 + 28 * len(rows), "margin": TITLED_MARGIN,
        "legend": {"orientation": "h", "y": -0.08 if len(rows) > 6 else -0.3},
        "yaxis": {"autorange": "reversed", "type": "category"},
        "xaxis": {"type": "date", "tickformat": "%d %b"},
        "shapes": [{"type": "line", "xref": "x", "yref": "paper", "x0": day, "x1": day,
                    "y0": 0, "y1": 1, "line": {"color": "#c62828", "dash": "dot", "width": 2}}],
        "annotations": [{"x": day, "y": 1, "xref": "x", "yref": "paper", "text": "Today",
                         "showarrow": False, "yanchor": "bottom",
                         "font": {"color": "#c62828"}}]})
