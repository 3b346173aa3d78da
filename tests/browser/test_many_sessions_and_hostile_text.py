"""One `streamlit run` server, several browser sessions filing at once; and script or HTML typed
into free text is shown as text, never run."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from core.accounts.users import NewUser, add_user
from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.uow import UnitOfWork
from tests.browser.pages import (
    LONG,
    choose,
    enter_signed_in,
    wait_until_idle,
)
from tests.builders import PASSWORD, PASSWORD_HASH, build_org, draft

pytestmark = pytest.mark.browser
WORKERS = 4


def test_several_browser_sessions_file_at_the_same_time_and_all_land(browser: Browser,
                                                                     portal: str, engine,
                                                                     db_url: str):
    build_org(engine)
    names = [f"dsp{n}" for n in range(1, WORKERS + 1)]
    for name in names:
        add_user(UnitOfWork(engine), SYSTEM, NewUser(
            username=name, display_name=name.upper(), password=PASSWORD, roles=("reporter",),
            services=("Maple House",), email=f"{name}@example.org"),
            password_hash=PASSWORD_HASH, now=utcnow(), rules=settings())
    pages: list[Page] = []
    for name in names:  # each worker on their own phone: a browser context of their own
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        enter_signed_in(page, portal, name, db_url)
        expect(page.get_by_role("heading", name="Report a near miss").first).to_be_visible(
            timeout=LONG)
        page.get_by_role("textbox", name="What happened?").fill(
            f"{name}: walker out of reach at the bathroom doorway; steadied her.")
        choose(page, "Type of near miss", "Transfer / near fall")
        choose(page, "Where did it happen?", "Bathroom doorway")
        page.get_by_text("Staff noticed and recovered it").click()
        page.get_by_role("radiogroup", name="Is anyone still at risk right now?") \
            .get_by_text("No").click()
        wait_until_idle(page)
        pages.append(page)

    for page in pages:  # the shift ends: everyone presses submit at once
        page.get_by_role("button", name="Submit near miss").click(no_wait_after=True)
    for page in pages:
        expect(page.get_by_text("Your reference is NM-")).to_be_visible(timeout=LONG)

    with read_session(engine) as session:
        stored = session.execute(select(NearMissReport.reference, NearMissReport.description)
                                 .order_by(NearMissReport.reference)).all()
    assert len(stored) == WORKERS
    assert sorted(d.split(":")[0] for _ref, d in stored) == names  # each exactly once
    shown = sorted(page.get_by_text("Your reference is NM-").inner_text().split()[-1].rstrip(".")
                   for page in pages)
    assert shown == [ref for ref, _d in stored]
    for page in pages:
        page.context.close()


HOSTILE = ("<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">"
           " **not bold** [click](javascript:window.__xss=3) =HYPERLINK(\"http://x\")")


def test_script_and_html_in_free_text_show_as_text_and_never_run(page: Page, portal: str,
                                                                  engine, db_url: str):
    org = build_org(engine)
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                               draft(org, description=HOSTILE),
                               now=utcnow(), rules=settings()).reference
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.set_viewport_size({"width": 1400, "height": 1000})
    enter_signed_in(page, portal, "supervisor", db_url, path=f"/near_miss?ref={reference}")
    expect(page.get_by_role("heading", name=f"{reference} · Transfer / near fall").first) \
        .to_be_visible(timeout=LONG)
    wait_until_idle(page)
    # The text is on the page exactly as typed, markup and all.
    expect(page.get_by_text(HOSTILE, exact=True)).to_be_visible()
    assert page.locator("img[src='x']").count() == 0
    assert page.get_by_role("link", name="click").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"

    page.goto(f"{portal}/triage_board")
    expect(page.get_by_role("heading", name="Triage board").first).to_be_visible(timeout=LONG)
    wait_until_idle(page)
    assert page.locator("img[src='x']").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert dialogs == []
