"""Triage in the real app: the board, the triage form, conflicts, scoping, the inbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.escalation.models import Escalation
from core.filing.service import file_near_miss
from core.regulator.models import RegulatorClock
from core.regulator.service import decide_reportable, record_clock_met
from core.reports.models import NearMissReport
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from tests.apptest_helpers import (
    assert_no_exception,
    count_calls,
    field_messages,
    new_app,
    sign_in,
    texts,
)
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def file(engine, org, **changes):
    return file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, **changes),
                          now=utcnow(), rules=settings())


def open_report(at, reference):
    at.query_params["ref"] = reference
    return at.switch_page("pages/near_miss.py").run()


def status(engine, reference):
    with read_session(engine) as session:
        return session.scalar(select(NearMissReport.status)
                              .where(NearMissReport.reference == reference))


def answer_triage(at, reference, *, severity="high"):
    key = f"triage.{reference}."
    at.radio(key=key + "at_risk_now").set_value("no")
    at.radio(key=key + "safeguarding_trigger").set_value("no")
    at.radio(key=key + "severity").set_value(severity)
    return at.run()


def test_the_supervisor_sees_their_open_reports_on_the_board(engine, org):
    filed = file(engine, org)
    file_near_miss(UnitOfWork(engine), org.actor("quality"),
                   draft(org, service_id=org.oak, location_id=org.oak_lounge),
                   now=utcnow(), rules=settings())
    at = sign_in(new_app(), "supervisor")
    at.switch_page("pages/triage_board.py").run()
    assert_no_exception(at)
    assert "New · 1" in [s.value for s in at.subheader]
    links = [str(e.proto) for e in at.get("page_link")]
    assert any(filed.reference in link for link in links)


def test_a_board_repeated_unchanged_is_read_from_its_cache_and_a_write_shows_at_once(
        engine, org, monkeypatch):
    """The board's columns are read once for runs with nothing written (a filter chosen back,
    a column's page turned); a report filed, or triaged, shows on the next run."""
    from core.views import triage_board as views

    reads = count_calls(monkeypatch, views, "board_columns")
    first = file(engine, org)
    at = sign_in(new_app(), "supervisor")
    at.switch_page("pages/triage_board.py").run()
    assert_no_exception(at)
    assert "New · 1" in [s.value for s in at.subheader]
    at.run()
    at.run()
    assert len(reads) == 1  # twice more, nothing written: served from the cache

    second = file(engine, org)
    at.run()
    assert len(reads) == 2
    subheaders = [s.value for s in at.subheader]
    assert "New · 2" in subheaders
    assert any(second.reference in str(link.proto) for link in at.get("page_link"))

    triage_report(UnitOfWork(engine), org.actor("supervisor"), first.reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity="low",
        investigation="none", route="supervisor"), expected_version=1, now=utcnow(),
        rules=settings())
    at.run()
    subheaders = [s.value for s in at.subheader]
    assert "New · 1" in subheaders and "Triaged · 1" in subheaders


def test_a_cards_language_and_flags_are_badges_on_one_line(engine, org):
    """A report written in Spanish by someone still at risk: its card shows its type, place and
    age as small lines, then its language and its flag as badges, one line of them, all one
    element."""
    file(engine, org, language="es", still_at_risk=True,
         immediate_safeguards="Stayed with her until the nurse came.")
    at = sign_in(new_app(), "supervisor")
    at.switch_page("pages/triage_board.py").run()
    assert_no_exception(at)
    cards = [m.split("  \n") for m in texts(at, "markdown") if "-badge[" in m]
    assert cards == [[":small[:gray[Transfer / near fall]]",
                      ":small[:gray[Maple House · Bathroom doorway]]",
                      ":small[:gray[0 min old]]",
                      ":violet-badge[:material/translate: Español (ES)] "
                      ":red-badge[Still at risk]"]]


def test_a_card_shows_its_regulator_clock_while_it_runs_and_not_once_met(engine, org):
    """Two safeguarding near misses decided reportable, the older one's clock met: the newer
    card shows its clock with the time left as a badge; the older card shows none."""
    rules = settings()
    met_one, running = (file(engine, org, type_key="safeguarding_rights",
                             occurred_at=local_now() - timedelta(hours=hours),
                             description="A visitor asked for the bank card; staff refused.")
                        .reference for hours in (2, 1))
    for reference in (met_one, running):
        decide_reportable(UnitOfWork(engine), org.actor("safeguarding"), reference,
                          reportable=True, reason="Attempted financial exploitation.",
                          now=utcnow(), rules=rules)
    with read_session(engine) as session:
        clocks = {reference: session.scalars(
            select(RegulatorClock).join(NearMissReport,
                                        NearMissReport.id == RegulatorClock.report_id)
            .where(NearMissReport.reference == reference)).all()
            for reference in (met_one, running)}
    for clock in clocks[met_one]:
        record_clock_met(UnitOfWork(engine), org.actor("safeguarding"), clock.id,
                         met_at=local_now(), state_reference="ST-2026-1", now=utcnow(),
                         rules=rules)
    at = sign_in(new_app(), "safeguarding")
    at.switch_page("pages/triage_board.py").run()
    assert_no_exception(at)
    # Both in the New column, oldest first (the same urgency: safeguarding).
    older, newer = [m for m in texts(at, "markdown") if "-badge[Safeguarding]" in m]
    assert ":material/timer:" not in older
    assert newer.count(":material/timer:") == len(clocks[running]) >= 1
    assert all(f"{clock.label}: " in newer for clock in clocks[running])
    assert newer.count(" left]") == len(clocks[running])


