"""The triage board's reads, each kept by the data version and the minute.

A board run repeated with nothing written (a filter chosen back, a page of a column turned, a
return to the board) is served from these caches; any committed write moves the data version
(core.audit.queries.data_version), so the next run reads afresh. What changes with the clock
alone (an escalation falling overdue, a regulator clock's time left) is read as of the minute:
the board says "Refreshed HH:MM" and refreshes itself each minute. Each entry is kept for the
person who read it (the whole actor), not shared by lens as the governance figures are.
"""

from __future__ import annotations

from datetime import datetime

from core.actions.queries import ClusterTheme
from core.auth.actor import Actor
from core.clock import utcnow
from core.config import settings
from core.regulator.queries import RegulatorBoard
from core.reports.vocabulary import ReportStatus
from core.triage.board import BoardFilters
from core.views import triage_board as views
from ui.governance import kept_per_person, version

__all__ = ["choices", "cluster_totals", "clusters", "columns", "regulator"]


def _minute() -> datetime:
    return utcnow().replace(second=0, microsecond=0)


def choices(actor: Actor) -> views.BoardChoices:
    """The filters' types and services by name."""
    return _choices(version(), actor)


def columns(actor: Actor, filters: BoardFilters, *, page_size: int,
            pages: dict[ReportStatus, int]) -> views.BoardColumns:
    """One page of cards per column, most urgent first, as of this minute."""
    return _columns(version(), actor, filters, page_size, tuple(sorted(pages.items())),
                    _minute())


def cluster_totals(actor: Actor) -> tuple[int, int]:
    """How many of the board's cluster episodes are open, and how many in all."""
    return _cluster_totals(version(), actor, _minute())


def clusters(actor: Actor) -> tuple[ClusterTheme, ...]:
    """The cluster episodes of the last weeks, open ones first."""
    return _clusters(version(), actor, _minute())


def regulator(actor: Actor, *, page_size: int, awaiting_page: int, running_page: int,
              details: bool) -> RegulatorBoard:
    """The regulator section: a page of events to decide and of clocks running, as of this
    minute (the totals alone without `details`)."""
    return _regulator(version(), actor, page_size, awaiting_page, running_page, details,
                      _minute())


# The cached reads. `version` and `minute` are named without an underscore so that Streamlit
# keys the entries by them.
_kept = kept_per_person(BoardFilters)


@_kept
def _choices(version: int, actor: Actor) -> views.BoardChoices:
    return views.board_choices(actor)


@_kept
def _columns(version: int, actor: Actor, filters: BoardFilters, page_size: int,
             pages: tuple[tuple[ReportStatus, int], ...],
             minute: datetime) -> views.BoardColumns:
    return views.board_columns(actor, filters, page_size=page_size, pages=dict(pages),
                               now=minute, rules=settings())


@_kept
def _cluster_totals(version: int, actor: Actor, minute: datetime) -> tuple[int, int]:
    return views.board_cluster_totals(actor, now=minute, rules=settings())


@_kept
def _clusters(version: int, actor: Actor, minute: datetime) -> tuple[ClusterTheme, ...]:
    return views.board_clusters(actor, now=minute, rules=settings())


@_kept
def _regulator(version: int, actor: Actor, page_size: int, awaiting_page: int,
               running_page: int, details: bool, minute: datetime) -> RegulatorBoard:
    return views.board_regulator(actor, now=minute, rules=settings(), page_size=page_size,
                                 awaiting_page=awaiting_page, running_page=running_page,
                                 details=details)
