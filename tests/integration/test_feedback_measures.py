"""The feedback measures on planted data: time to first feedback, share of reporters told,
updates per month; scoped to the actor's services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.errors import PermissionDenied
from core.feedback.measures import feedback_measures
from core.feedback.service import UpdateDraft, create_update, edit_update, publish_update
from core.filing.service import file_near_miss
from core.metrics.governance import Scope
from core.uow import UnitOfWork
from tests.builders import build_org, draft, local_now
from tests.conftest import built_once

NOW = utcnow().replace(microsecond=0)
TODAY = local_now().date()
SCOPE = Scope(start=TODAY - timedelta(days=40), end=TODAY + timedelta(days=1))


@pytest.fixture(autouse=True)
def _now() -> None:
    """Now as each test starts: a run can cross local midnight."""
    global NOW, TODAY, SCOPE
    NOW = utcnow().replace(microsecond=0)
    TODAY = local_now().date()
    SCOPE = Scope(start=TODAY - timedelta(days=40), end=TODAY + timedelta(days=1))


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def file(engine, org, actor, days_ago, **changes):
    return file_near_miss(UnitOfWork(engine), org.actor(actor), draft(
        org, occurred_at=local_now() - timedelta(days=days_ago + 1), **changes),
        now=NOW - timedelta(days=days_ago), rules=settings()).reference


def publish(engine, org, references, days_ago, **changes):
    moment = NOW - timedelta(days=days_ago)
    update_id = create_update(UnitOfWork(engine), org.actor("quality"), UpdateDraft(
        title="A change", what_changed="Something changed.", report_references=references,
        **changes), now=moment, rules=settings())
    publish_update(UnitOfWork(engine), org.actor("quality"), update_id, now=moment,
                   rules=settings())
    return update_id


@pytest.fixture
def planted(engine, org):
    r1 = file(engine, org, "reporter", 10)
    r2 = file(engine, org, "reporter", 10)
    r3 = file(engine, org, "supervisor", 8)
    r4 = file(engine, org, "reporter", 8, anonymous=True)
    file(engine, org, "clinical", 6)  # never told
    r6 = file(engine, org, "quality", 10, service_id=org.oak, location_id=org.oak_lounge)
    publish(engine, org, [r1, r3, r4], 5)  # r1 120 h, r3 72 h, r4 72 h
    publish(engine, org, [r1, r2], 2)  # r2 192 h (r1 heard earlier)
    publish(engine, org, [r6], 3, service_ids=[org.oak])  # r6 168 h
    return org


def test_the_quality_lead_sees_every_service(engine, planted):
    with read_session(engine) as session:
        measures = feedback_measures(session, planted.actor("quality"), SCOPE, rules=settings())
    assert measures.median_hours_to_feedback == pytest.approx(120)
    assert measures.reports_with_feedback == 5
    assert (measures.named_reporters, measures.reporters_told) == (4, 3)
    assert measures.reporters_told_share == pytest.approx(0.75)
    assert (measures.named_reports, measures.named_reports_told) == (5, 4)
    assert measures.updates_published == 3
    assert measures.monthly["updates"].sum() == 3
    assert list(measures.monthly.columns) == ["month", "updates"]
    assert measures.monthly["month"].iloc[0] == SCOPE.start.replace(day=1)
    assert measures.updates_per_month == pytest.approx(3 / len(measures.monthly))


def test_a_supervisor_sees_their_services_only(engine, planted):
    with read_session(engine) as session:
        measures = feedback_measures(session, planted.actor("supervisor"), SCOPE, rules=settings())
        with pytest.raises(PermissionDenied):
            feedback_measures(session, planted.actor("reporter"), SCOPE, rules=settings())
    assert measures.median_hours_to_feedback == pytest.approx(96)  # 72, 72, 120, 192
    assert (measures.named_reporters, measures.reporters_told) == (3, 2)
    assert measures.updates_published == 2


def test_a_report_linked_to_an_update_already_published_heard_at_that_edit(engine, org):
    early = file(engine, org, "reporter", 10)
    update_id = publish(engine, org, [early], 9)  # 24 h
    late = file(engine, org, "supervisor", 4)
    edit_update(UnitOfWork(engine), org.actor("quality"), update_id, UpdateDraft(
        title="A change", what_changed="Something changed.", report_references=[early, late]),
        expected_revision=1, now=NOW - timedelta(days=2), rules=settings())  # late heard after 48 h
    with read_session(engine) as session:
        measures = feedback_measures(session, org.actor("quality"), SCOPE, rules=settings())
    assert measures.median_hours_to_feedback == pytest.approx(36)
    assert measures.reporters_told_share == 1


def test_no_reports_no_figures(engine, org):
    with read_session(engine) as session:
        measures = feedback_measures(session, org.actor("quality"), SCOPE, rules=settings())
    assert measures.median_hours_to_feedback is None
    assert measures.reporters_told_share is None and measures.updates_published == 0
