"""Sign-in gives nothing away and cannot lock anyone out; idle sessions end on the server;
follow-up codes are throttled in the database. Clocks are injected, never slept on."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from datetime import datetime, timedelta

import bcrypt
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from core.accounts.service import (
    IDLE_TIMEOUT,
    SIGN_IN_REFUSED,
    SessionEnded,
    SessionIdle,
    SignInRefused,
    actor_for_session,
    bind_session_cookie,
    note_activity,
    resume_from_cookie,
    sign_in,
    sign_out,
)
from core.accounts.users import NewUser, add_user, list_users, set_user_active
from core.audit.models import AuditEvent
from core.auth.actor import SYSTEM, UNAUTHENTICATED
from core.auth.models import AttemptThrottle, UserSession
from core.auth.throttle import client_address
from core.clock import utcnow
from core.config import SignInRules, settings
from core.db import read_session
from core.escalation.email import send_pending_emails
from core.escalation.models import Notification
from core.feedback.followup import FollowUpPaused, look_up_follow_up
from core.filing.service import file_near_miss
from core.uow import UnitOfWork
from tests.builders import PASSWORD, build_org, draft
from tests.conftest import built_once

ATTACKER = "203.0.113.66"
OWNER_DEVICE = "198.51.100.20"


@pytest.fixture
def org(engine, db_url: str):
    return built_once("org", db_url, build_org)  # built once, copied per test


def attempt(engine: Engine, username: str, password: str, at: datetime,
            source: str | None = None) -> bool:
    """One sign-in; whether it got in (a refusal must always read the same)."""
    try:
        sign_in(UnitOfWork(engine), username, password, source=source, now=at, rules=settings())
    except SignInRefused as refused:
        assert str(refused) == SIGN_IN_REFUSED
        return False
    return True


def events(engine: Engine, *actions: str) -> list[AuditEvent]:
    with read_session(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action.in_(actions))
                                    .order_by(AuditEvent.seq)))


# -- one message, one cost -------------------------------------------------------------------

def test_every_refusal_reads_the_same(engine, org):
    now = utcnow()
    set_user_active(UnitOfWork(engine), SYSTEM, "commissioner", False, now=utcnow())
    refusals = []
    for username, password, at in [
        ("nobody", "wrong-password", now),  # unknown username
        ("reporter", "wrong-password", now),  # wrong password (1..4: the 4th starts a wait)
        ("reporter", "wrong-password", now),
        ("reporter", "wrong-password", now),
        ("reporter", "wrong-password", now),
        ("reporter", PASSWORD, now),  # the right password while the account waits
        ("commissioner", PASSWORD, now),  # a disabled account, right password
    ]:
        with pytest.raises(SignInRefused) as refused:
            sign_in(UnitOfWork(engine), username, password, now=at, rules=settings())
        refusals.append(str(refused.value))
    assert set(refusals) == {SIGN_IN_REFUSED}


def test_every_path_checks_one_password_at_the_configured_cost(engine, org, monkeypatch):
    rules = settings().model_copy(update={
        "sign_in": settings().sign_in.model_copy(update={"bcrypt_rounds": 5})})
    for username in ("timed", "gone"):
        add_user(UnitOfWork(engine), SYSTEM, NewUser(username, username.title(), PASSWORD,
                                                     ("reporter",)), rules=rules, now=utcnow())
    set_user_active(UnitOfWork(engine), SYSTEM, "gone", False, now=utcnow())
    checked: list[str] = []
    real_check = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed.decode()[:7])  # "$2b$05$": the cost of the hash checked
        return real_check(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    now = utcnow()

    def path(username: str, password: str, at: datetime) -> list[str]:
        checked.clear()
        with contextlib.suppress(SignInRefused):
            sign_in(UnitOfWork(engine), username, password, now=at, rules=rules)
        return list(checked)

    costs = {"unknown username": path("nobody", "wrong-password", now),
             "wrong password": path("timed", "wrong-password", now),
             "disabled account": path("gone", PASSWORD, now),
             "success": path("timed", PASSWORD, now)}
    for _ in range(4):
        path("timed", "wrong-password", now)
    costs["account waiting"] = path("timed", PASSWORD, now)
    assert costs == {name: ["$2b$05$"] for name in costs}


# -- throttled, never locked -----------------------------------------------------------------

def test_the_account_waits_grow_and_stay_under_two_minutes(engine, org):
    now = utcnow()
    waits = []
    for _ in range(12):
        assert not attempt(engine, "admin", "wrong-password", now)
        with read_session(engine) as session:
            row = session.scalar(select(AttemptThrottle).where(
                AttemptThrottle.scope == "sign_in_account"))
        waits.append(0 if row.retry_at is None else (row.retry_at - now).total_seconds())
        if row.retry_at:
            now = row.retry_at  # the next try comes just as the wait ends
    # Three free (the test settings), then 2 s doubling to the one-minute cap.
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert attempt(engine, "admin", PASSWORD, now)  # the administrator is never locked out


def test_the_owner_gets_in_within_two_minutes_while_one_address_floods(engine, org):
    start = utcnow()
    owner_in_at = None
    for second in range(0, 240):  # a guess a second from one address, for four minutes
        now = start + timedelta(seconds=second)
        assert not attempt(engine, "reporter", f"guess-{second}", now, ATTACKER)
        # The owner tries every ten seconds from their own device.
        if owner_in_at is None and second % 10 == 5 and attempt(
                engine, "reporter", PASSWORD, now + timedelta(milliseconds=1), OWNER_DEVICE):
            owner_in_at = second
    assert owner_in_at is not None and owner_in_at <= 120
    checked = events(engine, "auth.sign_in_failed")
    assert len(checked) <= 12  # of 240 guesses, only these had their password checked


def test_the_owner_gets_in_within_two_minutes_after_a_flood_from_many_addresses(engine, org):
    start = utcnow()
    flood_seconds = 300
    for second in range(flood_seconds):  # every guess from a different address
        now = start + timedelta(seconds=second)
        assert not attempt(engine, "reporter", f"guess-{second}", now,
                           f"198.18.{second // 250}.{second % 250 + 1}")
    end = start + timedelta(seconds=flood_seconds)
    tries = [end + timedelta(seconds=s) for s in range(0, 121, 10)]
    assert any(attempt(engine, "reporter", PASSWORD, at, OWNER_DEVICE) for at in tries)
    # However many addresses, one account's password is checked about once a minute.
    assert len(events(engine, "auth.sign_in_failed")) <= 3 + 5 + flood_seconds // 60 + 1


def test_an_address_that_keeps_guessing_keeps_waiting_and_others_do_not(engine, org):
    now = utcnow()
    for n in range(12):  # wrong passwords for many accounts, from one address
        attempt(engine, f"user-{n}", "wrong-password", now, ATTACKER)
    assert not attempt(engine, "quality", PASSWORD, now + timedelta(seconds=1), ATTACKER)
    assert attempt(engine, "quality", PASSWORD, now + timedelta(seconds=1), OWNER_DEVICE)
    # Guessing on while it waits pushes its own wait out (the right password does not).
    for s in range(2, 400, 20):
        attempt(engine, "quality", "wrong-password", now + timedelta(seconds=s), ATTACKER)
    assert not attempt(engine, "quality", PASSWORD, now + timedelta(seconds=400), ATTACKER)
    assert attempt(engine, "quality", PASSWORD, now + timedelta(seconds=400 + 300), ATTACKER)


def test_a_quiet_spell_forgets_the_failures(engine, org):
    now = utcnow()
    for _ in range(3):
        attempt(engine, "reporter", "wrong-password", now)
    later = now + timedelta(minutes=61)
    for _ in range(3):  # three free again
        attempt(engine, "reporter", "wrong-password", later)
    assert attempt(engine, "reporter", PASSWORD, later)


def test_every_refused_and_throttled_attempt_is_audited_without_naming_anyone(engine, org):
    now = utcnow()
    tries = [("reporter", "wrong-password")] * 5 + [("reporter", PASSWORD),
                                                   ("Hunter2-typed-as-a-name", "x")]
    for username, password in tries:
        attempt(engine, username, password, now, ATTACKER)
    refused = events(engine, "auth.sign_in_failed", "auth.sign_in_throttled")
    assert len(refused) == len(tries)
    assert Counter(e.action for e in refused) == {"auth.sign_in_failed": 5,
                                                  "auth.sign_in_throttled": 2}
    assert {(e.actor, e.actor_id) for e in refused} == {(UNAUTHENTICATED.username, None)}
    details = [json.loads(e.after_json) for e in refused]
    assert all(d["source"] == ATTACKER for d in details)
    assert [d["reason"] for d in details][-3:] == ["waiting after failed sign-ins"] * 2 + [
        "unknown username"]
    assert details[-2]["right_password"] is True  # the owner may have been the one waiting
    # A username nobody has is not kept (people type passwords into that box).
    assert not any("hunter2" in e.after_json.lower() for e in refused)
    with read_session(engine) as session:
        assert not any("hunter2" in k for k in session.scalars(select(AttemptThrottle.key)))


def test_the_owner_and_the_administrators_learn_the_reason_by_email(engine, org, smtp_server):
    now = utcnow()
    for _ in range(4):
        attempt(engine, "reporter", "wrong-password", now, ATTACKER)
    attempt(engine, "reporter", PASSWORD, now + timedelta(seconds=1), OWNER_DEVICE)
    attempt(engine, "nobody", "wrong-password", now)  # nobody to tell
    send_pending_emails(engine, now=utcnow(), rules=settings())
    mail = Counter((m["To"], m["Subject"]) for m in smtp_server.messages)
    reporter, admin = org.actor("reporter").email, org.actor("admin").email
    assert mail == {
        (reporter, "[Near Miss Portal] Sign-in to reporter is being slowed down"): 1,
        (admin, "[Near Miss Portal] Sign-in to reporter is being slowed down"): 1,
        (reporter, "[Near Miss Portal] Sign-in to reporter was paused"): 1,
        (admin, "[Near Miss Portal] Sign-in to reporter was paused"): 1,
    }
    paused = next(m for m in smtp_server.messages if "paused" in m["Subject"])
    assert OWNER_DEVICE in paused.get_content() and "It can be tried again" in \
        paused.get_content()


def test_notices_about_one_account_are_spaced_out(engine, org):
    now = utcnow()
    set_user_active(UnitOfWork(engine), SYSTEM, "commissioner", False, now=utcnow())
    for second in range(30):
        attempt(engine, "commissioner", PASSWORD, now + timedelta(seconds=second * 2))
    with read_session(engine) as session:
        owner_notes = session.scalars(select(Notification).where(
            Notification.user_id == org.actor("commissioner").user_id)).all()
    assert [n.title for n in owner_notes] == [
        "Sign-in refused: the account commissioner is disabled",
        "Sign-in to commissioner is being slowed down"]


def test_the_user_list_shows_an_account_whose_sign_in_waits(engine, org):
    now = utcnow()
    for _ in range(4):
        attempt(engine, "reporter", "wrong-password", now)
    with read_session(engine) as session:
        paused = {u.username for u in list_users(session, now=now) if u.sign_in_paused}
    assert paused == {"reporter"}


# -- where an attempt comes from ------------------------------------------------------------

@pytest.mark.parametrize(("peer", "forwarded", "trusted", "expected"), [
    ("203.0.113.5", None, (), "203.0.113.5"),
    ("203.0.113.5", "198.51.100.1", (), "203.0.113.5"),  # header from anyone else: ignored
    (None, "198.51.100.1", (), None),  # a loopback peer nobody configured: cannot tell
    (None, "198.51.100.1", ("127.0.0.1",), "198.51.100.1"),  # a proxy on the same machine
    ("10.0.0.2", "1.2.3.4, 198.51.100.1", ("10.0.0.0/8",), "198.51.100.1"),  # rightmost
    ("10.0.0.2", "198.51.100.1, 10.0.0.9", ("10.0.0.0/8",), "198.51.100.1"),  # proxy chain
    ("10.0.0.2", None, ("10.0.0.0/8",), None),  # from the proxy, but no header
    ("10.0.0.2", "not-an-address", ("10.0.0.0/8",), None),
    ("2001:db8::7", None, (), "2001:db8::7"),
])
def test_the_client_address_trusts_forwarded_for_only_from_a_configured_proxy(
        peer, forwarded, trusted, expected):
    assert client_address(peer, forwarded, trusted) == expected


def test_settings_refuse_the_retired_lock_keys_and_unknown_proxies():
    with pytest.raises(ValidationError, match="no longer used"):
        SignInRules.model_validate({"max_failed_attempts": 5})
    with pytest.raises(ValidationError, match="not an IP address"):
        SignInRules.model_validate({"trusted_proxies": ["proxy.example"]})
    with pytest.raises(ValidationError):
        SignInRules.model_validate({"account_max_delay_seconds": 300})  # over two minutes


# -- idle sessions and the cookie -------------------------------------------------------------

def test_a_session_idle_past_the_limit_is_refused_even_with_its_cookie(engine, org):
    now = utcnow()
    signed = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=now, rules=settings())
    bind_session_cookie(UnitOfWork(engine), signed.session_id, "cookie-secret-1", rules=settings(),
                        now=utcnow())
    later = now + timedelta(minutes=61)
    with read_session(engine) as session:
        assert resume_from_cookie(session, "reporter", "cookie-secret-1",
                                  now=now + timedelta(minutes=59), rules=settings())
        with pytest.raises(SessionIdle, match="signed out after 60 minutes without activity"):
            resume_from_cookie(session, "reporter", "cookie-secret-1", now=later, rules=settings())
        with pytest.raises(SessionIdle):
            actor_for_session(session, signed.session_id, now=later, rules=settings())


def test_a_session_another_run_ended_for_idleness_still_says_it_was_idle(engine, org):
    """A tab (or a late rerun of the page being reloaded) meets the idle session first and
    ends it; the browser resuming from its cookie after that is told why too."""
    now = utcnow()
    signed = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=now, rules=settings())
    bind_session_cookie(UnitOfWork(engine), signed.session_id, "cookie-secret-2", rules=settings(),
                        now=now)
    later = now + timedelta(minutes=61)
    sign_out(UnitOfWork(engine), signed.session_id, reason=IDLE_TIMEOUT, now=later,
             rules=settings())
    with read_session(engine) as session:
        with pytest.raises(SessionIdle, match="signed out after 60 minutes without activity"):
            resume_from_cookie(session, "reporter", "cookie-secret-2", now=later, rules=settings())
        with pytest.raises(SessionIdle):
            actor_for_session(session, signed.session_id, now=later, rules=settings())


def test_a_session_signed_out_is_not_called_idle(engine, org):
    now = utcnow()
    signed = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=now, rules=settings())
    bind_session_cookie(UnitOfWork(engine), signed.session_id, "cookie-secret-3", rules=settings(),
                        now=now)
    sign_out(UnitOfWork(engine), signed.session_id, now=now, rules=settings())
    with read_session(engine) as session:
        with pytest.raises(SessionEnded, match=r"^You were signed out\. Please") as ended:
            resume_from_cookie(session, "reporter", "cookie-secret-3", now=now, rules=settings())
        assert not isinstance(ended.value, SessionIdle)


def test_activity_is_stamped_at_most_once_a_minute_and_keeps_the_session(engine, org):
    now = utcnow()
    signed = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=now, rules=settings())
    assert not note_activity(signed.session_id, now=now + timedelta(seconds=30), engine=engine)
    assert note_activity(signed.session_id, now=now + timedelta(minutes=50), engine=engine)
    assert not note_activity(signed.session_id, now=now + timedelta(minutes=50, seconds=40),
                             engine=engine)
    with read_session(engine) as session:
        assert actor_for_session(session, signed.session_id, now=now + timedelta(minutes=109),
                                 rules=settings())
        with pytest.raises(SessionIdle):
            actor_for_session(session, signed.session_id, now=now + timedelta(minutes=111),
                              rules=settings())


def test_the_database_keeps_only_a_digest_of_the_cookie_secret(engine, org):
    signed = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=utcnow(), rules=settings())
    secret = "Kq3v-random-cookie-secret"
    bind_session_cookie(UnitOfWork(engine), signed.session_id, secret, rules=settings(),
                        now=utcnow())
    with read_session(engine) as session:
        stored = session.scalar(select(UserSession.cookie_id))
        assert stored and secret not in stored
        with pytest.raises(SessionEnded):  # the stored digest opens nothing
            resume_from_cookie(session, "reporter", stored, now=utcnow(), rules=settings())
        assert resume_from_cookie(session, "reporter", secret,
                                  now=utcnow(), rules=settings()).session_id == signed.session_id


def test_a_new_sign_in_binds_a_new_cookie_and_the_old_one_does_not_open_it(engine, org):
    first = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=utcnow(), rules=settings())
    bind_session_cookie(UnitOfWork(engine), first.session_id, "secret-first", rules=settings(),
                        now=utcnow())
    second = sign_in(UnitOfWork(engine), "reporter", PASSWORD, now=utcnow(), rules=settings())
    bind_session_cookie(UnitOfWork(engine), second.session_id, "secret-second", rules=settings(),
                        now=utcnow())
    with read_session(engine) as session:
        assert resume_from_cookie(session, "reporter", "secret-first",
                                  now=utcnow(), rules=settings()).session_id == \
            first.session_id
        assert resume_from_cookie(session, "reporter", "secret-second",
                                  now=utcnow(), rules=settings()).session_id == \
            second.session_id


# -- follow-up codes --------------------------------------------------------------------------

def test_wrong_follow_up_codes_pause_the_address_in_the_database(engine, org):
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, anonymous=True),
                           now=utcnow(), rules=settings())
    now = utcnow()
    for n in range(5):  # a new unit of work each time: nothing is kept in memory
        assert look_up_follow_up(UnitOfWork(engine), f"AAAA-BBBB-CC{n + 2}{n + 2}",
                                 source=ATTACKER, now=now) is None
    with pytest.raises(FollowUpPaused, match="Try again in 15 minutes"):
        look_up_follow_up(UnitOfWork(engine), filed.follow_up_code, source=ATTACKER, now=now)
    # Another address is not held up, and the pause ends.
    assert look_up_follow_up(UnitOfWork(engine), filed.follow_up_code, source=OWNER_DEVICE,
                             now=now) is not None
    assert look_up_follow_up(UnitOfWork(engine), filed.follow_up_code, source=ATTACKER,
                             now=now + timedelta(minutes=16)) is not None


def test_one_wrong_follow_up_code_tried_from_many_addresses_pauses_that_code(engine, org):
    now = utcnow()
    for n in range(5):
        assert look_up_follow_up(UnitOfWork(engine), "AAAA-BBBB-CCCC",
                                 source=f"198.18.0.{n + 1}", now=now) is None
    with pytest.raises(FollowUpPaused):
        look_up_follow_up(UnitOfWork(engine), "AAAA-BBBB-CCCC", source="198.18.0.99", now=now)


def test_a_follow_up_code_that_matches_leaves_no_trace(engine, org):
    filed = file_near_miss(UnitOfWork(engine), org.actor("reporter"), draft(org, anonymous=True),
                           now=utcnow(), rules=settings())
    with read_session(engine) as session:
        before = session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    assert look_up_follow_up(UnitOfWork(engine), filed.follow_up_code, source=OWNER_DEVICE,
                             now=utcnow())
    with read_session(engine) as session:
        assert session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc())
                              .limit(1)) == before
        assert session.scalars(select(AttemptThrottle)).all() == []


def test_refused_follow_up_lookups_are_audited_without_the_address_or_code(engine, org):
    look_up_follow_up(UnitOfWork(engine), "AAAA-BBBB-CCCC", source=ATTACKER, now=utcnow())
    [refused] = events(engine, "follow_up.lookup_refused")
    assert (refused.actor, refused.actor_id) == (UNAUTHENTICATED.username, None)
    assert ATTACKER not in refused.after_json and "AAAABBBBCCCC" not in refused.after_json
    with read_session(engine) as session:  # counted per code and per address, by digest
        rows = session.scalars(select(AttemptThrottle)).all()
    assert sorted(r.scope for r in rows) == ["follow_up_code", "follow_up_source"]
    assert not any(ATTACKER in r.key or "AAAABBBBCCCC" in r.key for r in rows)
