"""Repeats and clusters: the weekly cluster review, and what keeps happening to whom and where."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.actions.vocabulary import ActionStatus
from core.auth.policy import Capability, can
from core.config import settings
from core.triage.episode_decisions import may_decide
from core.triage.vocabulary import EpisodeStatus
from ui import clusters as clusters_ui
from ui import governance as gv
from ui.session import current_actor

actor = current_actor()
st.title("Repeats and clusters")
st.caption("Cluster episodes by the triage rule (unusually many of one type in a service or "
           "region within a few days, judged against a false-alarm budget; one burst is one "
           "episode), open ones first; and the people, places and types that near misses keep "
           "repeating at. Is anything being done?")
scope = gv.scope_picker(actor)
version = gv.version()
window = settings().triage.cluster_window_days


def _action(status: str | None) -> str:
    return ActionStatus(status).label if status else "No action yet"


clusters = gv.cached_clusters(version, actor, scope)
waiting = [c for c in clusters if c.status in (EpisodeStatus.OPEN, EpisodeStatus.ACKNOWLEDGED)]
st.subheader(f"Cluster review · {len(clusters)}")
clusters_ui.show_notice()
if not clusters:
    st.info("No clusters in the period.")
else:
    table = pd.DataFrame({
        "Status": [c.status.label for c in clusters],
        "Type": [c.type_name for c in clusters],
        "Where": [f"{c.scope_name} ({c.scope})" for c in clusters],
        "From": [c.start for c in clusters],
        "To": [c.end for c in clusters],
        f"Peak in {window} days": [c.peak for c in clusters],
        "Usual": [c.usual for c in clusters],
        "Reports": [c.report_count for c in clusters],
        "Action": [_action(c.action_status) for c in clusters],
    })
    st.dataframe(table, hide_index=True, width="stretch")
    if can(actor, Capability.MANAGE_ACTIONS):
        st.caption("Open a cluster on the triage board to build an action plan for it.")
if waiting and any(may_decide(actor, c.services) for c in waiting):
    st.markdown("**Decide on open clusters**")
    for cluster in waiting:
        with st.container(border=True):
            with st.container(horizontal=True, vertical_alignment="center", gap="small"):
                clusters_ui.status_badge(cluster)
                st.text(cluster.label)
            clusters_ui.decision(actor, cluster, prefix="gov")

repeats = gv.repeats_in_view(version, actor, scope)
st.subheader("Repeating near misses")
for kind, title in (("person", "People supported (pseudonymised)"), ("location", "Places"),
                    ("type", "Types")):
    rows = [r for r in repeats if r.kind == kind]
    st.markdown(f"**{title}**")
    if not rows:
        st.caption("None repeating three times or more in the period.")
        continue
    st.dataframe(pd.DataFrame({
        "": [r.label for r in rows], "Near misses": [r.count for r in rows],
        "Latest": [r.last.date() for r in rows],
        "Action": [_action(r.action_status) for r in rows]}),
        hide_index=True, width="stretch")
