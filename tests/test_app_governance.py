"""Each governance page runs in the real app, scoped to the user, with its charts."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import numpy as np
import pytest

from core.reports.service import file_near_miss
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, new_app, sign_in, texts
from tests.builders import build_org, draft, local_now
from ui.governance import BARRIER_COLOURS

PAGES = ["pages/governance.py", "pages/governance_breakdowns.py",
         "pages/governance_clusters.py", "pages/governance_culture.py",
         "pages/governance_controls.py", "pages/meeting.py"]


@pytest.fixture
def org(engine):
    org = build_org(engine)
    for days in range(0, 120, 3):
        file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
            org, occurred_at=local_now() - timedelta(days=days),
            location_id=org.maple_kitchen if days % 2 else org.maple_bathroom))
    file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, service_id=org.oak, location_id=org.oak_lounge, type_key="transport",
        description="Oak Lodge minibus booked for the wrong day; rebooked in time."))
    return org


@pytest.mark.parametrize("page", PAGES)
def test_every_governance_page_runs_for_the_quality_lead(org, page):
    at = sign_in(new_app(), "quality")
    at.switch_page(page).run()
    assert_no_exception(at)
    assert texts(at, "title")


def chart_specs(at):
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def values(array):
    """Plotly sends numeric arrays as typed binary ({"dtype", "bdata"}) or plain lists."""
    if isinstance(array, dict):
        return list(np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]))
    return list(array)


def test_the_trend_chart_has_limits_and_the_weekly_values(org):
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/governance.py").run()
    [spec] = chart_specs(at)
    names = [trace["name"] for trace in spec["data"]]
    assert names == ["Upper process limit", "Lower process limit", "Mean", "Near misses"]
    weekly = values(spec["data"][3]["y"])
    now = local_now()
    monday = now.date() - timedelta(days=now.weekday())
    complete = sum(1 for days in range(0, 120, 3)
                   if (now - timedelta(days=days)).date() < monday)
    assert sum(weekly) == complete  # the week under way is left out of the chart
    assert any(m.strip("*").startswith(("Common cause variation", "Special cause"))
               for m in texts(at, "markdown"))


def test_breakdowns_are_scoped_for_a_supervisor(org):
    at = sign_in(new_app(), "supervisor")
    at.switch_page("pages/governance_breakdowns.py").run()
    assert_no_exception(at)
    at.segmented_control(key="breakdown_dimension").set_value("service").run()
    [spec] = chart_specs(at)
    assert spec["data"][0]["y"] == ["Maple House"]  # never Oak Lodge


def test_a_reporter_has_no_governance_pages(org):
    at = sign_in(new_app(), "reporter")
    links = " ".join(str(link.proto) for link in at.sidebar.get("page_link"))
    assert "governance" not in links and "meeting" not in links


def test_meeting_mode_shows_no_editing_widgets(org):
    at = sign_in(new_app(), "governance")
    at.query_params["panels"] = "trend,culture"
    at.switch_page("pages/meeting.py").run()
    assert_no_exception(at)
    editing = [w for kind in ("text_input", "text_area", "selectbox", "multiselect", "radio",
                              "checkbox", "number_input", "date_input")
               for w in getattr(at.main, kind)]
    assert editing == []
    assert texts(at, "title") in (["Near misses week by week"], ["Reporting culture"])


def test_the_controls_page_stacks_what_stopped_harm_as_shares(org):
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/governance_controls.py").run()
    assert_no_exception(at)
    [spec] = chart_specs(at)  # no actions yet: no strength chart
    traces = spec["data"]
    assert {trace["name"] for trace in traces} <= set(BARRIER_COLOURS)
    assert all(trace["stackgroup"] == "share" for trace in traces)
    by_month: dict[str, float] = {}
    for trace in traces:  # each month's shares add up to the whole
        for month, share in zip(trace["x"], values(trace["y"]), strict=True):
            by_month[month] = by_month.get(month, 0) + share
    assert by_month and all(abs(total - 100) < 1e-6 for total in by_month.values())
    assert any("stopped by staff noticing and recovering" in m for m in texts(at, "markdown"))
    assert "No actions yet" in " ".join(texts(at, "info"))


def test_the_barrier_chart_stacks_shares_and_hovers_with_counts():
    """The stacked chart reads in percent of each month; hovering shows the count too."""
    import pandas as pd

    from ui.governance import barrier_share_figure

    mix = pd.DataFrame({"month": ["2026-01", "2026-01", "2026-02", "2026-02"],
                        "barrier": ["Staff", "Designed control", "Staff", "Designed control"],
                        "count": [3, 1, 0, 5]})
    figure = barrier_share_figure(mix, height=300)
    shares = {trace.name: list(trace.y) for trace in figure.data}
    assert shares == {"Staff": [75.0, 0.0], "Designed control": [25.0, 100.0]}
    counts = {trace.name: list(trace.customdata) for trace in figure.data}
    assert counts == {"Staff": [3, 0], "Designed control": [1, 5]}


def test_the_trend_marks_twelve_controls_and_says_how_many_went_live(org, engine):
    """A provider with many controls sees a readable chart: twelve green lines, the best
    evidenced, a note of how many went live, and the comparison list of the marked ones."""
    from sqlalchemy import select

    from core.actions.models import Action
    from core.actions.service import ActionDraft, PlanDraft, create_plan
    from core.auth.actor import SYSTEM
    from core.reports.models import NearMissReport

    quality = org.actor("quality")
    with UnitOfWork(engine) as uow:
        reference = uow.session.scalars(select(NearMissReport.reference)).first()
    today = local_now().date()
    create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Walker check", theme="Near falls", report_references=[reference],
        actions=[ActionDraft(title="Walker check", kind="checklist", owner_id=quality.user_id,
                             deadline=today + timedelta(days=5),
                             review_date=today + timedelta(days=9), evidence_checks=["Card"],
                             verify_with_measure=False)]))
    with UnitOfWork(engine) as uow:
        template = uow.session.scalars(select(Action)).one()
        columns = {c.key: getattr(template, c.key) for c in Action.__table__.columns
                   if c.key not in ("id", "version_id")}
        for n in range(20):
            uow.session.add(Action(**{**columns, "title": f"Control {n}", "status": "in_test",
                                      "go_live_date": today - timedelta(days=3 * n + 8)}))
        uow.record(SYSTEM, "test.controls_live", "action", None)
        uow.commit()
    at = sign_in(new_app(), "quality")
    at.switch_page("pages/governance.py").run()
    assert_no_exception(at)
    [spec] = chart_specs(at)
    assert len(spec["layout"]["shapes"]) == 12
    assert any("20 controls that concern this chart went live" in c for c in texts(at, "caption"))
    compare = at.selectbox(key="trend_compare_all")
    assert len(compare.options) == 13  # "No comparison" and the twelve marked
