"""Triage board: every open near miss in my services, by state, most urgent first."""

from __future__ import annotations

import math

import streamlit as st

from core.auth.policy import Capability, can
from core.clock import utcnow
from core.i18n import DEFAULT_LANGUAGE, native_name
from core.regulator.queries import ClockView, RegulatorBoard
from core.reports.vocabulary import ReportStatus
from core.reports.workflow import BOARD_COLUMNS
from core.triage.board import FLAG_LABELS, BoardCard, BoardFilters, age_text
from core.triage.vocabulary import EpisodeStatus
from core.views.triage_board import cluster_reports_text
from ui import board as board_reads
from ui import clusters as clusters_ui
from ui import regulator as regulator_ui
from ui.badges import FLAG_COLOURS
from ui.sections import section
from ui.session import current_actor, keep_fragment_signed_in
from ui.text import Badge, badge_line, escape_caption, small_lines

PAGE_SIZE = 8
SEVERITY_LABELS = {"high": "High", "medium": "Medium", "low": "Low", "untriaged": "Not triaged"}
AGE_CHOICES = {"any": "Any age", "day": "Under a day", "week": "1-7 days", "older": "Over 7 days"}
AGE_RANGES = {"any": (None, None), "day": (None, 1), "week": (1, 7), "older": (7, None)}

actor = current_actor()
# The page each card links to, as a page object: linked by its path, each of the 40 links
# looked the file up on disk again.
NEAR_MISS_PAGE = st.Page("pages/near_miss.py")
st.title("Triage board")
st.caption("Open near misses in your services, most urgent first: anyone still at risk and "
           "overdue escalations, then safeguarding and stop-the-line, then high potential "
           "and clusters. Open a card to triage it.")

choices = board_reads.choices(actor)
type_names, service_names = dict(choices.type_names), dict(choices.service_names)


def _card(card: BoardCard, running_clocks: tuple[ClockView, ...]) -> None:
    with st.container(border=True):
        st.page_link(NEAR_MISS_PAGE, label=f"**{card.reference}**",
                     query_params={"ref": card.reference}, icon=":material/open_in_new:")
        # The language it was written in, when not the portal's own: a reviewer may need
        # someone who reads it (the text is kept as written). Then its flags and running
        # clocks. The card's lines and its badges are one element to draw (were two).
        badges: list[Badge] = (
            [(f"{native_name(card.language)} ({card.language.upper()})", "violet",
              ":material/translate:")] if card.language != DEFAULT_LANGUAGE else [])
        badges += [(FLAG_LABELS[flag], FLAG_COLOURS[flag], None) for flag in card.flags]
        badges += regulator_ui.card_clocks(running_clocks)
        severity = (f" · {SEVERITY_LABELS.get(card.severity or '', '')} potential"
                    if card.severity else "")
        lines = small_lines((card.type_name, f"{card.service} · {card.location}",
                             f"{age_text(card.reported_at, utcnow())} old{severity}"))
        st.markdown(f"{lines}  \n{badge_line(badges)}" if badges else lines)


# The board's own inputs: changing one is a click (activity); the minute's refresh is not.
BOARD_INPUTS = ("board_services", "board_types", "board_severities", "board_flags", "board_age",
                *(f"board_page_{status.value}" for status in BOARD_COLUMNS))


@st.fragment(run_every=60)
def board_view() -> None:
    """The board reruns on its own (filters, paging, a refresh each minute), not the page."""
    keep_fragment_signed_in(BOARD_INPUTS)
    with st.container(horizontal=True, gap="small"):
        chosen_services = st.multiselect("Service", list(service_names), key="board_services",
                                         format_func=service_names.get, placeholder="All")
        chosen_types = st.multiselect("Type", list(type_names), key="board_types",
                                      format_func=type_names.get, placeholder="All")
        chosen_severities = st.multiselect("Severity potential", list(SEVERITY_LABELS),
                                           key="board_severities",
                                           format_func=SEVERITY_LABELS.get, placeholder="All")
        chosen_flags = st.multiselect("Flags", list(FLAG_LABELS), key="board_flags",
                                      format_func=FLAG_LABELS.get, placeholder="Any")
        age = st.selectbox("Age", list(AGE_CHOICES), key="board_age",
                           format_func=AGE_CHOICES.get)
    min_age, max_age = AGE_RANGES[age or "any"]
    filters = BoardFilters(tuple(chosen_services), tuple(chosen_types),
                           tuple(chosen_severities), tuple(chosen_flags), min_age, max_age)
    pages = {status: st.session_state.get(f"board_page_{status.value}", 1)
             for status in BOARD_COLUMNS}
    shown = board_reads.columns(actor, filters, page_size=PAGE_SIZE, pages=pages)
    board, clocks = shown.board, shown.running_clocks
    st.caption(f"{board.total} open near misses match. Refreshed {utcnow():%H:%M} UTC.")
    columns = st.columns(len(BOARD_COLUMNS))
    for column, status in zip(columns, BOARD_COLUMNS, strict=True):
        with column:
            st.subheader(f"{_column_title(status)} · {board.counts[status]}")
            for card in board.columns[status]:
                _card(card, clocks.get(card.reference, ()))
            page_count = max(1, math.ceil(board.counts[status] / PAGE_SIZE))
            if page_count > 1:
                st.pagination(page_count, key=f"board_page_{status.value}",
                              max_visible_pages=3)


def clusters_section() -> None:
    """Cluster episodes of the last weeks, open ones first: each a theme to acknowledge,
    dismiss with a reason, or answer with an action plan (seed 2, ex. 3)."""
    waiting, total = board_reads.cluster_totals(actor)
    may_build = can(actor, Capability.MANAGE_ACTIONS)
    with section(f"Clusters · {waiting} open · {total} in six weeks",
                 icon=":material/hub:", key="board_clusters") as shown:
        if shown.open is False:
            return  # its themes and their forms are read and drawn once someone opens it
        clusters = board_reads.clusters(actor)
        clusters_ui.show_notice()
        if not clusters:
            st.caption("No clusters among your services in the last six weeks.")
        for theme in clusters:
            with st.container(border=True):
                with st.container(horizontal=True, vertical_alignment="center", gap="small"):
                    clusters_ui.status_badge(theme)
                    st.text(theme.label)
                    if may_build and theme.status is not EpisodeStatus.LINKED:
                        st.page_link("pages/action_plan.py", label="Create action plan",
                                     query_params={"from": "cluster", "type": theme.type_key,
                                                   "scope": theme.scope,
                                                   "id": str(theme.scope_id),
                                                   "episode": str(theme.episode_id)},
                                     icon=":material/add_task:")
                st.caption(escape_caption(cluster_reports_text(theme.report_count, theme.latest)))
                clusters_ui.decision(actor, theme, prefix="board")


def _column_title(status: ReportStatus) -> str:
    return {ReportStatus.NEW: "New", ReportStatus.TRIAGED: "Triaged",
            ReportStatus.IN_REVIEW: "In review", ReportStatus.ACTIONS: "Actions",
            ReportStatus.VALIDATING: "Validating"}[status]


def regulator_section() -> None:
    """Events to decide on reporting to the regulator, and the clocks running."""
    def board(details: bool) -> RegulatorBoard:
        return board_reads.regulator(
            actor, page_size=regulator_ui.BOARD_PAGE_SIZE,
            awaiting_page=regulator_ui.board_page("awaiting"),
            running_page=regulator_ui.board_page("running"), details=details)

    regulator_ui.board_section(actor, board)


regulator_section()
clusters_section()
board_view()
