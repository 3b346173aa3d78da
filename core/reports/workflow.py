"""The near-miss workflow as a state machine (pure: no database).

new -> triaged -> in review -> actions -> validating -> closed, with two side doors:
a review that needs no action goes straight to validating, and any open report can be
re-classified as an incident when harm turns out to have reached the person (it keeps its
whole history). A closed report is reopened into review only by a quality lead (review issue).
"""

from __future__ import annotations

from collections.abc import Collection

from core.errors import DomainError
from core.reports.vocabulary import ReportStatus as S

OPEN_STATES: tuple[S, ...] = (S.NEW, S.TRIAGED, S.IN_REVIEW, S.ACTIONS, S.VALIDATING)
BOARD_COLUMNS: tuple[S, ...] = OPEN_STATES

LEGAL_MOVES: dict[S, frozenset[S]] = {
    S.NEW: frozenset({S.TRIAGED, S.RECLASSIFIED}),
    S.TRIAGED: frozenset({S.IN_REVIEW, S.RECLASSIFIED}),
    S.IN_REVIEW: frozenset({S.ACTIONS, S.VALIDATING, S.RECLASSIFIED}),
    S.ACTIONS: frozenset({S.VALIDATING, S.RECLASSIFIED}),
    S.VALIDATING: frozenset({S.CLOSED, S.ACTIONS, S.RECLASSIFIED}),
    S.CLOSED: frozenset({S.IN_REVIEW}),
    S.RECLASSIFIED: frozenset(),
}

# Why a move is refused, for the moves people are most likely to try.
_WHY: dict[tuple[S, S], str] = {
    (S.NEW, S.IN_REVIEW): "it has not been triaged yet: answer the four triage questions first",
    (S.NEW, S.ACTIONS): "it has not been triaged yet",
    (S.NEW, S.VALIDATING): "it has not been triaged yet",
    (S.NEW, S.CLOSED): "a near miss is closed only after review and validation",
    (S.TRIAGED, S.ACTIONS): "it has not been reviewed yet",
    (S.TRIAGED, S.VALIDATING): "it has not been reviewed yet",
    (S.TRIAGED, S.CLOSED): "a near miss is closed only after review and validation",
    (S.IN_REVIEW, S.CLOSED): "every validation item needs evidence first (move it to validating)",
    (S.ACTIONS, S.CLOSED): "every validation item needs evidence first (move it to validating)",
    (S.RECLASSIFIED, S.NEW): "it was handed to the incident process and stays there",
}


class IllegalMove(DomainError):
    """A workflow move that is not allowed from the report's current state."""


def is_open(status: S) -> bool:
    return status in OPEN_STATES


def check_move(current: S, target: S) -> None:
    """Raise IllegalMove, saying why, unless `current -> target` is a legal move."""
    if target in LEGAL_MOVES[current]:
        return
    if current == target:
        raise IllegalMove(f"The report is already “{target.label}”: there is nothing to move.")
    if current is S.RECLASSIFIED:
        why = "it was re-classified as an incident and handed to the incident process"
    elif current is S.CLOSED and target is not S.IN_REVIEW:
        why = "it is closed (a quality lead can reopen it into review)"
    else:
        why = _WHY.get((current, target), "that is not the next step in the workflow")
    raise IllegalMove(f"Cannot move from “{current.label}” to “{target.label}”: {why}.")


def check_step(current: S, target: S, *, only_from: Collection[S], why: str) -> None:
    """`check_move` for a use case that makes a legal move from some of its sources only (e.g.
    closed -> in review is reopening, not starting a review); `why` says what to do instead."""
    check_move(current, target)
    if current not in only_from:
        raise IllegalMove(f"Cannot move from “{current.label}” to “{target.label}” this way: "
                          f"{why}.")
