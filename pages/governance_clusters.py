"""Repeats and clusters: the weekly cluster review, and what keeps happening to whom and where."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.actions.vocabulary import ActionStatus
from core.auth.policy import Capability, can
from ui import governance as gv
from ui.session import current_actor

actor = current_actor()
st.title("Repeats and clusters")
st.caption("Clusters by the triage rule (several of one type in a service or region within a "
           "fortnight, well above the usual rate), run over the whole period; and the people, "
           "places and types that near misses keep repeating at. Is anything being done?")
scope = gv.scope_picker(actor)
version = gv.version()


def _action(status: str | None) -> str:
    return ActionStatus(status).label if status else "No action yet"


clusters = gv.cached_clusters(version, actor, scope)
st.subheader(f"Cluster review · {len(clusters)}")
if not clusters:
    st.info("No clusters in the period.")
else:
    table = pd.DataFrame({
        "Type": [c.type_name for c in clusters],
        "Where": [f"{c.scope_name} ({c.scope})" for c in clusters],
        "From": [c.start for c in clusters],
        "To": [c.end for c in clusters],
        "Peak in 14 days": [c.peak for c in clusters],
        "Usual": [c.usual for c in clusters],
        "Reports": [len(c.references) for c in clusters],
        "Action": [_action(c.action_status) for c in clusters],
    })
    st.dataframe(table, hide_index=True, width="stretch")
    if can(actor, Capability.MANAGE_ACTIONS):
        st.caption("Open a cluster on the triage board to build an action plan for it.")

repeats = gv.cached_repeats(version, actor, scope, gv.session_salt())
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
