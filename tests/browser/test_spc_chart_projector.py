"""The control chart on a 1920×1080 projector in meeting mode: twelve go-lives close together
stay legible (numbered markers that never overlap, no two texts overlapping, every text at
least 16 px), the "Making Data Count" icons sit beside it, and the governance pages use the
whole width. A screenshot is kept under test-results/ to look at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from core.clock import utcnow
from core.config import settings
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.browser.conftest import ROOT
from tests.browser.pages import (
    LONG,
    enter_signed_in,
    open_link,
    wait_until_idle,
)
from tests.builders import build_org, draft, live_controls, local_now

pytestmark = pytest.mark.browser

HOSTILE = "<b>Bold</b> & [link](javascript:alert(1))"
# Twelve go-lives: four in one week, two in the next, two on one day, the rest apart.
DAYS_AGO = [120, 75, 45, 44, 43, 42, 38, 37, 23, 16, 16, 9]

# Every visible text of the chart: tick labels, legend, annotations, the markers' numbers.
CHART_TEXTS = """plot => [...plot.querySelectorAll('svg text')]
  .filter(t => t.textContent.trim() && getComputedStyle(t).display !== 'none'
               && getComputedStyle(t).visibility !== 'hidden' && t.getBBox().width > 0)
  .map(t => { const r = t.getBoundingClientRect();
              const group = t.closest('g[class]');
              return {text: t.textContent, kind: group ? group.getAttribute('class') : '',
                      left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                      size: parseFloat(getComputedStyle(t).fontSize)}; })"""
# The go-live markers' circles: the points of the trace that carries the numbers.
MARKER_CIRCLES = """plot => { const trace = [...plot.querySelectorAll('g.trace')]
    .find(g => g.querySelector('g.textpoint'));
  return [...trace.querySelectorAll('path.point')].map(p => { const r =
    p.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right,
                                       bottom: r.bottom}; }); }"""
MAIN_WIDTH = ("() => document.querySelector('[data-testid=stMainBlockContainer]')"
              ".getBoundingClientRect().width")


def overlap(a: dict, b: dict, tolerance: float = 0.5) -> bool:
    return (min(a["right"], b["right"]) - max(a["left"], b["left"]) > tolerance
            and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > tolerance)


def test_twelve_go_lives_read_on_a_projector(page: Page, portal: str, engine, db_url: str):
    org = build_org(engine)
    now = local_now()
    for days in range(1, 182, 2):
        file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
            org, occurred_at=now - timedelta(days=days)), now=utcnow(), rules=settings())
    titles = [f"Control {n}" for n in range(12)]
    titles[3] = HOSTILE
    live_controls(engine, org, [now.date() - timedelta(days=d) for d in DAYS_AGO],
                  titles=titles)

    page.set_viewport_size({"width": 1920, "height": 1080})
    enter_signed_in(page, portal, "governance", db_url, path="/meeting?panels=trend&every=600")
    expect(page.get_by_role("heading", level=1).first).to_have_text(
        "Near misses week by week", timeout=LONG)
    plot = page.locator(".js-plotly-plot").first
    expect(plot).to_be_visible(timeout=LONG)
    expect(plot.locator("g.textpoint text")).to_have_count(12, timeout=LONG)
    wait_until_idle(page)

    texts = plot.evaluate(CHART_TEXTS)
    numbers = [t for t in texts if t["kind"] == "textpoint"]
    assert sorted(int(t["text"]) for t in numbers) == list(range(1, 13))
    # Every number is on the screen, where a projector shows it.
    assert all(t["left"] >= 0 and t["right"] <= 1920 and t["bottom"] <= 1080 for t in numbers)
    # No two texts of the chart overlap, and none is smaller than 16 px.
    clashes = [(a["text"], b["text"]) for i, a in enumerate(texts) for b in texts[i + 1:]
               if overlap(a, b)]
    assert clashes == []
    small = [(t["text"], t["size"]) for t in texts if t["size"] < 16]
    assert small == []
    assert any(t["kind"] == "xtick" for t in texts) and any(t["kind"] == "ytick" for t in texts)
    # The markers themselves never overlap either, even four in one week.
    circles = plot.evaluate(MARKER_CIRCLES)
    assert len(circles) == 12
    assert not [(i, j) for i, a in enumerate(circles) for j, b in enumerate(circles)
                if i < j and overlap(a, b)]
    # Titles are user text: never in the chart, only in the plain-text legend below it.
    assert not any("Control" in t["text"] or "Bold" in t["text"] for t in texts)

    icons = page.locator('svg[role="img"]')
    expect(icons.first).to_be_visible()
    assert icons.first.get_attribute("aria-label").endswith(
        ("no signal, the latest point is within the usual range",
         "neither improvement nor concern"))
    caption = page.locator("figcaption").first
    assert float(caption.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 16

    legend = page.get_by_test_id("stText")
    expect(legend.first).to_be_visible()
    listed = " ".join(legend.all_inner_texts())
    assert HOSTILE in listed  # literally: no bold, no link
    assert page.locator("[data-testid=stText] b, [data-testid=stText] a").count() == 0
    assert all(float(size) >= 16 for size in legend.evaluate_all(
        "els => els.map(e => parseFloat(getComputedStyle(e).fontSize))"))

    shots = ROOT / "test-results"
    shots.mkdir(exist_ok=True)
    shot = shots / "meeting-spc-12-go-lives-1920x1080.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000

    # The governance pages use the whole width, however they are reached.
    page.goto(f"{portal}/governance_culture")
    expect(page.get_by_role("heading", name="Reporting culture").first).to_be_visible(
        timeout=LONG)
    wait_until_idle(page)
    widths = [page.evaluate(MAIN_WIDTH)]
    for link, title in (("Breakdowns", "Breakdowns"), ("Reporting culture", "Reporting culture"),
                        ("Trends", "Trends"), ("Reporting culture", "Reporting culture")):
        open_link(page, link, title)
        wait_until_idle(page)
        widths.append(page.evaluate(MAIN_WIDTH))
    assert min(widths) > 1200, widths  # a centred page is about 736 px wide
