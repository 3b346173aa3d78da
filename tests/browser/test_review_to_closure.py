"""A supervisor reviews a near fall and closes it, in the real browser: the type's review
form, every "cannot proceed without" gate, every validation item with evidence, closure."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.reports.models import NearMissReport
from core.review.models import GateCheck, Review, ValidationEvidence
from core.review.service import start_review
from core.taxonomy.service import load_taxonomy_file
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from tests.browser.pages import (
    LONG,
    choose,
    enter_signed_in,
    settle,
    wait_until_idle,
)
from tests.builders import build_org, draft
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

NEAR_FALL = load_taxonomy_file(ROOT / "data" / "taxonomy.yaml").type("transfer_near_fall")
TEXT_ANSWERS = {
    "Transfer task": "Evening bathroom routine",
    "Staff present": "One DSP",
    "Immediate action taken": "Steadied her and brought the walker over",
    "Support plan guidance": "Walker within reach for every transfer",
    "Environmental condition": "Tight doorway by the bath",
    "Supervisor review": "Same doorway as earlier fall discussions; set-up varies by staff",
}
CHOICES = {"Mobility aid position": "Slightly out of reach",
           "Person's balance or fatigue level": "Tired"}


def keyed(page: Page, key: str):
    """The element Streamlit rendered for a widget key (it adds the key as a class, with
    every character other than letters, digits, _ and - turned into -)."""
    return page.locator(f".st-key-{re.sub(r'[^a-zA-Z0-9_-]', '-', key)}").first


def click_and_wait(page: Page, locator) -> None:
    locator.click()
    settle(page)


def test_supervisor_reviews_and_closes_a_near_fall(page: Page, portal: str, engine,
                                                 db_url: str):
    org = build_org(engine)
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                               now=utcnow(), rules=settings()).reference
    triage_report(UnitOfWork(engine), org.actor("supervisor"), reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="repeat", severity="high",
        investigation="barrier_review", route="supervisor"), expected_version=1,
                  now=utcnow(), rules=settings())
    start_review(UnitOfWork(engine), org.actor("supervisor"), reference, expected_version=2,
                 now=utcnow(), rules=settings())
    page.set_viewport_size({"width": 1400, "height": 1000})
    enter_signed_in(page, portal, "supervisor", db_url, path=f"/near_miss?ref={reference}")
    expect(page.get_by_role("heading", name=f"{reference} · Transfer / near fall").first) \
        .to_be_visible(timeout=LONG)
    base = f"review.{reference}."

    # The review: the type's fields and the questions leaders ask.
    for label, answer in TEXT_ANSWERS.items():
        field = page.get_by_role("textbox", name=label, exact=True)
        field.fill(answer)
        field.press("Tab")
        wait_until_idle(page)
    for label, option in CHOICES.items():
        choose(page, label, option)
    page.get_by_role("radiogroup", name="Was that control reliable?") \
        .get_by_text("Partly").click()
    page.get_by_role("radiogroup", name="Would the same protection work") \
        .get_by_text("Not sure").click()
    wait_until_idle(page)
    click_and_wait(page, keyed(page, base + "save").get_by_role("button"))
    expect(page.get_by_text("Review saved.")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Review: complete")).to_be_visible()

    # Gates: moving on is refused while any is open, naming it.
    click_and_wait(page, page.get_by_role("button", name="validate now"))
    expect(page.get_by_text("Cannot proceed without").first).to_be_visible(timeout=LONG)
    page.get_by_role("tab", name="Gates").click()
    for gate in NEAR_FALL.gates:
        note = page.get_by_role("textbox", name=f"{gate.label}: what was done", exact=False)
        note.fill(f"Done at handover: {gate.label[:30]}")
        click_and_wait(page, keyed(page, f"{base}gate.{gate.key}.done").get_by_role("button"))
        expect(page.get_by_text("Gate recorded.")).to_be_visible(timeout=LONG)
    click_and_wait(page, page.get_by_role("button", name="validate now"))
    expect(page.get_by_text("Moved to validating.")).to_be_visible(timeout=LONG)

    # Validation: evidence for every item, then closure.
    page.get_by_role("tab", name="Validation").click()
    for done, item in enumerate(NEAR_FALL.validation):
        key = f"{base}evidence.{item.key}"
        click_and_wait(page, keyed(page, key + ".panel").get_by_text("Add evidence"))
        # The run that opens the panel takes the last notice away and the items move up: type
        # and click once it has drawn. On a busy machine it could start after `settle` gave
        # up waiting for it and land mid-click, the click then missing "Save evidence" (CI
        # reruns, 2026-12-07: the text left in its box, the item not recorded).
        expect(keyed(page, "near_miss_notice_slot").get_by_test_id("stAlert")) \
            .to_have_count(0, timeout=LONG)
        box = page.get_by_role("textbox", name=f"Evidence for “{item.label}”")
        box.fill(f"Checked on the next two routines: {item.label.lower()}")
        click_and_wait(page, keyed(page, key + ".save").get_by_role("button"))
        expect(page.get_by_text("Evidence recorded.")).to_be_visible(timeout=LONG)
        expect(page.get_by_text(f"Validation: {done + 1}/6")).to_be_visible()
    outcome = page.get_by_role("textbox", name="Outcome: what changed")
    outcome.fill("Pre-transfer equipment check introduced; observed on the next two routines.")
    outcome.press("Tab")
    wait_until_idle(page)
    click_and_wait(page, page.get_by_role("button", name="Close the near miss"))
    expect(page.get_by_text("Closed. Thank you.")).to_be_visible(timeout=LONG)

    with read_session(engine) as session:
        report = session.scalar(select(NearMissReport))
        review = session.scalar(select(Review))
        gates = session.scalars(select(GateCheck)).all()
        evidence = session.scalars(select(ValidationEvidence)).all()
    assert report.status == "closed" and review.closed_by_id == org.actor("supervisor").user_id
    assert len(gates) == len(NEAR_FALL.gates) and len(evidence) == len(NEAR_FALL.validation)
    assert review.field_values["transfer_task"] == "Evening bathroom routine"
