"""Shared pieces of the governance pages: the scope picker, cached loaders and charts.

Figures are cached for a short time and keyed by the data version (the audit chain's length),
so a new report or a verdict shows at the next page run, while repeated views of unchanged
data cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.auth.actor import Actor
from core.clock import to_local, utcnow
from core.config import settings
from core.feedback.measures import FeedbackMeasures
from core.metrics import findings
from core.metrics import governance as gov
from core.metrics.go_lives import (
    MarkerPlace,
    legend_rows,
    place_markers,
    position_day,
    rows_used,
)
from core.spc import SpcRules, assurance_icon, variation_icon, xmr
from core.spc_icons import chart_icons
from core.views import governance as views
from core.weeks import week_start_of
from ui import spc_icons
from ui.charts import TITLED_MARGIN
from ui.text import chart_text, escape_markdown

PERIODS = {"13w": ("Last 13 weeks", 13), "26w": ("Last 26 weeks", 26),
           "52w": ("Last 52 weeks", 52), "78w": ("Last 18 months", 78)}
COLOURS = {"improvement": "#1f77b4", "concern": "#e8710a", "neutral": "#7b3fa0",
           "common": "#4d5a57"}
# A second cue beside the colour: each kind of point has its own marker shape (WCAG 1.4.1).
SYMBOLS = {"improvement": "square", "concern": "diamond", "neutral": "triangle-up",
           "common": "circle"}
# Designed controls are what we want more of (green); staff recovery is the fragile barrier.
BARRIER_COLOURS = {
    "A designed check or control caught it (checklist, alert, pre-transfer check)": "#0b6e4f",
    "Staff noticed and recovered it": "#e8710a",
    "The person or their family noticed": "#1f77b4",
    "Chance: nothing stopped it, it just didn't happen": "#9aa5a1",
}
BARRIER_PATTERNS = {
    "A designed check or control caught it (checklist, alert, pre-transfer check)": "",
    "Staff noticed and recovered it": "/",
    "The person or their family noticed": ".",
    "Chance: nothing stopped it, it just didn't happen": "x",
}
BARRIER_TITLE = "What stopped harm, month by month (share)"
# Cached figures are keyed by the data version (named `version`, not `_version`: Streamlit
# leaves underscored arguments out of the key), so a write shows at the next run; the TTL only
# lets go of figures nobody is looking at and of "this week" once the clock moves on.
TTL_SECONDS = 120
# And by the viewer's lens (roles and services: core.auth.actor.Actor.lens), not the person:
# on a miss the figures are computed, and the role checked in core, for the viewer at hand;
# a hit serves only a viewer with the same roles and services, whom that check let through.
BY_LENS = {Actor: Actor.lens}


_KEPT_READS: list[Any] = []  # every function kept_per_person keeps, for forget_kept_reads


def kept_per_person(*keyed_by_repr: type) -> Callable[[Callable[..., Any]], Any]:
    """A cache for a page's own reads (the triage board, the action register): kept per data
    version as the figures are, but per person (the whole actor), not per lens. The actor and
    `keyed_by_repr` (frozen dataclasses: filters) are keyed by their repr, every field as the
    dataclass writes it: Streamlit's own hashing of an actor took 0.2 ms.

    `st.cache_resource`, not `st.cache_data`: a hit hands back the object read, not a copy
    unpickled at each run (the register's 500 rows took 2.4 ms a run). The pages only read
    what these return; nothing may change it."""
    keep = st.cache_resource(ttl=TTL_SECONDS, show_spinner=False, max_entries=256,
                             hash_funcs={kind: repr for kind in (Actor, *keyed_by_repr)})

    def kept(read: Callable[..., Any]) -> Any:
        cached = keep(read)
        _KEPT_READS.append(cached)
        return cached

    return kept


def forget_kept_reads() -> None:
    """Forget every page's kept reads (bench/: a cold page run; the figures' caches are
    emptied by `st.cache_data.clear()`)."""
    for cached in _KEPT_READS:
        cached.clear()


def today() -> date:
    return to_local(utcnow(), settings().zone).date()


def version() -> int:
    """The data version every write bumps: pass it to the cached figures as their key."""
    return views.version()


def scope_picker(actor: Actor, *, key: str = "gov") -> gov.Scope:
    """Period, services and types; kept for the session so every governance page agrees."""
    choices = views.scope_choices(actor)
    services, types = dict(choices.services), dict(choices.types)
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


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS)
def cached_breakdown(version: int, actor: Actor, scope: gov.Scope, dimension: str,
                     salt: str) -> pd.DataFrame:
    return views.breakdown(actor, scope, dimension, salt=salt, rules=settings())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS)
def cached_series(version: int, actor: Actor, scope: gov.Scope) -> pd.Series:
    return views.weekly_series(actor, scope, rules=settings())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS)
def cached_go_lives(version: int, actor: Actor, scope: gov.Scope) -> gov.ControlMarks:
    return views.go_lives(actor, scope)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS)
def cached_culture(version: int, actor: Actor, scope: gov.Scope) -> gov.Culture:
    return views.culture(actor, scope, rules=settings())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS)
def cached_controls(version: int, actor: Actor, on: date) -> gov.ControlStrength:
    return views.controls(actor, today=on)


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS)
def cached_barrier_mix(version: int, actor: Actor, scope: gov.Scope) -> pd.DataFrame:
    return views.barrier_mix(actor, scope, rules=settings())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS)
def cached_clusters(version: int, actor: Actor, scope: gov.Scope) -> list[Any]:
    return list(views.clusters(actor, scope, rules=settings(), now=utcnow()))


def repeats_in_view(version: int, actor: Actor, scope: gov.Scope) -> list[gov.Repeat]:
    """The repeats, computed once per data version for everyone in the scope, with people's
    pseudonyms of this browser session (a per-session key would compute them per viewer)."""
    return gov.with_pseudonyms(_cached_repeats(version, actor, scope), session_salt())


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS)
def _cached_repeats(version: int, actor: Actor, scope: gov.Scope) -> list[gov.Repeat]:
    return list(views.repeats(actor, scope, salt="", rules=settings()))


@st.cache_data(ttl=TTL_SECONDS, show_spinner=False, hash_funcs=BY_LENS)
def cached_culture_and_feedback(version: int, actor: Actor, scope: gov.Scope,
                                ) -> tuple[gov.Culture, FeedbackMeasures]:
    return views.culture_and_feedback(actor, scope, rules=settings())


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


GREEN = "#0b6e4f"
PHASE_SHADE = "#e6f0ec"


@dataclass(frozen=True)
class ChartStyle:
    """Sizes for a control chart: a page on a laptop, or meeting mode on a projector (every
    text at least 16 px there). `plot_px` is the narrowest plot the chart is laid out for: the
    go-live markers are spaced for it, so they cannot touch on any wider screen."""

    font: int
    ticks: int
    legend: int
    marker: int  # a go-live marker's diameter (px)
    number: int  # the number inside it
    title: int
    plot_px: int

    @property
    def row_px(self) -> int:
        return self.marker + 8


PAGE_STYLE = ChartStyle(font=14, ticks=14, legend=14, marker=26, number=14, title=18,
                        plot_px=800)
MEETING_STYLE = ChartStyle(font=20, ticks=20, legend=18, marker=36, number=18, title=24,
                           plot_px=1300)


def spc_figure(frame: pd.DataFrame, go_lives: Sequence[tuple[Any, ...]], *, title: str,
               improvement: str, height: int = 380, large: bool = False) -> go.Figure:
    """An XmR chart: values, each phase's mean and process limits (stepping at a rebase,
    later phases shaded), special causes coloured, and actions' go-lives as numbered markers
    in a strip on the time axis (the numbers of `go_live_table`; no user text in the chart)."""
    style = MEETING_STYLE if large else PAGE_STYLE
    if frame.empty:
        return go.Figure()
    index = pd.DatetimeIndex(frame.index)
    half = _half_period(index)
    start, end = index[0] - half, index[-1] + half
    days = [pd.Timestamp(mark[0]) for mark in go_lives]
    if days:  # a go-live in the week under way is after the last point: widen the axis
        start = min(start, min(days) - half)
        end = max(end, max(days) + half)
    start, end = start.floor("D"), end.ceil("D")
    span = max((end - start) / pd.Timedelta(days=1), 1.0)
    places = place_markers([day.date() for day in days], start=start.date(), end=end.date(),
                           gap=span * (style.marker + 6) / style.plot_px,
                           max_rows=3) if days else []
    rows = rows_used(places)
    plot_height = max(height - (50 if title else 20) - 90, 120)
    strip = min(0.45, rows * style.row_px / plot_height) if rows else 0.0
    main_bottom = strip + (0.04 if rows else 0.0)

    segments = list(frame.groupby("segment", sort=True))
    traces = [*_limit_traces(segments, half, large),
              *_value_traces(frame, index, improvement, large)]

    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    if len(segments) > 1:
        shapes, notes = _phase_marks(segments, half, main_bottom, style, span)
    axis = {"range": [start, end], "tickfont": {"size": style.ticks}, "gridcolor": "#e3e8e6",
            "automargin": True}
    layout: dict[str, Any] = {
        "title": {"text": chart_text(title), "font": {"size": style.title}} if title else None,
        "height": height, "margin": {"l": 10, "r": 10, "t": 50 if title else 20, "b": 10},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0,
                   "font": {"size": style.legend}},
        "font": {"size": style.font}, "hovermode": "closest", "plot_bgcolor": "#ffffff",
        "xaxis": axis,
        "yaxis": {"domain": [main_bottom, 1], "tickfont": {"size": style.ticks},
                  "gridcolor": "#e3e8e6", "automargin": True}}
    if places:
        marker_trace, marker_shapes = _go_live_strip(places, start, rows, main_bottom, style)
        traces.append(marker_trace)
        shapes.extend(marker_shapes)
        layout["yaxis2"] = {"domain": [0, strip], "range": [-0.6, rows - 0.4],
                            "visible": False, "fixedrange": True}
        axis["anchor"] = "y2"
    # One figure, one validation, from plain dicts (see ui/charts.py): each update_layout
    # call re-validates every shape, and a trace object is validated twice.
    layout["shapes"], layout["annotations"] = shapes, notes
    return go.Figure(data=traces, layout=layout)


def _limit_traces(segments: list[tuple[Any, pd.DataFrame]], half: pd.Timedelta,
                  large: bool) -> list[dict[str, Any]]:
    """Each phase's upper and lower process limits and mean, stepping at a rebase."""
    traces = []
    for name, column, colour, dash in (("Upper process limit", "upper", "#9aa5a1", "dot"),
                                       ("Lower process limit", "lower", "#9aa5a1", "dot"),
                                       ("Mean", "mean", "#4d5a57", "dash")):
        xs, ys = _phase_lines(segments, column, half)
        traces.append({"type": "scatter", "x": xs, "y": ys, "name": name, "mode": "lines",
                       "hoverinfo": "skip",
                       "line": {"color": colour, "dash": dash, "width": 3 if large else 2}})
    return traces


