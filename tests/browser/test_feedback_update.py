"""A reporter hears what changed because they reported, in the real browser: the quality lead
publishes an update linked to their near miss, and it is there next to the report under
My reports; someone who reported without their name sees it with their follow-up code."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from core.clock import utcnow
from core.config import settings
from core.feedback.service import UpdateDraft, create_update, publish_update
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.browser.pages import LONG, enter_signed_in, open_link, settle
from tests.builders import build_org, draft

pytestmark = pytest.mark.browser

DESCRIPTION = "Walker slightly out of reach at the bathroom doorway; I steadied her."
TITLE = "Pre-transfer equipment check at the bathroom doorway"
CHANGED = "Before every bathroom transfer, staff check the walker is within reach."


def publish(engine, org, references):
    update_id = create_update(UnitOfWork(engine), org.actor("quality"), UpdateDraft(
        title=TITLE, what_changed=CHANGED, why="Near falls at the same doorway.",
        report_references=references), now=utcnow(), rules=settings())
    publish_update(UnitOfWork(engine), org.actor("quality"), update_id,
                   now=utcnow(), rules=settings())


def test_a_reporter_sees_the_update_next_to_their_report(page: Page, portal: str, engine,
                                                         db_url: str):
    org = build_org(engine)
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                               draft(org, description=DESCRIPTION),
                               now=utcnow(), rules=settings()).reference
    publish(engine, org, [reference])
    enter_signed_in(page, portal, "reporter", db_url)
    expect(page.get_by_role("heading", name="Report a near miss").first).to_be_visible(timeout=LONG)
    open_link(page, "My reports", "My reports")
    settle(page)
    block = page.locator(f".st-key-my_report_updates_{reference}")
    expect(block.get_by_text(reference)).to_be_visible(timeout=LONG)
    expect(block.get_by_text(TITLE)).to_be_visible()
    expect(block.get_by_text(CHANGED)).to_be_visible()
    expect(page.get_by_text("1 new “what changed” update about your reports")).to_be_visible()
    page.get_by_role("button", name="Mark as read").click()
    settle(page)
    expect(page.get_by_text("new “what changed” update")).to_have_count(0, timeout=LONG)
    expect(block.get_by_text(TITLE)).to_be_visible()


def test_an_anonymous_reporter_follows_up_without_signing_in(page: Page, portal: str, engine):
    org = build_org(engine)
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                           draft(org, description=DESCRIPTION, anonymous=True),
                           now=utcnow(), rules=settings())
    publish(engine, org, [filed.reference])
    page.goto(portal)
    expect(page.get_by_role("heading", name="Near Miss Portal").first).to_be_visible(timeout=LONG)
    page.get_by_label("Follow-up code").fill(filed.follow_up_code.lower())
    page.get_by_role("button", name="Show my report").click()
    result = page.locator(".st-key-follow_up_result")
    expect(result.get_by_text(f"Reference: {filed.reference}")).to_be_visible(timeout=LONG)
    expect(result.get_by_text(TITLE)).to_be_visible()
    expect(page.get_by_text(DESCRIPTION)).to_have_count(0)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()  # still signed out
