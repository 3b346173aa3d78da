"""My reports: what the signed-in worker has reported under their name, where each one is, and
what changed because of it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.clock import utcnow
from core.errors import DomainError
from core.escalation.service import mark_read
from core.feedback.queries import ReportUpdate
from core.uow import UnitOfWork
from core.views.reporting import my_reports_page
from ui.i18n import current_language, message, tr
from ui.session import current_actor
from ui.text import escape_caption, escape_markdown, local

actor = current_actor()
_, ngettext = tr().gettext, tr().ngettext
st.title(_("My reports"))
st.caption(_("The near misses you reported under your name, newest first. Reports filed "
             "without your name are not listed: nothing links them to you."))

page = my_reports_page(actor, current_language())
rows, counts, told, updates = list(page.rows), page.counts, page.told, page.updates
unread = list(page.unread_notification_ids)
type_names = page.type_names

if not rows:
    st.info(_("You have not reported a near miss under your name yet."))
    st.page_link("pages/report.py", label=_("Report a near miss"), icon=":material/edit_note:")
    st.stop()

left, middle, right = st.columns(3)
left.metric(_("Reported"), counts.reported)
middle.metric(_("Still being worked on"), counts.being_worked_on)
right.metric(_("Changed something"), told,
             help=_("Reports with a published “what changed because you reported” update."))
if counts.reported > len(rows):
    st.caption(_("Your newest {shown} of {total} reports are listed below.").format(
        shown=len(rows), total=counts.reported))


def _mark_read(ids: list[int]) -> None:
    try:
        mark_read(UnitOfWork(), actor, ids, now=utcnow())
    except DomainError as exc:
        st.session_state["my_reports_notice"] = message(exc)


if unread:
    with st.container(horizontal=True, gap="small", key="my_reports_new_updates"):
        st.info(ngettext("{count} new “what changed” update about your reports: see below.",
                         "{count} new “what changed” updates about your reports: see below.",
                         len(unread)).format(count=len(unread)), icon=":material/campaign:")
        st.button(_("Mark as read"), key="my_reports_mark_read", on_click=_mark_read,
                  args=(unread,))
notice = st.session_state.pop("my_reports_notice", None)
if notice:
    st.error(escape_markdown(notice))

WHAT_HAPPENED = _("What happened")
table = pd.DataFrame(
    {
        _("Reference"): [r.reference for r in rows],
        _("Reported"): [local(r.reported_at) for r in rows],
        _("Type"): [type_names.get(r.type_name, r.type_name) for r in rows],
        _("Where"): [f"{r.service} · {r.location}" for r in rows],
        _("Status"): [_(r.status.label) for r in rows],
        _("What changed"): ["; ".join(u.title for u in updates.get(r.reference, []))
                            for r in rows],
        # Kept as written, in the language it was written in.
        WHAT_HAPPENED: [r.description for r in rows],
    }
)
# st.dataframe shows cell text as text (no Markdown or HTML), which is right for free text.
st.dataframe(table, hide_index=True, width="stretch",
             column_config={WHAT_HAPPENED: st.column_config.TextColumn(width="large")})


def _update_card(update: ReportUpdate) -> None:
    with st.container(border=True):
        with st.container(horizontal=True, gap="small"):
            st.badge(_("Published {date}").format(date=local(update.published_at, '%d %b %Y')),
                     color="gray")
            if update.unread:
                st.badge(_("New"), color="green")
        st.text(update.title)  # staff's free text: as text, never Markdown or HTML
        st.text(update.what_changed)
        if update.why:
            st.caption(_("Why"))
            st.text(update.why)


changed = [r for r in rows if r.reference in updates]
if changed:
    st.subheader(_("What changed because you reported"))
    for row in changed:
        with st.container(key=f"my_report_updates_{row.reference}"):
            st.markdown(f"**{row.reference}** · {_(row.status.label)}")
            st.caption(escape_caption(type_names.get(row.type_name, row.type_name)))
            for linked_update in updates[row.reference]:
                _update_card(linked_update)
