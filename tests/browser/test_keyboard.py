"""Keyboard alone, from the sign-in page to a filed report, in the real browser.

An anonymous visitor's first Tab stops are the sign-in fields, and no link shows them the
portal's pages. After sign-in the focus is on the page's title; the report form is filled and sent
with keys only; a refused submit focuses one summary and marks each field invalid, tied to
its message. Each page has its own browser title. One SQLite server serves the module:
keyboard behaviour does not depend on the database.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from core.auth.policy import PAGES
from core.db import dispose_engines, engine_for
from tests.browser.conftest import serve_portal
from tests.browser.pages import LONG, settle, wait_until_idle
from tests.builders import PASSWORD, build_org, local_now

pytestmark = pytest.mark.browser
MAX_TABS = 40  # a bound on every walk: a page where the next field is further is a failure
# Tab presses from a freshly opened sign-in page to the Username field: 4 when measured (issue
# 19.3): Streamlit's "Skip to main content" link, the main region (focusable, for scrolling with
# keys), the sign-in form's language choice, then Username. Before, Streamlit's automatic menu
# of every page file came first: 28 presses (before the language choice was added).
SIGN_IN_TABS = 4

# What has the keyboard focus: its tag and role, its accessible name, and the label of the
# Streamlit widget it belongs to.
FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const widget = e.closest('.stElementContainer, [data-testid="stExpander"]');
  const label = widget && widget.querySelector('[data-testid="stWidgetLabel"], summary');
  return {tag: e.tagName.toLowerCase(), role: e.getAttribute('role') || '',
          name: e.getAttribute('aria-label') || (e.innerText || '').trim().slice(0, 80),
          label: label ? label.innerText.trim() : ''};
}"""


# Session-scoped, not module-scoped: `make test` hands out one test at a time, so a worker
# leaves this module after each test and a module fixture would be built again on its
# return; built once per worker, it idles between its tests.
@pytest.fixture(scope="session")
def keyboard_portal(sqlite_template: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("keyboard")
    database = folder / "nearmiss.db"
    shutil.copyfile(sqlite_template, database)
    url = f"sqlite:///{database}"
    build_org(engine_for(url))
    dispose_engines()
    with serve_portal(url, folder / "streamlit.log") as base:
        yield base


def _focused(page: Page) -> dict | None:
    return page.evaluate(FOCUSED)


def _is_field(stop: dict) -> bool:
    return stop["tag"] in ("input", "textarea") or stop["role"] in ("combobox", "radio")


def _tab_to(page: Page, label: str, *, button: bool = False,
            passed: list[dict | None] | None = None) -> int:
    """Press Tab until the field labelled `label` (or the button named so) has the focus (not
    a help icon beside it); returns the presses (the stops before it are added to `passed`)."""
    passed = [] if passed is None else passed
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        now = _focused(page)
        if now and button and now["tag"] == "button" and label in now["name"]:
            return presses
        if now and not button and _is_field(now) and now["label"] == label:
            return presses
        passed.append(now)
    raise AssertionError(f"{label!r} not reached in {MAX_TABS} Tab presses: {passed}")


def _pick(page: Page, label: str, typed: str) -> None:
    """In a focused select box: type to filter, Enter to take the first match."""
    page.keyboard.type(typed)
    page.keyboard.press("Enter")
    settle(page)
    expect(page.get_by_role("combobox", name=label)).to_be_visible()


def _open_sign_in(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=LONG)
    # The cookie component reruns the page once it has loaded; keys pressed during that rerun
    # can land on elements being redrawn.
    page.wait_for_selector("iframe[title^='extra_streamlit_components']", state="attached",
                           timeout=LONG)
    settle(page)


def _sign_in_with_keys(page: Page, url: str) -> None:
    _open_sign_in(page, url)
    # Tab to the username field, then the password field right after it.
    _tab_to(page, "Username")
    page.keyboard.type("reporter")
    page.keyboard.press("Tab")
    assert _focused(page)["label"] == "Password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")  # submits the sign-in form
    expect(page.get_by_role("heading", name="Report a near miss").first).to_be_visible(
        timeout=LONG)
    wait_until_idle(page)


