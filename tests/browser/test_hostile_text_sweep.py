"""Every page of every role, with every text people type set to Markdown and HTML: none of it
is interpreted, and the browser never asks the address it names for anything.

One `streamlit run` server and one SQLite database seeded through the core services
(tests/hostile.py) serve the whole module; each role signs in once in its own browser context
and opens each of its pages, the hidden ones with a record (the supervisor and the quality
lead: every near miss, both root cause analyses and the new-analysis form, the plan and the
plan builder, both meeting panels), and opens what hides typed labels (the report form's
detail for the hostile type, the board's clusters, a published update, the hostile type in
the taxonomy editor, a breakdown by location). Traffic goes to the loopback address only;
127.0.0.1:9 (the discard port, closed) is what the hostile text points at.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page, expect

from core.auth.policy import pages_for
from core.auth.roles import Role
from core.db import dispose_engines, engine_for
from tests.browser.axe import axe_problems
from tests.browser.conftest import serve_portal
from tests.browser.pages import (
    LONG,
    enter_signed_in,
    settle,
    wait_until_idle,
)
from tests.hostile import HOSTILE, ROLES, HostileSeed, seed_hostile

pytestmark = pytest.mark.browser
TARGET = "127.0.0.1:9"  # host:port the hostile text links to

# What the hostile text would have turned into, anywhere on the page.
INTERPRETED = """() => {
  const found = [];
  const target = '//127.0.0.1:9/';
  for (const e of document.querySelectorAll('img, image'))
    if ((e.getAttribute('src') || e.getAttribute('href') || '').includes(target))
      found.push('img ' + (e.getAttribute('src') || e.getAttribute('href')));
  for (const e of document.querySelectorAll('a'))
    if ((e.getAttribute('href') || e.getAttribute('xlink:href') || '').includes(target))
      found.push('a ' + (e.getAttribute('href') || e.getAttribute('xlink:href')));
  for (const e of document.querySelectorAll('b'))
    if (e.textContent.trim() === 'b') found.push('<b>b</b>');
  for (const e of document.querySelectorAll('strong'))
    if (e.textContent.trim() === 's') found.push('<strong>s</strong>');
  for (const e of document.querySelectorAll('.katex'))
    if (e.textContent.includes('x')) found.push('KaTeX ' + e.textContent);
  for (const e of document.querySelectorAll('span[style*="color"], [class*="Colored"]'))
    if (e.textContent.trim() === 'r') found.push('coloured r');
  for (const e of document.querySelectorAll('tspan[style*="bold"]'))
    if (e.textContent.trim() === 'b') found.push('plotly <b>b</b>');
  return found;
}"""
SHOWN = "() => document.body.textContent.replaceAll('\\u2060', '')"


@dataclass(frozen=True)
class Portal:
    url: str
    seed: HostileSeed
    database_url: str


# Session-scoped, not module-scoped: `make test` hands out one test at a time, so a worker
# leaves this module after each test and a module fixture would be built again on its
# return; built once per worker, it idles between its tests.
@pytest.fixture(scope="session")
def hostile(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """One seeded database and one server for the module's tests on this worker."""
    folder = tmp_path_factory.mktemp("hostile")
    database = folder / "nearmiss.db"
    shutil.copyfile(sqlite_template, database)
    url = f"sqlite:///{database}"
    seed = seed_hostile(engine_for(url))
    dispose_engines()
    with serve_portal(url, folder / "streamlit.log") as base:
        yield Portal(base, seed, url)


@dataclass
class Visit:
    path: str  # the page's URL path and query
    heading: str  # a heading that shows the page has drawn
    shows_hostile: bool = True  # the page shows typed text in the DOM (so the check bites)
    interact: Callable[[Page], None] | None = None  # what a person would open there


# The pages' own titles where they differ from the navigation's.
HEADINGS = {"bulletin": "What changed because you reported", "rca": "Root cause analyses"}
# Pages whose typed text is only in canvases (dataframes), inputs' values or cut-short chart
# labels, so `document.body.textContent` cannot show it.
QUIET = {"actions", "trends", "clusters", "culture", "controls", "pack", "users", "taxonomy",
         "feedback", "evidence"}
LEADS = ("supervisor", "quality")  # they also open every record of the hidden pages


def _choose_containing(page: Page, label: str, part: str) -> None:
    """Pick the first option of a selectbox whose text holds `part` (options hold markup,
    shown as plain text). A rerun can close the list: retried, bounded."""
    box = page.get_by_role("combobox", name=label)
    for _attempt in range(3):
        wait_until_idle(page)
        with contextlib.suppress(Error):
            box.click(timeout=5_000)
            page.get_by_role("option", name=part).first.click(timeout=5_000)
            settle(page)
            return
        page.keyboard.press("Escape")
    raise AssertionError(f"could not choose {part!r} in {label!r}")


def _click(text: str) -> Callable[[Page], None]:
    def click(page: Page) -> None:
        page.get_by_text(text).first.click()
        settle(page)
    return click


def _report_form(page: Page) -> None:
    """The hostile type's own capture fields, tucked under "More detail"."""
    _choose_containing(page, "Type of near miss", "127.0.0.1")
    _click("More detail (optional)")(page)


def _by_location(page: Page) -> None:
    page.get_by_test_id("stButtonGroup").get_by_text("Location", exact=True).click()
    settle(page)


