"""The severity x recurrence matrix (seed 2): which review level a near miss needs."""

from __future__ import annotations

from dataclasses import dataclass

from core.config import TriageRules
from core.triage.vocabulary import Recurrence, ReviewLevel, Severity


def review_level(severity: Severity, recurrence: Recurrence, rules: TriageRules) -> ReviewLevel:
    """The minimum review level for this severity potential and recurrence."""
    return ReviewLevel(rules.matrix[severity.value][recurrence.value])


def deeper_of(first: ReviewLevel, second: ReviewLevel) -> ReviewLevel:
    return first if first.depth >= second.depth else second


@dataclass(frozen=True)
class MatrixCell:
    severity: Severity
    recurrence: Recurrence
    level: ReviewLevel
    chosen: bool


def matrix_cells(rules: TriageRules, chosen: tuple[Severity, Recurrence] | None = None,
                 ) -> list[list[MatrixCell]]:
    """The matrix as rows (high severity first) of cells, with the chosen cell marked."""
    return [
        [MatrixCell(severity, recurrence, review_level(severity, recurrence, rules),
                    chosen == (severity, recurrence))
         for recurrence in Recurrence]
        for severity in reversed(Severity)
    ]
