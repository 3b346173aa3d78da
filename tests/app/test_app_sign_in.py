"""Signing in and out of the real app, role navigation, and start-up refusals."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from core.accounts.service import SIGN_IN_REFUSED
from core.accounts.users import set_user_active
from core.auth.models import UserSession
from core.auth.policy import pages_for
from core.auth.roles import Role
from core.clock import utcnow
from core.config import settings
from core.db import read_session
from core.escalation.models import Notification
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from core.views.session import unread_notifications
from tests.apptest_helpers import assert_no_exception, field_messages, new_app, sign_in, texts
from tests.builders import PASSWORD, build_org, draft
from tests.conftest import ROOT, built_once


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Stop the clock the sign-in page hands to the services, so a throttle's wait lasts
    however long a run takes."""
    import ui.session

    now = utcnow()
    monkeypatch.setattr(ui.session, "utcnow", lambda: now)
    return now


def test_every_refused_sign_in_shows_one_message_and_the_owner_learns_why(
        org, engine, monkeypatch):
    _frozen_clock(monkeypatch)
    set_user_active(UnitOfWork(engine), org.actor("admin"), "commissioner", False, now=utcnow())
    at = new_app()
    tries = [("reporter", "wrong-password")] * 4 + [  # the 4th makes the account wait
        ("reporter", PASSWORD),  # the right password, refused while it waits
        ("nobody-here", "wrong-password"),  # an unknown username
        ("commissioner", PASSWORD),  # a disabled account, with its right password
    ]
    for username, password in tries:
        at = sign_in(at, username, password)
        assert texts(at, "error") == [SIGN_IN_REFUSED], username
        assert texts(at, "title") == ["Near Miss Portal"]
    # The real reasons reach the owner (and the administrators), not the form.
    with read_session(engine) as session:
        told = {(n.user_id, n.title) for n in session.scalars(select(Notification))}
    reporter, admin = org.actor("reporter").user_id, org.actor("admin").user_id
    assert {(reporter, "Sign-in to reporter is being slowed down"),
            (reporter, "Sign-in to reporter was paused"),
            (admin, "Sign-in to reporter was paused"),
            (org.actor("commissioner").user_id,
             "Sign-in refused: the account commissioner is disabled")} <= told


def test_the_owner_sees_the_notices_after_signing_in(org, engine, monkeypatch):
    now = _frozen_clock(monkeypatch)
    at = new_app()
    for _ in range(4):
        at = sign_in(at, "reporter", "wrong-password")
    at = sign_in(at, "reporter")
    assert texts(at, "error") == [SIGN_IN_REFUSED]
    import ui.session

    monkeypatch.setattr(ui.session, "utcnow", lambda: now + timedelta(minutes=2))
    at = sign_in(at, "reporter")
    assert texts(at, "title") == ["Report a near miss"]
    assert any("2 new notices about sign-ins" in w for w in texts(at, "warning"))
    at.switch_page("pages/account.py").run()
    assert_no_exception(at)
    shown = texts(at, "text")
    assert "Sign-in to reporter was paused" in shown
    assert any("The right password for reporter was given" in t for t in shown)


def test_a_session_idle_past_the_limit_returns_to_sign_in_with_the_reason(org, engine):
    at = sign_in(new_app(), "reporter")
    assert texts(at, "title") == ["Report a near miss"]
    # An hour and a bit without a click (the server's record of the last activity is what
    # counts, not anything kept in the browser session).
    with engine.begin() as conn:
        conn.execute(update(UserSession).values(
            last_seen_at=utcnow() - timedelta(minutes=61)))
    at = at.run()
    assert texts(at, "title") == ["Near Miss Portal"]
    assert "You were signed out after 60 minutes without activity." in texts(at, "info")
    with read_session(engine) as session:
        assert session.scalar(select(UserSession.end_reason)) == "idle timeout"


def test_activity_keeps_the_session_and_is_written_at_most_once_a_minute(org, engine):
    at = sign_in(new_app(), "reporter")
    with read_session(engine) as session:
        first = session.scalar(select(UserSession.last_seen_at))
    for _ in range(3):
        at = at.run()
    with read_session(engine) as session:
        assert session.scalar(select(UserSession.last_seen_at)) == first  # no write per click
    with engine.begin() as conn:  # 59 minutes since the last stamp: still signed in ...
        conn.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=59)))
    at.session_state["nm_last_seen"] = utcnow() - timedelta(minutes=2)
    at = at.run()
    assert texts(at, "title") == ["Report a near miss"]
    with read_session(engine) as session:  # ... and this click was written down
        assert utcnow() - session.scalar(select(UserSession.last_seen_at)) < timedelta(minutes=1)


