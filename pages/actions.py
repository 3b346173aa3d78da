"""The action register: every improvement action with its owner, deadline and review date,
what is overdue first; "My actions" for owners; a timeline; CSV and XLSX export.

Widgets in, core calls out (core.actions.queries.register holds the rules of overdue and due
soon). People's free text is shown in dataframes, never as Markdown.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pandas as pd
import streamlit as st

from core.actions.queries import RegisterFilters, RegisterRow
from core.actions.vocabulary import ActionStatus, Strength
from core.config import settings
from core.metrics.findings import timeline_finding
from core.views.actions import register_download
from ui import action_panels as panels
from ui import register as register_reads
from ui.charts import chart_with_text
from ui.register import TIMELINE_LIMIT
from ui.session import current_actor

STATE_TEXT = {"overdue": "⚠ Overdue", "due_soon": "Due soon"}

actor = current_actor()


def _exporters() -> tuple[Callable[[list[RegisterRow]], bytes],
                          Callable[[list[RegisterRow]], bytes]] | None:
    """CSV and XLSX of the register rows (formulas escaped), if the export modules exist."""
    try:
        from core.actions.export import register_rows
        from core.exports.spreadsheet import to_csv, to_xlsx
    except ImportError:
        return None
    return (lambda rows: to_csv(register_rows(rows)),
            lambda rows: to_xlsx(register_rows(rows), sheet="Actions"))


def _every(filters: RegisterFilters, day: date) -> list[RegisterRow]:
    """Every matching action, for a download (the table shows the first REGISTER_LIMIT)."""
    return list(register_download(actor, filters, today=day, rules=settings()))


def _when(row: RegisterRow, day: date) -> str:
    if row.deadline_state == "overdue":
        days = (day - row.deadline).days
        return f"⚠ Overdue {days} {'day' if days == 1 else 'days'}"
    if row.deadline_state == "due_soon":
        days = (row.deadline - day).days
        return "Due today" if days == 0 else f"Due in {days} {'day' if days == 1 else 'days'}"
    return ""


def _table(rows: list[RegisterRow], day: date) -> None:
    frame = pd.DataFrame({
        "Deadline state": [_when(r, day) for r in rows],
        "Plan": [f"action_plan?plan={r.plan_id}" for r in rows],
        "Action": [r.title for r in rows],
        "Owner": [r.owner for r in rows],
        "Status": [r.status.label for r in rows],
        "Deadline": [r.deadline for r in rows],
        "Review": [r.review_date for r in rows],
        "Evidence": [f"{r.checks_done}/{r.checks_total}" for r in rows],
        "Strength": [f"{r.strength.label} · {r.kind}" for r in rows],
        "Service": [r.service or "Several" for r in rows],
        "Test window ends": [r.window_end for r in rows],
        "Still-in-place check": [r.sustainment_due for r in rows],
        "Plan title": [r.plan_title for r in rows],
    })
    date_column = {"format": "DD MMM YYYY"}
    st.dataframe(frame, hide_index=True, width="stretch", key="register_table", column_config={
        "Deadline state": st.column_config.TextColumn(
            "⚠ Deadline", help="Overdue or due soon (open actions only)", width="medium"),
        "Action": st.column_config.TextColumn(width="medium"),
        "Deadline": st.column_config.DateColumn(**date_column),
        "Review": st.column_config.DateColumn(**date_column),
        "Test window ends": st.column_config.DateColumn(**date_column),
        "Still-in-place check": st.column_config.DateColumn(**date_column),
        "Evidence": st.column_config.TextColumn(help="Evidence checks completed / named"),
        "Plan": st.column_config.LinkColumn("Plan", display_text=r"plan=(\d+)$",
                                            help="Open the action plan", width="small"),
    })


def _timeline(shown: register_reads.ShownRegister, day: date) -> None:
    """Deadlines and review dates of the open actions shown, today marked."""
    open_rows = shown.timeline
    if shown.timeline_figure is None:
        st.caption("No open actions to show on the timeline.")
        return
    chart_with_text(timeline_finding([r.deadline_state or "" for r in open_rows]),
                    shown.timeline_figure,
                    pd.DataFrame({
                        "Open action": [f"#{r.id} {r.title}" for r in open_rows],
                        "Deadline": [r.deadline for r in open_rows],
                        "Deadline state": [_when(r, day) or "Later" for r in open_rows],
                        "Review date": [r.review_date for r in open_rows]}),
                    key="register_timeline", config={"displayModeBar": False},
                    column_config={"Deadline": st.column_config.DateColumn(
                        format="DD MMM YYYY"), "Review date": st.column_config.DateColumn(
                        format="DD MMM YYYY")})
    if len(shown.rows) > len(open_rows) and len(open_rows) == TIMELINE_LIMIT:
        st.caption(f"The first {TIMELINE_LIMIT} open actions (overdue first); "
                   "filter to see others.")


def _page() -> None:
    day = panels.today()
    st.title("Action register")
    st.caption("Every improvement action with its owner, deadline and review date. Overdue "
               "actions come first; everyone sees what is overdue.")
    choices = register_reads.filter_choices(actor)
    owners, services = dict(choices.owners), dict(choices.services)

    with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
        mine = st.toggle("My actions", key="register_mine",
                         help="Only the actions you own.")
        chosen_owners = st.multiselect("Owner", list(owners), format_func=owners.get,
                                       key="register_owners", placeholder="Anyone",
                                       disabled=mine)
        statuses = st.multiselect("Status", [s.value for s in ActionStatus],
                                  format_func=lambda v: ActionStatus(v).label,
                                  key="register_statuses", placeholder="Any status")
        chosen_services = st.multiselect("Service", list(services), format_func=services.get,
                                         key="register_services", placeholder="Any service")
        strengths = st.multiselect("Strength", [s.value for s in Strength],
                                   format_func=lambda v: Strength(v).label,
                                   key="register_strengths", placeholder="Any strength")
    with st.container(horizontal=True, gap="medium"):
        overdue_only = st.toggle("Overdue only", key="register_overdue")
        review_week = st.toggle("Review due this week", key="register_review_week")

    filters = RegisterFilters(
        owner_ids=(actor.user_id,) if mine and actor.user_id else tuple(chosen_owners),
        statuses=tuple(statuses), service_ids=tuple(chosen_services),
        strengths=tuple(strengths), overdue_only=overdue_only, review_this_week=review_week)
    page = register_reads.page(actor, filters, today=day)
    rows, counts = list(page.rows), page.counts

    cells = st.columns(5)
    cells[0].metric("Open", counts.open, border=True)
    cells[1].metric("Overdue", counts.overdue, border=True)
    cells[2].metric("Due soon", counts.due_soon, border=True,
                    help="Deadline within the provider's due-soon days.")
    cells[3].metric("In test", counts.in_test, border=True)
    cells[4].metric("Verified effective", counts.verified_effective, border=True)

    if not rows:
        st.info("No actions match." if owners else
                "No actions yet. Build a plan from a near miss under review, a completed root "
                "cause analysis, or a cluster on the triage board.")
        return
    if counts.total > len(rows):
        st.caption(f"{len(rows)} of {counts.total} actions shown: the open ones first, then "
                   "the latest finished. Filter to narrow them; the downloads hold all "
                   f"{counts.total}. Open a plan from the Plan column.")
    else:
        st.caption(f"{len(rows)} actions shown. Open a plan from the Plan column.")
    _table(rows, day)
    with st.container(horizontal=True, vertical_alignment="center"):
        plans = dict.fromkeys((r.plan_id, r.plan_title) for r in rows)
        plan_titles = {pid: f"#{pid} · {title}" for pid, title in plans}
        chosen = st.selectbox("Open a plan", list(plan_titles), format_func=plan_titles.get,
                              index=None, key="register_open_plan", placeholder="Choose a plan",
                              width=420)
        if chosen is not None:
            st.page_link("pages/action_plan.py", label=f"Open action plan #{chosen}",
                         query_params={"plan": str(chosen)}, icon=":material/open_in_new:")
        exporters = _exporters()
        if exporters is not None:
            to_csv, to_xlsx = exporters
            st.download_button("Download CSV", data=lambda: to_csv(_every(filters, day)),
                               file_name=f"action-register-{day:%Y-%m-%d}.csv", mime="text/csv",
                               key="register_csv", on_click="ignore",
                               icon=":material/download:")
            st.download_button(
                "Download XLSX", data=lambda: to_xlsx(_every(filters, day)),
                file_name=f"action-register-{day:%Y-%m-%d}.xlsx",
                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                key="register_xlsx", on_click="ignore", icon=":material/download:")
    st.subheader("Deadlines and review dates")
    _timeline(page, day)
    st.caption(f"Today is {day:%d %b %Y}. Diamonds are deadlines (red: overdue; amber: due "
               f"within {settings().actions.due_soon_days} days), circles review dates.")


_page()
