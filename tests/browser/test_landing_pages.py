"""Each role signs in and lands on its own work: the home page of what needs it now (a frontline
worker: the report form), with a count whose link opens the page that clears it.

One `streamlit run` server and one SQLite database serve the module; each role signs in once
in a browser context of its own.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from core.actions.service import ActionDraft, PlanDraft, create_plan
from core.clock import utcnow
from core.config import settings
from core.db import dispose_engines, engine_for
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.browser.conftest import serve_portal
from tests.browser.pages import LONG, heading, open_link, sign_in
from tests.builders import build_org, draft, local_now

pytestmark = pytest.mark.browser


# Session-scoped, not module-scoped: `make test` hands out one test at a time, so a worker
# leaves this module after each test and a module fixture would be built again on its
# return; built once per worker, it idles between its tests.
@pytest.fixture(scope="session")
def portal_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Something waiting for most roles: a near miss with someone still at risk (to triage,
    and a shift alert), a safeguarding concern, and an action due in three days."""
    folder = tmp_path_factory.mktemp("landing")
    database = folder / "nearmiss.db"
    shutil.copyfile(sqlite_template, database)
    url = f"sqlite:///{database}"
    engine = engine_for(url)
    org = build_org(engine)
    reporter = org.actor("reporter")
    reference = file_near_miss(UnitOfWork(engine), reporter,
                               draft(org, still_at_risk=True),
                               now=utcnow(), rules=settings()).reference
    file_near_miss(UnitOfWork(engine), reporter, draft(
        org, type_key="safeguarding_rights",
        description="Visitor asked for her bank card PIN at the door."),
                   now=utcnow(), rules=settings())
    quality = org.actor("quality")
    today = local_now().date()
    create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Walker within reach", theme="Near falls", report_references=[reference],
        actions=[ActionDraft(title="Walker check at each transfer", kind="checklist",
                             owner_id=quality.user_id, deadline=today + timedelta(days=3),
                             review_date=today + timedelta(days=10),
                             evidence_checks=["Spot check"], verify_with_measure=False)]),
                now=utcnow(), rules=settings())
    dispose_engines()
    with serve_portal(url, folder / "streamlit.log") as base:
        yield base


@dataclass(frozen=True)
class Landing:
    role: str
    title: str  # the landing page's heading
    shows: str  # a count in words on it
    link: str  # a link on it ...
    opens: str  # ... and the heading of the page it opens


LANDINGS = (
    Landing("reporter", "Report a near miss", "What happened?", "My reports", "My reports"),
    Landing("supervisor", "Home", "2 near misses to triage", "Open the triage board",
            "Triage board"),
    Landing("safeguarding", "Home", "1 safeguarding or rights signal to act on",
            "Open the inbox", "Inbox"),
    Landing("clinical", "Home", "Nothing waiting", "Open the inbox", "Inbox"),
    Landing("operations", "Home", "Nothing waiting", "Open the inbox", "Inbox"),
    Landing("quality", "Home", "1 action due within 7 days", "Open the action register",
            "Action register"),
    Landing("governance", "Home", "No signal in 52 weeks", "Open the trends", "Trends"),
    Landing("commissioner", "Home", "No action verified effective in", "Open the evidence",
            "Evidence of learning"),
    Landing("admin", "Home", "Nothing waiting", "Open users and roles", "Users and roles"),
)


def expect_menu_marks(page: Page, title: str) -> None:
    """The menu (a navigation landmark) marks one link as the page on screen: `title`'s."""
    marked = page.get_by_role("navigation", name="Pages").locator('a[aria-current="page"]')
    expect(marked).to_have_count(1, timeout=LONG)
    expect(marked).to_contain_text(title, timeout=LONG)


@pytest.mark.parametrize("landing", LANDINGS, ids=[landing.role for landing in LANDINGS])
def test_each_role_lands_on_its_work(browser: Browser, portal_url: str, landing: Landing):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, portal_url, landing.role)
        expect(heading(page, re.compile(f"^{re.escape(landing.title)}$"))).to_be_visible(
            timeout=LONG)
        expect(page.get_by_test_id("stMain").get_by_text(landing.shows).first).to_be_visible(
            timeout=LONG)
        expect_menu_marks(page, landing.title)
        open_link(page, landing.link, landing.opens)
        expect_menu_marks(page, landing.opens)
    finally:
        context.close()