def test_the_follow_up_throttle_survives_a_new_browser_session(org, engine, monkeypatch):
    import ui.session

    monkeypatch.setattr(ui.session, "FOLLOW_UP_WRONG_DELAY_SECONDS", 0)
    monkeypatch.setattr(ui.session, "client_source", lambda: "198.51.100.7")
    for attempt in range(5):  # each wrong code from a fresh browser session (a reload)
        at = new_app()
        at.run()
        at.text_input(key="follow_up_code").input(f"AAAA-BBBB-CCC{'23456'[attempt]}")
        at = at.button(key="follow_up_submit").click().run()
        assert any("does not match" in e for e in texts(at, "error"))
    at = new_app()
    at.run()
    at.text_input(key="follow_up_code").input("AAAA-BBBB-DDDD")
    at = at.button(key="follow_up_submit").click().run()
    assert any("Too many codes that did not match" in e for e in texts(at, "error"))


def test_an_anonymous_visitor_sees_the_sign_in_form_and_no_page_links(org):
    at = new_app()
    at.run()
    assert_no_exception(at)
    assert texts(at, "title") == ["Near Miss Portal"]
    assert at.get("page_link") == []


def test_the_menu_lists_the_roles_pages_by_section_with_the_inbox_count(org, engine):
    # A safeguarding signal leaves the safeguarding lead an unread notification.
    file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(
        org, type_key="safeguarding_rights", description="Visitor asked for her PIN."),
                   now=utcnow(), rules=settings())
    unread = unread_notifications(org.actor("safeguarding"))
    assert unread > 0
    at = sign_in(new_app(), "safeguarding")
    assert_no_exception(at)
    sections: dict[str, list[str]] = {}
    for page in pages_for({Role.SAFEGUARDING}):
        if page.visible:  # a report's detail and an action plan are opened from other pages
            title = f"{page.title} · {unread}" if page.key == "inbox" else page.title
            sections.setdefault(page.section, []).append(title)
    expected = [line for section, titles in sections.items()
                for line in ([f"**{section}**"] if section else []) + titles]
    menu = [str(element.value) if element.type == "markdown" else element.proto.label
            for element in at.sidebar if element.type in ("markdown", "page_link")]
    assert menu[:len(expected)] == expected
    assert f"Inbox · {unread}" in menu
    assert "Near miss" not in menu and "Action plan" not in menu


def test_commissioner_sees_no_report_form(org):
    at = sign_in(new_app(), "commissioner")
    assert_no_exception(at)
    assert texts(at, "title") == ["Home"]  # where commissioners land
    assert "Report a near miss" not in texts(at, "title")


def test_admin_can_open_users_and_roles(org):
    at = sign_in(new_app(), "admin")
    at.switch_page("pages/admin_users.py").run()
    assert_no_exception(at)
    assert "reporter" in list(at.dataframe[0].value["Username"])


def test_admin_adds_a_user_and_errors_show_beside_fields(org):
    at = sign_in(new_app(), "admin")
    at.switch_page("pages/admin_users.py").run()
    at.text_input(key="users_add_username").input("new.worker")
    at.text_input(key="users_add_name").input("New Worker")
    at.text_input(key="users_add_password").input("short")
    at.button(key="users_add_submit").click().run()
    assert texts(at, "error") == ["Not added yet: check the 2 answers marked below "
                                  "(Roles; First password)."]
    assert "Use at least 12 characters." in field_messages(at)
    assert len(field_messages(at)) == 2
    assert at.text_input(key="users_add_username").value == "new.worker"


def test_a_disabled_user_is_signed_out_at_their_next_click(org, engine):
    at = sign_in(new_app(), "reporter")
    assert texts(at, "title") == ["Report a near miss"]
    set_user_active(UnitOfWork(engine), org.actor("admin"), "reporter", False, now=utcnow())
    at = at.run()
    assert texts(at, "title") == ["Near Miss Portal"]
    assert any("disabled" in i for i in texts(at, "info"))