def _visits(role: str, seed: HostileSeed) -> list[Visit]:
    """Every page the role may open; the hidden ones with a record (the leads: every record,
    and the plan builder, the new-analysis form and each meeting panel)."""
    lead = role in LEADS
    visits: list[Visit] = []
    for spec in pages_for([Role(role)]):
        path = spec.path.removeprefix("pages/").removesuffix(".py")
        if spec.key == "near_miss":
            records = (seed.new, seed.decided, seed.in_review, seed.closed) if lead \
                else (seed.in_review,)
            visits += [Visit(f"{path}?ref={ref}", ref) for ref in records]
        elif spec.key == "action_plan":
            visits.append(Visit(f"{path}?plan={seed.plan_id}", f"Action plan #{seed.plan_id}"))
            if lead:
                visits.append(Visit(f"{path}?from=rca&rca={seed.completed_rca}",
                                    "New action plan", shows_hostile=False))
        elif spec.key == "rca":
            visits.append(Visit(f"{path}?rca={seed.completed_rca}", HEADINGS["rca"]))
            if lead:
                visits += [Visit(f"{path}?rca={seed.open_rca}", HEADINGS["rca"]),
                           Visit(f"{path}?reports={seed.new},{seed.closed}", HEADINGS["rca"],
                                 shows_hostile=False)]
        elif spec.key == "meeting":
            visits.append(Visit(f"{path}?panels=clusters&every=600", "Clusters to review"))
            if lead:
                visits.append(Visit(f"{path}?panels=trend&every=600",
                                    "Near misses week by week", shows_hostile=False))
        else:
            interact = {"report": _report_form if role in ("reporter", "supervisor") else None,
                        "board": _click("Clusters ·"),
                        "feedback": lambda page: _choose_containing(page, "Update",
                                                                    "Published"),
                        "taxonomy": lambda page: _choose_containing(page, "Type", "127.0.0.1"),
                        "breakdowns": _by_location if lead else None}.get(spec.key)
            visits.append(Visit(path, HEADINGS.get(spec.key, spec.title),
                                shows_hostile=spec.key not in QUIET, interact=interact))
    return visits


# The pages (and opened states) axe has checked in this module: the same page under another
# role is drawn from the same elements, so axe runs on each once (about a quarter of the
# sweep's time was axe on pages already checked); the hostile-text checks run on every visit.
_ACCESSIBILITY_CHECKED: set[str] = set()


def _check(page: Page, where: str, requests: list[str], *, shows_hostile: bool) -> list[str]:
    """What went wrong on the page now on screen."""
    wait_until_idle(page)
    problems = [f"{where}: {found}" for found in page.evaluate(INTERPRETED)]
    if shows_hostile and HOSTILE not in page.evaluate(SHOWN):
        problems.append(f"{where}: the typed text is not on the page (not drawn?)")
    problems += [f"{where}: requested {url}" for url in requests]
    requests.clear()
    drawn = urlparse(page.url)
    state = f"{drawn.path}?{drawn.query} {where}" if where.startswith("(") else where
    if state not in _ACCESSIBILITY_CHECKED:
        _ACCESSIBILITY_CHECKED.add(state)
        problems += axe_problems(page, where)
    return problems


def _watch(context: BrowserContext) -> list[str]:
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url)
               if urlparse(request.url).netloc == TARGET else None)
    return requests


def _open(page: Page, visit: Visit) -> None:
    """Go to the page within the signed-in session, as the app's own links do (a new
    session per page would cost a reconnection and the cookie's rerun every time)."""
    heading = page.get_by_role("heading", name=visit.heading).first
    already_there = heading.is_visible()  # the same page again: wait for the new run
    for _attempt in range(2):
        page.evaluate("url => { history.pushState({}, '', url); "
                      "dispatchEvent(new PopStateEvent('popstate', {state: {}})); }",
                      "/" + visit.path)
        with contextlib.suppress(AssertionError):
            expect(heading).to_be_visible(timeout=LONG)
            (settle if already_there else wait_until_idle)(page)
            return
    raise AssertionError(f"{visit.path} did not open")


@pytest.mark.parametrize("role", ROLES)
def test_no_page_interprets_typed_text(browser: Browser, hostile: Portal, role: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requests = _watch(context)
    page = context.new_page()
    problems: list[str] = []
    try:
        enter_signed_in(page, hostile.url, role, hostile.database_url)
        problems += _check(page, "(landing page)", requests, shows_hostile=False)
        for visit in _visits(role, hostile.seed):
            _open(page, visit)
            problems += _check(page, visit.path, requests, shows_hostile=visit.shows_hostile)
            if visit.interact is not None:
                visit.interact(page)
                problems += _check(page, visit.path + " (opened)", requests,
                                   shows_hostile=visit.shows_hostile
                                   or visit.path == "feedback_updates")
    finally:
        context.close()
    assert problems == []


def test_the_follow_up_code_page_shows_the_update_as_typed(browser: Browser, hostile: Portal):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requests = _watch(context)
    page = context.new_page()
    try:
        page.goto(hostile.url)
        code = page.get_by_label("Follow-up code")
        expect(code).to_be_visible(timeout=LONG)
        settle(page)
        problems = axe_problems(page, "(sign-in)")
        code.fill(hostile.seed.follow_up_code)
        page.get_by_role("button", name="Show my report").click()
        expect(page.get_by_text("Your report")).to_be_visible(timeout=LONG)
        problems += _check(page, "(follow-up)", requests, shows_hostile=True)
    finally:
        context.close()
    assert problems == []
