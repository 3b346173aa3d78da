"""Sections (expanders) that draw their contents only while open.

An expander made with a key and `on_change="rerun"` tells the page whether it is open
(`.open`), so a closed one can skip reading and drawing what it hides. Streamlit names such an
expander by its title as well as its key: when a count in the title changes (a decision
recorded inside it), a new expander is drawn with its default state, closed. `keep_open`
carries an open section's state over to it.
"""

from __future__ import annotations

import streamlit as st


def keep_open(key: str) -> None:
    """Call before drawing the expander keyed `key`: if it was open, it stays open, whatever
    its title says now."""
    if st.session_state.get(key):
        st.session_state[key] = True
