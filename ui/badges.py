"""Colours for flags and states (presentation only)."""

from __future__ import annotations

FLAG_COLOURS: dict[str, str] = {
    "escalation_overdue": "red",
    "still_at_risk": "red",
    "safeguarding": "violet",
    "stop_the_line": "red",
    "interface": "blue",
    "cluster": "orange",
    "repeat": "yellow",
}

ESCALATION_STATE_COLOURS: dict[str, str] = {
    "overdue": "red",
    "waiting": "orange",
    "acknowledged": "blue",
    "decided": "green",
}
