"""Action plans in the real app: the builder from a report, errors beside their fields with
nothing typed lost, several actions saved at once, the strength warning, the register with
what is overdue and "My actions", and an evidence check completed on the plan."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1.element_tree import Widget

from core.actions.models import (
    Action,
    ActionEvidenceCheck,
    ActionPlan,
    ActionPlanReport,
    SustainmentCheck,
    VerificationMeasure,
)
from core.actions.service import (
    ActionDraft,
    MeasureDraft,
    PlanDraft,
    complete_evidence_check,
    create_plan,
    set_go_live,
)
from core.audit.models import AuditEvent
from core.clock import to_local, utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.organisation.models import Service
from core.review.rca import RcaInput, complete_rca, open_rca, update_rca
from core.review.service import start_review
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from tests.apptest_helpers import (
    as_field_message,
    assert_no_exception,
    count_calls,
    field_messages,
    new_app,
    open_sections,
    sign_in,
    texts,
)
from tests.builders import build_org, draft, local_now
from tests.cluster_helpers import file_late_start_cluster
from tests.conftest import built_once

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def today() -> date:
    return to_local(utcnow(), settings().zone).date()


def in_review(engine, org, *, severity="medium", **changes) -> str:
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                               draft(org, **changes), now=utcnow(), rules=settings()).reference
    triage_report(UnitOfWork(engine), org.actor("supervisor"), reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity=severity,
        investigation="barrier_review" if severity == "high" else "supervisor_review",
        route="supervisor"), expected_version=1, now=utcnow(), rules=settings())
    start_review(UnitOfWork(engine), org.actor("supervisor"), reference, expected_version=2,
                 now=utcnow(), rules=settings())
    return reference


def open_builder(username: str, **params: str):
    at = sign_in(new_app(), username)
    for name, value in params.items():
        at.query_params[name] = value
    return at.switch_page("pages/action_plan.py").run()


def open_plan(username: str, plan_id: int):
    at = sign_in(new_app(), username)
    at.query_params["plan"] = str(plan_id)
    return at.switch_page("pages/action_plan.py").run()


def open_register(username: str):
    return sign_in(new_app(), username).switch_page("pages/actions.py").run()


def error_beside(at, key: str) -> str | None:
    """The error message shown right after the widget with this key, before the next widget
    (a field's message, not an alert: the one alert is the summary at the top)."""
    nodes = list(at.main)
    start = next(i for i, node in enumerate(nodes)
                 if isinstance(node, Widget) and node.key == key)
    for node in nodes[start + 1:]:
        if isinstance(node, Widget):
            return None
        if getattr(node, "type", None) == "markdown":
            message = as_field_message(str(node.value))
            if message is not None:
                return message
    return None


def user_id(org, username: str) -> int:
    return org.actor(username).user_id


def region_of(engine, service_id: int) -> int:
    with read_session(engine) as session:
        return session.get(Service, service_id).region_id


def plan_through_core(engine, org, reference, *, owner="supervisor", now=None,
                      deadline_days=14, checks=("Staff briefed on the walker position",),
                      title="Pre-transfer equipment check card"):
    """A plan with one action, created through core (optionally at another moment)."""
    now = now or utcnow()
    day = to_local(now, settings().zone).date()
    return create_plan(UnitOfWork(engine), org.actor("quality"), PlanDraft(
        title="Walker out of reach at the bathroom doorway", theme="Transfers at the doorway",
        report_references=[reference],
        actions=[ActionDraft(title=title, kind="checklist", owner_id=user_id(org, owner),
                             deadline=day + timedelta(days=deadline_days),
                             review_date=day + timedelta(days=deadline_days + 14),
                             evidence_checks=list(checks))],
        measure=MeasureDraft()), now=now, rules=settings())


# -- the builder ------------------------------------------------------------------------------

def test_the_builder_from_a_report_prefills_the_links_and_the_measure(engine, org):
    reference = in_review(engine, org)
    at = open_builder("quality", **{"from": "report", "ref": reference})
    assert_no_exception(at)
    base = f"plan.new.report.{reference}"
    assert texts(at, "title") == ["New action plan"]
    assert at.text_input(key=base + ".references").value == reference
    assert at.text_input(key=base + ".title").value == "Transfer / near fall: Maple House"
    assert "Walker slightly out of reach" in at.text_area(key=base + ".theme").value
    linked = [d.value for d in at.dataframe if "Reference" in d.value.columns]
    assert list(linked[0]["Reference"]) == [reference]
    assert at.multiselect(key=base + ".m.types").value == ["transfer_near_fall"]
    assert at.multiselect(key=base + ".m.services").value == [org.maple]
    assert at.radio(key=base + ".m.per").value == "week"
    assert at.radio(key=base + ".m.direction").value == "decrease"
    assert any("It counts 1 near misses in the last 12 weeks" in c for c in texts(at, "caption"))
    # The kinds read with their strength and an example while choosing.
    kinds = at.selectbox(key=base + ".a0.kind").options
    assert kinds[0].startswith("Stronger · Physical or architectural change — e.g. Widen")
    assert kinds[-1].startswith("Weaker · More study or analysis")


def test_an_invalid_save_shows_each_error_beside_its_field_and_keeps_everything(engine, org):
    reference = in_review(engine, org)
    at = open_builder("quality", **{"from": "report", "ref": reference})
    base = f"plan.new.report.{reference}"
    action = base + ".a0"
    yesterday = today() - timedelta(days=1)
    at.text_input(key=action + ".title").input("Coverage card at the doorway")
    at.selectbox(key=action + ".kind").set_value("checklist")
    at.selectbox(key=action + ".owner").set_value(user_id(org, "oak_supervisor"))
    at.date_input(key=action + ".deadline").set_value(yesterday)
    at.text_area(key=action + ".checks").input("Card in place\nTwo routines observed")
    at.selectbox(key=base + ".m.capture_field").set_value("transfer_task")
    at = at.run()
    at.text_input(key=base + ".m.capture_value").input("Nothing ever matches this")
    at = at.button(key=base + ".save").click().run()
    assert_no_exception(at)

    [summary] = texts(at, "error")  # one alert; each reason beside its answer
    assert "Not saved yet: check the 3 answers marked below" in summary
    assert len(field_messages(at)) == 3
    assert error_beside(at, action + ".deadline") == "The deadline is in the past."
    assert "cannot reach every service" in error_beside(at, action + ".owner")
    assert "matches no near miss" in error_beside(at, base + ".m.capture_value")
    assert error_beside(at, action + ".title") is None
    # Nothing typed is lost.
    assert at.text_input(key=action + ".title").value == "Coverage card at the doorway"
    assert at.selectbox(key=action + ".kind").value == "checklist"
    assert at.selectbox(key=action + ".owner").value == user_id(org, "oak_supervisor")
    assert at.date_input(key=action + ".deadline").value == yesterday
    assert at.text_area(key=action + ".checks").value == "Card in place\nTwo routines observed"
    assert at.text_input(key=base + ".m.capture_value").value == "Nothing ever matches this"
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(ActionPlan)) == 0


