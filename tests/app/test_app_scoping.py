"""No way round the scoping by URL or query parameter: a supervisor of another service, or a
role without the page, typing a link by hand sees neither the record nor its text."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.actions.service import ActionDraft, MeasureDraft, PlanDraft, create_plan
from core.clock import utcnow
from core.config import settings
from core.filing.service import file_near_miss
from core.review.rca import open_rca
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, new_app, shown, sign_in
from tests.builders import build_org, draft, local_now

SECRET = "Walker left by the bath for Quentin Marblewood at 9 Heron Close."


@pytest.fixture
def maple_records(engine):
    org = build_org(engine)
    quality = org.actor("quality")
    reference = file_near_miss(UnitOfWork(engine), org.actor("reporter"),
                               draft(org, description=SECRET),
                               now=utcnow(), rules=settings()).reference
    today = local_now().date()
    plan = create_plan(UnitOfWork(engine), quality, PlanDraft(
        title="Walker parking at Maple House", theme="Near falls", report_references=[reference],
        actions=[ActionDraft(title="Walker bay by the bathroom door", kind="physical_change",
                             owner_id=quality.user_id, deadline=today + timedelta(days=7),
                             review_date=today + timedelta(days=21),
                             evidence_checks=["Bay marked"])],
        measure=MeasureDraft()), now=utcnow(), rules=settings())
    rca = open_rca(UnitOfWork(engine), quality, title="Bathroom doorway", problem="Near falls",
                   references=[reference], now=utcnow(), rules=settings())
    return org, reference, plan.plan_id, rca


def _page_text(at) -> str:
    parts = []
    for kind in ("markdown", "text", "caption", "title", "subheader", "error", "warning", "info",
                 "success", "code"):
        parts += [shown(str(element.value)) for element in getattr(at, kind)]
    return "\n".join(parts)


def _open(username: str, page: str, **params: str):
    at = sign_in(new_app(), username)
    for name, value in params.items():
        at.query_params[name] = value
    return at.switch_page(page).run()


def test_another_services_supervisor_cannot_open_a_near_miss_by_its_reference(maple_records):
    _org, reference, _plan, _rca = maple_records
    at = _open("oak_supervisor", "pages/near_miss.py", ref=reference)
    assert_no_exception(at)
    on_page = _page_text(at)
    assert SECRET not in on_page and "Heron Close" not in on_page
    assert any(reference in e or "not" in e.lower() for e in [shown(x.value) for x in at.error]
               + [shown(x.value) for x in at.warning] + [shown(x.value) for x in at.info])
    # Its own service's supervisor sees it.
    assert SECRET in _page_text(_open("supervisor", "pages/near_miss.py", ref=reference))


def test_another_services_supervisor_cannot_open_a_plan_or_analysis_by_its_number(
        maple_records):
    _org, _reference, plan, rca = maple_records
    at = _open("oak_supervisor", "pages/action_plan.py", plan=str(plan))
    assert_no_exception(at)
    assert "Walker parking at Maple House" not in _page_text(at)
    at = _open("oak_supervisor", "pages/rca.py", rca=str(rca))
    assert_no_exception(at)
    assert SECRET not in _page_text(at)


@pytest.mark.parametrize("role", ["reporter", "governance", "commissioner"])
def test_a_role_without_the_page_cannot_reach_a_near_miss_by_link(maple_records, role):
    _org, reference, _plan, _rca = maple_records
    at = sign_in(new_app(), role)
    at.query_params["ref"] = reference
    with pytest.raises((ValueError, KeyError, RuntimeError)):
        at.switch_page("pages/near_miss.py")


def test_nonsense_in_query_parameters_is_refused_calmly(maple_records):
    for page, params in (("pages/near_miss.py", {"ref": "'; DROP TABLE near_miss_reports;--"}),
                         ("pages/action_plan.py", {"plan": "99999999999999999999"}),
                         ("pages/action_plan.py", {"plan": "-1"}),
                         ("pages/rca.py", {"rca": "<script>"})):
        at = _open("supervisor", page, **params)
        assert_no_exception(at)
        assert "DROP TABLE" not in _page_text(at) or at.error or at.warning or at.info
