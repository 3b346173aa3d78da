"""What changed: the bulletin of "what changed because you reported" updates, for all staff."""

from __future__ import annotations

import streamlit as st

from core.auth.policy import Capability, can
from core.clock import utcnow
from core.config import settings
from core.feedback.queries import BulletinItem
from core.views.feedback import bulletin_header, bulletin_items
from ui.i18n import tr
from ui.session import current_actor
from ui.text import local

actor = current_actor()
_, ngettext = tr().gettext, tr().ngettext
st.title(_("What changed because you reported"))
st.caption(_("Every near miss you report is looked at. These are the changes made because of "
             "them, big and small."))


def _card(item: BulletinItem) -> None:
    # Titles and text are written by staff: shown as text, never as Markdown or HTML.
    with st.container(border=True, key=f"bulletin_update_{item.id}"):
        with st.container(horizontal=True, gap="small"):
            st.badge(_("Published {date}").format(date=local(item.published_at, '%d %b %Y')),
                     color="gray")
            if item.from_your_reports:
                st.badge(_("Because you reported"), icon=":material/favorite:", color="green")
        st.text(item.title)
        st.text(item.what_changed)
        if item.why:
            st.caption(_("Why"))
            st.text(item.why)
        behind = []
        if item.report_count:
            behind.append(ngettext("{count} near miss report", "{count} near miss reports",
                                   item.report_count).format(count=item.report_count))
        behind += [_("Cluster: {name}").format(name=theme) for theme in item.themes]
        behind += [_("Action: {name}").format(name=action) for action in item.actions]
        if behind:
            st.caption(_("Behind it"))
            st.text(" · ".join(behind))
        affects = ", ".join(item.services) or _("All services")
        if item.roles:
            affects += " · " + ", ".join(_(role) for role in item.roles)
        st.caption(_("Affects"))
        st.text(affects)


header = bulletin_header(actor, now=utcnow(), rules=settings())
quarter, services = header.quarter, dict(header.services)

left, right = st.columns(2)
left.metric(_("Changes made because you reported, this quarter"), quarter.changes,
            help=_("Updates published since {date} that you can see here.").format(
                date=f"{quarter.start:%d %b %Y}"))
right.metric(_("From near misses you reported"), quarter.from_your_reports,
             help=_("Updates this quarter linked to reports you filed under your name."))

chosen = st.multiselect(_("Service"), list(services), format_func=services.get,
                        key="bulletin_services", placeholder=_("All my services"))
items = bulletin_items(actor, chosen)

if not items:
    st.info(_("No updates to show yet. Keep reporting: each one will appear here when the "
              "change is made."), icon=":material/campaign:")
    if can(actor, Capability.FILE_REPORT):  # governance reads the bulletin but files nothing
        st.page_link("pages/report.py", label=_("Report a near miss"),
                     icon=":material/edit_note:")
    st.stop()

for bulletin_item in items:
    _card(bulletin_item)