def test_a_valid_save_creates_the_plan_with_two_actions_at_once(engine, org):
    reference = in_review(engine, org)
    at = open_builder("quality", **{"from": "report", "ref": reference})
    base = f"plan.new.report.{reference}"
    first = base + ".a0"
    at.text_input(key=first + ".title").input("Pre-transfer equipment check card")
    at.selectbox(key=first + ".kind").set_value("checklist")
    at.selectbox(key=first + ".owner").set_value(user_id(org, "supervisor"))
    at.text_area(key=first + ".checks").input("Card at the doorway\nTwo routines observed")
    at = at.button(key=base + ".add_block").click().run()
    second = base + ".a1"
    at.text_input(key=second + ".title").input("Grab rail where the walker is parked")
    at.selectbox(key=second + ".kind").set_value("physical_change")
    at.selectbox(key=second + ".owner").set_value(user_id(org, "quality"))
    at.text_area(key=second + ".checks").input("Rail fitted")
    at.checkbox(key=second + ".verify").uncheck()
    at = at.button(key=base + ".save").click().run()
    assert_no_exception(at)

    with read_session(engine) as session:
        plan = session.scalar(select(ActionPlan))
        actions = session.scalars(select(Action).order_by(Action.id)).all()
        checks = session.scalars(select(ActionEvidenceCheck)
                                 .order_by(ActionEvidenceCheck.id)).all()
        linked = session.scalars(select(ActionPlanReport.report_id)).all()
        measures = session.scalars(select(VerificationMeasure)).all()
    assert plan.title == "Transfer / near fall: Maple House" and len(linked) == 1
    assert [(a.title, a.strength_category, a.owner_id) for a in actions] == [
        ("Pre-transfer equipment check card", "checklist", user_id(org, "supervisor")),
        ("Grab rail where the walker is parked", "physical_change", user_id(org, "quality"))]
    assert actions[0].deadline == today() + timedelta(days=14)
    assert actions[0].test_window_days == 14
    assert [m.action_id for m in measures] == [actions[0].id]  # the second is not verified
    assert [c.name for c in checks] == ["Card at the doorway", "Two routines observed",
                                        "Rail fitted"]
    # The page switched to the plan.
    assert texts(at, "title") == [f"Action plan #{plan.id}"]
    assert at.query_params["plan"] == str(plan.id) and "from" not in at.query_params
    assert any(f"Action plan #{plan.id} saved with 2 actions" in s
               for s in texts(at, "success"))


