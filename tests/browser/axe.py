"""axe-core in the browser tests: WCAG 2.2 A/AA violations of the page on screen.

The sweep of every page of every role (test_hostile_text_sweep.py) runs axe once on each page
(and opened state) it visits. Only critical and serious violations fail a test, and only those
the project's own markup and theme cause: what only Streamlit can fix is on ALLOWED below,
each with why.
With NEARMISS_AXE_REPORT=<file>, every violation found (allowed or not, any impact) is
appended to that file as JSON lines, for `python bench/accessibility.py <file>`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.browser.pages import RUNNING, wait_until_idle

STALE = "[data-stale='true']"  # an element of the previous run, drawn faded during a rerun

# The rules of WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe's tags), and axe's best practices
# left out: the goal is the standard.
OPTIONS = {"resultTypes": ["violations"],
           "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                                 "wcag22aa"]}}
FAILING = ("critical", "serious")


@dataclass(frozen=True)
class Allowed:
    """A violation only Streamlit can fix: the rule, the Streamlit-drawn container the node
    is inside (a CSS selector), and why, with the upstream issue when there is one."""

    rule: str
    inside: str
    why: str


# Empty since issue 19.3: the sidebar menu Streamlit drew with st.navigation (<li> inside a
# <div> inside its <ul>, https://github.com/streamlit/streamlit/issues/8399) gave way to the
# portal's own (ui/navigation.py).
ALLOWED: tuple[Allowed, ...] = ()

# For each violation node, the selectors of ALLOWED whose container holds it.
_INSIDE = """([target, selectors]) => {
  const node = document.querySelector(target);
  if (!node) return [];
  return selectors.filter(s => node.closest(s) !== null);
}"""

_axe = Axe()


def _allowed(page: Page, rule: str, target: list) -> bool:
    candidates = [a.inside for a in ALLOWED if a.rule == rule]
    if not candidates or len(target) != 1 or not isinstance(target[0], str):
        return False  # a node inside a frame or shadow root: never allowed
    return bool(page.evaluate(_INSIDE, [target[0], candidates]))


def _run_while_idle(page: Page) -> dict:
    """axe's results for the page at rest: while Streamlit reruns it draws the previous
    elements faded, which would read as low contrast, so a run that overlapped a rerun is
    repeated (bounded)."""
    for _attempt in range(3):
        wait_until_idle(page)
        results = _axe.run(page, options=OPTIONS).response
        if not page.locator(RUNNING).count() and not page.locator(STALE).count():
            break
    return results


def axe_problems(page: Page, where: str) -> list[str]:
    """The critical and serious violations on the page now on screen, not allowed above."""
    results = _run_while_idle(page)
    report = os.environ.get("NEARMISS_AXE_REPORT")
    problems: list[str] = []
    lines: list[str] = []
    for violation in results["violations"]:
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node["target"])
            allowed = _allowed(page, violation["id"], node["target"])
            lines.append(json.dumps({"page": where, "rule": violation["id"],
                                     "impact": node.get("impact") or violation["impact"],
                                     "target": target, "allowed": allowed,
                                     "html": node.get("html", "")[:200]}))
            if (node.get("impact") or violation["impact"]) in FAILING and not allowed:
                problems.append(f"{where}: axe {violation['id']} ({violation['impact']}) at "
                                f"{target}: {violation['help']}")
    if report and lines:
        with open(report, "a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
    return problems
