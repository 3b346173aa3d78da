"""Two app servers on one PostgreSQL: a report filed on one is on the other's triage board, a
sign-in on one is honoured by the other, and behind nginx with sticky sessions a browser stays
on one server and survives losing it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from core.clock import utcnow
from core.config import settings
from core.db import engine_for
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.browser import proxy
from tests.browser.conftest import serve_portal
from tests.browser.pages import LONG, choose, sign_in, wait_for_session_cookie, wait_until_idle
from tests.browser.proxy import NGINX
from tests.builders import build_org, draft, local_now
from tests.conftest import IN_CI, reset_postgres

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
    expect(supervisor.get_by_role("heading", name="Home", exact=True).first).to_be_visible(
        timeout=LONG)
    wait_for_session_cookie(supervisor)
    supervisor.goto(f"{second}/triage_board")
    expect(supervisor.get_by_role("heading", name="Triage board").first).to_be_visible(timeout=LONG)
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
    expect(supervisor.get_by_role("heading", name="Triage board").first).to_be_visible(timeout=LONG)
    expect(supervisor.get_by_text(reference)).to_be_visible(timeout=LONG)
    expect(supervisor.get_by_role("button", name="Sign in")).to_have_count(0)
    reporter.context.close()
    supervisor.context.close()


def nginx_in_front_of(first: str, second: str, folder: Path) -> AbstractContextManager[str]:
    """tests.browser.proxy's nginx, or a skip where it is not installed (a failure in CI)."""
    if not Path(NGINX).exists():
        message = "nginx is not installed (make test installs it)"
        if IN_CI:
            pytest.fail(message + " (CI=true: the proxy test is required)")
        pytest.skip(message)
    return proxy.nginx_in_front_of(first, second, folder)


def upstreams(folder: Path) -> set[str]:
    """The servers nginx has sent requests to (a failed try and its retry are both named)."""
    found = set()
    for line in (folder / "access.log").read_text().splitlines():
        found.update(part.strip() for part in line.split("|", 1)[0].split(","))
    return found - {"-"}


def test_behind_a_sticky_proxy_a_signed_in_worker_survives_losing_their_server(
        browser: Browser, pg_database: str, tmp_path: Path):
    reset_postgres(pg_database)
    build_org(engine_for(pg_database))
    proxy_folder = tmp_path / "nginx"
    proxy_folder.mkdir()
    with ExitStack() as servers:
        portals = {}
        for name in ("first", "second"):
            server = serve_portal(pg_database, tmp_path / f"{name}.log")
            portals[servers.enter_context(server).rsplit(":", 1)[1]] = server
        first, second = (f"http://127.0.0.1:{port}" for port in portals)
        with nginx_in_front_of(first, second, proxy_folder) as proxy:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            sign_in(page, proxy, "supervisor")
            wait_for_session_cookie(page)
            page.goto(f"{proxy}/triage_board")
            expect(page.get_by_role("heading", name="Triage board").first).to_be_visible(
                timeout=LONG)
            wait_until_idle(page)
            # Sticky: the page, its websocket and every later request went to one server.
            [pinned] = upstreams(proxy_folder)
            assert pinned.rsplit(":", 1)[1] in portals

            # That server goes away (a restart, a crash): nginx sends the browser to the other,
            # whose session store is the same database, so the sign-in is honoured there.
            portals[pinned.rsplit(":", 1)[1]].__exit__(None, None, None)
            page.goto(f"{proxy}/triage_board")
            expect(page.get_by_role("heading", name="Triage board").first).to_be_visible(
                timeout=LONG)
            expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
            assert len(upstreams(proxy_folder)) == 2
            page.context.close()


def test_a_bookmarked_deep_link_on_a_freshly_started_server_opens_after_sign_in(
        page, portal: str, engine):
    """The first request a new server gets is a bookmark: it asks for sign-in, then opens the
    bookmarked near miss (the page and its query), not the landing page."""
    org = build_org(engine)
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                               now=utcnow(), rules=settings()).reference
    page.set_viewport_size({"width": 1400, "height": 1000})
    sign_in(page, f"{portal}/near_miss?ref={reference}", "supervisor")
    expect(page.get_by_role("heading", name=f"{reference} · Transfer / near fall").first) \
        .to_be_visible(timeout=LONG)
    assert page.url.endswith(f"/near_miss?ref={reference}")
