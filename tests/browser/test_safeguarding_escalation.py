"""A reporter files a safeguarding near miss; the safeguarding lead is emailed at once, finds
it in the inbox and acknowledges it (real browser, real SMTP server)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from core.db import read_session
from core.escalation.models import Escalation
from tests.browser.pages import LONG, choose, enter_signed_in, open_link, wait_until_idle
from tests.builders import build_org

pytestmark = pytest.mark.browser

CONCERN = "A visitor asked Mrs K for her bank card PIN while I was helping her."


def wait_for_mail(collector, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(collector.messages) < count and time.monotonic() < deadline:
        time.sleep(0.2)  # waiting for the server's background send, not asserting a duration
    assert len(collector.messages) >= count, "the safeguarding email never arrived"


def test_safeguarding_signal_reaches_the_lead_who_acknowledges_it(
        browser: Browser, smtp_server, portal: str, engine, db_url: str):
    build_org(engine)
    reporter = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = reporter.new_page()
    enter_signed_in(page, portal, "reporter", db_url)
    expect(page.get_by_role("heading", name="Report a near miss").first).to_be_visible(timeout=LONG)
    page.get_by_role("textbox", name="What happened?").fill(CONCERN)
    choose(page, "Type of near miss", "Safeguarding or rights concern")
    choose(page, "Where did it happen?", "Kitchen")
    page.get_by_text("Staff noticed and recovered it").click()
    page.get_by_role("radiogroup", name="Is anyone still at risk right now?") \
        .get_by_text("No").click()
    wait_until_idle(page)
    page.get_by_role("button", name="Submit near miss").click()
    confirmation = page.get_by_text("Your reference is")
    expect(confirmation).to_be_visible(timeout=LONG)
    reference = confirmation.inner_text().split("Your reference is")[1].strip(" .")
    reporter.close()

    wait_for_mail(smtp_server, 1)
    [mail] = smtp_server.messages
    assert mail["To"] == "safeguarding@example.org" and reference in mail["Subject"]
    assert CONCERN not in mail.get_content()

    lead = browser.new_context(viewport={"width": 1280, "height": 900})
    page = lead.new_page()
    enter_signed_in(page, portal, "safeguarding", db_url)
    expect(page.get_by_role("heading", name="Home", exact=True).first).to_be_visible(timeout=LONG)
    open_link(page, "Inbox · 1", "Inbox")  # the unread count is in the menu
    expect(page.get_by_text(reference).first).to_be_visible(timeout=LONG)
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Acknowledged. The clock has stopped")).to_be_visible(timeout=LONG)
    lead.close()

    with read_session(engine) as session:
        escalation = session.scalar(select(Escalation))
    assert escalation.kind == "safeguarding" and escalation.acknowledged_at is not None
