"""Showing people's free text safely: as text, never as Markdown or HTML."""

from __future__ import annotations

import re
from datetime import datetime

from core.clock import to_local
from core.config import settings

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<$:])")


def escape_markdown(text: str) -> str:
    """Escape Markdown so user text shows literally inside st.markdown/st.caption."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text or "")


def local(moment: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """A stored UTC moment as the provider's local time."""
    if moment is None:
        return ""
    return to_local(moment, settings().zone).strftime(fmt)