def test_the_strength_warning_appears_for_a_high_potential_theme_with_only_training(engine,
                                                                                    org):
    reference = in_review(engine, org, severity="high")
    at = open_builder("quality", **{"from": "report", "ref": reference})
    base = f"plan.new.report.{reference}"
    assert not any("only weaker actions" in w for w in texts(at, "warning"))
    at = at.selectbox(key=base + ".a0.kind").set_value("training").run()
    assert any("high-potential theme but holds only weaker actions" in w
               for w in texts(at, "warning"))
    assert any("Weaker action: training" in c for c in texts(at, "caption"))
    # A stronger action in the plan answers it.
    at = at.button(key=base + ".add_block").click().run()
    at = at.selectbox(key=base + ".a1.kind").set_value("forcing_function").run()
    assert not any("only weaker actions" in w for w in texts(at, "warning"))


def test_a_completed_analysis_and_a_cluster_open_the_builder(engine, org):
    # A root cause analysis's findings become the theme; its reports are linked.
    references = file_late_start_cluster(engine, org)
    quality = org.actor("quality")
    rca = open_rca(UnitOfWork(engine), quality, title="Late starts in the North",
                   problem="Shifts start late after last-minute rota changes.",
                   references=references, now=utcnow(), rules=settings())
    update_rca(UnitOfWork(engine), quality, rca, RcaInput(
        title="Late starts in the North", problem="Shifts start late after rota changes.",
        five_whys=["Nobody confirmed cover"], contributing_factors=["staffing"],
        findings="Introduce a coverage lock cut-off with supervisor sign-off for exceptions."),
               now=utcnow(), rules=settings())
    complete_rca(UnitOfWork(engine), quality, rca, now=utcnow())
    at = sign_in(new_app(), "quality")
    at.query_params["rca"] = str(rca)
    at = at.switch_page("pages/rca.py").run()
    assert any("Create an action plan from these findings" in link and f"rca={rca}" in link
               for link in (str(p.proto) for p in at.get("page_link")))
    at = open_builder("quality", **{"from": "rca", "rca": str(rca)})
    assert_no_exception(at)
    base = f"plan.new.rca.{rca}"
    assert at.text_area(key=base + ".theme").value.startswith("Introduce a coverage lock")
    assert at.text_input(key=base + ".references").value == ", ".join(references)

    at = open_builder("quality", **{"from": "cluster", "type": "late_shift_start",
                                    "scope": "region", "id": str(region_of(engine, org.oak))})
    assert_no_exception(at)
    base = f"plan.new.cluster.late_shift_start.region.{region_of(engine, org.oak)}"
    assert at.text_input(key=base + ".title").value.startswith("Cluster: Late shift start")
    assert sorted(at.multiselect(key=base + ".m.services").value) == sorted([org.oak,
                                                                             org.east])


def test_a_reporter_cannot_build_a_plan(engine, org):
    reference = in_review(engine, org)
    at = open_builder("reporter", **{"from": "report", "ref": reference})
    assert any("does not allow" in e for e in texts(at, "error"))


