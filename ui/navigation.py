"""The signed-in person's menu: a link per page their role may open, drawn in the sidebar.

Streamlit's own sidebar menu is switched off (`showSidebarNavigation = false` in
.streamlit/config.toml, and app.py calls `st.navigation` with `position="hidden"`): before
sign-in it listed every file in `pages/` to anonymous visitors, and those links were their
first Tab stops, ahead of the sign-in fields. This menu is drawn only once someone has signed
in, from the pages `core.auth.policy.pages_for` gives their roles, in the same sections and
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from core.auth.policy import PageSpec
from ui.accessibility import mark_current_page
from ui.text import escape_markdown

MENU_KEY = "nm_menu"
PAGES_KEY = "nm_pages"  # this session's st.Page objects (see session_page)


@dataclass(frozen=True)
class MenuEntry:
    """A page of the menu: its section's name as shown (translated; "" for the top), its spec
    and its `st.Page` (titled as shown, with the inbox's unread count)."""

    section: str
    spec: PageSpec
    page: StreamlitPage


def session_page(spec: PageSpec, *, title: str, default: bool) -> StreamlitPage:
    """`st.Page` for `spec`, titled `title`, kept for this session: making one checks its
    file on disk, and app.py makes one per page of the menu at every run (about 1.4 ms a
    run). A session's runs follow one another, so its own objects are never shared between
    two runs at once."""
    kept: dict[tuple[str, str, bool], StreamlitPage] = st.session_state.setdefault(
        PAGES_KEY, {})
    key = (spec.key, title, default)
    page = kept.get(key)
    if page is None:
        page = kept[key] = st.Page(spec.path, title=title, icon=spec.icon, default=default,
                                   visibility="visible" if spec.visible else "hidden")
    return page


def page_menu(entries: Sequence[MenuEntry], current: StreamlitPage, *, label: str) -> None:
    """Draw a link to each visible page in `entries` under its section's name, the sections
    in the order they first appear and the pages in theirs (as `st.navigation` groups them);
    pages of the empty section sit at the top without one. Hidden pages (a report's detail,
    an action plan) are reached from other pages and get no link. The page on screen is drawn
    highlighted by Streamlit and marked `aria-current="page"` for screen readers; the menu is
    a navigation landmark named `label` (in the person's language)."""
    sections: dict[str, list[MenuEntry]] = {}
    for entry in entries:
        if entry.spec.visible:
            sections.setdefault(entry.section, []).append(entry)
    links = [entry for members in sections.values() for entry in members]
    # The page on screen is told to the browser by its link's place in the menu, not by a
    # keyed container around each link: those were 17 more elements to draw at every run.
    current_link = next((place for place, entry in enumerate(links)
                         if entry.page.url_path == current.url_path), None)
    with st.container(key=MENU_KEY):
        for section, members in sections.items():
            if section:
                st.markdown(f"**{escape_markdown(section)}**")
            for entry in members:
                # The title carries the inbox's unread count; the icon is the page's.
                st.page_link(entry.page, width="stretch")
        mark_current_page(MENU_KEY, current_link, len(links), label=label)