def _value_traces(frame: pd.DataFrame, index: pd.DatetimeIndex, improvement: str,
                  large: bool) -> list[dict[str, Any]]:
    """The values, a special cause coloured and shaped by its kind, and a legend key for
    each kind that appears."""
    kinds = [_point_kind(row, improvement) for _, row in frame.iterrows()]
    colours = [COLOURS[kind] for kind in kinds]
    special = 14 if large else 10  # a signal's marker is a little larger, and shaped
    traces: list[dict[str, Any]] = [{
        "type": "scatter", "x": list(index), "y": list(frame["value"]), "name": "Near misses",
        "mode": "lines+markers", "line": {"color": "#4d5a57", "width": 3 if large else 2},
        "marker": {"color": colours, "symbol": [SYMBOLS[kind] for kind in kinds],
                   "size": [special if kind != "common" else 12 if large else 8
                            for kind in kinds]},
        "customdata": list(frame["rule"]),
        "hovertemplate": "%{x|%d %b %Y}: %{y}<br>%{customdata}<extra></extra>"}]
    for kind, label in (("concern", "Special cause: concern"),
                        ("improvement", "Special cause: improvement"),
                        ("neutral", "Special cause")):
        if kind in kinds:  # a key to the colours and shapes that appear, legend only
            traces.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers",
                           "name": label, "marker": {"color": COLOURS[kind],
                                                     "symbol": SYMBOLS[kind], "size": special}})
    return traces


