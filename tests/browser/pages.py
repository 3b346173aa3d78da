"""Small page helpers for Streamlit in Playwright (labels and roles, never sleeps)."""

from __future__ import annotations

import contextlib
import re
import secrets
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Error, Locator, Page, expect

from core.accounts.service import bind_session_cookie
from core.accounts.service import sign_in as open_session
from core.clock import utcnow
from core.config import effective_cookie_key, environment, settings
from core.db import engine_for
from core.uow import UnitOfWork
from tests.builders import PASSWORD
from ui.session import COOKIE_NAME, cookie_token

LONG = 30_000  # ms: a first render of a Streamlit page can take a few seconds
# The sign-in form's button, username and password, by the language picked on it.
SIGN_IN_LABELS = {"English": ("Sign in", "Username", "Password"),
                  "Español": ("Iniciar sesión", "Usuario", "Contraseña")}


def sign_in(page: Page, url: str, username: str, password: str = PASSWORD, *,
            language: str | None = None) -> None:
    """Open the portal and sign in with the form, as a person would (first picking
    `language`, the name the sign-in page lists it by, e.g. "Español", if given).

    On a busy machine a click can land while the first run (or the cookie component's rerun)
    is still in flight and be swallowed by it, leaving the filled form on screen; the click
    is then repeated (bounded) once the page is idle. Returns once the signed-in page is idle.
    """
    page.goto(url)
    labels = SIGN_IN_LABELS.get(language or "English", SIGN_IN_LABELS["English"])
    expect(page.get_by_role("button", name=SIGN_IN_LABELS["English"][0])).to_be_visible(
        timeout=LONG)
    settle(page)
    if language is not None:
        page.get_by_role("radiogroup").filter(has_text="English").get_by_text(
            language, exact=True).click()
        expect(page.get_by_role("button", name=labels[0])).to_be_visible(timeout=LONG)
        settle(page)
    button = page.get_by_role("button", name=labels[0])
    page.get_by_label(labels[1]).fill(username)
    page.get_by_label(labels[2], exact=True).fill(password)
    refused = page.get_by_test_id("stAlertContentError")
    for _attempt in range(3):
        with contextlib.suppress(Error):  # the form may go as the click lands: signed in
            button.click(timeout=10_000)
        try:
            expect(button).to_have_count(0, timeout=15_000)
            # Until the signed-in run (and the cookie's rerun) finish, the page may show its
            # stale elements beside the new ones, e.g. two titles, which strict locators refuse.
            settle(page)
            return
        except AssertionError:
            if refused.count():
                return  # refused, with a message the test may check
    raise AssertionError(f"the sign-in form did not respond for {username!r}")


def remembered_session_cookie(username: str, database_url: str, *,
                              password: str = PASSWORD) -> str:
    """The value of the session cookie a sign-in by `username` would have set: a session
    opened and bound with the portal's own services, signed with the portal's cookie key.
    A page run presenting it resumes that session (also used by bench/meeting_load.py)."""
    rules = settings()
    engine = engine_for(database_url)
    signed_in = open_session(UnitOfWork(engine), username, password, now=utcnow(), rules=rules)
    secret = secrets.token_urlsafe(32)
    bind_session_cookie(UnitOfWork(engine), signed_in.session_id, secret, now=utcnow(),
                        rules=rules)
    lifetime = timedelta(minutes=rules.sign_in.idle_minutes)
    key = effective_cookie_key(environment(), environment().cookie_key)  # as the portal signs
    return cookie_token(username, secret, key, lifetime)


def enter_signed_in(page: Page, url: str, username: str, database_url: str, *,
                    path: str = "") -> None:
    """Open the portal (at `path`) as `username` with a remembered session: the browser holds
    the session cookie a sign-in would have set, made here with the portal's own services and
    cookie key, so the first page run resumes the session. For journeys about something other
    than signing in; test_sign_in_cookie.py, test_keyboard.py, test_landing_pages.py and
    test_two_servers.py sign in with the form. Returns once the signed-in page is idle."""
    token = remembered_session_cookie(username, database_url)
    page.context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": url,
                               "sameSite": "Strict"}])
    page.goto(url + path)
    expect(page.get_by_role("button", name="Sign out")).to_be_attached(timeout=LONG)
    # The cookie component's first reply reruns the page: let that run go by too.
    settle(page)


def wait_for_session_cookie(page: Page) -> None:
    """After signing in, wait until the browser holds the session cookie, so opening a new
    URL (a new Streamlit session) resumes the sign-in."""
    page.wait_for_function("document.cookie.includes('nearmiss_session=')", timeout=LONG)
    # The run that set it also binds it to the server-side session: let that run finish, or
    # a new page opened at once may present the cookie before the binding is stored.
    wait_until_idle(page)


RUNNING = "[data-testid='stApp'][data-test-script-state='running']"


def wait_until_idle(page: Page) -> None:
    """Wait until Streamlit has finished the current script run."""
    expect(page.locator(RUNNING)).to_have_count(0, timeout=LONG)


def settle(page: Page) -> None:
    """After an interaction that reruns the script: let that run start, then finish.

    Typing while a rerun is in flight can be overwritten when it lands, so a test waits here.
    """
    # The run may be quicker than the check, or the interaction may start none.
    with contextlib.suppress(Error):
        page.wait_for_selector(RUNNING, timeout=2_000)
    wait_until_idle(page)


def choose(page: Page, label: str, option: str) -> None:
    """Pick an option of a Streamlit selectbox by its label.

    A rerun triggered by the previous widget can close an open dropdown, and the first click
    on a box just after another box was picked often leaves its list closed, so the pick is
    retried (bounded) until the box shows the option; a list still closed after a second is
    retried at once rather than waited out.
    """
    box = page.get_by_role("combobox", name=label)
    for _attempt in range(3):
        wait_until_idle(page)
        box.click()
        try:
            expect(box).to_have_attribute("aria-expanded", "true", timeout=1_000)
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
            expect(box).to_have_value(option, timeout=5_000)
            settle(page)
            return
        except (Error, AssertionError):
            page.keyboard.press("Escape")
    raise AssertionError(f"could not choose {option!r} in {label!r}")


def heading(page: Page, name: str | re.Pattern[str]) -> Locator:
    """A page title by its text. While a rerun is in flight Streamlit can show the stale title
    beside the new one, which a strict locator refuses outright instead of waiting out."""
    return page.get_by_role("heading", name=name).first


def open_link(page: Page, link: str, title: str) -> None:
    """Follow a link (the sidebar menu or a page link) to the page titled `title`.

    A click that lands while the cookie component's rerun is in flight can be swallowed by it
    and leave the browser where it was; it is then repeated (bounded) once the page is idle.
    """
    for _attempt in range(3):
        wait_until_idle(page)
        with contextlib.suppress(Error):
            page.get_by_role("link", name=link).first.click(timeout=10_000)
        try:
            expect(heading(page, title)).to_be_visible(timeout=15_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"following {link!r} did not open {title!r}")


def download(page: Page, button: str) -> Path:
    """Click a download button and return the downloaded file.

    A click that lands while a rerun is in flight (the cookie component's, or the page's own
    first run) can be swallowed, so it is repeated (bounded) once the page is idle.
    """
    for _attempt in range(3):
        wait_until_idle(page)
        try:
            with page.expect_download(timeout=15_000) as started:
                page.get_by_role("button", name=button).first.click(timeout=10_000)
            path = started.value.path()
            assert path is not None
            return Path(path)
        except Error:
            continue
    raise AssertionError(f"{button!r} did not download")
