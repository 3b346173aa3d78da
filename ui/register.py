"""The action register's reads, each kept by the data version and the day, and its timeline.

A register run repeated with nothing written (a toggle turned back, a plan chosen to open, a
return to the page) is served from these caches; any committed write moves the data version
(core.audit.queries.data_version), so the next run reads afresh. What is overdue or due soon
depends on the day, which is part of each key. Each entry is kept for the person who read it
(the whole actor: "My actions" are theirs).
"""

from __future__ import annotations

import hashlib
import pickle
from datetime import date
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from core.actions.queries import RegisterFilters, RegisterRow
from core.auth.actor import Actor
from core.config import settings
from core.views import actions as views
from ui.charts import TITLED_MARGIN
from ui.governance import TTL_SECONDS, kept_per_person, version
from ui.text import chart_text

__all__ = ["clear_timelines", "filter_choices", "page", "timeline_figure"]

# The timeline's deadline markers by state: each its own shape and a legend entry in words, so
# colour is never the only signal (WCAG 1.4.1).
DEADLINE_MARKERS = (("overdue", "Deadline, overdue", "x", "#c62828"),
                    ("due_soon", "Deadline, due soon", "triangle-up", "#b35c00"),
                    ("", "Deadline", "diamond", "#3465a4"))


def filter_choices(actor: Actor) -> views.RegisterChoices:
    """The owners and services the actor's register holds, by name."""
    return _filter_choices(version(), actor)


def page(actor: Actor, filters: RegisterFilters, *, today: date) -> views.RegisterPage:
    """The first rows that match, and the figures over all of them, as of `today`."""
    return _page(version(), actor, filters, today)


# `version` and `day` are named without an underscore so that Streamlit keys the entries by
# them.
_kept = kept_per_person(RegisterFilters)


@_kept
def _filter_choices(version: int, actor: Actor) -> views.RegisterChoices:
    return views.register_filter_choices(actor)


@_kept
def _page(version: int, actor: Actor, filters: RegisterFilters, day: date) -> views.RegisterPage:
    return views.register_page(actor, filters, today=day, rules=settings())


def timeline_figure(open_rows: list[RegisterRow], day: date) -> go.Figure:
    """The timeline of the open actions shown: each one's deadline-to-review line, its
    deadline marked by state and its review date, today marked."""
    return _timeline_figure(hashlib.sha256(pickle.dumps(open_rows)).hexdigest(),
                            tuple(open_rows), day)


@st.cache_resource(ttl=TTL_SECONDS, max_entries=64, show_spinner=False)
def _timeline_figure(rows_digest: str, _rows: tuple[RegisterRow, ...],
                     day: date) -> go.Figure:
    """The timeline's figure, kept for the rows (by `rows_digest`, the digest of their
    pickle: Streamlit's own hashing of 40 rows took longer than the figure) and the day it
    shows. Building and checking a plotly figure took about 5 ms a run, for a chart that
    changes only with its rows. Shared, not copied: st.plotly_chart only reads it."""
    labels = [f"#{r.id} {chart_text(r.title, 40)}" for r in _rows]
    hover = [chart_text(f"{r.title} · {r.owner}", 90) for r in _rows]
    # Each action's deadline-to-review line, all in one trace (None breaks the line between
    # actions): a trace per action took plotly 1 ms each to build, on every run.
    traces: list[dict[str, Any]] = [{
        "type": "scatter", "x": [when for r in _rows for when in (r.deadline, r.review_date,
                                                                     None)],
        "y": [name for label in labels for name in (label, label, None)], "mode": "lines",
        "line": {"color": "#c8c8c8", "width": 2}, "hoverinfo": "skip", "showlegend": False,
        "connectgaps": False}]
    # One trace per deadline state (DEADLINE_MARKERS).
    for state, name, symbol, colour in DEADLINE_MARKERS:
        picked = [i for i, r in enumerate(_rows) if (r.deadline_state or "") == state]
        if picked:
            traces.append({
                "type": "scatter", "x": [_rows[i].deadline for i in picked],
                "y": [labels[i] for i in picked], "mode": "markers", "name": name,
                "marker": {"symbol": symbol, "size": 12, "color": colour},
                "text": [hover[i] for i in picked],
                "hovertemplate": "%{text}<br>" + name + " %{x|%d %b %Y}<extra></extra>"})
    traces.append({
        "type": "scatter", "x": [r.review_date for r in _rows], "y": labels,
        "mode": "markers", "name": "Review date",
        "marker": {"symbol": "circle-open", "size": 11, "color": "#2e7d32",
                   "line": {"width": 2}},
        "text": hover, "hovertemplate": "%{text}<br>Review %{x|%d %b %Y}<extra></extra>"})
    return go.Figure(data=traces, layout={
        "title": {"text": "Deadlines and review dates of open actions"},
        "height": 140 + 28 * len(_rows), "margin": TITLED_MARGIN,
        "legend": {"orientation": "h", "y": -0.08 if len(_rows) > 6 else -0.3},
        "yaxis": {"autorange": "reversed", "type": "category"},
        "xaxis": {"type": "date", "tickformat": "%d %b"},
        "shapes": [{"type": "line", "xref": "x", "yref": "paper", "x0": day, "x1": day,
                    "y0": 0, "y1": 1, "line": {"color": "#c62828", "dash": "dot", "width": 2}}],
        "annotations": [{"x": day, "y": 1, "xref": "x", "yref": "paper", "text": "Today",
                         "showarrow": False, "yanchor": "bottom",
                         "font": {"color": "#c62828"}}]})


def clear_timelines() -> None:
    """Forget every kept timeline figure (bench/: a cold page run)."""
    _timeline_figure.clear()
