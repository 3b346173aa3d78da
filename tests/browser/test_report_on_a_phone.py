"""A frontline worker files a near miss from a phone-sized screen, in the real browser."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.db import read_session
from core.reports.models import NearMissReport
from tests.browser.conftest import PHONE
from tests.browser.pages import LONG, choose, open_link, sign_in
from tests.builders import build_org, local_now

pytestmark = pytest.mark.browser


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, **PHONE}


def test_reporter_files_a_near_miss_on_a_phone(page: Page, portal: str, engine):
    build_org(engine)
    started = time.monotonic()
    sign_in(page, portal, "reporter")
    expect(page.get_by_role("heading", name="Report a near miss").first).to_be_visible(timeout=LONG)

    page.get_by_role("textbox", name="What happened?").fill(
        "Walker slightly out of reach at the bathroom doorway; I steadied her.")
    choose(page, "Type of near miss", "Transfer / near fall")
    choose(page, "Where did it happen?", "Bathroom doorway")
    page.get_by_text("Staff noticed and recovered it").click()
    page.get_by_role("radiogroup", name="Is anyone still at risk right now?") \
        .get_by_text("No").click()
    # Nothing on the form is wider than the phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["viewport"]["width"]

    page.get_by_role("button", name="Submit near miss").dblclick()  # an impatient double tap
    reference = f"NM-{local_now().year}-00001"
    expect(page.get_by_text(f"Your reference is {reference}")).to_be_visible(timeout=LONG)
    print(f"\nfiled on a phone viewport in {time.monotonic() - started:.1f} s (automated)")

    with read_session(engine) as session:
        stored = session.execute(select(NearMissReport.reference, NearMissReport.type_key)).all()
    assert stored == [(reference, "transfer_near_fall")]

    open_link(page, "Go to My reports", "My reports")
    reported = page.get_by_test_id("stMetric").filter(has_text="Reported")
    expect(reported).to_contain_text("1", timeout=LONG)
    expect(page.get_by_test_id("stDataFrame")).to_be_visible()

    # The menu covers a phone's screen: a tap on one of its links opens the page and closes it.
    sidebar = page.get_by_test_id("stSidebar")
    page.get_by_test_id("stExpandSidebarButton").click()
    expect(page.get_by_role("link", name="What changed")).to_be_in_viewport()
    page.get_by_role("link", name="What changed").click()
    expect(page.get_by_role("heading", name="What changed").first).to_be_visible(timeout=LONG)
    expect(sidebar.get_by_role("link", name="What changed")).not_to_be_in_viewport()
