"""Sections (expanders) that draw their contents only while open.

An expander made with a key and `on_change="rerun"` tells the page whether it is open
(`.open`), so a closed one can skip reading and drawing what it hides. Streamlit names such an
expander by its title as well as its key: when a count in the title changes (a decision
recorded inside it), a new expander is drawn with its default state, closed. `section`
carries an open section's state over to it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.elements.lib.mutable_expander_container import ExpanderContainer

from ui.text import escape_label


def section(title: str, *, key: str, **options: Any) -> ExpanderContainer:
    """An expander keyed `key` that says whether it is open (`.open`), and if it was open,
    stays open whatever its title says now. `options` as for `st.expander`; the title is
    shown as text (escaped)."""
    if st.session_state.get(key):
        st.session_state[key] = True
    return st.expander(escape_label(title), key=key, on_change="rerun", **options)
