"""The quick report form in the real app: happy path, errors beside fields, no double filing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.auth.actor import SYSTEM
from core.clock import utcnow
from core.db import read_session
from core.organisation.models import Location
from core.reports.models import NearMissReport
from core.uow import UnitOfWork
from tests.apptest_helpers import (
    assert_no_exception,
    field_messages,
    new_app,
    sign_in,
    texts,
)
from tests.builders import build_org, local_now
from tests.conftest import built_once

DESCRIPTION = "Walker slightly out of reach at the bathroom doorway; I steadied her."


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


@pytest.fixture
def report_page(org):
    at = sign_in(new_app(), "reporter")
    assert_no_exception(at)
    assert texts(at, "title") == ["Report a near miss"]
    return at


def report_count(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(NearMissReport))


def fill_required(at, org, *, barrier: str | None = "staff_recovery", at_risk: str = "no"):
    at.text_area(key="report.description").input(DESCRIPTION)
    at.selectbox(key="report.type_key").select("transfer_near_fall")
    at.selectbox(key="report.location_id").select(org.maple_bathroom)
    if barrier:
        at.radio(key="report.barrier").set_value(barrier)
    at.radio(key="report.still_at_risk").set_value(at_risk)
    return at.run()


def submit(at):
    return at.button(key="report_submit").click().run()


def test_reporter_files_a_near_miss_and_gets_a_reference(report_page, org, engine):
    at = fill_required(report_page, org)
    # The only service is chosen for the reporter; "when" defaults to now.
    assert at.selectbox(key="report.service_id").value == org.maple
    at = submit(at)
    assert_no_exception(at)
    success = texts(at, "success")
    assert success and f"NM-{local_now().year}-00001" in success[0]
    assert report_count(engine) == 1


def test_a_missing_answer_is_flagged_beside_its_field_and_the_input_is_kept(report_page, org,
                                                                            engine):
    at = submit(fill_required(report_page, org, barrier=None))
    assert_no_exception(at)
    errors = texts(at, "error")
    assert len(errors) == 1  # one summary, naming the field; the message is beside it
    assert any("not filed yet" in e and "1 field" in e and "What stopped harm?" in e
               for e in errors)
    assert field_messages(at) == ["Say what stopped harm."]
    # Everything typed is still there.
    assert at.text_area(key="report.description").value == DESCRIPTION
    assert at.selectbox(key="report.type_key").value == "transfer_near_fall"
    assert at.selectbox(key="report.location_id").value == org.maple_bathroom
    assert report_count(engine) == 0
    # Answer the missing question and submit again: filed once.
    at.radio(key="report.barrier").set_value("designed_control")
    at = submit(at.run())
    assert texts(at, "success")
    assert report_count(engine) == 1


def test_a_time_in_the_future_is_refused_and_the_rest_kept(report_page, org, engine):
    at = fill_required(report_page, org)
    at.datetime_input(key="report.occurred_at").set_value(local_now() + timedelta(days=1))
    at = submit(at.run())
    assert "That time is in the future. When did it happen?" in field_messages(at)
    assert at.text_area(key="report.description").value == DESCRIPTION
    assert report_count(engine) == 0


def test_text_over_the_limit_is_refused_with_its_size(report_page, org, engine):
    at = fill_required(report_page, org)
    at.text_area(key="report.description").input("x" * 2500)
    at = submit(at.run())
    assert any("2000 characters" in e and "2500" in e for e in field_messages(at))
    assert report_count(engine) == 0


def test_a_location_withdrawn_while_the_form_was_open_is_refused(report_page, org, engine):
    at = fill_required(report_page, org)
    with UnitOfWork(engine) as uow:  # an administrator closes that location meanwhile
        uow.session.get(Location, org.maple_bathroom).active = False
        uow.record(SYSTEM, "location.deactivated", "location", org.maple_bathroom, at=utcnow())
        uow.commit()
    at = submit(at)
    assert_no_exception(at)
    assert any("location is not known" in e for e in field_messages(at))
    assert at.text_area(key="report.description").value == DESCRIPTION
    assert report_count(engine) == 0


def test_a_rerun_after_filing_does_not_file_again(report_page, org, engine):
    at = submit(fill_required(report_page, org))
    reference = texts(at, "success")[0]
    at = at.run()
    at = at.run()
    assert report_count(engine) == 1
    assert texts(at, "success")[0] == reference
    # A new report starts from a clean form with a new submission key.
    at = at.button(key="report_another").click().run()
    assert at.text_area(key="report.description").value == ""
    at = submit(fill_required(at, org))
    assert report_count(engine) == 2


def test_still_at_risk_shows_the_immediate_safety_prompt_at_once(report_page, org):
    at = fill_required(report_page, org, at_risk="yes")
    assert any("Make the person safe first" in e for e in texts(at, "error"))
    assert at.text_area(key="report.immediate_safeguards") is not None
    at.text_area(key="report.immediate_safeguards").input("Sat her down, called Sam.")
    at = submit(at.run())
    assert texts(at, "success")
    assert any("Make the person safe first" in e for e in texts(at, "error"))


def test_capture_fields_follow_the_chosen_type(report_page, org, engine):
    at = fill_required(report_page, org)
    labels = [s.label for s in at.selectbox]
    assert "Mobility aid position" in labels
    at.selectbox(key="report.capture.mobility_aid_position").select("Slightly out of reach")
    at.selectbox(key="report.type_key").select("medication_discrepancy")
    at = at.run()
    labels = [s.label for s in at.selectbox]
    assert "Mobility aid position" not in labels and "Source of discrepancy" in labels


def test_cues_for_the_role_are_beside_the_form(report_page):
    expander_labels = [e.label for e in report_page.expander]
    assert any("Does this count?" in label for label in expander_labels)
    assert any("walker or frame out of reach" in m for m in texts(report_page, "markdown"))


def test_reporting_without_a_name_keeps_it_off_my_reports(report_page, org, engine):
    at = fill_required(report_page, org)
    at.checkbox(key="report.anonymous").check()
    at = submit(at.run())
    assert texts(at, "success")
    with read_session(engine) as session:
        assert session.scalar(select(NearMissReport.reporter_id)) is None
    at.switch_page("pages/my_reports.py").run()
    assert_no_exception(at)
    assert any("not reported a near miss under your name" in i for i in texts(at, "info"))


def test_my_reports_lists_the_reporters_own_reports_with_status(report_page, org):
    at = submit(fill_required(report_page, org))
    at.switch_page("pages/my_reports.py").run()
    assert_no_exception(at)
    frame = at.dataframe[0].value
    assert list(frame["Reference"]) == [f"NM-{local_now().year}-00001"]
    assert list(frame["Status"]) == ["New: waiting for triage"]
    assert list(frame["What happened"]) == [DESCRIPTION]