def test_sign_out_returns_to_the_sign_in_form(org):
    at = sign_in(new_app(), "reporter")
    at = at.button(key="sign_out").click().run()
    assert texts(at, "title") == ["Near Miss Portal"]
    assert "You have signed out." in texts(at, "info")


def test_a_malformed_taxonomy_stops_start_up_naming_line_and_key(org, tmp_path, monkeypatch):
    broken = tmp_path / "taxonomy.yaml"
    shutil.copyfile(ROOT / "data" / "taxonomy.yaml", broken)
    text = broken.read_text().replace("route_to: operations", "route_too: operations", 1)
    broken.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "route_too" in row)
    monkeypatch.setenv("NEARMISS_TAXONOMY", str(broken))
    at = new_app().run()
    message = " ".join(texts(at, "error"))
    assert f"line {line}" in message and "route_too" in message
    assert "interface_failure" in message


def test_production_without_a_cookie_key_refuses_to_start(org, monkeypatch):
    monkeypatch.delenv("NEARMISS_COOKIE_KEY")
    at = new_app().run()
    assert any("NEARMISS_COOKIE_KEY" in e for e in texts(at, "error"))
    assert not at.text_input  # no sign-in form


def test_a_refreshing_fragment_neither_revives_nor_extends_an_idle_session(org, engine,
                                                                           monkeypatch):
    """The board and meeting mode refresh themselves without app.py: a wall screen left alone
    is still signed out after the idle limit, and only a change of its filters is activity."""
    import streamlit as st

    import ui.session

    at = sign_in(new_app(), "supervisor")
    session_id = at.session_state["nm_session_id"]
    reruns: list[str] = []

    def rerun(*, scope: str = "app") -> None:
        reruns.append(scope)

    monkeypatch.setattr(st, "rerun", rerun)
    state: dict = {"nm_session_id": session_id, "board_age": "any",
                   "nm_last_seen": utcnow() - timedelta(minutes=5)}
    monkeypatch.setattr(st, "session_state", state)
    with engine.begin() as conn:
        conn.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=30)))
    ui.session.keep_fragment_signed_in(("board_age",))  # a timed refresh: not activity
    ui.session.keep_fragment_signed_in(("board_age",))
    with read_session(engine) as session:
        stamped = session.scalar(select(UserSession.last_seen_at))
    assert utcnow() - stamped > timedelta(minutes=29) and reruns == []
    state["board_age"] = "older"  # the person changed a filter: a click
    ui.session.keep_fragment_signed_in(("board_age",))
    with read_session(engine) as session:
        assert utcnow() - session.scalar(select(UserSession.last_seen_at)) < timedelta(minutes=1)
    with engine.begin() as conn:  # then left alone past the limit
        conn.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=61)))
    # Within the whole app's run, app.py has just checked the session (and signed out an
    # idle one): the fragment does not read it again. Only its own reruns check it.
    whole_run = SimpleNamespace(fragment_ids_this_run=[])
    monkeypatch.setattr(ui.session, "get_script_run_ctx", lambda: whole_run)
    ui.session.keep_fragment_signed_in(("board_age",))
    assert reruns == []
    whole_run.fragment_ids_this_run = ["board_view"]  # the fragment's own timed rerun
    ui.session.keep_fragment_signed_in(("board_age",))
    assert reruns == ["app"]  # the whole app runs, ends the session and shows the sign-in


def _click(at, label: str):
    [button] = [b for b in at.button if b.label == label]
    return button.click().run()


def test_a_refused_password_change_marks_each_answer_under_one_summary(org):
    """WCAG 2.2 error identification: one alert says what to fix; each message is beside
    its field (not an alert of its own), and what was typed stays."""
    at = sign_in(new_app(), "reporter")
    at.switch_page("pages/account.py").run()
    at.text_input(key="account_current").input("wrong-password")
    at.text_input(key="account_new").input("a new long enough password")
    at.text_input(key="account_repeat").input("a different new password")
    at = _click(at, "Change password")
    assert_no_exception(at)
    [summary] = texts(at, "error")
    assert "check the fields marked below (New password again)" in summary
    assert field_messages(at) == ["The two new passwords differ."]
    assert at.text_input(key="account_new").value == "a new long enough password"
    at = _click(at, "Change password")  # nothing changed: refused again, still one alert
    assert len(texts(at, "error")) == 1


