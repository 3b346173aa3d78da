"""Two app servers on one PostgreSQL: a report filed on one is on the other's triage board, and
a sign-in on one is honoured by the other (what a proxy failing a session over relies on)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core.db import engine_for
from tests.browser.conftest import serve_portal
from tests.browser.pages import LONG, choose, sign_in, wait_for_session_cookie, wait_until_idle
from tests.builders import build_org, local_now
from tests.conftest import reset_postgres

pytestmark = pytest.mark.browser


@pytest.fixture
def two_portals(pg_database: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    reset_postgres(pg_database)
    with serve_portal(pg_database, tmp_path / "first.log") as first, \
            serve_portal(pg_database, tmp_path / "second.log") as second:
        yield first, second


def test_a_report_filed_on_one_server_is_on_the_other_servers_board(browser: Browser,
                                                                    two_portals, pg_database):
    first, second = two_portals
    build_org(engine_for(pg_database))
    reference = f"NM-{local_now().year}-00001"

    supervisor = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    sign_in(supervisor, second, "supervisor")
    expect(supervisor.get_by_role("heading", name="Report a near miss")).to_be_visible(
        timeout=LONG)
    wait_for_session_cookie(supervisor)
    supervisor.goto(f"{second}/triage_board")
    expect(supervisor.get_by_role("heading", name="Triage board")).to_be_visible(timeout=LONG)
    wait_until_idle(supervisor)
    expect(supervisor.get_by_text(reference)).to_have_count(0)

    reporter = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    sign_in(reporter, first, "reporter")
    reporter.get_by_role("textbox", name="What happened?").fill(
        "Walker out of reach at the bathroom doorway; steadied her.")
    choose(reporter, "Type of near miss", "Transfer / near fall")
    choose(reporter, "Where did it happen?", "Bathroom doorway")
    reporter.get_by_text("Staff noticed and recovered it").click()
    reporter.get_by_role("radiogroup", name="Is anyone still at risk right now?") \
        .get_by_text("Yes").click()  # still at risk: it goes to the top of the board
    wait_until_idle(reporter)
    reporter.get_by_role("textbox", name="What have you done so far to keep them safe?").fill(
        "Stayed with her and called the shift lead.")
    reporter.get_by_role("button", name="Submit near miss").click()
    expect(reporter.get_by_text(f"Your reference is {reference}")).to_be_visible(timeout=LONG)

    # The other server has no copy of its own to go stale: the next run of its board shows it.
    supervisor.reload()
    expect(supervisor.get_by_text(reference)).to_be_visible(timeout=LONG)

    # The supervisor's sign-in (a cookie bound to a session record in the shared database)
    # is honoured by the first server too: no second sign-in if a proxy moves them over.
    supervisor.goto(f"{first}/triage_board")
    expect(supervisor.get_by_role("heading", name="Triage board")).to_be_visible(timeout=LONG)
    expect(supervisor.get_by_text(reference)).to_be_visible(timeout=LONG)
    expect(supervisor.get_by_role("button", name="Sign in")).to_have_count(0)
    reporter.context.close()
    supervisor.context.close()
