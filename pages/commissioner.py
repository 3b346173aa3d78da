"""Evidence of learning, for commissioners and funders: de-identified and read-only."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.commissioner import views as cv
from core.commissioner.deid import label_notes, show
from core.config import settings
from core.metrics.findings import breakdown_finding
from ui import governance as gv
from ui import regulator as regulator_ui
from ui.charts import TITLED_MARGIN, chart_with_text
from ui.evidence import evidence_for, log_view, period_picker
from ui.session import current_actor
from ui.text import chart_text, escape_caption, escape_markdown

actor = current_actor()
rules = settings()
st.title("Evidence of learning")
st.caption("How near misses are captured, triaged and turned into verified improvements. "
           "Nothing here identifies a person supported, a worker or a reporter: there is no "
           "free text, dates are shown by week, and counts below "
           f"{cv.threshold(rules=rules)} are hidden (with the next smallest where a total "
           "could reveal them). How to read the labels: see the notes at the foot of the page.")
period = period_picker("evidence_period")
log_view(actor, f"evidence:{period.label}")
st.page_link("pages/governance_pack.py", label="Download the governance pack (PDF) and "
             "spreadsheets", icon=":material/download:")

page = evidence_for(actor, period)
trend, tables, breakdowns, clusters = page.trend, page.tables, page.breakdowns, page.clusters
register, per_action, escalations = page.register, page.per_action, page.escalations
culture, feedback = page.culture, page.feedback
on_time_target, clock_tables = page.on_time_target, list(page.clock_tables)

cols = st.columns(4)
cols[0].metric("Near misses in the period", show(breakdowns["type"].total))
cols[1].metric("Different reporters", show(culture.reporters))
cols[2].metric("Median hours to triage", show(culture.median_hours_to_triage))
verified = int((register["Verdict"] == "effective").sum()) if not register.empty else 0
cols[3].metric("Actions verified effective", verified,
               help="Of the actions live in the period (see the action register).")

(trend_tab, where_tab, clusters_tab, actions_tab, per_action_tab, escalation_tab,
 regulator_tab, culture_tab) = st.tabs(
    ["Trend", "Breakdowns", "Clusters and actions", "Action register", "Evidence per action",
     "Escalations", "Regulator clocks", "Reporting culture"], key="evidence_tabs",
    on_change="rerun")
with trend_tab:
    if trend.frame.empty:
        st.info(escape_markdown(trend.note) if trend.note.startswith("No chart") else
                "No complete weeks in the period.")
    else:
        st.markdown(f"**{gv.spc_summary(trend.frame, None, 'neither')}** · near misses per "
                    f"{trend.granularity}, with the last 26 weeks for context")
        gv.show_spc_chart(trend.frame, trend.go_lives, key="evidence_trend",
                          title=f"Near misses per {trend.granularity}",
                          improvement="neither", action_header="Control (its kind)",
                          when=gv.period_label(trend.granularity), unit=trend.granularity)
        note = (trend.note + " Numbered markers show when a control went live; the table names"
                " its kind.")
        if trend.controls_live > len(trend.go_lives):
            note += (f" {trend.controls_live} went live in these weeks; the "
                     f"{len(trend.go_lives)} with the most linked near misses are marked.")
        st.caption(escape_caption(note))
with where_tab:
    dimension = st.segmented_control("By", list(cv.DIMENSIONS), format_func=cv.DIMENSIONS.get,
                                     default="type", key="evidence_dimension") or "type"
    chosen = breakdowns[dimension]
    shown = [(label, cell.value) for label, cell in chosen.rows if not cell.hidden]
    by = cv.DIMENSIONS[dimension]
    figure = go.Figure(
        data=[{"type": "bar", "x": [c for _, c in reversed(shown)],
               "y": [chart_text(label) for label, _ in reversed(shown)], "orientation": "h",
               "marker": {"color": "#0b6e4f"}}],
        layout={"title": {"text": f"Near misses by {by.lower()}"},
                "height": max(260, 30 * len(shown) + 80),
                "margin": TITLED_MARGIN})
    # The table lists every group, the hidden ones as such; bars only for the figures shown.
    table = pd.DataFrame({by: [r[0] for r in chosen.rows],
                          "Near misses": [show(r[1]) for r in chosen.rows]})
    if shown:
        chart_with_text(breakdown_finding(shown, by=by.lower(),
                                          hidden=len(chosen.rows) - len(shown)),
                        figure, table, key="evidence_breakdown")
    else:
        st.dataframe(table, hide_index=True, width="stretch")
    st.caption(f"Total: {show(chosen.total)}. Bars are drawn for the figures shown.")
    st.subheader("By type and service")
    st.dataframe(pd.DataFrame(tables.by_service.records("Type", text=True)), hide_index=True,
                 width="stretch", key="evidence_by_service")
    st.caption(escape_caption(tables.service_note))
    st.subheader(escape_markdown(f"By type, {tables.level.level} by {tables.level.level}"))
    st.dataframe(pd.DataFrame(tables.over_time.records("Type", text=True)), hide_index=True,
                 width="stretch", key="evidence_over_time")
    st.caption(escape_caption(tables.time_note))
with clusters_tab:
    st.dataframe(pd.DataFrame({
        "Type": [c.type_name for c in clusters], "Where": [c.where for c in clusters],
        "Weeks": [f"{c.from_week} – {c.to_week}" for c in clusters],
        "Reports": [show(c.reports) for c in clusters],
        "What was done": ["; ".join(c.actions) or "No action yet" for c in clusters]}),
        hide_index=True, width="stretch")
with actions_tab:
    if register.empty:
        st.info("No action was in hand or reached a verdict in the period.")
    else:
        st.caption("Actions in hand during the period, or that reached a verdict, stopped or "
                   "had a sustainment check in it.")
        st.dataframe(cv.register_as_text(register), hide_index=True, width="stretch")
        st.caption("A rate reads \"suppressed\" when the near misses it counts are from 1 to "
                   f"{cv.threshold(rules=rules) - 1}. Actions are the provider's own controls, "
                   "not people: they are listed and counted exactly.")
with per_action_tab:
    st.markdown("**What changed after each action went live**: the near misses of its theme "
                "in equal windows before and after go-live, its verdict and whether it is "
                "still in place.")
    if per_action.rows:
        st.dataframe(pd.DataFrame(per_action.records(text=True)), hide_index=True,
                     width="stretch", key="evidence_per_action")
    else:
        st.info("No action with a test window was live in the period.")
    st.caption(escape_caption(per_action.note))
with escalation_tab:
    st.dataframe(pd.DataFrame({
        "Kind": [e.kind for e in escalations], "Raised": [show(e.raised) for e in escalations],
        "Median minutes to acknowledge": [show(e.median_minutes) for e in escalations],
        "Acknowledged in time": [show(e.within_time) for e in escalations]}),
        hide_index=True, width="stretch")
with regulator_tab:
    regulator_ui.commissioner_tables(on_time_target, clock_tables)
with culture_tab:
    cols = st.columns(3)
    cols[0].metric("Near misses", show(culture.reports))
    cols[1].metric("Reported without a name", show(culture.anonymous_share))
    cols[2].metric("Median hours to triage", show(culture.median_hours_to_triage))
    st.subheader("What changed because people reported")
    st.dataframe(pd.DataFrame({
        "Month": [f.month for f in feedback], "Updates published": [f.updates for f in feedback],
        "Reports behind them": [show(f.reports_behind_them) for f in feedback]}),
        hide_index=True, width="stretch")

st.divider()
st.markdown("**How to read the figures**")
for note in label_notes(cv.threshold(rules=rules)):
    st.caption(escape_caption(f"\"{note.term}\": {note.meaning}"))
