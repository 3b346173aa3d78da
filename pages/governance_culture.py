"""Reporting culture: do staff still feel safe to report, and are reports handled quickly?"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.metrics.findings import updates_finding, weekly_reporting_finding
from ui import governance as gv
from ui import regulator as regulator_ui
from ui.charts import TITLED_MARGIN, chart_with_text
from ui.session import current_actor

actor = current_actor()
st.title("Reporting culture")
st.caption("Rising reporting with steady or falling harm is a healthy sign: people report when "
           "they believe it leads to improvement and does not bring blame.")
scope = gv.scope_picker(actor)
culture, feedback = gv.cached_culture_and_feedback(gv.version(), actor, scope)

cols = st.columns(5)
cols[0].metric("Near misses", culture.reports)
cols[1].metric("Different reporters", culture.distinct_reporters)
cols[2].metric("Reported without a name", f"{culture.anonymous_share:.0%}")
cols[3].metric("Median time to triage",
               f"{culture.median_hours_to_triage:.1f} h"
               if culture.median_hours_to_triage is not None else "—")
cols[4].metric("Median time to acknowledge an escalation",
               f"{culture.median_minutes_to_acknowledge:.0f} min"
               if culture.median_minutes_to_acknowledge is not None else "—",
               help=(f"{culture.acknowledged_late_share:.0%} acknowledged late"
                     if culture.acknowledged_late_share is not None else None))

monthly = culture.monthly
figure = go.Figure(
    data=[{"type": "bar", "x": list(monthly["week"]), "y": list(monthly["reports"]),
           "name": "Near misses", "marker": {"color": "#0b6e4f"}},
          {"type": "scatter", "x": list(monthly["week"]), "y": list(monthly["reporters"]),
           "name": "Reporters", "mode": "lines+markers", "line": {"color": "#e8710a"}}],
    layout={"title": {"text": "Reports and reporters per week"}, "height": 360,
            "margin": TITLED_MARGIN,
            "legend": {"orientation": "h", "y": -0.2}})
chart_with_text(weekly_reporting_finding(monthly), figure, pd.DataFrame({
    "Week": [f"{pd.Timestamp(week):%d %b %Y}" for week in monthly["week"]],
    "Near misses": list(monthly["reports"]), "Reporters": list(monthly["reporters"])}),
    key="culture_chart")
st.subheader("By staff group")
st.dataframe(culture.by_staff_group, hide_index=True, width="stretch")

st.subheader("Regulator clocks: deadlines met on time")
regulator_ui.on_time_section(regulator_ui.cached_on_time(gv.version(), actor, scope),
                             key="culture_regulator")

# -- feedback: do reporters hear what changed because they reported? -------------------------


def _duration(hours: float | None) -> str:
    if hours is None:
        return "—"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


st.subheader("Feedback: what changed because you reported")
cols = st.columns(3)
cols[0].metric("Median time from report to first feedback",
               _duration(feedback.median_hours_to_feedback),
               help=f"Of the {feedback.reports_with_feedback} near misses in the period that "
                    "have a published update linked to them.")
cols[1].metric("Reporters told what changed",
               f"{feedback.reporters_told_share:.0%}"
               if feedback.reporters_told_share is not None else "—",
               help=f"{feedback.reporters_told} of {feedback.named_reporters} people who "
                    "reported under their name in the period (reports: "
                    f"{feedback.named_reports_told} of {feedback.named_reports}). People who "
                    "report without a name see updates with their follow-up code.")
cols[2].metric("Updates published per month",
               f"{feedback.updates_per_month:.1f}"
               if feedback.updates_per_month is not None else "—",
               help=f"{feedback.updates_published} published in the period.")
if feedback.updates_published:
    updates_chart = go.Figure(
        data=[{"type": "bar", "x": list(feedback.monthly["month"]),
               "y": list(feedback.monthly["updates"]), "name": "Updates published",
               "marker": {"color": "#1f77b4"}}],
        layout={"title": {"text": "“What changed” updates published per month"},
                "height": 280, "margin": TITLED_MARGIN})
    chart_with_text(updates_finding(feedback.monthly), updates_chart, pd.DataFrame({
        "Month": [f"{pd.Timestamp(month):%b %Y}" for month in feedback.monthly["month"]],
        "Updates published": list(feedback.monthly["updates"])}), key="feedback_chart")
else:
    st.caption("No “what changed because you reported” update was published in this period. "
               "Publishing even small changes keeps people reporting.")