def test_a_reporter_has_no_board(org):
    at = sign_in(new_app(), "reporter")
    pages = [str(link.proto) for link in at.sidebar.get("page_link")]
    assert not any("triage_board" in p for p in pages)


def test_the_supervisor_triages_a_report_in_a_minute(engine, org):
    filed = file(engine, org)
    at = open_report(sign_in(new_app(), "supervisor"), filed.reference)
    assert_no_exception(at)
    assert texts(at, "title") == [f"{filed.reference} · Transfer / near fall"]
    at = answer_triage(at, filed.reference, severity="high")
    # The matrix highlights high x single and the minimum investigation follows it.
    investigation = at.radio(key=f"triage.{filed.reference}.investigation")
    assert investigation.options[0] == "Barrier review"
    assert "No further investigation" not in investigation.options
    at = at.button(key="triage_submit").click().run()
    assert_no_exception(at)
    assert any("Triaged: Barrier review" in s for s in texts(at, "success"))
    assert status(engine, filed.reference) == "triaged"
    assert any(b.label == "Start review" for b in at.button)


def test_a_missing_answer_is_shown_beside_it_and_the_rest_kept(engine, org):
    filed = file(engine, org)
    at = open_report(sign_in(new_app(), "supervisor"), filed.reference)
    key = f"triage.{filed.reference}."
    at.radio(key=key + "at_risk_now").set_value("no")
    at = at.run().button(key="triage_submit").click().run()
    # Each message beside its answer, and one alert that names the answers to fix.
    assert "Choose the severity potential: how bad could it have been?" in field_messages(at)
    [summary] = texts(at, "error")
    assert summary.startswith("Not saved yet: check the ")
    assert "Severity potential: how bad could it have been?" in summary
    assert at.radio(key=key + "at_risk_now").value == "no"  # the answer given is kept
    assert status(engine, filed.reference) == "new"


def test_a_reclassification_without_its_reason_is_marked_beside_the_field(engine, org):
    filed = file(engine, org)
    at = open_report(sign_in(new_app(), "supervisor"), filed.reference)
    at = at.button(key="reclassify").click().run()
    assert_no_exception(at)
    assert any(m.startswith("Say what harm reached the person") for m in field_messages(at))
    # Its own summary only: the triage form above is not told about it.
    assert texts(at, "error") == ["Not re-classified yet: check the 1 answer marked below "
                                  "(What harm reached the person, and why this is now an "
                                  "incident)."]
    assert status(engine, filed.reference) == "new"


def test_the_second_triager_sees_a_conflict_and_the_new_state(engine, org):
    filed = file(engine, org)
    at = answer_triage(open_report(sign_in(new_app(), "supervisor"), filed.reference),
                       filed.reference)
    triage_report(UnitOfWork(engine), org.actor("quality"), filed.reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity="low",
        investigation="none", route="supervisor", notes="quality got there first"),
        expected_version=1, now=utcnow(), rules=settings())
    at = at.button(key="triage_submit").click().run()
    assert any("Someone else changed" in e for e in texts(at, "error"))
    assert any(b.label == "Start review" for b in at.button)  # it shows the triaged state


def test_another_services_report_cannot_be_opened_by_url(engine, org):
    filed = file(engine, org)
    at = open_report(sign_in(new_app(), "oak_supervisor"), filed.reference)
    assert any("among your services" in e for e in texts(at, "error"))
    assert "Walker" not in " ".join(str(t.value) for t in at.get("text"))


def test_the_safeguarding_lead_acknowledges_and_decides_from_the_inbox(engine, org):
    filed = file(engine, org, type_key="safeguarding_rights",
                 description="Visitor asked for her bank card PIN at the door.")
    at = sign_in(new_app(), "safeguarding")
    at.switch_page("pages/inbox.py").run()
    assert_no_exception(at)
    assert at.metric[0].value == "1"
    [escalation_id] = _escalation_ids(engine)
    at = at.button(key=f"inbox.{escalation_id}.ack").click().run()
    assert any("Acknowledged" in s for s in texts(at, "success"))
    at.radio(key=f"inbox.{escalation_id}.external_report_made").set_value("no")
    at = at.run().button(key=f"inbox.{escalation_id}.decide").click().run()
    assert field_messages(at) == ["Record why: the reasoning is part of the audit trail."]
    assert texts(at, "error") == ["Not saved yet: check the 1 answer marked below "
                                  "(Why (the reasoning behind the decision))."]
    at.text_area(key=f"inbox.{escalation_id}.reason").input(
        "Visitor barred; family informed; below the threshold for an external report.")
    at = at.run().button(key=f"inbox.{escalation_id}.decide").click().run()
    assert any(f"Decision recorded for {filed.reference}" in s for s in texts(at, "success"))
    with read_session(engine) as session:
        decided = session.scalar(select(Escalation))
    assert decided.decided_at is not None and decided.decision["external_report_made"] is False


def _escalation_ids(engine):
    with read_session(engine) as session:
        return list(session.scalars(select(Escalation.id)))
