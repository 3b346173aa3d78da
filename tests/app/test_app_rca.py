"""Root cause analysis in the real app: from a review's "similar near misses elsewhere" link to a
completed analysis, errors kept beside the fields, and the scope of a service's supervisor."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.review.models import RootCauseAnalysis, RootCauseAnalysisReport
from core.review.rca import RcaInput, complete_rca, open_rca, update_rca
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, field_messages, new_app, sign_in, texts
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

SOURCE = "Care plan vs family note"
PROBLEM = "The care plan's medication prompt does not match the family's note, in three places."
WHYS = ("The family note held a change the provider's record did not.",
        "The clinic told the family, not the provider.",
        "Nobody owns bringing clinic changes into the care plan the same day.")
FINDINGS = ("Clinic medication changes have no owner. Fix: the coordinator confirms each change "
            "in the record the same day; the next worker acknowledges it before the prompt.")


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


@pytest.fixture
def references(engine, org):
    """Seed 1, example 2 three times: Maple House (under review), Oak Lodge, Eastside."""
    filed = []
    for actor, service, location, hours in (
            ("reporter", org.maple, org.maple_kitchen, 2),
            ("quality", org.oak, org.oak_lounge, 72),
            ("quality", org.east, org.east_home, 48)):
        filed.append(file_near_miss(UnitOfWork(engine), org.actor(actor), draft(
            org, type_key="medication_discrepancy", service_id=service, location_id=location,
            occurred_at=local_now() - timedelta(hours=hours),
            description="Medication prompt in the care plan did not match a recent family "
                        "note; paused and called the supervisor.",
            capture_fields={"source_of_discrepancy": SOURCE}),
                                    now=utcnow(), rules=settings()).reference)
    return filed


def open_page(at, *, reports=None, rca=None):
    if reports is not None:
        at.query_params["reports"] = reports
    if rca is not None:
        at.query_params["rca"] = str(rca)
    return at.switch_page("pages/rca.py").run()


def rca_rows(engine):
    with read_session(engine) as session:
        return list(session.scalars(select(RootCauseAnalysis)))


def all_text(at):
    return " ".join(str(t.value) for t in at.get("text"))


def frames_with(at, column):
    return [d.value for d in at.dataframe if column in d.value.columns]


def links(at):
    return [str(link.proto) for link in at.get("page_link")]


def test_quality_opens_an_analysis_from_the_review_link_and_completes_it(engine, org,
                                                                          references):
    at = open_page(sign_in(new_app(), "quality"), reports=",".join(references))
    assert_no_exception(at)
    assert texts(at, "title") == ["Root cause analyses"]
    # The link's reports are shown as the linked reports, the title suggested from the type.
    assert at.text_input(key="rca.new.references").value == ", ".join(references)
    assert at.text_input(key="rca.new.title").value == (
        f"Medication discrepancy: {SOURCE} (3 reports)")
    [proposed] = frames_with(at, "Location")
    assert list(proposed["Reference"]) == references
    assert set(proposed["Service"]) == {"Maple House", "Oak Lodge", "Eastside Home Care"}

    at.text_area(key="rca.new.problem").input(PROBLEM)
    at = at.run().button(key="rca.new.open").click().run()
    assert_no_exception(at)
    [rca] = rca_rows(engine)
    assert any(f"#{rca.id} opened" in s for s in texts(at, "success"))
    assert rca.problem == PROBLEM and rca.status == "open"
    # It opens straight away in the editor, its reports linked to their near-miss pages.
    assert at.text_input(key=f"rca.{rca.id}.title").value.startswith("Medication discrepancy")
    assert all(any(ref in link and "near_miss" in link for link in links(at))
               for ref in references)
    assert "reports" not in at.query_params  # the link's form is done with

    key = f"rca.{rca.id}."
    for n, answer in enumerate(WHYS, start=1):
        at.text_input(key=f"{key}why.{n}").input(answer)
    at.multiselect(key=f"{key}factors").set_value(["communication", "support_planning"])
    at.text_area(key=f"{key}findings").input(FINDINGS)
    at = at.run().button(key=f"{key}complete").click().run()
    assert_no_exception(at)
    assert any("is complete" in s for s in texts(at, "success"))
    [rca] = rca_rows(engine)
    assert rca.status == "complete" and rca.completed_at is not None
    assert rca.five_whys == list(WHYS) and rca.findings == FINDINGS
    assert rca.contributing_factors == ["communication", "support_planning"]

    # Read-only now: no inputs, the findings shown as text, the reports still linked.
    assert not [w for w in at.text_input if w.key and w.key.startswith(key)]
    assert not [b for b in at.button if b.key and b.key.startswith(key)]
    assert FINDINGS in all_text(at)
    assert "Communication, Support planning" in all_text(at)
    [whys] = frames_with(at, "Answer")
    assert list(whys["Answer"]) == list(WHYS)
    assert all(any(ref in link for link in links(at)) for ref in references)


def test_errors_are_shown_beside_the_fields_and_nothing_typed_is_lost(engine, org, references):
    at = open_page(sign_in(new_app(), "quality"), reports=",".join(references))
    at.text_input(key="rca.new.title").input("")
    at = at.run().button(key="rca.new.open").click().run()
    assert_no_exception(at)
    [summary] = texts(at, "error")  # one alert; each reason beside its answer
    assert summary.startswith("Not saved yet: check the answers marked below.")
    errors = field_messages(at)
    assert any("short title" in e for e in errors) and any("State the problem" in e
                                                            for e in errors)
    assert rca_rows(engine) == []
    assert at.text_input(key="rca.new.references").value == ", ".join(references)

    at.text_input(key="rca.new.title").input("Mismatches <b>everywhere</b> **now**")
    at.text_area(key="rca.new.problem").input(PROBLEM)
    at = at.run().button(key="rca.new.open").click().run()
    [rca] = rca_rows(engine)
    key = f"rca.{rca.id}."
    # The title is free text: shown as text, never as Markdown or HTML.
    assert "Mismatches <b>everywhere</b> **now**" in all_text(at)
    assert not [m for m in texts(at, "markdown") + texts(at, "caption") if "everywhere" in m]

    # Completing with a why but no findings: refused beside the findings, the why kept.
    at.text_input(key=f"{key}why.1").input(WHYS[0])
    at.text_input(key=f"{key}why.2").input("W" * 2001)
    at = at.run().button(key=f"{key}complete").click().run()
    assert_no_exception(at)
    assert len(texts(at, "error")) == 1
    assert any("Keep this answer to 2000" in e for e in field_messages(at))
    assert at.text_input(key=f"{key}why.1").value == WHYS[0]
    assert at.text_input(key=f"{key}why.2").value == "W" * 2001
    at.text_input(key=f"{key}why.2").input(WHYS[1])
    at = at.run().button(key=f"{key}complete").click().run()
    [summary] = texts(at, "error")
    assert "Saved, but not complete yet" in summary
    assert any("Record the findings" in e for e in field_messages(at))
    assert at.text_input(key=f"{key}why.1").value == WHYS[0]
    [rca] = rca_rows(engine)
    assert rca.status == "open" and rca.five_whys == list(WHYS[:2])


def test_reports_are_added_and_removed_on_the_page(engine, org, references):
    maple, oak, east = references
    at = open_page(sign_in(new_app(), "quality"), reports=maple)
    at.text_area(key="rca.new.problem").input(PROBLEM)
    at = at.run().button(key="rca.new.open").click().run()
    [rca] = rca_rows(engine)
    key = f"rca.{rca.id}."
    at.text_input(key=f"{key}add").input(f"{oak.lower()}, NM-1999-00001")
    at = at.run().button(key=f"{key}add_button").click().run()
    assert len(texts(at, "error")) == 1
    assert any("NM-1999-00001 among your services" in e for e in field_messages(at))
    assert at.text_input(key=f"{key}add").value == f"{oak.lower()}, NM-1999-00001"
    at.text_input(key=f"{key}add").input(f"{oak}, {east}")
    at = at.run().button(key=f"{key}add_button").click().run()
    assert any(f"Added {oak}, {east}" in s for s in texts(at, "success"))
    at = at.button(key=f"{key}remove.{oak}").click().run()
    assert any(f"Removed {oak}" in s for s in texts(at, "success"))
    with read_session(engine) as session:
        assert session.scalar(select(func.count()).select_from(RootCauseAnalysisReport)) == 2
    [linked] = frames_with(at, "Location")
    assert sorted(linked["Reference"]) == sorted([maple, east])


def test_a_supervisor_cannot_group_another_services_reports(engine, org, references):
    maple, oak, _east = references
    at = open_page(sign_in(new_app(), "oak_supervisor"), reports=f"{oak},{maple}")
    assert_no_exception(at)
    assert any(f"Not found among your services: {maple}" in w.replace("\\", "")
               for w in texts(at, "warning"))
    assert [list(f["Reference"]) for f in frames_with(at, "Location")] == [[oak]]
    assert "family note" not in all_text(at)
    at.text_area(key="rca.new.problem").input(PROBLEM)
    at = at.run().button(key="rca.new.open").click().run()
    assert len(texts(at, "error")) == 1
    assert any(f"No near miss {maple} among your services" in e for e in field_messages(at))
    assert rca_rows(engine) == []

    # An analysis over another service is not found, as if it did not exist.
    hidden = open_rca(UnitOfWork(engine), org.actor("supervisor"), title="Maple mismatch",
                      problem=PROBLEM, references=[maple], now=utcnow(), rules=settings())
    at = open_page(sign_in(new_app(), "oak_supervisor"), rca=hidden)
    assert_no_exception(at)
    assert f"No root cause analysis #{hidden} among your services." in texts(at, "error")
    assert "Maple mismatch" not in all_text(at)
    assert not [d for d in at.dataframe if "Maple mismatch" in d.value.to_string()]


def test_a_completed_analysis_opens_read_only_from_a_link(engine, org, references):
    quality = org.actor("quality")
    rca_id = open_rca(UnitOfWork(engine), quality, title="Mismatches", problem=PROBLEM,
                      references=references, now=utcnow(), rules=settings())
    update_rca(UnitOfWork(engine), quality, rca_id, RcaInput(
        title="Mismatches", problem=PROBLEM, five_whys=list(WHYS), findings=FINDINGS),
               now=utcnow(), rules=settings())
    complete_rca(UnitOfWork(engine), quality, rca_id, now=utcnow())
    at = open_page(sign_in(new_app(), "clinical"), rca=rca_id)
    assert_no_exception(at)
    assert at.selectbox(key="rca.selected").value == rca_id
    assert any("ready for the action plan builder" in s for s in texts(at, "success"))
    assert FINDINGS in all_text(at) and PROBLEM in all_text(at)
    assert not [w for w in at.text_input if w.key and w.key.startswith(f"rca.{rca_id}.")]