def _go_live_strip(places: Sequence[MarkerPlace], start: pd.Timestamp, rows: int,
                   main_bottom: float, style: ChartStyle,
                   ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The go-lives' numbered markers in the strip under the chart, and their lines: a faint
    one through the chart at each go-live and a connector down to its marker."""
    marker_x = [position_day(start.date(), place.position) for place in places]
    trace = {
        "type": "scatter", "x": marker_x, "y": [place.row for place in places], "yaxis": "y2",
        "mode": "markers+text", "name": "Action go-live (numbered as listed below)",
        "cliponaxis": False,
        "text": [str(place.number) for place in places], "textposition": "middle center",
        "textfont": {"size": style.number, "color": GREEN},
        "marker": {"size": style.marker, "color": "#ffffff", "symbol": "circle",
                   "line": {"color": GREEN, "width": 2}},
        "customdata": [f"{place.day:%d %b %Y}" for place in places],
        "hovertemplate": "Action %{text}: went live %{customdata}<extra></extra>"}
    shapes: list[dict[str, Any]] = []
    for place, at in zip(places, marker_x, strict=True):
        day = pd.Timestamp(place.day)
        # The connector is slanted when the marker had to move aside.
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": day, "x1": day,
                       "y0": main_bottom, "y1": 1, "layer": "below",
                       "line": {"color": GREEN, "width": 1, "dash": "dot"}})
        shapes.append({"type": "line", "xref": "x", "yref": "y2", "x0": day, "x1": at,
                       "y0": rows - 0.4, "y1": place.row, "layer": "below",
                       "line": {"color": GREEN, "width": 1}})
    return trace, shapes


def _half_period(index: pd.DatetimeIndex) -> pd.Timedelta:
    """Half the usual step between points (half a week on a weekly chart)."""
    if len(index) < 2:
        return pd.Timedelta(days=3.5)
    return pd.Series(index).diff().median() / 2


def _phase_lines(segments: list[tuple[Any, pd.DataFrame]], column: str, half: pd.Timedelta,
                 ) -> tuple[list[Any], list[Any]]:
    """One flat line per phase, from half a period before its first point to half a period
    after its last, with a break between phases: a rebased limit visibly steps."""
    xs: list[Any] = []
    ys: list[Any] = []
    for _number, rows in segments:
        level = rows[column].iloc[0]
        if pd.isna(level):
            continue
        xs += [rows.index[0] - half, rows.index[-1] + half, None]
        ys += [float(level), float(level), None]
    return xs, ys


def _phase_marks(segments: list[tuple[Any, pd.DataFrame]], half: pd.Timedelta,
                 bottom: float, style: ChartStyle, span: float,
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every other phase shaded, each labelled "Phase n" at its top left if it is wide
    enough for the words (else only its number, or nothing): labels never overlap."""
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    for number, rows in segments:
        x0, x1 = rows.index[0] - half, rows.index[-1] + half
        if int(number) % 2:
            shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": x0, "x1": x1,
                           "y0": bottom, "y1": 1, "fillcolor": PHASE_SHADE, "layer": "below",
                           "line": {"width": 0}})
        width_px = (x1 - x0) / pd.Timedelta(days=1) / span * style.plot_px
        mean = rows["mean"].iloc[0]
        for text in (f"Phase {int(number) + 1} · mean {mean:.1f}", f"Phase {int(number) + 1}",
                     f"{int(number) + 1}"):
            if len(text) * 0.62 * style.font + 12 <= width_px:
                notes.append({"x": x0, "y": 1, "xref": "x", "yref": "paper", "text": text,
                              "showarrow": False, "xanchor": "left", "yanchor": "top",
                              "xshift": 4, "font": {"size": style.font, "color": "#33413d"}})
                break
    return shapes, notes