def test_a_refused_new_user_marks_each_answer_under_one_summary(org):
    at = sign_in(new_app(), "admin")
    at.switch_page("pages/admin_users.py").run()
    at.text_input(key="users_add_email").input("not an address")
    at = _click(at, "Add user")
    assert_no_exception(at)
    [summary] = texts(at, "error")
    assert summary.startswith("Not added yet: check the")
    messages = field_messages(at)
    assert len(messages) >= 3  # username, full name, password (and the address) at least
    assert "Username" in summary and "Full name" in summary and "First password" in summary
    assert at.text_input(key="users_add_email").value == "not an address"


def _supervisor_signed_in_after_a_deep_link(asked: str) -> AppTest:
    """An AppTest where a bookmark asked for the page `asked` before sign-in (as
    ui.session.current_actor keeps it), then the supervisor signed in."""
    from ui.session import RETURN_TO

    at = new_app()
    at.run()
    at.session_state[RETURN_TO] = (asked, {})
    sign_in(at, "supervisor")
    return at


@pytest.mark.parametrize(("asked", "title"), [("triage_board", "Triage board"),
                                              ("admin_users", "Home")])
def test_a_deep_link_asked_for_before_sign_in_is_followed_once_and_only_if_allowed(
        org, asked, title):
    """The page a bookmark asked for opens after sign-in if the role may open it (a supervisor
    may not open user administration: Home instead); either way the request is then spent."""
    from ui.session import RETURN_TO

    at = _supervisor_signed_in_after_a_deep_link(asked)
    assert_no_exception(at)
    assert texts(at, "title")[0] == title
    at.run()
    assert texts(at, "title")[0] == title
    assert RETURN_TO not in at.session_state


def test_the_browsers_late_rerun_from_the_landing_page_goes_back_to_the_deep_link_once(org):
    """On a busy server the cookie component's rerun can leave the browser before the switch to
    the bookmarked page reaches it, naming the landing page it still shows: the board's deep
    link then opened Home. Right after the switch such a run goes back to the page, once; the
    person's own next click is followed."""
    from ui.session import RETURN_TO

    at = _supervisor_signed_in_after_a_deep_link("triage_board")
    assert texts(at, "title")[0] == "Triage board"
    at.switch_page("pages/home.py").run()  # the browser's rerun, still on the landing page
    assert_no_exception(at)
    assert texts(at, "title")[0] == "Triage board"
    at.switch_page("pages/home.py").run()  # now a click of the person's own
    assert texts(at, "title")[0] == "Home"
    assert RETURN_TO not in at.session_state


def test_a_click_to_another_page_right_after_a_deep_link_opened_is_followed(org):
    """Only the page the switch left can be the browser's late rerun: a click to any other
    page, however soon, is the person's own."""
    from ui.session import RETURN_TO

    at = _supervisor_signed_in_after_a_deep_link("triage_board")
    assert texts(at, "title")[0] == "Triage board"
    at.switch_page("pages/inbox.py").run()
    assert texts(at, "title")[0] == "Inbox"
    assert RETURN_TO not in at.session_state


def test_leaving_a_deep_linked_page_later_than_a_moment_after_arriving_is_not_undone(org):
    """A run naming another page after the moment a late rerun may take is the person's
    own: they are not sent back to the bookmark."""
    import time

    from ui.session import RETURN_ARRIVED, RETURN_GRACE_SECONDS, RETURN_TO

    at = _supervisor_signed_in_after_a_deep_link("triage_board")
    assert texts(at, "title")[0] == "Triage board"
    at.session_state[RETURN_ARRIVED] = time.monotonic() - RETURN_GRACE_SECONDS - 1
    at.switch_page("pages/home.py").run()
    assert texts(at, "title")[0] == "Home"
    assert RETURN_TO not in at.session_state


def test_once_ready_the_portal_takes_its_long_lived_objects_out_of_the_collectors_view(org):
    """The modules and classes loaded by the time the portal is ready are frozen (gc.freeze),
    so no full collection scans them again; what is made later is collected as before."""
    import gc

    at = new_app().run()
    assert_no_exception(at)
    assert gc.get_freeze_count() > 100_000
    garbage = []
    garbage.append(garbage)  # a cycle made after the freeze: still collected
    del garbage
    assert gc.collect() >= 1
