"""A commissioner in the real browser: de-identified evidence, nothing to edit, a PDF pack."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from playwright.sync_api import Page, expect

from core.clock import utcnow
from core.config import settings
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.browser.pages import LONG, download, enter_signed_in, open_link
from tests.builders import build_org, draft, local_now

pytestmark = pytest.mark.browser
DESCRIPTION = "Quentin Marblewood's walker was out of reach at 9 Heron Close."


def test_commissioner_sees_evidence_and_downloads_the_pack(page: Page, portal: str, engine,
                                                           db_url: str):
    org = build_org(engine)
    # One every other day from a month's first Monday: every month of the trend has at least
    # 5 (a month with 1 to 4 would leave the commissioner's control chart undrawn).
    today = local_now().date()
    day = (today.replace(day=1) - timedelta(days=100)).replace(day=1)
    day += timedelta(days=(7 - day.weekday()) % 7)
    while day < today:
        file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
            org, description=DESCRIPTION, person_id=org.maple_person,
            occurred_at=datetime.combine(day, time(10))), now=utcnow(), rules=settings())
        day += timedelta(days=2)
    page.set_viewport_size({"width": 1400, "height": 1000})
    enter_signed_in(page, portal, "commissioner", db_url)
    expect(page.get_by_role("heading", name="Home", exact=True).first).to_be_visible(timeout=LONG)
    open_link(page, "Evidence of learning", "Evidence of learning")
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=LONG)
    body = page.get_by_test_id("stMain").inner_text()
    for secret in ("Quentin", "Marblewood", "Heron Close", "MH-01", "Alex Example"):
        assert secret not in body
    assert page.get_by_role("textbox").count() == 0

    open_link(page, "Governance pack", "Governance pack")
    page.get_by_role("button", name="Build the pack").click()
    expect(page.get_by_role("button", name="Download the PDF")).to_be_visible(timeout=LONG)
    assert download(page, "Download the PDF").read_bytes()[:5] == b"%PDF-"