def _point_kind(row: pd.Series, improvement: str) -> str:
    if not row["special_cause"]:
        return "common"
    if improvement == "neither":
        return "neutral"
    return row["direction"] if row["direction"] in COLOURS else "neutral"


def spc_table(frame: pd.DataFrame, *, improvement: str, period: str = "Week",
              when: Callable[[date], str] | None = None) -> pd.DataFrame:
    """Exactly the numbers a control chart plots, one row a point, a signal in words."""
    show_day = when or (lambda day: f"{day:%d %b %Y}")
    return pd.DataFrame({
        period: [show_day(pd.Timestamp(day).date()) for day in frame.index],
        "Near misses": list(frame["value"]),
        "Mean": list(frame["mean"].round(2)),
        "Lower limit": list(frame["lower"].round(2)),
        "Upper limit": list(frame["upper"].round(2)),
        "Signal": findings.spc_signal_column(frame, improvement),
        "Rule": list(frame["rule"]),
    })


def go_live_table(go_lives: Sequence[tuple[Any, ...]], *, action_header: str = "Action",
                  when: Callable[[date], str] | None = None) -> pd.DataFrame:
    """The legend below a chart: the marker's number, the action, when it went live and its
    strength. Plain text for st.dataframe: titles are user text and stay out of the chart."""
    rows = legend_rows(go_lives)
    show_day = when or (lambda day: f"{day:%d %b %Y}")
    return pd.DataFrame({"No.": [row.number for row in rows],
                         action_header: [row.action for row in rows],
                         "Went live": [show_day(row.day) for row in rows],
                         "Strength": [row.strength or "—" for row in rows]})


