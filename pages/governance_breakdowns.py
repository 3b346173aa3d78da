"""Breakdowns: where and when near misses happen; click a bar to see its reports."""

from __future__ import annotations

import streamlit as st

from core.auth.policy import Capability, can
from core.config import settings
from core.metrics.findings import breakdown_finding
from core.metrics.governance import DIMENSIONS
from core.views.governance import drill_down
from ui import governance as gv
from ui.charts import chart_with_text
from ui.session import current_actor
from ui.text import escape_markdown, local

actor = current_actor()
st.title("Breakdowns")
scope = gv.scope_picker(actor)
version = gv.version()
salt = gv.session_salt()
dimension = st.segmented_control("By", list(DIMENSIONS), format_func=DIMENSIONS.get,
                                 default="type", key="breakdown_dimension") or "type"
frame = gv.cached_breakdown(version, actor, scope, dimension, salt)
if frame.empty:
    st.info("No near misses in the period and scope chosen.")
    st.stop()
ordered = dimension in ("week", "weekday", "hour")
by = DIMENSIONS[dimension]
selection = chart_with_text(
    breakdown_finding(zip(frame["key"], frame["count"], strict=True), by=by.lower()),
    gv.bar_figure(frame, title=f"Near misses by {by.lower()}", horizontal=not ordered),
    gv.breakdown_table(frame, by, horizontal=not ordered), key="breakdown_chart", on_select="rerun",
    selection_mode="points")
st.caption(f"{int(frame['count'].sum())} near misses · {scope.start:%d %b %Y} to "
           f"{scope.end:%d %b %Y}" + (" · people are shown by a pseudonym that changes with "
                                       "each session" if dimension == "person" else ""))
points = (selection or {}).get("selection", {}).get("points", []) if selection else []
if points and dimension not in ("week", "weekday", "hour") and can(actor,
                                                                    Capability.VIEW_REPORT):
    point = points[0]
    key = point.get("y") if not ordered else point.get("x")
    reports = drill_down(actor, scope, dimension, key, salt=salt, rules=settings())
    st.subheader(f"{escape_markdown(key)}: {len(reports)} near misses")
    reports["occurred"] = [local(d) for d in reports["occurred"]]
    reports.insert(0, "open", [f"near_miss?ref={r}" for r in reports["reference"]])
    st.dataframe(reports, hide_index=True, width="stretch", column_config={
        "open": st.column_config.LinkColumn("Open", display_text="Open")})
elif dimension in ("week", "weekday", "hour"):
    st.caption("Choose another breakdown to open the reports behind a bar.")
else:
    st.caption("Click a bar to list the reports behind it.")
