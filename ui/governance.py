"""Shared pieces of the governance pages: the scope picker, cached loaders and charts.

Figures are cached for a short time and keyed by the data version (the audit chain's length),
so a new report or a verdict shows at the next page run, while repeated views of unchanged
data cost nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.audit.queries import data_version
from core.auth.actor import Actor
from core.clock import to_local, utcnow
from core.config import settings
from core.db import read_session
from core.metrics import governance as gov
from core.metrics.clusters import clusters_in_period
from core.metrics.weeks import week_start_of
from core.organisation.queries import reporting_options
from core.spc import SpcRules, assurance_icon, variation_icon, xmr
from core.taxonomy.service import live_taxonomy
from ui.text import chart_text

PERIODS = {"13w": ("Last 13 weeks", 13), "26w": ("Last 26 weeks", 26),
           "52w": ("Last 52 weeks", 52), "78w": ("Last 18 months", 78)}
COLOURS = {"improvement": "#1f77b4", "concern": "#e8710a", "neutral": "#7b3fa0",
           "common": "#4d5a57"}
# Designed controls are what we want more of (green); staff recovery is the fragile barrier.
BARRIER_COLOURS = {
    "A designed check or control caught it (checklist, alert, pre-transfer check)": "#0b6e4f",
    "Staff noticed and recovered it": "#e8710a",
    "The person or their family noticed": "#1f77b4",
    "Chance: nothing stopped it, it just didn't happen": "#9aa5a1",
}
TTL_SECONDS = 120


def today() -> date:
    return to_local(utcnow(), settings().zone).date()


def version() -> int:
    with read_session() as session:
        return data_version(session)


def scope_picker(actor: Actor, *, key: str = "gov") -> gov.Scope:
    """Period, services and types; kept for the session so every governance page agrees."""
    with read_session() as session:
        options = reporting_options(session, actor)
        taxonomy = live_taxonomy(session)
    services = {s.id: s.label for s in options.services}
    types = {t.key: t.name for t in taxonomy.types}
    with st.container(horizontal=True, gap="small"):
        period = st.selectbox("Period", list(PERIODS), index=2,
                              format_func=lambda k: PERIODS[k][0], key=f"{key}_period",
                              persist_state="session")
        chosen_services = st.multiselect("Services", list(services), format_func=services.get,
                                         key=f"{key}_services", placeholder="All",
                                         persist_state="session")
        chosen_types = st.multiselect("Types", list(types), format_func=types.get,
                                      key=f"{key}_types", placeholder="All",
                                      persist_state="session")
    weeks = PERIODS[period or "52w"][1]
    # Whole weeks, ending with the current one (which is still under way).
    end = week_start_of(today()) + timedelta(days=7)
    return gov.Scope(start=end - timedelta(weeks=weeks), end=end,
                     service_ids=tuple(chosen_services), type_keys=tuple(chosen_types))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cached_breakdown(_version: int, actor: Actor, scope: gov.Scope, dimension: str,
                     salt: str) -> pd.DataFrame:
    with read_session() as session:
        labels = {f.key: f.label for f in live_taxonomy(session).interface_flags}
        return gov.breakdown(session, actor, scope, dimension, salt=salt,
                             interface_labels=labels)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cached_series(_version: int, actor: Actor, scope: gov.Scope) -> pd.Series:
    with read_session() as session:
        return gov.weekly_series(session, actor, scope)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cached_go_lives(_version: int, actor: Actor, scope: gov.Scope) -> gov.ControlMarks:
    with read_session() as session:
        return gov.go_live_dates(session, actor, scope)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cached_culture(_version: int, actor: Actor, scope: gov.Scope) -> gov.Culture:
    with read_session() as session:
        return gov.reporting_culture(session, actor, scope)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cached_controls(_version: int, actor: Actor, on: date) -> gov.ControlStrength:
    with read_session() as session:
        return gov.control_strength(session, actor, today=on)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cached_barrier_mix(_version: int, actor: Actor, scope: gov.Scope) -> pd.DataFrame:
    with read_session() as session:
        return gov.barrier_mix(session, actor, scope)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cached_clusters(_version: int, actor: Actor, scope: gov.Scope) -> list[Any]:
    with read_session() as session:
        return clusters_in_period(session, actor, scope.start, scope.end)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False)
def cached_repeats(_version: int, actor: Actor, scope: gov.Scope, salt: str) -> list[Any]:
    with read_session() as session:
        return gov.repeats(session, actor, scope, salt=salt)


def complete_weeks(series: pd.Series) -> pd.Series:
    """Drop the week still under way: a part-week would look like a sudden fall."""
    current = pd.Timestamp(week_start_of(today()))
    return series[series.index < current]


def spc_frame(series: pd.Series, rebase_at: list[date], target: float | None,
              improvement: str) -> pd.DataFrame:
    rules = SpcRules(**settings().spc.model_dump())
    return xmr(series, rebase_at=[pd.Timestamp(d) for d in rebase_at], rules=rules,
               target=target, improvement="up" if improvement == "up" else "down")


def spc_summary(frame: pd.DataFrame, target: float | None, improvement: str) -> str:
    """The variation (and assurance) icons in words."""
    if frame.empty:
        return "No data in the period."
    if improvement == "neither":
        latest = frame.iloc[-1]
        variation = ("Special cause: higher than usual" if latest["special_cause"]
                     and latest["value"] > latest["mean"] else "Special cause: lower than usual"
                     if latest["special_cause"] else "Common cause variation")
    else:
        icon = variation_icon(frame)
        variation = {"common cause": "Common cause variation",
                     "improvement": "Special cause: improvement",
                     "concern": "Special cause: concern"}[icon]
    text = variation
    if target is not None and improvement != "neither":
        assurance = assurance_icon(frame, target)
        if assurance:
            text += " · target " + {"pass": "will be met consistently",
                                    "fail": "will not be met without change",
                                    "hit and miss": "will be met only sometimes"}[assurance]
    if bool(frame["provisional"].iloc[-1]):
        text += " · limits are provisional (fewer than 12 points)"
    return text


def spc_figure(frame: pd.DataFrame, go_lives: list[tuple[date, str]], *, title: str,
               improvement: str, height: int = 380, large: bool = False) -> go.Figure:
    """An XmR chart: values, mean and process limits, special causes coloured, controls'
    go-live dates marked."""
    x = list(frame.index)
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=x, y=frame["upper"], name="Upper process limit",
                                line={"color": "#9aa5a1", "dash": "dot", "shape": "hv"}))
    figure.add_trace(go.Scatter(x=x, y=frame["lower"], name="Lower process limit",
                                line={"color": "#9aa5a1", "dash": "dot", "shape": "hv"}))
    figure.add_trace(go.Scatter(x=x, y=frame["mean"], name="Mean",
                                line={"color": "#4d5a57", "dash": "dash", "shape": "hv"}))
    colours = []
    for _, row in frame.iterrows():
        if not row["special_cause"]:
            colours.append(COLOURS["common"])
        elif improvement == "neither":
            colours.append(COLOURS["neutral"])
        else:
            colours.append(COLOURS.get(row["direction"] or "neutral", COLOURS["neutral"]))
    figure.add_trace(go.Scatter(
        x=x, y=frame["value"], name="Near misses", mode="lines+markers",
        line={"color": "#4d5a57", "width": 3 if large else 2},
        marker={"color": colours, "size": 11 if large else 7},
        customdata=frame["rule"], hovertemplate="%{x|%d %b %Y}: %{y}<br>%{customdata}"))
    # Shapes and annotations in one layout update: add_vline per control re-validates the
    # whole layout each time (half a second with twenty controls).
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": pd.Timestamp(day),
               "x1": pd.Timestamp(day), "y0": 0, "y1": 1,
               "line": {"color": "#0b6e4f", "dash": "solid"}} for day, _label in go_lives]
    notes = [{"x": pd.Timestamp(day), "y": 1, "xref": "x", "yref": "paper",
              "text": chart_text(label[:40]),
              "showarrow": False, "textangle": -90, "xanchor": "right", "yanchor": "top",
              "font": {"size": 14 if large else 10, "color": "#0b6e4f"}}
             for day, label in go_lives]
    figure.update_layout(shapes=shapes, annotations=notes)
    figure.update_layout(title=chart_text(title), height=height,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.15},
                         font={"size": 20 if large else 12}, hovermode="x unified",
                         plot_bgcolor="#ffffff")
    if large:
        figure.update_xaxes(tickfont={"size": 20}, gridcolor="#e3e8e6")
        figure.update_yaxes(tickfont={"size": 20}, gridcolor="#e3e8e6")
    return figure


def bar_figure(frame: pd.DataFrame, *, title: str, horizontal: bool = True,
               large: bool = False) -> go.Figure:
    data = frame.sort_values("count") if horizontal else frame
    # The bars keep their keys as typed (a click reports the key); what plotly draws as text
    # (tick labels, hover) is escaped: it reads a little HTML.
    keys = list(data["key"].astype(str))
    shown = [chart_text(key) for key in keys]
    figure = go.Figure(go.Bar(
        x=data["count"] if horizontal else keys,
        y=keys if horizontal else data["count"], customdata=shown,
        orientation="h" if horizontal else "v", marker_color="#0b6e4f",
        hovertemplate="%{customdata}: %{x}<extra></extra>" if horizontal
        else "%{customdata}: %{y}<extra></extra>"))
    figure.update_layout(title=chart_text(title), height=max(260, 28 * len(frame) + 80)
                         if horizontal else 360, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         font={"size": 18 if large else 12})
    if horizontal:  # named categories; the ordered ones (weeks, days, hours) are the portal's
        figure.update_yaxes(tickmode="array", tickvals=keys, ticktext=shown)
    return figure


def session_salt() -> str:
    """A salt per browser session: a person's pseudonym is stable within one view only."""
    import secrets

    return st.session_state.setdefault("gov_salt", secrets.token_hex(8))


def barrier_share_figure(mix: pd.DataFrame, *, height: int) -> go.Figure:
    """What stopped harm, month by month, as stacked shares (the rows `month`, `barrier`,
    `count` of core's barrier mix). Built with graph objects: plotly express took about
    90 ms more per run for the same chart."""
    figure = go.Figure()
    # Shares computed here rather than with groupnorm: a hover's %{y} is the raw count then.
    totals = mix.groupby("month")["count"].transform("sum")
    mix = mix.assign(share=(mix["count"] / totals.where(totals > 0) * 100).fillna(0))
    for barrier, rows in mix.groupby("barrier", sort=False):
        figure.add_trace(go.Scatter(
            x=rows["month"], y=rows["share"], name=str(barrier), mode="lines",
            stackgroup="share", customdata=rows["count"],
            line={"color": BARRIER_COLOURS.get(str(barrier))},
            hovertemplate="%{x|%b %Y}: %{y:.0f}% (%{customdata})<extra>" + str(barrier)
            + "</extra>"))
    figure.update_layout(height=height, yaxis_title="%", legend_title_text="What stopped harm")
    return figure