# Every link on the page: its address and its text.
LINKS = """() => [...document.querySelectorAll('a')].map(
  a => [a.getAttribute('href') || '', (a.innerText || '').trim()])"""


def test_an_anonymous_visitor_tabs_to_the_sign_in_fields_and_sees_no_page_list(
        page: Page, keyboard_portal: str):
    _open_sign_in(page, keyboard_portal)
    passed: list[dict | None] = []
    presses = _tab_to(page, "Username", passed=passed)
    assert presses <= SIGN_IN_TABS, f"{presses} Tab presses to Username, past {passed}"
    # Nothing but the skip link, the page itself and the form's own fields comes first.
    assert all(stop is None or stop["name"] == "Skip to main content" or stop["tag"] == "main"
               or _is_field(stop) for stop in passed), passed
    page.keyboard.press("Tab")
    assert _focused(page)["label"] == "Password"
    # No menu, and no link to any page of the portal, by its address or by its title.
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    paths = {spec.path.removeprefix("pages/").removesuffix(".py") for spec in PAGES}
    titles = {spec.title for spec in PAGES}
    exposed = [(href, text) for href, text in page.evaluate(LINKS)
               if href.rstrip("/").rsplit("/", 1)[-1].split("?")[0] in paths
               or any(title in text for title in titles)]
    assert exposed == [], f"links shown before sign-in: {exposed}"


def test_a_reporter_signs_in_and_files_a_report_with_the_keyboard_alone(
        page: Page, keyboard_portal: str):
    _sign_in_with_keys(page, keyboard_portal)
    expect(page).to_have_title("Report a near miss · Near Miss Portal")
    # After sign-in the focus is on the page's title, so reading starts there.
    expect(page.locator("[data-testid='stMain'] h1").first).to_be_focused(timeout=LONG)

    _tab_to(page, "What happened?")
    page.keyboard.type("Walker slightly out of reach at the bathroom doorway; I steadied her.")
    _tab_to(page, "Type of near miss")
    _pick(page, "Type of near miss", "Transfer")
    _tab_to(page, "Where did it happen?")
    _pick(page, "Where did it happen?", "Bathroom")
    _tab_to(page, "What stopped harm?")  # the first option; arrows move and choose
    page.keyboard.press("Space")
    settle(page)
    _tab_to(page, "Is anyone still at risk right now?")
    page.keyboard.press("ArrowRight")  # Yes -> No
    settle(page)
    expect(page.get_by_role("radiogroup", name="Is anyone still at risk right now?")
           .get_by_role("radio", name="No")).to_be_checked()
    _tab_to(page, "Submit near miss", button=True)
    page.keyboard.press("Enter")
    filed = page.get_by_text(f"Your reference is NM-{local_now().year}-00001")
    expect(filed.or_(page.get_by_role("alert")).first).to_be_visible(timeout=LONG)
    assert filed.is_visible(), page.get_by_test_id("stMain").inner_text()


def test_a_refused_submit_focuses_one_summary_and_marks_each_field(
        page: Page, keyboard_portal: str):
    _sign_in_with_keys(page, keyboard_portal)
    _tab_to(page, "Submit near miss", button=True)
    summary = page.get_by_role("alert").filter(has_text="not filed yet")
    for _attempt in range(3):  # a key pressed while a rerun lands can be swallowed by it
        page.keyboard.press("Enter")
        try:
            expect(summary).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            wait_until_idle(page)
    expect(summary).to_be_focused(timeout=LONG)
    # One alert only: each field's message is text beside it, not an alert of its own.
    expect(page.get_by_role("alert")).to_have_count(1)
    invalid = page.locator("[aria-invalid='true']")
    expect(invalid.first).to_be_visible(timeout=LONG)
    marked = page.evaluate("""() => [...document.querySelectorAll('[aria-invalid="true"]')]
        .map(e => (e.getAttribute('aria-describedby') || '').split(' ')
             .map(id => document.getElementById(id)).filter(Boolean)
             .map(note => note.innerText.trim()).join(' '))""")
    assert marked and all(marked), f"a field marked invalid has no message tied to it: {marked}"
    assert any("Say briefly what happened." in note for note in marked), marked
    for label in ("What happened?", "Type of near miss", "What stopped harm?"):
        assert label in summary.inner_text()
