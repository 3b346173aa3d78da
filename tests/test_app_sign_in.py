"""Signing in and out of the real app, role navigation, and start-up refusals."""

from __future__ import annotations

import shutil

import pytest

from core.auth.service import set_user_active
from core.uow import UnitOfWork
from tests.apptest_helpers import assert_no_exception, new_app, sign_in, texts
from tests.builders import build_org
from tests.conftest import ROOT


@pytest.fixture
def org(engine):
    return build_org(engine)


def test_a_wrong_password_is_refused_and_repeated_failures_lock(org):
    at = new_app()
    for _ in range(2):
        at = sign_in(at, "reporter", "wrong-password")
        assert "Username or password is incorrect." in texts(at, "error")
    at = sign_in(at, "reporter", "wrong-password")
    assert any("locked for 15 minutes" in e for e in texts(at, "error"))
    at = sign_in(at, "reporter")
    assert any("locked" in e for e in texts(at, "error"))
    assert texts(at, "title") == ["Near Miss Portal"]


def test_commissioner_sees_no_report_form(org):
    at = sign_in(new_app(), "commissioner")
    assert_no_exception(at)
    assert texts(at, "title") == ["Evidence of learning"]  # where commissioners land
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
    assert "Use at least 12 characters." in texts(at, "error")
    assert at.text_input(key="users_add_username").value == "new.worker"


def test_a_disabled_user_is_signed_out_at_their_next_click(org, engine):
    at = sign_in(new_app(), "reporter")
    assert texts(at, "title") == ["Report a near miss"]
    set_user_active(UnitOfWork(engine), org.actor("admin"), "reporter", False)
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
