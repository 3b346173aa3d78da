"""`linked_reports` (the near misses an action plan links, on the builder and the plan page)
lists only the reports the viewer may open: a role that opens near-miss reports, within the
viewer's services."""

from __future__ import annotations

import pytest

from core.actions.queries import linked_reports
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.builders import build_org, draft
from tests.conftest import built_once


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def test_linked_reports_lists_only_reports_the_viewer_may_open(engine, org):
    maple = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org),
                           now=utcnow(), rules=settings()).reference
    oak = file_near_miss(UnitOfWork(engine), org.actor("quality"), draft(
        org, service_id=org.oak, location_id=org.oak_lounge),
                         now=utcnow(), rules=settings()).reference

    def listed(username: str) -> tuple[list[str], list[str]]:
        with read_session(engine) as session:
            found, missing = linked_reports(session, org.actor(username), [maple, oak])
        return [r.reference for r in found], missing

    # A supervisor sees their own service's report, not another service's.
    assert listed("supervisor") == ([maple], [oak])
    assert listed("oak_supervisor") == ([oak], [maple])
    assert listed("quality") == ([maple, oak], [])
    # Roles that see the action register but cannot open near-miss reports get none of them
    # (type, place and status included), whatever their services.
    for username in ("reporter", "governance", "admin"):
        assert listed(username) == ([], [maple, oak]), username