def period_label(granularity: str) -> Callable[[date], str]:
    """How a legend names a commissioner's go-live: its week or month, never the day."""
    if granularity == "month":
        return lambda day: f"{day:%b %Y}"
    return lambda day: f"Week of {day:%d %b %Y}"


def show_spc_chart(frame: pd.DataFrame, go_lives: Sequence[tuple[Any, ...]], *, key: str,
                   title: str, improvement: str, target: float | None = None,
                   large: bool = False, height: int = 460, action_header: str = "Action",
                   when: Callable[[date], str] | None = None, unit: str = "week") -> None:
    """A control chart with its finding in one sentence before it (`title` names what it
    counts, e.g. "All near misses per week"), its variation and assurance icons beside it,
    the table of its numbers and the table of its numbered go-lives below it."""
    with st.container(key=f"{key}_alt"):
        _spc_chart(frame, go_lives, key=key, title=title, improvement=improvement,
                   target=target, large=large, height=height, action_header=action_header,
                   when=when, unit=unit)


def _spc_chart(frame: pd.DataFrame, go_lives: Sequence[tuple[Any, ...]], *, key: str,
               title: str, improvement: str, target: float | None, large: bool, height: int,
               action_header: str, when: Callable[[date], str] | None, unit: str) -> None:
    direction = "up" if improvement == "up" else "down" if improvement == "down" else "neither"
    variation, assurance = chart_icons(frame, target=target, improvement=direction)
    # Say why an assurance icon is missing: no target, or no better direction to judge it by.
    note = None
    if target is None:
        note = "no target"
    elif direction == "neither":
        note = "no direction"
    st.markdown(escape_markdown(findings.spc_finding(frame, what=title, unit=unit,
                                                     improvement=direction)))
    chart, icons = st.columns([7, 1] if large else [6, 1], gap="small")
    with icons:
        st.markdown(spc_icons.icons_html([variation, assurance], size=110 if large else 64,
                                         note=note), unsafe_allow_html=True)
    with chart:
        st.plotly_chart(spc_figure(frame, go_lives, title=title, improvement=improvement,
                                   height=height, large=large), key=key,
                        theme=None if large else "streamlit")
    st.dataframe(spc_table(frame, improvement=direction, period=unit.capitalize(), when=when),
                 hide_index=True, width="stretch", key=f"{key}_data")
    if not go_lives:
        return
    table = go_live_table(go_lives, action_header=action_header, when=when)
    if large:
        # A data grid draws its own small text; on a projector the legend is plain text
        # lines (st.text: never Markdown or HTML), side by side to fit under the chart.
        lines = [f"{row['No.']} · {row['Went live']} · {row['Strength']} · "
                 f"{row[action_header]}" for _, row in table.iterrows()]
        half = (len(lines) + 1) // 2
        for place, part in zip(st.columns(2), (lines[:half], lines[half:]), strict=True):
            if part:
                place.text("\n".join(part))
        return
    st.dataframe(table, hide_index=True, width="stretch", key=f"{key}_go_lives",
                 column_config={"No.": st.column_config.NumberColumn(width=48),
                                "Went live": st.column_config.TextColumn(width="small"),
                                "Strength": st.column_config.TextColumn(width="small")})