# -- links from the other pages ---------------------------------------------------------------

def test_a_report_under_review_links_to_the_builder_and_its_plans(engine, org):
    reference = in_review(engine, org)
    created = plan_through_core(engine, org, reference)
    at = sign_in(new_app(), "quality")
    at.query_params["ref"] = reference
    at = at.switch_page("pages/near_miss.py").run()
    assert_no_exception(at)
    links = [str(link.proto) for link in at.get("page_link")]
    assert any("Create an action plan" in link and "from=report" in link for link in links)
    assert any(f"Plan #{created.plan_id}" in link and f"plan={created.plan_id}" in link
               for link in links)


def test_the_board_lists_clusters_with_a_link_to_build_a_plan(engine, org):
    file_late_start_cluster(engine, org)
    at = sign_in(new_app(), "quality").switch_page("pages/triage_board.py").run()
    assert_no_exception(at)
    assert next(e.label for e in at.expander
                if e.label.startswith("Clusters")) == "Clusters · 1 open · 1 in six weeks"
    open_sections(at, "board_clusters")
    assert any("Late shift start / coverage in North (region): 6 in 10 days" in t
               for t in texts(at, "text"))
    links = [str(link.proto) for link in at.get("page_link")]
    assert any("Create action plan" in link and "from=cluster" in link
               and "type=late_shift_start" in link and "scope=region" in link
               and "episode=" in link for link in links)


# -- the register -----------------------------------------------------------------------------

def test_the_register_shows_an_overdue_action_first(engine, org):
    reference = in_review(engine, org)
    # Created a month ago with a deadline ten days after: overdue now.
    plan_through_core(engine, org, reference, now=utcnow() - timedelta(days=30),
                      deadline_days=10, title="Walker parking mark on the floor")
    plan_through_core(engine, org, reference, deadline_days=40, title="Grab rail")
    at = open_register("governance")
    assert_no_exception(at)
    frame = next(d.value for d in at.dataframe if "Action" in d.value.columns)
    assert list(frame["Action"]) == ["Walker parking mark on the floor", "Grab rail"]
    assert frame["Deadline state"][0].startswith("⚠ Overdue")
    assert frame["Deadline state"][1] == ""
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Overdue"] == "1" and metrics["Open"] == "2"
    assert frame["Plan"][0].startswith("action_plan?plan=")
    # Overdue only.
    at = at.toggle(key="register_overdue").set_value(True).run()
    frame = next(d.value for d in at.dataframe if "Action" in d.value.columns)
    assert list(frame["Action"]) == ["Walker parking mark on the floor"]


def test_the_register_repeated_unchanged_is_read_from_its_cache_and_a_write_shows_at_once(
        engine, org, monkeypatch):
    """The register is read once for runs with nothing written; a new plan's action shows on
    the next run."""
    from core.views import actions as views

    reads = count_calls(monkeypatch, views, "register_page")
    reference = in_review(engine, org)
    plan_through_core(engine, org, reference, deadline_days=40, title="Grab rail")
    at = open_register("governance")
    assert_no_exception(at)
    at.run()
    assert len(reads) == 1  # rerun, nothing written: served from the cache

    plan_through_core(engine, org, reference, now=utcnow() - timedelta(days=30),
                      deadline_days=10, title="Walker parking mark on the floor")
    at.run()
    assert len(reads) == 2
    frame = next(d.value for d in at.dataframe if "Action" in d.value.columns)
    assert list(frame["Action"]) == ["Walker parking mark on the floor", "Grab rail"]
    assert {m.label: m.value for m in at.metric}["Overdue"] == "1"


