"""Near-miss cues (administrators): edit each role's one-page guide, shown beside the report
form, with a live preview and a print view."""

from __future__ import annotations

import streamlit as st

from core.clock import utcnow
from core.errors import DomainError, ValidationFailed
from core.feedback.cues import GUIDES, MAX_CHARS, restore_shipped_guide, save_guide
from core.uow import UnitOfWork
from core.views.admin import cue_guides
from ui.accessibility import error_summary, field_message, mark_invalid_fields
from ui.session import current_actor
from ui.text import escape_layout, escape_markdown, local

SELECTED = "cues_guide"
ERRORS = "cues_errors"
NOTICE = "cues_notice"
REFUSALS = "cues_refusals"  # refused saves so far: each one focuses the summary again
SUMMARY = "cues_error_summary"
# Printing from the browser: leave out the sidebar, the menus and the editor.
PRINT_CSS = """<style>
@media print {
  [data-testid="stSidebar"], [data-testid="stHeader"], [data-testid="stToolbar"],
  [data-testid="stTabs"] [role="tablist"] { display: none !important; }
  [data-testid="stVerticalBlock"]:not(.st-key-cues_print, .st-key-cues_print *)
    > *:not(:has(.st-key-cues_print)):not(.st-key-cues_print) { display: none !important; }
  .st-key-cues_print { border: none !important; }
}
</style>"""

actor = current_actor()


def _text_key(key: str) -> str:
    return f"cues.{key}.markdown"


def _save(key: str) -> None:
    st.session_state.pop(ERRORS, None)
    try:
        save_guide(UnitOfWork(), actor, key, st.session_state.get(_text_key(key)) or "",
                   now=utcnow())
    except ValidationFailed as exc:
        st.session_state[ERRORS] = exc.errors
        st.session_state[REFUSALS] = st.session_state.get(REFUSALS, 0) + 1
        st.session_state[NOTICE] = ("error", "Not saved yet: see below.")
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
    else:
        st.session_state[NOTICE] = ("success", f"Saved. Staff see the new {GUIDES[key].lower()} "
                                               "guide beside the report form now.")


def _restore(key: str) -> None:
    try:
        restore_shipped_guide(UnitOfWork(), actor, key, now=utcnow())
    except DomainError as exc:
        st.session_state[NOTICE] = ("error", str(exc))
        return
    st.session_state.pop(_text_key(key), None)  # the editor reloads the shipped text
    st.session_state[NOTICE] = ("success", "Back to the shipped text.")


st.title("Near-miss cues")
st.caption("One page per role, shown beside the report form so people can tell a near miss "
           "in seconds. If staff have to debate whether something counts, they under-report.")

guides = {g.key: g for g in cue_guides()}
key = st.selectbox("Guide", list(GUIDES), format_func=GUIDES.get, key=SELECTED)
guide = guides[key]

with st.container(key="cues_notice_slot"):
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        kind, message = notice
        if kind == "success":
            st.success(escape_markdown(message))
        elif st.session_state.get(ERRORS):  # the one alert of a refused save, focused
            error_summary(SUMMARY, escape_markdown(message))
        else:
            st.error(escape_markdown(message))

if guide.edited:
    st.caption(f"Last edited {local(guide.updated_at)} by "
               f"{escape_markdown(guide.updated_by or 'an administrator')}.")
else:
    st.caption(f"The shipped text (data/cues/{key}.md): nobody has edited it here yet.")

edit_tab, print_tab = st.tabs(["Edit", "Print view"])
with edit_tab:
    with st.container(key="cues_editor"):
        left, right = st.columns(2)
        with left:
            st.text_area("Guide", value=guide.markdown, key=_text_key(key), height=480,
                         help="Shown exactly as typed. A line starting with \\# is a heading, "
                              "one starting with \\- a list item; a blank line starts a new "
                              f"paragraph. Up to {MAX_CHARS} characters (one printed page).")
            # Beside the guide (text, not an alert of its own).
            field_message(_text_key(key), (st.session_state.get(ERRORS) or {}).get("markdown"))
        with right:
            st.caption("Preview: as staff see it beside the report form")
            with st.container(border=True):
                # Headings and list items kept; the text itself as typed (never Markdown).
                st.markdown(escape_layout(st.session_state.get(_text_key(key), guide.markdown)))
    with st.container(horizontal=True, gap="small", key="cues_controls"):
        st.button("Save guide", key="cues_save", type="primary", icon=":material/save:",
                  on_click=_save, args=(key,))
        if guide.edited:
            st.button("Restore the shipped text", key="cues_restore",
                      icon=":material/settings_backup_restore:", on_click=_restore, args=(key,))
    if (st.session_state.get(ERRORS) or {}).get("markdown"):
        mark_invalid_fields([_text_key(key)], summary_key=SUMMARY,
                            attempt=str(st.session_state.get(REFUSALS, 0)))

with print_tab:
    st.html(PRINT_CSS)
    st.caption("Print with your browser (Ctrl+P, or ⌘P on a Mac): the menus are left out. "
               "This shows the saved guide.")
    with st.container(border=True, key="cues_print"):
        st.markdown(escape_layout(guide.markdown))
