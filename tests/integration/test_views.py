"""The page views (core/views): what each page would show, read in one call, on both
databases. The pages only draw these; the choice of queries (e.g. from a report's status) is
made here."""

from __future__ import annotations

import dataclasses

import pytest

from core.actions.queries import RegisterFilters
from core.clock import to_local, utcnow
from core.config import settings
from core.errors import NotFound, PermissionDenied
from core.filing.service import file_near_miss
from core.reports.vocabulary import ReportStatus
from core.review.service import start_review
from core.triage.service import TriageAnswers, triage_report
from core.uow import UnitOfWork
from core.views.account import account_page
from core.views.actions import register_page
from core.views.feedback import bulletin_header, update_editor
from core.views.inbox import inbox_page
from core.views.near_miss import NearMissPage, near_miss_page, read_alike_panel
from core.views.reporting import my_reports_page, report_form
from core.views.session import unread_notifications
from core.views.triage_board import board_choices
from tests.builders import build_org, draft


@pytest.fixture
def org(engine):
    return build_org(engine)


def _file(engine, org, **changes):
    return file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                          draft(org, **changes), now=utcnow(), rules=settings()).reference


def _triage(engine, org, reference):
    triage_report(UnitOfWork(engine), org.actor("supervisor"), reference, TriageAnswers(
        at_risk_now=False, safeguarding_trigger=False, recurrence="single", severity="high",
        investigation="barrier_review", route="supervisor",
        notes="Walker parked by the bath."), expected_version=1, now=utcnow(), rules=settings())


def _page(actor, reference) -> NearMissPage:
    return near_miss_page(actor, reference, now=utcnow(), rules=settings())


def test_a_new_report_shows_the_triage_form_and_no_review(engine, org):
    reference = _file(engine, org)
    page = _page(org.actor("supervisor"), reference)
    assert page.detail.status is ReportStatus.NEW
    assert page.proposal is not None  # the triage form's proposed answers
    assert page.review is None
    assert page.signals and page.factors  # the form's safeguarding signals, review's factors


def test_a_triaged_report_shows_its_decision_not_the_triage_form(engine, org):
    reference = _file(engine, org)
    _triage(engine, org, reference)
    page = _page(org.actor("supervisor"), reference)
    assert page.detail.status is ReportStatus.TRIAGED
    assert (page.detail.severity, page.detail.review_level, page.detail.routed_to) == (
        "high", "barrier_review", "supervisor")
    assert page.detail.triage is not None
    assert page.detail.triage.notes == "Walker parked by the bath."
    assert page.proposal is None  # no triage form inputs once triaged
    assert page.review is None  # the review has not started
    assert page.read_alike is not None  # a supervisor opens reports: the panel is there


def test_a_report_under_review_shows_the_review(engine, org):
    reference = _file(engine, org)
    _triage(engine, org, reference)
    start_review(UnitOfWork(engine), org.actor("supervisor"), reference, expected_version=2,
                 now=utcnow(), rules=settings())
    page = _page(org.actor("supervisor"), reference)
    assert page.detail.status is ReportStatus.IN_REVIEW
    assert page.proposal is None
    assert page.review is not None and page.review.gates


def test_a_report_outside_the_actors_services_is_refused(engine, org):
    reference = _file(engine, org)
    with pytest.raises(NotFound):
        _page(org.actor("oak_supervisor"), reference)
    with pytest.raises(NotFound):
        _page(org.actor("supervisor"), "NM-1999-99999")
    # The read-alike panel alone shows nothing outside their services, or to a reporter.
    assert read_alike_panel(org.actor("oak_supervisor"), reference, rules=settings()) is None
    assert read_alike_panel(org.actor("reporter"), reference, rules=settings()) is None


def test_a_reporter_may_not_open_the_report_page(engine, org):
    reference = _file(engine, org)
    with pytest.raises(PermissionDenied):
        _page(org.actor("reporter"), reference)


def test_views_are_frozen(engine, org):
    reference = _file(engine, org)
    page = _page(org.actor("supervisor"), reference)
    with pytest.raises(dataclasses.FrozenInstanceError):
        page.proposal = None  # type: ignore[misc]
    assert isinstance(page.plans, tuple)


def test_my_reports_lists_the_reporters_own_reports(engine, org):
    first, second = _file(engine, org), _file(engine, org)
    page = my_reports_page(org.actor("reporter"))
    assert [r.reference for r in page.rows] == [second, first]  # newest first
    assert page.counts.reported == 2
    assert page.told == 0 and page.unread_notification_ids == ()
    assert my_reports_page(org.actor("supervisor")).rows == ()


def test_the_report_form_offers_the_actors_services_only(engine, org):
    form = report_form(org.actor("reporter"))
    assert [s.label for s in form.options.services] == ["Maple House"]
    assert any(t.active for t in form.taxonomy.types)


def test_the_board_filters_offer_the_supervisors_services(engine, org):
    choices = board_choices(org.actor("supervisor"))
    assert list(choices.service_names.values()) == ["Maple House"]
    assert "transfer_near_fall" in choices.type_names


def test_account_inbox_and_register_read_for_their_roles(engine, org):
    now, rules = utcnow(), settings()
    assert account_page(org.actor("supervisor")).service_names[org.maple] == "Maple House"
    assert unread_notifications(org.actor("reporter")) == 0
    assert inbox_page(org.actor("safeguarding"), include_decided=False, now=now,
                      rules=rules).items == ()
    register = register_page(org.actor("quality"), RegisterFilters(),
                             today=to_local(now, rules.zone).date(), rules=rules)
    assert register.rows == () and register.counts.total == 0
    assert bulletin_header(org.actor("reporter"), now=now, rules=rules).quarter.changes == 0
    editor = update_editor(org.actor("quality"), None, now=now, rules=settings())
    assert editor.detail is None and org.maple in editor.services
