"""The triage board: its filter choices, one page of columns, clusters, the regulator section.

The board's parts refresh on their own (Streamlit fragments), so each has its view function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.actions.queries import ClusterTheme, cluster_totals, current_clusters
from core.auth.actor import Actor
from core.config import Settings
from core.db import read_session
from core.organisation.queries import service_choices
from core.regulator.queries import ClockView, RegulatorBoard, regulator_board, running_clocks_for
from core.reports.vocabulary import ReportStatus
from core.taxonomy.service import live_taxonomy
from core.triage.board import Board, BoardFilters, load_board


@dataclass(frozen=True, slots=True)
class BoardChoices:
    """What the board's filters offer: types and services by id."""

    type_names: Mapping[str, str]
    service_names: Mapping[int, str]


@dataclass(frozen=True, slots=True)
class BoardColumns:
    """One page of cards per column, with the regulator clocks running of each card that has
    any (by reference)."""

    board: Board
    running_clocks: Mapping[str, tuple[ClockView, ...]]


def board_choices(actor: Actor) -> BoardChoices:
    with read_session() as session:
        services = service_choices(session, actor)
        taxonomy = live_taxonomy(session)
    return BoardChoices(type_names={t.key: t.name for t in taxonomy.types},
                        service_names={s.id: s.label for s in services})


def board_columns(actor: Actor, filters: BoardFilters, *, page_size: int,
                  pages: dict[ReportStatus, int], now: datetime,
                  rules: Settings) -> BoardColumns:
    """The open near misses matching `filters`, most urgent first; a report of a type routed
    to operations counts as an interface failure."""
    with read_session() as session:
        interface_types = tuple(t.key for t in live_taxonomy(session).types
                                if t.route_to == "operations")
        board = load_board(session, actor, filters, now=now, interface_types=interface_types,
                           page_size=page_size, pages=pages)
        clocks = running_clocks_for(session, actor, [
            card.reference for cards in board.columns.values() for card in cards], now=now)
    return BoardColumns(board=board, running_clocks=clocks)


# How many of a cluster's references the board names: the newest, each a report to open. A
# cluster can hold hundreds; all of them would be a wall of text nobody reads.
BOARD_CLUSTER_REFERENCES = 6


def cluster_reports_text(count: int, latest: tuple[str, ...]) -> str:
    """How the board names a cluster's reports: how many, and the newest few."""
    noun = "near miss" if count == 1 else "near misses"
    if not latest:
        return f"{count:,} {noun}"
    more = count - len(latest)
    return (f"{count:,} {noun}: " + ", ".join(latest)
            + (f" (newest first) and {more:,} more" if more > 0 else ""))


def board_clusters(actor: Actor, *, now: datetime, rules: Settings) -> tuple[ClusterTheme, ...]:
    """Cluster episodes of the last weeks, open ones first, each counted and with its newest
    few references (`latest`)."""
    with read_session() as session:
        return tuple(current_clusters(session, actor, now=now, rules=rules,
                                      with_references=False,
                                      latest=BOARD_CLUSTER_REFERENCES))


def board_cluster_totals(actor: Actor, *, now: datetime, rules: Settings) -> tuple[int, int]:
    """How many of the board's cluster episodes are open, and how many in all (the title of
    its closed cluster section)."""
    with read_session() as session:
        return cluster_totals(session, actor, now=now, rules=rules)


def board_regulator(actor: Actor, *, now: datetime, rules: Settings, page_size: int = 8,
                    awaiting_page: int = 1, running_page: int = 1,
                    details: bool = True) -> RegulatorBoard:
    """Events awaiting a decision on reporting to the regulator, and the clocks running: a
    page of each, with their totals (the totals alone without `details`)."""
    with read_session() as session:
        return regulator_board(session, actor, now=now, rules=rules, page_size=page_size,
                               awaiting_page=awaiting_page, running_page=running_page,
                               details=details)