def test_the_timeline_states_its_finding_and_lists_its_deadlines_in_words(engine, org):
    reference = in_review(engine, org)
    plan_through_core(engine, org, reference, now=utcnow() - timedelta(days=30),
                      deadline_days=10, title="Walker parking mark on the floor")
    plan_through_core(engine, org, reference, deadline_days=40, title="Grab rail")
    at = open_register("governance")
    assert_no_exception(at)
    assert "Deadlines of open actions: 2 actions shown, 1 overdue, 0 due soon, 1 later." \
        in texts(at, "markdown")
    frame = next(d.value for d in at.dataframe if "Open action" in d.value.columns)
    assert [title.split(" ", 1)[1] for title in frame["Open action"]] == [
        "Walker parking mark on the floor", "Grab rail"]
    assert frame["Deadline state"][0].startswith("⚠ Overdue")
    assert frame["Deadline state"][1] == "Later"
    [spec] = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert spec["layout"]["title"]["text"] == "Deadlines and review dates of open actions"
    shapes = {trace.get("name"): trace["marker"]["symbol"] for trace in spec["data"]
              if trace.get("name")}
    assert shapes["Deadline, overdue"] != shapes["Deadline"]  # not by colour alone


def test_my_actions_shows_only_the_actions_i_own(engine, org):
    reference = in_review(engine, org)
    plan_through_core(engine, org, reference, owner="supervisor", title="Supervisor's action")
    plan_through_core(engine, org, reference, owner="quality", title="Quality's action")
    at = open_register("supervisor")
    frame = next(d.value for d in at.dataframe if "Action" in d.value.columns)
    assert sorted(frame["Action"]) == ["Quality's action", "Supervisor's action"]
    at = at.toggle(key="register_mine").set_value(True).run()
    assert_no_exception(at)
    frame = next(d.value for d in at.dataframe if "Action" in d.value.columns)
    assert list(frame["Action"]) == ["Supervisor's action"]
    assert {m.label: m.value for m in at.metric}["Open"] == "1"


def test_the_register_exports_csv_and_xlsx_when_the_exporters_exist(engine, org):
    pytest.importorskip("core.exports.spreadsheet")
    pytest.importorskip("core.actions.export")
    reference = in_review(engine, org)
    plan_through_core(engine, org, reference)
    at = open_register("quality")
    assert_no_exception(at)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Download CSV", "Download XLSX"]


# -- the plan ---------------------------------------------------------------------------------

def test_the_owner_completes_an_evidence_check_on_the_plan(engine, org):
    reference = in_review(engine, org)
    created = plan_through_core(engine, org, reference, owner="supervisor",
                                checks=("Staff briefed", "Two routines observed"))
    at = open_plan("supervisor", created.plan_id)
    assert_no_exception(at)
    assert texts(at, "title") == [f"Action plan #{created.plan_id}"]
    assert "Walker out of reach at the bathroom doorway" in texts(at, "text")
    with read_session(engine) as session:
        check = session.scalar(select(ActionEvidenceCheck).where(
            ActionEvidenceCheck.name == "Staff briefed"))
    base = f"check.{check.id}"
    at = at.button(key=base + ".save").click().run()
    assert error_beside(at, base + ".note").startswith("Describe the evidence")
    assert len(texts(at, "error")) == 1  # the summary; the reason is beside the field
    at.text_area(key=base + ".note").input("Briefed the evening team at handover")
    uploader = next(u for u in at.get("file_uploader") if u.key == base + ".file")
    uploader.upload("briefing.pdf", PDF, "application/pdf")
    at = at.run().button(key=base + ".save").click().run()
    assert_no_exception(at)
    assert "Evidence recorded." in texts(at, "success")
    assert any("**Evidence checks · 1/2**" in m for m in texts(at, "markdown"))
    assert "Briefed the evening team at handover" in texts(at, "text")
    with read_session(engine) as session:
        done = session.get(ActionEvidenceCheck, check.id)
        action = session.get(Action, done.action_id)
        audit = session.scalar(select(AuditEvent).where(
            AuditEvent.action == "action.evidence_checked"))
    assert done.completed_by_id == user_id(org, "supervisor")
    assert done.note == "Briefed the evening team at handover" and done.attachment_id
    assert action.status == "in_progress" and audit is not None


