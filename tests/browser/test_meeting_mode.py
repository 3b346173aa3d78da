"""Meeting mode on a projector-sized screen: a screenshot, large type, panels that rotate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from core.clock import utcnow
from core.config import settings
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.browser.pages import LONG, enter_signed_in
from tests.builders import build_org, draft, local_now

pytestmark = pytest.mark.browser


def test_meeting_mode_on_a_projector(page: Page, portal: str, engine, tmp_path,
                                     db_url: str):
    org = build_org(engine)
    for days in range(1, 90, 2):
        file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
            org, occurred_at=local_now() - timedelta(days=days)), now=utcnow(), rules=settings())
    page.set_viewport_size({"width": 1920, "height": 1080})
    enter_signed_in(page, portal, "governance", db_url,
                    path="/meeting?panels=trend,culture&every=10")
    title = page.get_by_role("heading", level=1).first
    expect(title).to_have_text("Near misses week by week", timeout=LONG)
    expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=LONG)
    assert float(title.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 40
    assert page.get_by_role("textbox").count() == 0  # nothing to edit in a meeting
    shot = tmp_path / "meeting.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000  # a real rendered chart, not a blank page

    # With no click at all, the next panel comes round.
    expect(page.get_by_role("heading", level=1).first).to_have_text("Reporting culture",
                                                                     timeout=LONG)
