"""The language of this browser session: what a page is drawn in, and the picker that sets it.

Before sign-in it is whatever the person picked on the sign-in page (English until then);
signing in adopts the language saved on their profile, unless they had just picked one, which
is then saved (core.accounts.users.set_language). The report form's picker changes only this
session's language (and so the report's): a report without a name links nothing to a profile.
"""

from __future__ import annotations

import contextlib

import streamlit as st

from core.accounts.service import SessionIdle
from core.accounts.users import set_language
from core.auth.actor import Actor
from core.clock import utcnow
from core.errors import DomainError, StorageUnavailable
from core.feedback.followup import FollowUpPaused
from core.i18n import DEFAULT_LANGUAGE, Translator, languages, native_name, supported, translator
from core.uow import UnitOfWork

LANGUAGE = "nm_language"
PICKED_BEFORE_SIGN_IN = "nm_language_picked"


def current_language() -> str:
    """This session's language code (e.g. "es")."""
    return supported(st.session_state.get(LANGUAGE, DEFAULT_LANGUAGE))


def tr() -> Translator:
    """The gettext functions of this session's language."""
    return translator(current_language())


def message(error: BaseException | str) -> str:
    """A message core raised (or a notice kept from one), in this session's language; as
    written when it has no translation."""
    t = tr()
    if isinstance(error, SessionIdle):
        return t.ngettext("You were signed out after {minutes} minute without activity.",
                          "You were signed out after {minutes} minutes without activity.",
                          error.minutes).format(minutes=error.minutes)
    if isinstance(error, FollowUpPaused):
        return t.ngettext("Too many codes that did not match. Try again in {minutes} minute.",
                          "Too many codes that did not match. Try again in {minutes} minutes.",
                          error.minutes).format(minutes=error.minutes)
    return t.gettext(str(error))


def language_picker(widget_key: str, *, on_pick: str = "session") -> None:
    """A row of the portal's languages, each in its own name, so anyone finds theirs.

    `on_pick`: "session" changes this session's language; "before_sign_in" also remembers to
    save it to the profile of whoever signs in next.
    """
    _ = tr().gettext
    codes = list(languages())
    st.session_state[widget_key] = current_language()
    st.radio(f":material/translate: {_('Language')}", codes, key=widget_key,
             format_func=native_name, horizontal=True,
             on_change=_picked, args=(widget_key, on_pick == "before_sign_in"))


def _picked(widget_key: str, before_sign_in: bool) -> None:
    st.session_state[LANGUAGE] = supported(st.session_state.get(widget_key))
    if before_sign_in:
        st.session_state[PICKED_BEFORE_SIGN_IN] = True


def adopt_language(actor: Actor) -> None:
    """At sign-in: save a language just picked on the sign-in page to the person's profile,
    otherwise speak the language their profile holds."""
    if st.session_state.pop(PICKED_BEFORE_SIGN_IN, False):
        chosen = current_language()
        if chosen != actor.language:
            # Not saved if the database is down: this session still speaks what they picked.
            with contextlib.suppress(DomainError, StorageUnavailable):
                set_language(UnitOfWork(), actor, chosen, now=utcnow())
        return
    st.session_state[LANGUAGE] = supported(actor.language)


def save_language(actor: Actor, language: str) -> None:
    """My account: the person's choice, saved on their profile and spoken from now on."""
    set_language(UnitOfWork(), actor, language, now=utcnow())
    st.session_state[LANGUAGE] = supported(language)