def test_after_the_window_the_verdict_is_refused_while_checks_are_open(engine, org):
    reference = in_review(engine, org)
    month_ago = utcnow() - timedelta(days=30)
    created = plan_through_core(engine, org, reference, now=month_ago, deadline_days=40)
    action_id = created.action_ids[0]
    set_go_live(UnitOfWork(engine), org.actor("quality"), action_id,
                today() - timedelta(days=20), expected_version=1, now=utcnow(), rules=settings())
    at = open_plan("quality", created.plan_id)
    assert_no_exception(at)
    assert {m.label for m in at.metric} >= {"Before (12 weeks)", "During the test window"}
    assert "The numbers suggest" in texts(at, "markdown")
    base = f"verdict.{action_id}"
    at.text_area(key=base + ".note").input("Two weeks without a repeat at the doorway")
    at = at.button(key=base + ".effective").click().run()
    assert "cannot be verified effective while evidence checks are open" in \
        error_beside(at, base + ".not_effective")
    assert at.text_area(key=base + ".note").value == "Two weeks without a repeat at the doorway"
    with read_session(engine) as session:
        assert session.get(Action, action_id).status == "in_test"


def test_a_plan_outside_my_services_is_not_found(engine, org):
    reference = in_review(engine, org)
    created = plan_through_core(engine, org, reference)
    at = open_plan("oak_supervisor", created.plan_id)
    assert_no_exception(at)
    assert any(f"No action plan #{created.plan_id}" in e for e in texts(at, "error"))



def test_a_stop_needs_a_reason_and_go_live_starts_the_test_window(engine, org):
    reference = in_review(engine, org)
    created = plan_through_core(engine, org, reference, owner="supervisor")
    action_id = created.action_ids[0]
    at = open_plan("supervisor", created.plan_id)
    key = f"action.{action_id}"
    at = at.button(key=key + ".stop").click().run()
    assert error_beside(at, key + ".stop_reason") == "Say why the action is stopped."
    assert len(texts(at, "error")) == 1  # the summary; the reason is beside the field
    at.date_input(key=key + ".go_live").set_value(today() - timedelta(days=1))
    at = at.button(key=key + ".went_live").click().run()
    assert_no_exception(at)
    window_end = today() + timedelta(days=13)
    assert any(f"it runs until {window_end:%d %b %Y}" in s for s in texts(at, "success"))
    assert any(f"The test window runs until {window_end:%d %b %Y}" in i
               for i in texts(at, "info"))
    with read_session(engine) as session:
        action = session.get(Action, action_id)
    assert action.status == "in_test" and action.go_live_date == today() - timedelta(days=1)


def test_verified_effective_then_the_control_is_confirmed_still_in_place(engine, org):
    reference = in_review(engine, org)
    created = plan_through_core(engine, org, reference, now=utcnow() - timedelta(days=30),
                                deadline_days=40)
    action_id = created.action_ids[0]
    with read_session(engine) as session:
        check_id = session.scalar(select(ActionEvidenceCheck.id))
    complete_evidence_check(UnitOfWork(engine), org.actor("quality"), check_id,
                            note="Briefed at handover", now=utcnow(), rules=settings())
    set_go_live(UnitOfWork(engine), org.actor("quality"), action_id,
                today() - timedelta(days=20), now=utcnow(), rules=settings())
    at = open_plan("quality", created.plan_id)
    base = f"verdict.{action_id}"
    at.text_area(key=base + ".note").input("No repeat at the doorway; observed two routines")
    # No near miss before go-live: the numbers cannot show a fall, so a reason is given.
    at.text_input(key=base + ".override_reason").input("Observed in use on every routine")
    at = at.button(key=base + ".effective").click().run()
    assert_no_exception(at)
    assert "Confirmed effective. A still-in-place check is scheduled." in texts(at, "success")
    assert any("Confirmed effective by Quality" in s for s in texts(at, "success"))
    with read_session(engine) as session:
        sustainment = session.scalar(select(SustainmentCheck))
    key = f"sustain.{sustainment.id}"
    at = at.button(key=key + ".save").click().run()
    assert error_beside(at, key + ".in_place") == "Answer: is it still in place?"
    assert len(texts(at, "error")) == 1  # the summary; the reason is beside the field
    at.radio(key=key + ".in_place").set_value("yes")
    at.text_area(key=key + ".note").input("Card still at the door; staff use it unprompted")
    at = at.button(key=key + ".save").click().run()
    assert_no_exception(at)
    assert "Recorded: the control is still in place." in texts(at, "success")
    with read_session(engine) as session:
        sustainment = session.get(SustainmentCheck, sustainment.id)
        action = session.get(Action, action_id)
    assert sustainment.in_place is True and sustainment.note.startswith("Card still")
    assert action.status == "verified_effective"


