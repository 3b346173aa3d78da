"""Control strength: is the service relying on staff recovery, or on reliable controls?"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.actions.vocabulary import Strength
from core.metrics.findings import barrier_finding, strength_finding
from ui import governance as gv
from ui.charts import TITLED_MARGIN, chart_with_text
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
    figure = gv.barrier_share_figure(mix, height=380,
                                     margin=TITLED_MARGIN,
                                     legend={"orientation": "h", "y": -0.25})
    chart_with_text(barrier_finding(mix), figure, gv.barrier_table(mix), key="barrier_mix")
controls = gv.cached_controls(version, actor, gv.today())
cols = st.columns(4)
cols[0].metric("Open actions", controls.open_actions)
cols[1].metric("Overdue actions", controls.overdue)
cols[2].metric("Verified effective", controls.verified_effective)
cols[3].metric("Share of verdicts effective",
               f"{controls.verified_share:.0%}" if controls.verified_share is not None else "—")
if controls.actions_by_strength:
    # Strongest first, as the action hierarchy reads.
    shown = [(s.label, controls.actions_by_strength[s.value]) for s in Strength
             if s.value in controls.actions_by_strength]
    figure = go.Figure(
        data=[{"type": "bar", "x": [label for label, _ in shown], "y": [n for _, n in shown],
               "marker": {"color": "#0b6e4f"}}],
        layout={"title": {"text": "Actions by strength"}, "yaxis": {"title": {"text": "actions"}},
                "height": 320, "margin": TITLED_MARGIN})
    chart_with_text(strength_finding(shown), figure,
                    pd.DataFrame({"Strength": [label for label, _ in shown],
                                  "Actions": [n for _, n in shown]}), key="strength_chart")
else:
    st.info("No actions yet: build action plans from reports, root cause analyses or clusters.")
