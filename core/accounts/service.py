"""Use cases of sign-in and sessions. Every write is audited; user administration is
core.accounts.users.

Sign-in refuses in one message whatever the reason (unknown username, wrong password, an
account or address being throttled, a disabled account), at one cost (one bcrypt check at
the configured cost on every path), so a refusal tells a guesser nothing. The real reason
goes to the audit trail and, as a notice, to the account's owner and the administrators.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, Select, bindparam, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, joinedload

from core.auth import throttle
from core.auth.actor import UNAUTHENTICATED, Actor
from core.auth.models import User, UserRole, UserSession
from core.auth.passwords import dummy_hash, password_matches
from core.auth.roles import Role
from core.clock import to_local
from core.config import Settings
from core.db import get_engine, read_session
from core.errors import (
    DomainError,
    StorageUnavailable,
    has_nul,
)
from core.escalation.service import notify
from core.i18n import N_
from core.uow import UnitOfWork

# The one answer to every refused sign-in; true whichever the reason was.
SIGN_IN_REFUSED = N_("Sign-in failed: check your username and password. If they are right, "
                     "try again in a few minutes or ask an administrator.")
# Notices about one account (the right password refused) go out at most this often.
NOTICE_GAP = timedelta(minutes=15)
# The last activity of a session is written at most this often (not on every click).
ACTIVITY_STAMP_EVERY = timedelta(minutes=1)
NOTICE_KIND = "sign_in"


class SignInRefused(DomainError):
    """Sign-in was refused; the message is safe to show (it is the same for every reason)."""


class SessionEnded(DomainError):
    """The session is over (signed out, expired, idle, or the user was disabled)."""


# The reason a session left idle past the limit is ended with (auth.signed_out, end_reason).
IDLE_TIMEOUT = "idle timeout"


class SessionIdle(SessionEnded):
    """The session went unused for longer than the idle limit."""

    def __init__(self, session_id: int, minutes: int):
        self.session_id = session_id
        self.minutes = minutes
        super().__init__(f"You were signed out after {minutes} minute"
                         f"{'s' if minutes != 1 else ''} without activity.")


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    session_id: int
    expires_at: datetime


def build_actor(user: User, *, rules: Settings) -> Actor:
    """The Actor for a user: roles, and services (None when a role covers every service)."""
    roles = frozenset(Role(r.role) for r in user.roles if r.role in Role._value2member_map_)
    org_wide = bool({r.value for r in roles} & set(rules.scopes.org_wide_roles))
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=roles,
        service_ids=None if org_wide else frozenset(s.service_id for s in user.services),
        staff_group_id=user.staff_group_id,
        email=user.email,
        language=user.language,
    )


def _engine_of(uow: UnitOfWork) -> Engine:
    """The database a unit of work writes to (read from before it takes the write lock)."""
    return uow._engine or get_engine()


@dataclass(frozen=True)
class _Attempt:
    """What sign-in knows before it writes anything."""

    user_id: int | None
    username: str | None  # the account's name; None for a username nobody has
    active: bool
    right_password: bool
    account: throttle.ThrottleState
    source_state: throttle.ThrottleState
    account_key: str
    source: str | None
    source_key: str | None

    def waiting(self, now: datetime) -> bool:
        """Whether the account or the address has to wait before a password is checked."""
        return self.account.waiting(now) or self.source_state.waiting(now)


def sign_in(uow: UnitOfWork, username: str, password: str, *, source: str | None = None,
            now: datetime, rules: Settings) -> SignedIn:
    """Check the password under the throttle and open a server-side session.

    `source` is the client's address (see `throttle.client_address`; None when it cannot be
    told). Every refusal raises SignInRefused with the same message and is audited: a
    password checked and refused as auth.sign_in_failed, an attempt made while the account
    or the address has to wait as auth.sign_in_throttled.

    Per account, only checked attempts count, so a flood cannot push the account's wait
    further out than `account_max_delay_seconds` after its last counted failure: the owner
    gets in with the right password soon after a flood ends. Per address, every wrong
    password counts, waiting or not: a guessing device stays slowed down while it keeps
    guessing. A right password never counts against anything.
    """
    sign_in_rules = rules.sign_in
    typed = (username or "").strip().lower()
    account_key = throttle.throttle_key(throttle.SIGN_IN_ACCOUNT, typed)
    source_key = throttle.throttle_key(throttle.SIGN_IN_SOURCE, source) if source else None
    dummy_hash(sign_in_rules.bcrypt_rounds)  # made once, by whichever attempt comes first

    # Read and check the password before taking the write lock: bcrypt is slow on purpose.
    with read_session(_engine_of(uow)) as session:
        user = None if has_nul(typed) or len(typed) > 60 else session.scalar(
            select(User).where(User.username == typed))
        account_state = throttle.state_of(session, throttle.SIGN_IN_ACCOUNT, account_key,
                                          throttle.account_delays(sign_in_rules), now)
        source_state = throttle.NO_FAILURES if source_key is None else throttle.state_of(
            session, throttle.SIGN_IN_SOURCE, source_key, throttle.source_delays(sign_in_rules),
            now)
    # Exactly one bcrypt check on every path, at the configured cost, so time tells nothing.
    right = password_matches(password or "", user.password_hash if user else None,
                             rounds=sign_in_rules.bcrypt_rounds)
    attempt = _Attempt(user.id if user else None, user.username if user else None,
                       bool(user and user.active), right, account_state, source_state,
                       account_key, source, source_key)

    with uow:
        if right and not attempt.waiting(now) and attempt.user_id is not None:
            user = uow.session.get(User, attempt.user_id)
            if user is not None and user.active:
                throttle.forget(uow.session, throttle.SIGN_IN_ACCOUNT, account_key)
                return _open_session(uow, user, source=source, now=now, rules=rules)
            attempt = replace(attempt, active=False)  # disabled a moment ago
        _refuse(uow, attempt, now=now, rules=rules)
        uow.commit()
    raise SignInRefused(SIGN_IN_REFUSED)


def _open_session(uow: UnitOfWork, user: User, *, source: str | None, now: datetime,
                  rules: Settings) -> SignedIn:
    expires_at = now + timedelta(hours=rules.sign_in.session_hours)
    user_session = UserSession(user_id=user.id, created_at=now, expires_at=expires_at,
                               last_seen_at=now)
    uow.session.add(user_session)
    uow.session.flush()
    actor = build_actor(user, rules=rules)
    uow.record(actor, "auth.signed_in", "user_session", user_session.id, at=now,
               after={"username": user.username, "expires_at": expires_at, "source": source})
    uow.commit()
    return SignedIn(actor, user_session.id, expires_at)


def _refuse(uow: UnitOfWork, attempt: _Attempt, *, now: datetime, rules: Settings) -> None:
    """Count a refused sign-in where it counts, audit it, and tell whoever should know."""
    session = uow.session
    account_delays = throttle.account_delays(rules.sign_in)
    source_delays = throttle.source_delays(rules.sign_in)
    checked = not attempt.waiting(now)
    account_before = account_after = attempt.account
    if checked:
        account_before, account_after = throttle.count_failure(
            session, throttle.SIGN_IN_ACCOUNT, attempt.account_key, account_delays, now)
    source_before = source_after = attempt.source_state
    if attempt.source_key is not None and (checked or not attempt.right_password):
        source_before, source_after = throttle.count_failure(
            session, throttle.SIGN_IN_SOURCE, attempt.source_key, source_delays, now)

    if attempt.username is None:
        reason = "unknown username"
    elif not checked:
        reason = "waiting after failed sign-ins"
    elif not attempt.active:
        reason = "account disabled" + ("" if attempt.right_password else ", wrong password")
    else:
        reason = "wrong password"
    # A username nobody has is not recorded: people type passwords into that box.
    uow.record(UNAUTHENTICATED, "auth.sign_in_failed" if checked else "auth.sign_in_throttled",
               "user" if attempt.user_id else "sign_in", attempt.user_id, at=now,
               before={"account_failures": account_before.failures,
                       "source_failures": source_before.failures},
               after={"username": attempt.username, "reason": reason, "source": attempt.source,
                      "account_failures": account_after.failures,
                      "source_failures": source_after.failures,
                      "account_retry_at": account_after.retry_at,
                      "source_retry_at": source_after.retry_at,
                      "right_password": attempt.right_password if attempt.user_id else None})

    where = attempt.source or "an unknown address"
    when = _local(now, rules)
    if attempt.user_id is not None and checked and \
            account_after.failures == account_delays.free_failures + 1:
        _notify(uow, attempt.user_id, rules, now,
                title=f"Sign-in to {attempt.username} is being slowed down",
                body=(f"{account_after.failures} sign-ins to the account {attempt.username} "
                      f"failed in a row, the last at {when} from {where}. Each further try "
                      "now has to wait a little longer, never more than "
                      f"{_span(account_delays.cap)}. If this was you, wait and try again. If it "
                      "was not, someone may be guessing the password: tell an administrator."))
    if attempt.user_id is not None and attempt.right_password and throttle.may_notify(
            session, throttle.SIGN_IN_ACCOUNT, attempt.account_key, now, NOTICE_GAP):
        if checked:
            title = f"Sign-in refused: the account {attempt.username} is disabled"
            why = ("the account is disabled. An administrator can enable it again under Users "
                   "and roles.")
        else:
            title = f"Sign-in to {attempt.username} was paused"
            retry_at = max(s.retry_at for s in (attempt.account, attempt.source_state)
                           if s.waiting(now) and s.retry_at is not None)
            why = ("sign-in was paused after failed sign-ins "
                   + ("to this account" if attempt.account.waiting(now) else f"from {where}")
                   + f". It can be tried again from {_local(retry_at, rules)}. If this was "
                   "not you, someone else knows the password: change it at once, or ask an "
                   "administrator to disable the account.")
        _notify(uow, attempt.user_id, rules, now, title=title,
                body=(f"The right password for {attempt.username} was given at {when} from "
                      f"{where}, but sign-in was refused: {why}"))
    if attempt.source is not None and source_before.failures <= source_delays.free_failures \
            < source_after.failures:
        _notify(uow, None, rules, now,
                title=f"Sign-ins from {attempt.source} are being slowed down",
                body=(f"{source_after.failures} sign-ins from the address {attempt.source} "
                      f"failed, the last at {when}. Further tries from it now wait, up to "
                      f"{_span(source_delays.cap)} each. Other addresses are not affected."))
    if checked:
        throttle.prune(session, now, max(account_delays.forget_after,
                                         source_delays.forget_after))


def _notify(uow: UnitOfWork, user_id: int | None, rules: Settings, now: datetime, *,
            title: str, body: str) -> None:
    """A notice to the account's owner (if any) and every active administrator: in the
    portal and, when email is set up, by email."""
    session = uow.session
    admins = list(session.scalars(
        select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.ADMIN.value, User.active.is_(True))).unique())
    owner = session.get(User, user_id) if user_id is not None else None
    recipients = ([owner] if owner is not None else []) + [
        a for a in admins if owner is None or a.id != owner.id]
    notify(uow, recipients, kind=NOTICE_KIND, title=title, body=body, report_id=None,
           escalation_id=None, now=now, rules=rules)


def _local(moment: datetime, rules: Settings) -> str:
    return to_local(moment, rules.zone).strftime("%d %b %Y %H:%M:%S")


def _span(span: timedelta) -> str:
    seconds = round(span.total_seconds())
    return f"{seconds} seconds" if seconds < 120 else f"{round(seconds / 60)} minutes"


def _cookie_digest(cookie_secret: str) -> str:
    """What is stored of a cookie's secret: enough to recognise it, useless to present."""
    return hashlib.sha256(cookie_secret.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def bind_session_cookie(uow: UnitOfWork, session_id: int, cookie_secret: str, *,
                        now: datetime, rules: Settings) -> None:
    """Bind a browser cookie's random secret to a session, so the cookie can resume it.

    A new secret at every sign-in; only its digest is stored.
    """
    with uow:
        user_session = uow.session.get(UserSession, session_id)
        if user_session is None or user_session.ended_at is not None:
            raise SessionEnded(N_("Your session has ended. Please sign in again."))
        had_cookie = user_session.cookie_id is not None
        user_session.cookie_id = _cookie_digest(cookie_secret)
        # The cookie itself resumes the session, so only the fact of binding is audited.
        uow.record(_session_owner(uow.session, user_session, rules), "auth.session_cookie_issued",
                   "user_session", session_id, before={"cookie_bound": had_cookie},
                   after={"cookie_bound": True}, at=now)
        uow.commit()


def _session_owner(session: Session, user_session: UserSession, rules: Settings) -> Actor:
    user = session.get(User, user_session.user_id)
    assert user is not None
    return build_actor(user, rules=rules)


def _check_session(user_session: UserSession | None, user: User | None, now: datetime,
                   rules: Settings) -> None:
    if user_session is None or user is None:
        raise SessionEnded(N_("Please sign in."))
    if not user.active:
        raise SessionEnded(N_("Your account has been disabled. Ask an administrator."))
    if user_session.ended_at is not None:
        if user_session.end_reason == IDLE_TIMEOUT:
            # Ended for idleness by another run (another tab, a late rerun of the page being
            # reloaded): this browser is told why too, not only the run that found it.
            raise SessionIdle(user_session.id, rules.sign_in.idle_minutes)
        raise SessionEnded(N_("You were signed out. Please sign in again."))
    if user_session.expires_at <= now:
        raise SessionEnded(N_("Your session has expired. Please sign in again."))
    idle = rules.sign_in.idle_minutes
    if now - user_session.last_seen_at > timedelta(minutes=idle):
        raise SessionIdle(user_session.id, idle)


def _session_and_user_statement(*where: ColumnElement[bool]) -> Select[tuple[UserSession, User]]:
    """The sign-in session matching `where`, with its user and their roles and services, in
    one statement (every page run asks: as four lookups it took 2.6 ms on PostgreSQL)."""
    return (select(UserSession, User).join(User, User.id == UserSession.user_id).where(*where)
            .options(joinedload(User.roles), joinedload(User.services)))


# Built once: the session check runs at every page run, and building the statement cost
# about as much as running it.
_SESSION_BY_ID = _session_and_user_statement(UserSession.id == bindparam("session_id"))
_SESSION_BY_COOKIE = _session_and_user_statement(
    User.username == bindparam("username"), UserSession.cookie_id == bindparam("cookie_id"))


def _session_and_user(session: Session, statement: Select[tuple[UserSession, User]],
                      **params: object) -> tuple[UserSession | None, User | None]:
    row = session.execute(statement, params).unique().first()
    return (row[0], row[1]) if row else (None, None)


def actor_for_session(session: Session, session_id: int, *, now: datetime,
                      rules: Settings) -> Actor:
    """The actor behind a live session; SessionEnded when it is over, idle past the limit
    (SessionIdle) or the user is disabled."""
    user_session, user = _session_and_user(session, _SESSION_BY_ID, session_id=session_id)
    _check_session(user_session, user, now, rules)
    assert user is not None
    return build_actor(user, rules=rules)


def resume_from_cookie(session: Session, username: str, cookie_secret: str, *,
                       now: datetime, rules: Settings) -> SignedIn:
    """Resume the session a browser cookie belongs to (refused once that session ended or
    went idle past the limit)."""
    user_session, user = _session_and_user(session, _SESSION_BY_COOKIE, username=username,
                                           cookie_id=_cookie_digest(cookie_secret))
    _check_session(user_session, user, now, rules)
    assert user_session is not None and user is not None
    return SignedIn(build_actor(user, rules=rules), user_session.id, user_session.expires_at)


def note_activity(session_id: int, *, now: datetime, engine: Engine | None = None) -> bool:
    """Stamp a session's last activity, at most once a minute; whether it was stamped.

    The one write that is not audited: a heartbeat that changes nothing anyone made, which
    would otherwise put an event a minute per person in the trail. What it leads to is
    audited: the sign-out of a session left idle (auth.signed_out, reason IDLE_TIMEOUT).
    """
    try:
        with (engine or get_engine()).begin() as conn:
            stamped = conn.execute(
                update(UserSession)
                .where(UserSession.id == session_id, UserSession.ended_at.is_(None),
                       UserSession.last_seen_at <= now - ACTIVITY_STAMP_EVERY)
                .values(last_seen_at=now))
            return bool(stamped.rowcount)
    except (OperationalError, InterfaceError) as exc:
        raise StorageUnavailable(N_("The database could not be reached.")) from exc


def sign_out(uow: UnitOfWork, session_id: int, *, reason: str = "signed out",
             now: datetime, rules: Settings) -> None:
    """End a session for good: its cookie no longer signs anyone in."""
    with uow:
        user_session = uow.session.get(UserSession, session_id)
        if user_session is None or user_session.ended_at is not None:
            return
        user_session.ended_at, user_session.end_reason = now, reason[:40]
        uow.record(_session_owner(uow.session, user_session, rules), "auth.signed_out",
                   "user_session",
                   session_id, at=now, before={"ended_at": None},
                   after={"ended_at": now, "reason": reason})
        uow.commit()
