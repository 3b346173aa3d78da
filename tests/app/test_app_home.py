"""The home page in the real app: where each role lands, its counts and the links that clear
them."""

from __future__ import annotations

import pytest

from core.clock import utcnow
from core.config import settings
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, new_app, sign_in, texts
from tests.builders import build_org, draft


@pytest.fixture
def org(engine):
    return build_org(engine)


def _links(at) -> list[str]:
    return [str(link.proto) for link in at.main.get("page_link")]


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_supervisor_lands_on_the_count_to_triage_and_it_matches_the_board(engine, org):
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                   now=utcnow(), rules=settings())
    at = sign_in(new_app(), "supervisor")
    assert_no_exception(at)
    assert texts(at, "title") == ["Home"]
    assert texts(at, "subheader") == ["Supervisor"]
    assert _metrics(at)["To triage"] == "1"
    assert "1 near miss to triage" in texts(at, "markdown")
    assert "Nothing waiting" in texts(at, "markdown")  # no alert, no regulator clock
    assert any('page: "triage_board"' in link and "Open the triage board" in link
               for link in _links(at))
    at.switch_page("pages/triage_board.py").run()
    assert_no_exception(at)
    assert "New · 1" in [s.value for s in at.subheader]


def test_every_count_says_nothing_waiting_rather_than_hiding(org):
    at = sign_in(new_app(), "quality")
    assert_no_exception(at)
    assert texts(at, "title") == ["Home"]
    assert _metrics(at) == {"Actions due": "0", "Evidence to check": "0", "Clusters": "0",
                            "Regulator clocks": "0"}
    assert texts(at, "markdown").count("Nothing waiting") == 4


@pytest.mark.parametrize(("role", "metric", "target"), [
    ("safeguarding", "Open escalations", "inbox"),
    ("clinical", "Clinical reviews", "inbox"),
    ("operations", "Interface failures", "inbox"),
    ("governance", "Trends", "governance"),
    ("commissioner", "Evidence of learning", "commissioner"),
    ("admin", "Users", "admin_users"),
])
def test_each_role_lands_on_its_home_with_a_link_to_its_page(org, role, metric, target):
    at = sign_in(new_app(), role)
    assert_no_exception(at)
    assert texts(at, "title") == ["Home"]
    assert metric in _metrics(at)
    assert any(f'page: "{target}"' in link for link in _links(at))


def test_a_frontline_worker_lands_on_the_report_form_and_has_no_home(org):
    at = sign_in(new_app(), "reporter")
    assert_no_exception(at)
    assert texts(at, "title") == ["Report a near miss"]
    assert not any("home" in str(link.proto) for link in at.sidebar.get("page_link"))
