"""Showing people's text safely: as typed, never as Markdown or HTML.

The escaping rules live in core.text (the governance pack uses them too); pages import them
from here. Which function suits which element is explained there; tests/unit/test_safe_text_sweep.py
fails when a page or a ui module hands unescaped text to an element that parses Markdown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from core.clock import to_local
from core.config import settings
from core.text import (
    chart_text,
    escape_caption,
    escape_label,
    escape_layout,
    escape_markdown,
    matplotlib_text,
)

__all__ = ["Badge", "badge_line", "chart_text", "escape_caption", "escape_label", "escape_layout",
           "escape_markdown", "local", "matplotlib_text", "small_lines"]

Badge = tuple[str, str, str | None]  # (text, colour, Material icon or None)


def badge_line(badges: Iterable[Badge]) -> str:
    """Badges as one line of Markdown, each written as `st.badge` writes its own, its text
    shown as typed. One element for them all, where each `st.badge` is an element of its own
    (about 0.2 ms each to draw: a board's 40 cards drew about 80)."""
    return " ".join(f":{colour}-badge[{icon + ' ' if icon else ''}{escape_markdown(text)}]"
                    for text, colour, icon in badges)


def small_lines(lines: Iterable[object]) -> str:
    """Lines of small grey text, as `st.caption` shows them, each shown as typed on one line:
    Markdown that can share one element with more, such as a card's badges (in a caption
    itself, badges are drawn faded, below the contrast people need)."""
    return "  \n".join(f":small[:gray[{escape_label(line)}]]" for line in lines)


def local(moment: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """A stored UTC moment as the provider's local time."""
    if moment is None:
        return ""
    return to_local(moment, settings().zone).strftime(fmt)
