"""Control strength: is the service relying on staff recovery, or on reliable controls?"""

from __future__ import annotations

import plotly.express as px
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
    figure = px.area(mix, x="month", y="count", color="barrier", groupnorm="percent",
                     color_discrete_map=gv.BARRIER_COLOURS, labels={"barrier": "What stopped harm"},
                     title="What stopped harm, month by month (share)")
    figure.update_layout(height=380, margin={"l": 10, "r": 10, "t": 50, "b": 10},
                         legend={"orientation": "h", "y": -0.25}, yaxis_title="%")
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
    labels = {s.value: s.label for s in Strength}
    data = {labels.get(k, k): v for k, v in controls.actions_by_strength.items()}
    figure = px.bar(x=list(data), y=list(data.values()), title="Actions by strength",
                    labels={"x": "", "y": "actions"},
                    category_orders={"x": [s.label for s in Strength]})
    figure.update_traces(marker_color="#0b6e4f")
    figure.update_layout(height=320, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    st.plotly_chart(figure, key="strength_chart")
else:
    st.info("No actions yet: build action plans from reports, root cause analyses or clusters.")
