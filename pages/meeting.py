"""Meeting mode: large, high-contrast governance panels that refresh and rotate by themselves.

Open by URL, e.g. /meeting?panels=trend,clusters,culture,controls&every=30 — a meeting-room
screen can stay on it. There is nothing to edit here.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from core.metrics.findings import barrier_finding
from core.metrics.governance import Scope
from core.weeks import week_start_of
from ui import governance as gv
from ui.charts import chart_with_text
from ui.session import current_actor, keep_fragment_signed_in
from ui.text import escape_markdown

PANELS = {"trend": "Near misses week by week", "clusters": "Clusters to review",
          "culture": "Reporting culture", "controls": "What stops harm"}
STYLE = """<style>
[data-testid="stMain"] { background: #ffffff; }
[data-testid="stMain"] h1 { font-size: 3.2rem; color: #0b1f1a; }
[data-testid="stMain"] p, [data-testid="stMain"] li { font-size: 1.6rem; color: #0b1f1a; }
[data-testid="stMetricValue"] { font-size: 4rem; color: #0b1f1a; }
[data-testid="stMetricLabel"] p { font-size: 1.5rem; }
[data-testid="stMain"] [data-testid="stText"] { font-size: 1.2rem; line-height: 1.45;
  color: #0b1f1a; }
</style>"""

actor = current_actor()
st.html(STYLE)
params = st.query_params
chosen = [p for p in str(params.get("panels", ",".join(PANELS))).split(",") if p in PANELS]
chosen = chosen or list(PANELS)
try:
    every = max(10, min(600, int(params.get("every", 30))))
except ValueError:
    every = 30
end = week_start_of(gv.today()) + timedelta(days=7)
scope = Scope(start=end - timedelta(weeks=26), end=end)


def _trend() -> None:
    version = gv.version()
    series = gv.complete_weeks(gv.cached_series(version, actor, scope))
    go_lives = gv.cached_go_lives(version, actor, scope).marks
    if series.empty:
        st.markdown("No complete week yet.")
        return
    frame = gv.spc_frame(series, [], None, "neither")
    st.markdown(f"**{gv.spc_summary(frame, None, 'neither')}**")
    gv.show_spc_chart(frame, go_lives, key="meeting_trend", title="Near misses per week",
                      improvement="neither",
                      large=True, height=440)


def _clusters() -> None:
    clusters = gv.cached_clusters(gv.version(), actor, scope)[:6]
    if not clusters:
        st.markdown("No clusters in the last 26 weeks.")
        return
    for cluster in clusters:
        action = cluster.action_status.replace("_", " ") if cluster.action_status \
            else "no action yet"
        st.markdown(f"- {cluster.status.label}: **{escape_markdown(cluster.type_name)}** in "
                    f"{escape_markdown(cluster.scope_name)}: {cluster.peak} in "
                    f"{cluster.window_days} days "
                    f"(usual {cluster.usual}), {cluster.start:%d %b}–{cluster.end:%d %b} · "
                    f"{action}")


def _culture() -> None:
    culture = gv.cached_culture(gv.version(), actor, scope)
    cols = st.columns(3)
    cols[0].metric("Near misses (26 weeks)", culture.reports)
    cols[1].metric("Different reporters", culture.distinct_reporters)
    cols[2].metric("Median hours to triage",
                   f"{culture.median_hours_to_triage:.1f}"
                   if culture.median_hours_to_triage is not None else "—")


def _controls() -> None:
    mix = gv.cached_barrier_mix(gv.version(), actor, scope)
    if mix.empty:
        st.markdown("No near misses yet.")
        return
    figure = gv.barrier_share_figure(mix, height=600, font={"size": 20},
                                     legend={"orientation": "h", "y": -0.3,
                                             "font": {"size": 18}})
    chart_with_text(barrier_finding(mix), figure, gv.barrier_table(mix), key="meeting_controls",
                    theme=None)


SHOW = {"trend": _trend, "clusters": _clusters, "culture": _culture, "controls": _controls}


@st.fragment(run_every=every)
def rotating_panel() -> None:
    """One panel per refresh, in turn; the figures are re-read each time (cached briefly)."""
    keep_fragment_signed_in()
    turn = st.session_state.get("meeting_turn", -1) + 1
    st.session_state["meeting_turn"] = turn
    panel = chosen[turn % len(chosen)]
    st.title(PANELS[panel])
    SHOW[panel]()
    st.caption(f"Panel {turn % len(chosen) + 1} of {len(chosen)} · next in {every} s · "
               f"{pd.Timestamp.now(tz=gv.settings().zone):%H:%M}")


rotating_panel()
