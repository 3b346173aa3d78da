"""Near Miss Portal: sign in, then the pages this user's role may open.

Run with `make run` (demo data on SQLite) or `streamlit run app.py`.
"""

from __future__ import annotations

import streamlit as st

from core.auth.policy import default_page, pages_for
from core.config import settings
from core.errors import StorageUnavailable
from ui.accessibility import apply_accessible_styles, focus_main_heading, set_document_language
from ui.i18n import current_language, message, tr
from ui.navigation import MenuEntry, page_menu, session_page
from ui.session import (
    FOCUS_AFTER_SIGN_IN,
    authenticator,
    end_session,
    follow_return_to,
    keep_cookie,
    signed_in_actor,
    unread_notifications,
)
from ui.startup import startup_problem
from ui.text import escape_markdown

# The layout is set once per run, below. The browser compares each page config with its layout
# before the previous one has applied: "centered" then "wide" in one run can leave it centred.
st.set_page_config(page_title="Near Miss Portal", page_icon=":material/health_and_safety:")
apply_accessible_styles()



problem = startup_problem()
if problem:
    st.set_page_config(layout="centered")
    st.title("Near Miss Portal")
    st.error(problem)
    st.stop()

auth = authenticator()
actor = signed_in_actor(auth)
# After sign-in, which adopts the language of the person's profile: a screen reader reads the
# page in the language it is written in.
set_document_language(current_language())
_ = tr().gettext
if actor is None:
    st.set_page_config(layout="centered", page_title=_("Sign in · Near Miss Portal"))
    st.stop()

unread = unread_notifications(actor)
navigation: dict[str, list[st.Page]] = {}
menu: list[MenuEntry] = []  # drawn by ui.navigation.page_menu
entries_by_url: dict[str, st.Page] = {}
titles_by_url: dict[str, str] = {}  # without the inbox's unread count
wide_pages: set[str] = set()
landing = default_page(actor.roles)
for page in pages_for(actor.roles):
    page_title = _(page.title)
    title = f"{page_title} · {unread}" if page.key == "inbox" and unread else page_title
    entry = session_page(page, title=title, default=page is landing)
    section = _(page.section) if page.section else ""
    navigation.setdefault(section, []).append(entry)
    menu.append(MenuEntry(section, page, entry))
    entries_by_url[entry.url_path] = entry
    titles_by_url[entry.url_path] = page_title
    if page.wide:
        wide_pages.add(entry.url_path)

# Streamlit's own menu stays hidden (and so does its automatic list of pages/ before sign-in,
# by showSidebarNavigation = false): the sidebar draws this person's menu itself.
current = st.navigation(navigation, position="hidden")
with st.sidebar:
    page_menu(menu, current, label=_("Pages"))
    st.divider()
    st.markdown(f"**{settings().provider_name}**")
    st.caption(_("Signed in as {name}").format(name=escape_markdown(actor.display_name))
               + "  \n" + ", ".join(sorted(_(role.label) for role in actor.roles)))
    if st.button(_("Sign out"), key="sign_out", icon=":material/logout:", width="stretch"):
        end_session(auth)
        st.rerun()

# A deep link that arrived before sign-in (see ui.session.current_actor) goes where it asked,
# if this person's role may open that page.
return_to = follow_return_to(current.url_path, entries_by_url)
if return_to is not None:
    url_path, query = return_to
    st.switch_page(entries_by_url[url_path], query_params=query)
keep_cookie(auth, actor)
# Layout per page, set before the page runs (boards and charts use the whole screen), and the
# browser tab titled by the page, so a screen reader and a row of tabs tell pages apart.
st.set_page_config(layout="wide" if current.url_path in wide_pages else "centered",
                   initial_sidebar_state="collapsed" if current.url_path == "meeting" else None,
                   page_title=f"{titles_by_url[current.url_path]} · Near Miss Portal")
# Keyboard and screen-reader users start reading at the page's title after signing in.
if st.session_state.pop(FOCUS_AFTER_SIGN_IN, False):
    focus_main_heading()
try:
    current.run()
except StorageUnavailable as exc:
    # Lost mid-page: say so plainly. st.stop() ends the run early, and Streamlit keeps the
    # values of widgets a stopped run did not reach, so nothing typed is lost.
    st.error(escape_markdown(message(exc)), icon=":material/cloud_off:")
    st.button(_("Try again"), key="storage_retry", icon=":material/refresh:")
    st.stop()
