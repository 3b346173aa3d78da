"""Seed 2, example 3 in the real browser: a cluster of late shift starts in the North region
on the triage board becomes an action plan (a coverage lock); an evidence check is recorded
on the plan, and the register exports the action."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from core.actions.models import Action, ActionEvidenceCheck, ActionPlan, ActionPlanReport
from core.db import read_session
from core.organisation.models import Service
from tests.browser.pages import (
    LONG,
    choose,
    download,
    enter_signed_in,
    open_link,
    settle,
)
from tests.builders import build_org
from tests.cluster_helpers import file_late_start_cluster
from ui.action_panels import kind_label

pytestmark = pytest.mark.browser

CHECK = "Supervisors briefed on the coverage lock cut-off"


def keyed(page: Page, key: str):
    """The element Streamlit rendered for a widget key (it adds the key as a class, with
    every character other than letters, digits, _ and - turned into -)."""
    return page.locator(f".st-key-{re.sub(r'[^a-zA-Z0-9_-]', '-', key)}").first


def test_quality_builds_a_plan_from_a_cluster_and_records_evidence(page: Page, portal: str,
                                                                  engine, db_url: str):
    org = build_org(engine)
    # Six late starts across the North's two services in nine days, none before: a cluster
    # under the rule's 52-week baseline (three would not be).
    references = file_late_start_cluster(engine, org)
    with read_session(engine) as session:
        north = session.get(Service, org.oak).region_id
    page.set_viewport_size({"width": 1400, "height": 1000})
    # The board's Clusters section names the cluster and links to the builder.
    enter_signed_in(page, portal, "quality", db_url, path="/triage_board")
    expect(page.get_by_role("heading", name="Triage board").first).to_be_visible(timeout=LONG)
    keyed(page, "board_clusters").get_by_text("Clusters · 1 open").click()
    expect(page.get_by_text("Late shift start / coverage in North (region): 6 in 10 days")) \
        .to_be_visible(timeout=LONG)
    open_link(page, "Create action plan", "New action plan")
    settle(page)

    # The builder: the cluster's reports are linked; one action is enough.
    base = f"plan.new.cluster.late_shift_start.region.{north}"
    expect(keyed(page, base + ".references").get_by_role("textbox")) \
        .to_have_value(", ".join(references))
    title = keyed(page, base + ".a0.title").get_by_role("textbox")
    title.fill("Coverage lock: the rota is fixed 48 hours ahead")
    title.press("Tab")
    settle(page)
    choose(page, "Kind of action (its strength on the action hierarchy)",
           kind_label("forcing_function"))
    choose(page, "Owner", "Quality · all services")
    checks = keyed(page, base + ".a0.checks").get_by_role("textbox")
    checks.fill(CHECK)
    checks.press("Tab")
    settle(page)
    keyed(page, base + ".save").get_by_role("button").click()
    settle(page)
    expect(page.get_by_text(re.compile(r"Action plan #\d+ saved with 1 action"))) \
        .to_be_visible(timeout=LONG)
    expect(page.get_by_role("heading", name=re.compile(r"Action plan #\d+")).first).to_be_visible()

    with read_session(engine) as session:
        plan = session.scalar(select(ActionPlan))
        check = session.scalar(select(ActionEvidenceCheck))
        linked = len(session.scalars(select(ActionPlanReport)).all())
    assert plan.source == "cluster" and plan.cluster_region_id == north and linked == 6
    assert check.name == CHECK and check.completed_at is None

    # The plan: complete the evidence check.
    key = f"check.{check.id}"
    keyed(page, key + ".panel").get_by_text("Complete this check").click()
    note = keyed(page, key + ".note").get_by_role("textbox")
    note.fill("Briefed all North supervisors at Monday's huddle; sign-off sheet attached.")
    note.press("Tab")
    settle(page)
    keyed(page, key + ".save").get_by_role("button").click()
    settle(page)
    expect(page.get_by_text("Evidence recorded.")).to_be_visible(timeout=LONG)
    expect(page.get_by_text("Evidence checks · 1/1")).to_be_visible()
    expect(page.get_by_text("Briefed all North supervisors at Monday's huddle")) \
        .to_be_visible()

    with read_session(engine) as session:
        done = session.get(ActionEvidenceCheck, check.id)
        action = session.get(Action, done.action_id)
    assert done.completed_at is not None and done.completed_by_id == org.actor("quality").user_id
    assert done.note.startswith("Briefed all North supervisors")
    assert action.status == "in_progress"

    # The register lists it and exports it.
    page.goto(f"{portal}/actions")
    expect(page.get_by_role("heading", name="Action register").first).to_be_visible(timeout=LONG)
    content = download(page, "Download CSV").read_text(encoding="utf-8-sig")
    assert "Coverage lock: the rota is fixed 48 hours ahead" in content
