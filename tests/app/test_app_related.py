"""Reports that read alike on the near-miss page in the real app: shown to a reviewer with
their similarity and outcome, linked in one click; never shown to a reporter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.filing.service import file_near_miss
from core.triage.models import ReportLink
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, new_app, sign_in, texts
from tests.builders import build_org, draft, local_now

EARLIER = "Walker left out of reach at the bathroom doorway; staff steadied her as she reached."
NOW = ("At the bathroom door the walking frame was not within reach again and she wobbled; "
       "the carer steadied her.")
PANEL = "Earlier reports that read alike"


@pytest.fixture
def reports(engine):
    org = build_org(engine)

    def file(description: str, days_ago: float) -> str:
        return file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
            org, description=description,
            occurred_at=local_now() - timedelta(days=days_ago)),
                              now=utcnow(), rules=settings()).reference

    return file(EARLIER, 30), file(NOW, 1)


def open_report(username: str, reference: str):
    at = sign_in(new_app(), username)
    at.query_params["ref"] = reference
    return at.switch_page("pages/near_miss.py").run()


def links(engine) -> int:
    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(ReportLink))


def test_a_reviewer_sees_earlier_reports_that_read_alike_and_links_one(engine, reports):
    earlier, now = reports
    at = open_report("supervisor", now)
    assert_no_exception(at)
    assert PANEL in [s.value for s in at.subheader]
    assert any(earlier in str(link.proto) for link in at.get("page_link"))
    assert EARLIER in [t.value for t in at.text]  # the earlier description, as typed
    badges = [m for m in texts(at, "markdown") if "-badge[" in m]
    assert any("% alike" in b for b in badges)
    assert any(c.startswith("Outcome: New: waiting for triage") for c in texts(at, "caption"))

    button = at.button(key=f"read_alike.link.{now}.{earlier}")
    at = button.click().run()
    assert_no_exception(at)
    assert links(engine) == 1
    assert any(f"Linked {now} with {earlier}" in s for s in texts(at, "success"))
    # Linked now: the button gives way to the link and its removal.
    assert not [b for b in at.button if b.key == f"read_alike.link.{now}.{earlier}"]
    assert "**Linked as related**" in [m.value for m in at.markdown]
    assert any("or linked: 1 linked)" in c
               for c in texts(at, "caption"))
    at = at.button(key=f"read_alike.unlink.{now}.{earlier}").click().run()
    assert_no_exception(at)
    assert links(engine) == 0


def _panel_script(username: str, reference: str) -> None:
    """The panel alone, as a page would call it, for one of the test provider's users."""
    from sqlalchemy import select

    from core.accounts.service import build_actor
    from core.auth.models import User
    from core.config import settings
    from core.db import read_session
    from core.views.near_miss import read_alike_panel
    from ui import read_alike

    with read_session() as session:
        actor = build_actor(session.scalar(select(User).where(User.username == username)),
                            rules=settings())
    read_alike.panel(actor, read_alike_panel(actor, reference, rules=settings()))


def test_a_reporter_never_sees_the_panel(engine, reports):
    _earlier, now = reports
    at = sign_in(new_app(), "reporter")
    at.query_params["ref"] = now
    with pytest.raises((ValueError, KeyError, RuntimeError)):  # no report page for them
        at.switch_page("pages/near_miss.py")
    at = at.switch_page("pages/my_reports.py").run()  # where they see their own reports
    assert_no_exception(at)
    assert PANEL not in [s.value for s in at.subheader]
    # The panel itself shows them nothing, whatever page would call it (core refuses them
    # too: tests/integration/test_related_reports.py).
    at = AppTest.from_function(_panel_script, args=("reporter", now), default_timeout=60).run()
    assert_no_exception(at)
    assert PANEL not in [s.value for s in at.subheader]
    assert EARLIER not in [t.value for t in at.text] and not at.button
