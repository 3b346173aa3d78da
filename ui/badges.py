"""Colours for flags and states, and badges written inline (presentation only)."""

from __future__ import annotations


def badge_markdown(label: str, colour: str, icon: str | None = None) -> str:
    """A badge as Markdown, written as `st.badge` writes its own: several of them on one line
    are one element, where each `st.badge` is an element of its own (about 0.2 ms each to
    draw: a board's 40 cards drew about 80 of them). `label` must already be safe as Markdown; its
    square brackets are escaped here, as `st.badge` escapes them."""
    text = label.replace("[", "\\[").replace("]", "\\]")
    return f":{colour}-badge[{icon + ' ' if icon else ''}{text}]"


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
