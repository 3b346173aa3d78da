"""Home: what needs you now, a section per role you hold, most urgent first.

Every count and its words come from core.views.home; each tile links to the page that clears
it. The badge says in words how urgent a tile is, so colour is never the only sign.
"""

from __future__ import annotations

import streamlit as st

from core.auth.policy import page_spec
from core.clock import utcnow
from core.config import settings
from core.views.home import Tile, Urgency, home_page
from ui.session import current_actor
from ui.text import escape_caption, escape_label, escape_markdown

COLUMNS = 3
URGENCY_COLOURS: dict[Urgency, str] = {
    Urgency.OVERDUE: "red",
    Urgency.WAITING: "orange",
    Urgency.FOR_INFORMATION: "blue",
    Urgency.NOTHING: "green",
}
URGENCY_ICONS: dict[Urgency, str] = {
    Urgency.OVERDUE: ":material/alarm:",
    Urgency.WAITING: ":material/pending_actions:",
    Urgency.FOR_INFORMATION: ":material/info:",
    Urgency.NOTHING: ":material/check_circle:",
}

actor = current_actor()
st.title("Home")
st.caption("What needs you now, most urgent first. Each count opens the page where you "
           "deal with it.")
home = home_page(actor, now=utcnow(), rules=settings())


def _tile(tile: Tile) -> None:
    with st.container(border=True, key=f"home_tile_{tile.key}"):
        st.badge(escape_markdown(tile.urgency.label), color=URGENCY_COLOURS[tile.urgency],
                 icon=URGENCY_ICONS[tile.urgency])
        if tile.count is None:
            st.markdown(f"**{escape_markdown(tile.title)}**")
        else:
            st.metric(escape_label(tile.title), int(tile.count))
        st.markdown(escape_markdown(tile.label))
        if tile.detail:
            st.caption(escape_caption(tile.detail))
        st.page_link(page_spec(tile.page).path, label=escape_label(tile.link),
                     query_params=dict(tile.query) or None, icon=":material/arrow_forward:")


if not home.sections:
    st.info("Nothing waiting for you.")
for section in home.sections:
    st.subheader(escape_markdown(section.title))
    columns = st.columns(COLUMNS)
    for index, tile in enumerate(section.tiles):
        with columns[index % COLUMNS]:
            _tile(tile)