def test_the_plan_says_too_early_to_tell_and_effective_then_needs_a_reason(engine, org):
    """Issue 17: the proposal names the counts, the chance in plain words and the weeks a
    test would need; "effective" against it needs a reason, shown with the verdict."""
    go_live = today() - timedelta(days=20)
    # Two near misses a week before go-live, one in the test window.
    for days_ago in [20 + day + 7 * week for week in range(12) for day in (1, 4)] + [15]:
        file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
            org, occurred_at=local_now() - timedelta(days=days_ago)),
                       now=utcnow(), rules=settings())
    reference = in_review(engine, org)
    created = plan_through_core(engine, org, reference, now=utcnow() - timedelta(days=30),
                                deadline_days=40)
    action_id = created.action_ids[0]
    with read_session(engine) as session:
        check_id = session.scalar(select(ActionEvidenceCheck.id))
    complete_evidence_check(UnitOfWork(engine), org.actor("quality"), check_id,
                            note="Briefed at handover", now=utcnow(), rules=settings())
    set_go_live(UnitOfWork(engine), org.actor("quality"), action_id, go_live,
                now=utcnow(), rules=settings())
    at = open_plan("quality", created.plan_id)
    assert_no_exception(at)
    assert any("Too early to tell" in m for m in texts(at, "markdown"))  # the badge
    [words] = [c for c in texts(at, "caption") if c.startswith("Too early to tell")]
    second_look = go_live + timedelta(days=14 + 42)
    assert words == (
        "Too early to tell: 24 near misses in the 12 weeks before go-live (2.00 a week); 1 in "
        "the 2-week test (0.50 a week), 75% fewer. A drop this large would happen by chance "
        "about 1 time in 9 (p = 0.110), so it could be chance. At this rate the test needs "
        "about 22 more weeks to show a drop of 50%. The evidence is looked at again on "
        f"{second_look:%d %b %Y}, with every week since go-live.")

    base = f"verdict.{action_id}"
    at.text_area(key=base + ".note").input("None since the card went up")
    at = at.button(key=base + ".effective").click().run()
    assert "too early to tell" in error_beside(at, base + ".override_reason")
    assert at.text_area(key=base + ".note").value == "None since the card went up"
    at.text_input(key=base + ".override_reason").input("Seen in use at every transfer")
    at = at.button(key=base + ".effective").click().run()
    assert_no_exception(at)
    assert "Confirmed effective. A still-in-place check is scheduled." in texts(at, "success")
    assert ("Confirmed effective although the numbers proposed “Too early to tell”. The "
            "reason given:") in texts(at, "caption")
    assert "Seen in use at every transfer" in texts(at, "text")
    with read_session(engine) as session:
        measure = session.scalar(select(VerificationMeasure))
    assert (measure.proposed_verdict, measure.override_reason) == (
        "too_early", "Seen in use at every transfer")


def test_the_plan_says_effective_with_the_chance_in_plain_words(engine, org):
    go_live = today() - timedelta(days=20)
    for week in range(12):  # three near misses a week before go-live, none since
        for day in (1, 3, 5):
            file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
                org, occurred_at=local_now() - timedelta(days=20 + day + 7 * week)),
                           now=utcnow(), rules=settings())
    reference = in_review(engine, org)
    created = plan_through_core(engine, org, reference, now=utcnow() - timedelta(days=30),
                                deadline_days=40)
    set_go_live(UnitOfWork(engine), org.actor("quality"), created.action_ids[0], go_live,
                now=utcnow(), rules=settings())
    at = open_plan("quality", created.plan_id)
    assert_no_exception(at)
    assert any("Effective" in m for m in texts(at, "markdown"))
    assert ("Effective: 36 near misses in the 12 weeks before go-live (3.00 a week); 0 in the "
            "2-week test (0.00 a week), 100% fewer. A drop this large would happen by chance "
            "about 1 time in 260 (p = 0.004): unlikely to be chance.") in texts(at, "caption")
    # No reason asked for when the numbers propose "effective".
    assert not [w for w in at.text_input if w.key == f"verdict.{created.action_ids[0]}"
                                                       ".override_reason"]
