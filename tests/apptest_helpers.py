"""Driving the real app.py with Streamlit's AppTest."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from tests.builders import PASSWORD

APP = str(Path(__file__).resolve().parent.parent / "app.py")

_original_pages_manager_init = PagesManager.__init__


def _navigation_only_init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
    # AppTest resets Streamlit's legacy "pages/ folder" flag before every run, so after the
    # first navigation it would run page files directly and skip app.py (sign-in, sidebar).
    # A running server clears the flag at the first st.navigation call; do the same here.
    _original_pages_manager_init(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False


PagesManager.__init__ = _navigation_only_init  # type: ignore[method-assign]


def new_app() -> AppTest:
    """A fresh app run with empty caches (they would otherwise leak between tests)."""
    # The portal hides error details from users; tests need them to say what broke.
    st.config.set_option("client.showErrorDetails", "full")
    st.cache_data.clear()
    st.cache_resource.clear()
    return AppTest.from_file(APP, default_timeout=60)


def sign_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    """Fill the sign-in form and submit; runs the rerun that builds the navigation."""
    if not at._tree:
        at.run()
    at.text_input(key="sign_in_username").input(username)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click().run()
    return at


def count_calls(monkeypatch: Any, module: Any, name: str) -> list[None]:
    """Wrap `module.name` so each call (from a page run too) appends to the returned list:
    how a test tells a page's read from a cache hit."""
    calls: list[None] = []
    real = getattr(module, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def open_sections(at: AppTest, *keys: str) -> AppTest:
    """Open these expanders (by key) and rerun, as a click on each would: sections that
    track whether they are open draw their contents only then."""
    for key in keys:
        at.session_state[key] = True
    return at.run()


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def shown(markdown: str) -> str:
    """Markdown source as a person reads it: people's text reaches Streamlit escaped
    (ui.text), so backslash escapes and invisible word joiners are taken out."""
    return _ESCAPED.sub(r"\1", markdown).replace("\u2060", "")


def texts(at: AppTest, kind: str) -> list[str]:
    """The text of every element of one kind (error, warning, success, markdown, ...), as a
    person reads it (see `shown`)."""
    return [shown(str(element.value)) for element in getattr(at, kind)]


def assert_no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


_FIELD_MESSAGE = re.compile(r"^:red\[:material/error: \*\*(.*)\*\*\]$", re.S)


def as_field_message(markdown: str) -> str | None:
    """The text of a field's error message (ui.accessibility.field_message), or None when
    this Markdown is not one."""
    match = _FIELD_MESSAGE.match(markdown)
    return shown(match.group(1)) if match else None


def field_messages(at: AppTest) -> list[str]:
    """The error messages shown beside fields (ui.accessibility.field_message), as read."""
    found = (_FIELD_MESSAGE.match(str(element.value)) for element in at.markdown)
    return [shown(match.group(1)) for match in found if match]
