"""Sign-in rules: bcrypt, throttling, server-side sessions, disabling, the permission policy.

The throttle in depth, idle sessions and the cookie: tests/integration/test_sign_in_throttle.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.accounts.service import (
    SIGN_IN_REFUSED,
    SessionEnded,
    SignInRefused,
    actor_for_session,
    bind_session_cookie,
    note_activity,
    resume_from_cookie,
    sign_in,
    sign_out,
)
from core.accounts.users import NewUser, add_user, set_user_active
from core.auth.actor import SYSTEM
from core.auth.models import User, UserSession
from core.auth.policy import PAGES, Capability, can, pages_for, require
from core.auth.roles import Role
from core.clock import utcnow
from core.config import cookie_key_problem, environment, settings
from core.db import read_session
from core.errors import PermissionDenied, ValidationFailed
from core.uow import UnitOfWork
from tests.builders import PASSWORD, build_org
from tests.conftest import built_once


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def test_passwords_are_stored_as_bcrypt_hashes(engine, org):
    with read_session(engine) as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "reporter"))
    assert stored.startswith("$2") and PASSWORD not in stored


def test_sign_in_opens_a_session_with_roles_and_services(engine, org):
    signed = sign_in(UnitOfWork(engine), "Reporter ", PASSWORD, now=utcnow(), rules=settings())
    assert signed.actor.username == "reporter"
    assert signed.actor.roles == {Role.REPORTER}
    assert signed.actor.service_ids == {org.maple}
    quality = sign_in(UnitOfWork(engine), "quality", PASSWORD, now=utcnow(), rules=settings()).actor
    assert quality.service_ids is None  # an org-wide role sees every service


def test_wrong_password_and_unknown_user_get_the_same_message(engine, org):
    with pytest.raises(SignInRefused) as wrong:
        sign_in(UnitOfWork(engine), "reporter", "not-the-password", now=utcnow(), rules=settings())
    with pytest.raises(SignInRefused) as unknown:
        sign_in(UnitOfWork(engine), "nobody", "not-the-password", now=utcnow(), rules=settings())
    assert str(wrong.value) == str(unknown.value) == SIGN_IN_REFUSED


def test_repeated_failures_slow_the_account_down_instead_of_locking_it(engine, org):
    now = utcnow()
    for _ in range(3):  # the test settings' free failures
        with pytest.raises(SignInRefused):
            sign_in(UnitOfWork(engine), "reporter", "wrong-password", now=now, rules=settings())
    with pytest.raises(SignInRefused):
        sign_in(UnitOfWork(engine), "reporter", "wrong-password", now=now, rules=settings())
    # The fourth failure makes the next check wait 2 seconds: the right password is refused
    # inside that wait and accepted after it, with no administrator involved.
    with pytest.raises(SignInRefused):
        sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=now + timedelta(seconds=1),
                rules=settings())
    assert sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=now + timedelta(seconds=3),
                   rules=settings())


def test_a_successful_sign_in_resets_the_failure_count(engine, org):
    now = utcnow()
    for _ in range(2):
        with pytest.raises(SignInRefused):
            sign_in(UnitOfWork(engine), "reporter", "wrong-password", now=now, rules=settings())
    sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=now, rules=settings())
    for _ in range(3):  # three more are free again (five in a row would make it wait)
        with pytest.raises(SignInRefused):
            sign_in(UnitOfWork(engine), "reporter", "wrong-password", now=now, rules=settings())
    assert sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=now, rules=settings())


def test_sign_out_ends_the_session_and_its_cookie(engine, org):
    signed = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=utcnow(), rules=settings())
    bind_session_cookie(UnitOfWork(engine), signed.session_id, "1790000000.123", rules=settings(),
                        now=utcnow())
    with read_session(engine) as session:
        assert resume_from_cookie(session, "reporter", "1790000000.123",
                                  now=utcnow(), rules=settings()).session_id == \
            signed.session_id
    sign_out(UnitOfWork(engine), signed.session_id, now=utcnow(), rules=settings())
    with read_session(engine) as session, pytest.raises(SessionEnded):
        resume_from_cookie(session, "reporter", "1790000000.123", now=utcnow(), rules=settings())
    with read_session(engine) as session, pytest.raises(SessionEnded):
        actor_for_session(session, signed.session_id, now=utcnow(), rules=settings())


def test_a_cookie_cannot_be_used_for_another_user(engine, org):
    signed = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=utcnow(), rules=settings())
    bind_session_cookie(UnitOfWork(engine), signed.session_id, "1790000000.5", rules=settings(),
                        now=utcnow())
    with read_session(engine) as session, pytest.raises(SessionEnded):
        resume_from_cookie(session, "admin", "1790000000.5", now=utcnow(), rules=settings())


def test_sessions_expire(engine, org):
    now = utcnow()
    signed = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=now, rules=settings())
    for hours in (0.5, 1.25, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12.5):  # busy all shift long
        note_activity(signed.session_id, now=now + timedelta(hours=hours), engine=engine)
    with read_session(engine) as session:
        assert actor_for_session(session, signed.session_id, now=now + timedelta(hours=11),
                                 rules=settings())
        with pytest.raises(SessionEnded, match="expired"):
            actor_for_session(session, signed.session_id, now=now + timedelta(hours=13),
                              rules=settings())


def test_disabling_a_user_ends_their_sessions_and_blocks_sign_in(engine, org):
    signed = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=utcnow(), rules=settings())
    set_user_active(UnitOfWork(engine), org.actor("admin"), "reporter", False, now=utcnow())
    with read_session(engine) as session, pytest.raises(SessionEnded):
        actor_for_session(session, signed.session_id, now=utcnow(), rules=settings())
    with pytest.raises(SignInRefused) as refused:
        sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=utcnow(), rules=settings())
    assert str(refused.value) == SIGN_IN_REFUSED  # the reason goes to the owner, not the form
    with read_session(engine) as session:
        ended = session.scalar(select(UserSession).where(UserSession.id == signed.session_id))
        assert ended.end_reason == "account disabled"


def test_only_an_admin_manages_users(engine, org):
    new = NewUser("newbie", "New Person", "a-long-enough-password", ("reporter",))
    with pytest.raises(PermissionDenied):
        add_user(UnitOfWork(engine), org.actor("quality"), new, now=utcnow(), rules=settings())
    add_user(UnitOfWork(engine), org.actor("admin"), new, now=utcnow(), rules=settings())
    with pytest.raises(PermissionDenied):
        set_user_active(UnitOfWork(engine), org.actor("supervisor"), "newbie", False, now=utcnow())


def test_a_service_named_twice_is_one_membership(engine, org):
    """Hypothesis found it: the same service listed twice broke the insert (a duplicate key)."""
    new = NewUser("newbie", "New Person", "a-long-enough-password", ("reporter",),
                  ("Maple House", "Maple House"))
    add_user(UnitOfWork(engine), org.actor("admin"), new, now=utcnow(), rules=settings())
    with read_session(engine) as session:
        user = session.scalar(select(User).where(User.username == "newbie"))
        assert [membership.service_id for membership in user.services] == [org.maple]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": "short"}, "password"),
        ({"username": "Bad Name!"}, "username"),
        ({"roles": ("wizard",)}, "roles"),
        ({"roles": ()}, "roles"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_new_users_are_validated_field_by_field(engine, org, changes, field):
    values = {"username": "newbie", "display_name": "New Person",
              "password": "a-long-enough-password", "roles": ("reporter",)}
    values.update(changes)
    with pytest.raises(ValidationFailed) as caught:
        add_user(UnitOfWork(engine), SYSTEM, NewUser(**values), now=utcnow(), rules=settings())
    assert field in caught.value.errors


def test_every_role_has_a_page_and_only_staff_report():
    for role in Role:
        assert pages_for([role]), role
    assert not any(p.key == "report" for p in pages_for([Role.COMMISSIONER]))
    assert not any(p.key == "report" for p in pages_for([Role.GOVERNANCE]))
    assert any(p.key == "users" for p in pages_for([Role.ADMIN]))
    assert all(p.key != "users" for p in pages_for([r for r in Role if r is not Role.ADMIN]))
    assert {p.path for p in PAGES} == {p.path for p in pages_for(list(Role))}


def test_require_checks_capability_and_service(engine, org):
    reporter = org.actor("reporter")
    assert can(reporter, Capability.FILE_REPORT)
    require(reporter, Capability.FILE_REPORT, service_id=org.maple)
    with pytest.raises(PermissionDenied, match="not one of yours"):
        require(reporter, Capability.FILE_REPORT, service_id=org.oak)
    with pytest.raises(PermissionDenied):
        require(org.actor("commissioner"), Capability.FILE_REPORT)


def test_production_refuses_a_missing_or_default_cookie_key(monkeypatch):
    monkeypatch.setenv("NEARMISS_ENV", "production")
    for key in (None, "", "change-me", "too-short"):
        if key is None:
            monkeypatch.delenv("NEARMISS_COOKIE_KEY", raising=False)
        else:
            monkeypatch.setenv("NEARMISS_COOKIE_KEY", key)
        problem = cookie_key_problem(environment(), None)
        assert problem and "NEARMISS_COOKIE_KEY" in problem
    monkeypatch.setenv("NEARMISS_COOKIE_KEY", "x" * 48)
    assert cookie_key_problem(environment(), None) is None
    monkeypatch.setenv("NEARMISS_ENV", "demo")
    monkeypatch.delenv("NEARMISS_COOKIE_KEY")
    assert cookie_key_problem(environment(), None) is None
