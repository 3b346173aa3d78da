"""Showing people's text safely: as typed, never as Markdown or HTML.

The escaping rules live in core.text (the governance pack uses them too); pages import them
from here. Which function suits which element is explained there; tests/unit/test_safe_text_sweep.py
fails when a page or a ui module hands unescaped text to an element that parses Markdown.
"""

from __future__ import annotations

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

__all__ = ["chart_text", "escape_caption", "escape_label", "escape_layout", "escape_markdown",
           "local", "matplotlib_text"]


def local(moment: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """A stored UTC moment as the provider's local time."""
    if moment is None:
        return ""
    return to_local(moment, settings().zone).strftime(fmt)
