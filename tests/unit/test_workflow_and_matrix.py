"""The workflow state machine (every move) and the severity x recurrence matrix (pure)."""

from __future__ import annotations

import itertools

import pytest

from core.config import TriageRules
from core.reports.vocabulary import ReportStatus as S
from core.reports.workflow import LEGAL_MOVES, IllegalMove, check_move
from core.triage.matrix import matrix_cells, review_level
from core.triage.vocabulary import Recurrence, ReviewLevel, Severity

LEGAL = {
    (S.NEW, S.TRIAGED), (S.NEW, S.RECLASSIFIED),
    (S.TRIAGED, S.IN_REVIEW), (S.TRIAGED, S.RECLASSIFIED),
    (S.IN_REVIEW, S.ACTIONS), (S.IN_REVIEW, S.VALIDATING), (S.IN_REVIEW, S.RECLASSIFIED),
    (S.ACTIONS, S.VALIDATING), (S.ACTIONS, S.RECLASSIFIED),
    (S.VALIDATING, S.CLOSED), (S.VALIDATING, S.ACTIONS), (S.VALIDATING, S.RECLASSIFIED),
    (S.CLOSED, S.IN_REVIEW),
}


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_legal_moves_are_allowed(current, target):
    check_move(current, target)


@pytest.mark.parametrize(("current", "target"),
                         sorted(set(itertools.product(S, S)) - LEGAL))
def test_every_other_move_is_refused_with_a_reason(current, target):
    with pytest.raises(IllegalMove) as refused:
        check_move(current, target)
    message = str(refused.value)
    assert target.label in message
    assert len(message) > 40  # it says why, not just "no"


def test_the_table_matches_the_documented_workflow():
    assert {(a, b) for a, targets in LEGAL_MOVES.items() for b in targets} == LEGAL


def test_skipping_triage_says_why():
    with pytest.raises(IllegalMove, match="not been triaged"):
        check_move(S.NEW, S.IN_REVIEW)
    with pytest.raises(IllegalMove, match="incident process"):
        check_move(S.RECLASSIFIED, S.TRIAGED)


DEFAULT = TriageRules()


@pytest.mark.parametrize(("severity", "recurrence", "level"), [
    (Severity.LOW, Recurrence.SINGLE, ReviewLevel.NONE),
    (Severity.LOW, Recurrence.REPEAT, ReviewLevel.SUPERVISOR_REVIEW),
    (Severity.LOW, Recurrence.CLUSTER, ReviewLevel.BARRIER_REVIEW),
    (Severity.MEDIUM, Recurrence.SINGLE, ReviewLevel.SUPERVISOR_REVIEW),
    (Severity.MEDIUM, Recurrence.REPEAT, ReviewLevel.SUPERVISOR_REVIEW),
    (Severity.MEDIUM, Recurrence.CLUSTER, ReviewLevel.BARRIER_REVIEW),
    (Severity.HIGH, Recurrence.SINGLE, ReviewLevel.BARRIER_REVIEW),
    (Severity.HIGH, Recurrence.REPEAT, ReviewLevel.BARRIER_REVIEW),
    (Severity.HIGH, Recurrence.CLUSTER, ReviewLevel.ROOT_CAUSE_ANALYSIS),
])
def test_default_matrix(severity, recurrence, level):
    assert review_level(severity, recurrence, DEFAULT) == level


def test_high_potential_or_cluster_always_gets_deeper_than_no_review():
    for severity, recurrence in itertools.product(Severity, Recurrence):
        if severity is Severity.HIGH or recurrence is Recurrence.CLUSTER:
            assert review_level(severity, recurrence, DEFAULT).depth >= 2


def test_the_matrix_is_configurable():
    rules = TriageRules(matrix={**DEFAULT.matrix, "low": {
        "single": "supervisor_review", "repeat": "barrier_review", "cluster": "barrier_review"}})
    assert review_level(Severity.LOW, Recurrence.SINGLE, rules) is ReviewLevel.SUPERVISOR_REVIEW


def test_an_incomplete_matrix_is_refused():
    with pytest.raises(ValueError, match="columns"):
        TriageRules(matrix={**DEFAULT.matrix, "low": {"single": "none"}})
    with pytest.raises(ValueError, match="not one of"):
        TriageRules(matrix={**DEFAULT.matrix, "low": {
            "single": "a chat", "repeat": "none", "cluster": "none"}})


def test_matrix_cells_mark_the_chosen_cell_high_severity_first():
    rows = matrix_cells(DEFAULT, (Severity.HIGH, Recurrence.CLUSTER))
    assert [row[0].severity for row in rows] == [Severity.HIGH, Severity.MEDIUM, Severity.LOW]
    chosen = [cell for row in rows for cell in row if cell.chosen]
    assert len(chosen) == 1 and chosen[0].level is ReviewLevel.ROOT_CAUSE_ANALYSIS
