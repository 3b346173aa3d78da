"""The sign-in cookie in a real browser: as short-lived as the idle limit, a new one at every
sign-in, bound to the server-side session, and no use once the session has gone idle."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import update

from core.auth.models import UserSession
from core.clock import utcnow
from core.db import engine_for
from tests.browser.pages import LONG, sign_in, wait_for_session_cookie
from tests.builders import build_org

pytestmark = pytest.mark.browser
IDLE_SECONDS = 60 * 60  # idle_minutes in the test settings (the default)


def _session_cookie(context) -> dict:
    [cookie] = [c for c in context.cookies() if c["name"] == "nearmiss_session"]
    return cookie


def test_the_cookie_lives_the_idle_limit_is_rotated_and_dies_with_an_idle_session(
        browser: Browser, portal: str, db_url: str):
    engine = engine_for(db_url)
    build_org(engine)
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, portal, "reporter")
    expect(page.get_by_role("heading", name="Report a near miss").first).to_be_visible(
        timeout=LONG)
    wait_for_session_cookie(page)
    first = _session_cookie(context)
    # Set from JavaScript by streamlit-authenticator's cookie manager: it cannot be HttpOnly
    # (documented in the README); it is SameSite=Strict and lives no longer than the idle limit.
    assert first["httpOnly"] is False and first["sameSite"] == "Strict"
    lifetime = first["expires"] - time.time()
    assert IDLE_SECONDS - 120 < lifetime <= IDLE_SECONDS + 5

    # A reload resumes the session from the cookie ...
    page.reload()
    expect(page.get_by_role("heading", name="Report a near miss").first).to_be_visible(
        timeout=LONG)

    # ... and a sign-in from another browser gets a cookie of its own.
    other = browser.new_context()
    other_page = other.new_page()
    sign_in(other_page, portal, "reporter")
    wait_for_session_cookie(other_page)
    assert _session_cookie(other)["value"] != first["value"]
    other.close()

    # An hour without a click, as the server records it: the cookie no longer opens the
    # session, and the person is told why.
    with engine.begin() as conn:
        conn.execute(update(UserSession).values(
            last_seen_at=utcnow() - timedelta(minutes=61)))
    page.reload()
    expect(page.get_by_text("You were signed out after 60 minutes without activity.")
           ).to_be_visible(timeout=LONG)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    context.close()