def bar_figure(frame: pd.DataFrame, *, title: str, horizontal: bool = True,
               large: bool = False) -> go.Figure:
    """A breakdown's bars: named groups across, largest at the top; ordered ones (weeks, days,
    hours) upright, in their order."""
    data = frame.sort_values("count") if horizontal else frame
    # The bars keep their keys as typed (a click reports the key); what plotly draws as text
    # (tick labels, hover) is escaped: it reads a little HTML.
    keys = list(data["key"].astype(str))
    shown = [chart_text(key) for key in keys]
    counts = list(data["count"])
    layout: dict[str, Any] = {
        "title": {"text": chart_text(title)},
        "height": max(260, 28 * len(frame) + 80) if horizontal else 360,
        "margin": TITLED_MARGIN, "font": {"size": 18 if large else 12}}
    if horizontal:  # named categories; the ordered ones (weeks, days, hours) are the portal's
        layout["yaxis"] = {"tickmode": "array", "tickvals": keys, "ticktext": shown}
    return go.Figure(data=[{
        "type": "bar", "x": counts if horizontal else keys, "y": keys if horizontal else counts,
        "customdata": shown, "orientation": "h" if horizontal else "v",
        "marker": {"color": "#0b6e4f"},
        "hovertemplate": "%{customdata}: %{x}<extra></extra>" if horizontal
        else "%{customdata}: %{y}<extra></extra>"}], layout=layout)


def breakdown_table(frame: pd.DataFrame, by: str, *, horizontal: bool = True) -> pd.DataFrame:
    """The bars of a breakdown as a table, top to bottom as the chart reads (largest first
    when the groups are named; in their order for weeks, days and hours)."""
    if horizontal:
        frame = frame.sort_values("count", ascending=False, kind="stable")
    return pd.DataFrame({by: [str(key) for key in frame["key"]],
                         "Near misses": list(frame["count"])})


def session_salt() -> str:
    """A salt per browser session: a person's pseudonym is stable within one view only."""
    import secrets

    return st.session_state.setdefault("gov_salt", secrets.token_hex(8))


def barrier_share_figure(mix: pd.DataFrame, *, height: int,
                         **layout: Any) -> go.Figure:
    """What stopped harm, month by month, as stacked shares (the rows `month`, `barrier`,
    `count` of core's barrier mix); `layout` adds to or replaces the figure's layout (a
    meeting's larger font). Built with graph objects: plotly express took about 90 ms more
    per run for the same chart."""
    # Shares computed here rather than with groupnorm: a hover's %{y} is the raw count then.
    totals = mix.groupby("month")["count"].transform("sum")
    mix = mix.assign(share=(mix["count"] / totals.where(totals > 0) * 100).fillna(0))
    traces = [{
        "type": "scatter", "x": list(rows["month"]), "y": list(rows["share"]),
        "name": str(barrier), "mode": "lines", "stackgroup": "share",
        "customdata": list(rows["count"]), "line": {"color": BARRIER_COLOURS.get(str(barrier))},
        # A hatch as well as a colour tells the bands apart (WCAG 1.4.1): white lines on the
        # band's own colour. Without a background a hatched band was left white (plotly's
        # pattern background is transparent unless set), so only one band showed a colour.
        "fillcolor": _translucent(BARRIER_COLOURS.get(str(barrier))),
        "fillpattern": {"shape": BARRIER_PATTERNS.get(str(barrier), ""), "solidity": 0.25,
                        "fgcolor": "#ffffff",
                        "bgcolor": _translucent(BARRIER_COLOURS.get(str(barrier)))},
        "hovertemplate": "%{x|%b %Y}: %{y:.0f}% (%{customdata})<extra>" + str(barrier)
        + "</extra>"} for barrier, rows in mix.groupby("barrier", sort=False)]
    legend = {"title": {"text": "What stopped harm"}, **layout.pop("legend", {})}
    return go.Figure(data=traces, layout={
        "title": {"text": BARRIER_TITLE}, "height": height, "yaxis": {"title": {"text": "%"}},
        "legend": legend, **layout})


def _translucent(colour: str | None, alpha: float = 0.5) -> str | None:
    """A "#rrggbb" colour at `alpha` (as plotly fills a stacked band by default); None for
    a band without a colour of its own (plotly picks one)."""
    if not colour:
        return None
    red, green, blue = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def barrier_table(mix: pd.DataFrame) -> pd.DataFrame:
    """The stacked chart's numbers: each month's count and share for each barrier."""
    totals = mix.groupby("month")["count"].transform("sum")
    shares = (mix["count"] / totals.where(totals > 0) * 100).fillna(0)
    return pd.DataFrame({"Month": [f"{pd.Timestamp(m):%b %Y}" for m in mix["month"]],
                         "What stopped harm": [str(b) for b in mix["barrier"]],
                         "Near misses": list(mix["count"]),
                         "Share of the month (%)": list(shares.round(0).astype(int))})
