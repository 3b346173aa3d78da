"""Governance trends: are near misses rising? XmR charts with controls' go-live dates."""

from __future__ import annotations

import streamlit as st

from core.views.governance import scope_choices
from ui import governance as gv
from ui.session import current_actor

DIRECTIONS = {"neither": "Neither (more reporting can be good)", "down": "Fewer is better",
              "up": "More is better"}

actor = current_actor()
st.title("Trends")
st.caption("Weekly near misses as a control chart: the mean, the process limits (mean ± 2.66 × "
           "the average moving range) and special-cause signals (a point beyond a limit, a run "
           "of points on one side of the mean, a trend, two of three near a limit). Numbered "
           "markers on the time axis show when an action went live; the table of go-lives "
           "below the chart names them. The icons beside the chart read the latest week: H or "
           "L for a special cause higher or lower, P, F or ? for whether a target will be met.")
scope = gv.scope_picker(actor)
version = gv.version()
type_names = dict(scope_choices(actor).types)

with st.container(horizontal=True, gap="small"):
    series_choice = st.selectbox("Series", ["all", *type_names],
                                 format_func=lambda k: "All near misses" if k == "all"
                                 else type_names[k], key="trend_series")
    chosen = scope if series_choice == "all" else gv.gov.Scope(
        start=scope.start, end=scope.end, service_ids=scope.service_ids,
        type_keys=(series_choice,))
    controls = gv.cached_go_lives(version, actor, chosen)
    go_lives = controls.marks
    direction = st.selectbox("Which way is better?", list(DIRECTIONS),
                             format_func=DIRECTIONS.get, key="trend_direction")
    compare = st.selectbox(
        "Compare before and after a control", [None, *range(len(go_lives))],
        format_func=lambda i: "No comparison" if i is None  # numbered as on the chart
        else f"{i + 1} · {go_lives[i][0]:%d %b %Y}: {go_lives[i][1]}",
        key=f"trend_compare_{series_choice}",  # each series has its own controls
        help="Recalculates the limits from the control's go-live date, so the chart shows "
             "whether the process changed after it.")
    target = st.number_input("Target per week (optional)", min_value=0.0, value=None,
                             step=1.0, key="trend_target")

series = gv.complete_weeks(gv.cached_series(version, actor, chosen))
rebase = [go_lives[compare][0]] if compare is not None else []
if series.empty:
    st.info("No complete week in the period yet.")
    st.stop()
frame = gv.spc_frame(series, rebase, target, direction)
title = ("All near misses per week" if series_choice == "all"
         else f"{type_names[series_choice]}: near misses per week")

left, middle, right = st.columns(3)
left.metric("Near misses in the period", int(series.sum()))
middle.metric("Weekly mean (latest limits)", f"{frame['mean'].iloc[-1]:.1f}")
right.metric("Weeks with a signal", int(frame["special_cause"].sum()))
st.markdown(f"**{gv.spc_summary(frame, target, direction)}**")
gv.show_spc_chart(frame, go_lives, key="trend_chart", title=title, improvement=direction,
                  target=target)
if controls.total > len(go_lives):
    st.caption(f"{controls.total} controls that concern this chart went live in the period; "
               f"the {len(go_lives)} with the most linked near misses are marked. Choose a "
               "service or a type to see its own.")
if rebase and frame["segment"].max() >= 1:
    before = frame[frame["segment"] == 0]["mean"].iloc[0]
    after = frame[frame["segment"] == frame["segment"].max()]["mean"].iloc[0]
    st.info(f"Before {rebase[0]:%d %b %Y} the mean was {before:.1f} a week; since then it is "
            f"{after:.1f} ({(after - before) / before * 100 if before else 0:+.0f}%). "
            "Check the chart for a signal in the new segment before calling it a change.")
