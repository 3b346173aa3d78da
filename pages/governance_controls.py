"""Control strength: is the service relying on staff recovery, or on reliable controls?"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from core.actions.vocabulary import Strength
from ui import governance as gv
from ui.session import current_actor

actor = current_actor()
st.title("Control strength")
st.caption("Seed 2: repeated near misses may show the system relies too much on staff "
           "recovery rather than reliable prevention. Are findings leading to stronger "
           "controls?")
scope = gv.scope_picker(actor)
version = gv.version()
mix = gv.cached_barrier_mix(version, actor, scope)
if not mix.empty:
    figure = gv.barrier_share_figure(mix, height=380)
    figure.update_layout(title="What stopped harm, month by month (share)",
                         margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.25})
    st.plotly_chart(figure, key="barrier_mix")
    totals = mix.groupby("barrier")["count"].sum()
    recovery = totals.get("Staff noticed and recovered it", 0) / totals.sum()
    st.markdown(f"**{recovery:.0%}** of near misses in the period were stopped by staff "
                "noticing and recovering; the rest by designed controls, the person or family, "
                "or chance.")
controls = gv.cached_controls(version, actor, gv.today())
cols = st.columns(4)
cols[0].metric("Open actions", controls.open_actions)
cols[1].metric("Overdue actions", controls.overdue)
cols[2].metric("Verified effective", controls.verified_effective)
cols[3].metric("Share of verdicts effective",
               f"{controls.verified_share:.0%}" if controls.verified_share is not None else "—")
if controls.actions_by_strength:
    # Strongest first, as the action hierarchy reads.
    shown = [s for s in Strength if s.value in controls.actions_by_strength]
    figure = go.Figure(go.Bar(x=[s.label for s in shown],
                              y=[controls.actions_by_strength[s.value] for s in shown],
                              marker_color="#0b6e4f"))
    figure.update_layout(title="Actions by strength", yaxis_title="actions", height=320,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10})
    st.plotly_chart(figure, key="strength_chart")
else:
    st.info("No actions yet: build action plans from reports, root cause analyses or clusters.")
