"""Use cases of sign-in and user administration. Every write is audited."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.auth.actor import SYSTEM, UNAUTHENTICATED, Actor
from core.auth.models import User, UserRole, UserService, UserSession
from core.auth.passwords import hash_password, password_matches, password_problem
from core.auth.policy import Capability, require
from core.auth.roles import Role, parse_roles
from core.clock import utcnow
from core.config import Settings, settings
from core.errors import NUL_MESSAGE, DomainError, NotFound, ValidationFailed, has_nul
from core.organisation.models import Service, StaffGroup
from core.uow import UnitOfWork

DEMO_PASSWORD = "nearmiss-demo"
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")
WRONG_CREDENTIALS = "Username or password is incorrect."


class SignInRefused(DomainError):
    """Sign-in was refused; the message is safe to show."""


class SessionEnded(DomainError):
    """The session is over (signed out, expired, or the user was disabled)."""


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    session_id: int
    expires_at: datetime


def build_actor(user: User, rules: Settings | None = None) -> Actor:
    """The Actor for a user: roles, and services (None when a role covers every service)."""
    rules = rules or settings()
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
    )


def sign_in(uow: UnitOfWork, username: str, password: str, *,
            now: datetime | None = None, rules: Settings | None = None) -> SignedIn:
    """Check the password, apply the lockout rule, and open a server-side session."""
    rules = rules or settings()
    now = now or utcnow()
    username = (username or "").strip().lower()
    with uow:
        user = None if has_nul(username) else uow.session.scalar(
            select(User).where(User.username == username))
        if user is None:
            password_matches(password or "", None)  # same work as a real check
            raise SignInRefused(WRONG_CREDENTIALS)
        if user.locked_until is not None and user.locked_until > now:
            minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
            raise SignInRefused(
                f"This account is locked after {rules.sign_in.max_failed_attempts} failed "
                f"sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}, or ask "
                "an administrator to unlock it."
            )
        if not password_matches(password or "", user.password_hash):
            if user.locked_until is not None:  # an earlier lock has run out: count afresh
                user.failed_sign_ins, user.locked_until = 0, None
            failed_before = user.failed_sign_ins
            user.failed_sign_ins += 1
            locked = user.failed_sign_ins >= rules.sign_in.max_failed_attempts
            if locked:
                user.locked_until = now + timedelta(minutes=rules.sign_in.lockout_minutes)
            uow.record(UNAUTHENTICATED, "auth.sign_in_failed", "user", user.id, at=now,
                       before={"failed_sign_ins": failed_before},
                       after={"username": user.username, "failed_sign_ins": user.failed_sign_ins,
                              "locked": locked})
            uow.commit()
            if locked:
                raise SignInRefused(
                    f"Too many failed sign-ins: the account is locked for "
                    f"{rules.sign_in.lockout_minutes} minutes."
                )
            raise SignInRefused(WRONG_CREDENTIALS)
        if not user.active:
            raise SignInRefused("This account is disabled. Ask an administrator.")
        user.failed_sign_ins, user.locked_until = 0, None
        expires_at = now + timedelta(hours=rules.sign_in.session_hours)
        user_session = UserSession(user_id=user.id, created_at=now, expires_at=expires_at)
        uow.session.add(user_session)
        uow.session.flush()
        actor = build_actor(user, rules)
        uow.record(actor, "auth.signed_in", "user_session", user_session.id, at=now,
                   after={"username": user.username, "expires_at": expires_at})
        uow.commit()
        return SignedIn(actor, user_session.id, expires_at)


def bind_session_cookie(uow: UnitOfWork, session_id: int, cookie_id: str) -> None:
    """Remember which browser cookie belongs to a session, so the cookie can resume it."""
    with uow:
        user_session = uow.session.get(UserSession, session_id)
        if user_session is None or user_session.ended_at is not None:
            raise SessionEnded("Your session has ended. Please sign in again.")
        had_cookie = user_session.cookie_id is not None
        user_session.cookie_id = cookie_id[:40]
        # The cookie id itself resumes the session, so only the fact of binding is audited.
        uow.record(_session_owner(uow.session, user_session), "auth.session_cookie_issued",
                   "user_session", session_id, before={"cookie_bound": had_cookie},
                   after={"cookie_bound": True})
        uow.commit()


def _session_owner(session: Session, user_session: UserSession) -> Actor:
    user = session.get(User, user_session.user_id)
    assert user is not None
    return build_actor(user)


def _check_session(user_session: UserSession | None, user: User | None, now: datetime) -> None:
    if user_session is None or user is None:
        raise SessionEnded("Please sign in.")
    if not user.active:
        raise SessionEnded("Your account has been disabled. Ask an administrator.")
    if user_session.ended_at is not None:
        raise SessionEnded("You were signed out. Please sign in again.")
    if user_session.expires_at <= now:
        raise SessionEnded("Your session has expired. Please sign in again.")


def actor_for_session(session: Session, session_id: int, *, now: datetime | None = None) -> Actor:
    """The actor behind a live session; SessionEnded when it is over or the user is disabled."""
    now = now or utcnow()
    user_session = session.get(UserSession, session_id)
    user = session.get(User, user_session.user_id) if user_session else None
    _check_session(user_session, user, now)
    assert user is not None
    return build_actor(user)


def resume_from_cookie(session: Session, username: str, cookie_id: str, *,
                       now: datetime | None = None) -> SignedIn:
    """Resume the session a browser cookie belongs to (refused once that session ended)."""
    now = now or utcnow()
    row = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id).where(
            User.username == username, UserSession.cookie_id == cookie_id[:40])
    ).first()
    user_session, user = (row[0], row[1]) if row else (None, None)
    _check_session(user_session, user, now)
    assert user_session is not None and user is not None
    return SignedIn(build_actor(user), user_session.id, user_session.expires_at)


def sign_out(uow: UnitOfWork, session_id: int, *, reason: str = "signed out",
             now: datetime | None = None) -> None:
    """End a session for good: its cookie no longer signs anyone in."""
    now = now or utcnow()
    with uow:
        user_session = uow.session.get(UserSession, session_id)
        if user_session is None or user_session.ended_at is not None:
            return
        user_session.ended_at, user_session.end_reason = now, reason[:40]
        uow.record(_session_owner(uow.session, user_session), "auth.signed_out", "user_session",
                   session_id, at=now, before={"ended_at": None},
                   after={"ended_at": now, "reason": reason})
        uow.commit()


@dataclass(frozen=True)
class NewUser:
    """What an administrator gives to create a user."""

    username: str
    display_name: str
    password: str
    roles: tuple[str, ...]
    services: tuple[str, ...] = ()
    email: str | None = None
    staff_group: str | None = None


def _resolve_services(session: Session, names: tuple[str, ...]) -> list[int]:
    ids = []
    for name in names:
        service_id = None if has_nul(name) else session.scalar(
            select(Service.id).where(Service.name == name))
        if service_id is None:
            raise ValidationFailed({"services": f"Unknown service {name!r}."})
        ids.append(service_id)
    return ids


def add_user(uow: UnitOfWork, actor: Actor, new: NewUser, *, rules: Settings | None = None,
             password_hash: str | None = None) -> int:
    """Create a user with roles and services. `password_hash` skips hashing (demo seeding)."""
    rules = rules or settings()
    if actor is not SYSTEM:
        require(actor, Capability.MANAGE_USERS)
    errors: dict[str, str] = {}
    username = new.username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        errors["username"] = ("Use 2-60 lower-case letters, digits, dots, dashes or underscores, "
                              "starting with a letter or digit.")
    if not new.display_name.strip():
        errors["display_name"] = "Give the person's name."
    elif len(new.display_name.strip()) > 120:
        errors["display_name"] = "Keep the name to 120 characters."
    elif has_nul(new.display_name):
        errors["display_name"] = NUL_MESSAGE
    try:
        roles = parse_roles(new.roles)
        if not roles:
            errors["roles"] = "Give at least one role."
    except ValueError as exc:
        errors["roles"] = str(exc)
        roles = frozenset()
    if password_hash is None:
        problem = password_problem(new.password, username=username,
                                   min_length=rules.sign_in.min_password_length)
        if problem:
            errors["password"] = problem
    if new.email and (not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", new.email.strip())
                      or len(new.email.strip()) > 254 or has_nul(new.email)):
        errors["email"] = "That does not look like an email address."
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    with uow:
        session = uow.session
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise ValidationFailed({"username": f"The username {username!r} is taken."})
        service_ids = _resolve_services(session, tuple(s for s in new.services if s.strip()))
        staff_group_id = None
        if new.staff_group:
            staff_group_id = None if has_nul(new.staff_group) else session.scalar(
                select(StaffGroup.id).where(StaffGroup.name == new.staff_group))
            if staff_group_id is None:
                raise ValidationFailed({"staff_group": f"Unknown staff group {new.staff_group!r}."})
        user = User(
            username=username, display_name=new.display_name.strip(),
            email=(new.email or "").strip() or None,
            password_hash=password_hash or hash_password(new.password, rules.sign_in.bcrypt_rounds),
            active=True, staff_group_id=staff_group_id, failed_sign_ins=0,
            created_at=now, password_changed_at=now,
            roles=[UserRole(role=r.value) for r in sorted(roles)],
            services=[UserService(service_id=s) for s in service_ids],
        )
        session.add(user)
        session.flush()
        uow.record(actor, "user.created", "user", user.id, at=now, after={
            "username": username, "display_name": user.display_name,
            "roles": sorted(r.value for r in roles), "services": sorted(new.services),
            "email": user.email, "staff_group": new.staff_group,
        })
        uow.commit()
        return user.id


def set_user_active(uow: UnitOfWork, actor: Actor, username: str, active: bool) -> None:
    """Disable or re-enable a user; disabling ends every session they have at once."""
    if actor is not SYSTEM:
        require(actor, Capability.MANAGE_USERS)
    now = utcnow()
    with uow:
        user = uow.session.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None:
            raise NotFound(f"No user {username!r}.")
        if actor.user_id == user.id and not active:
            raise ValidationFailed({"username": "You cannot disable your own account."})
        before = user.active
        user.active = active
        if active:
            user.failed_sign_ins, user.locked_until = 0, None
        else:
            uow.session.execute(
                update(UserSession)
                .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
                .values(ended_at=now, end_reason="account disabled")
            )
        uow.record(actor, "user.enabled" if active else "user.disabled", "user", user.id, at=now,
                   before={"active": before}, after={"active": active})
        uow.commit()


def update_user_access(uow: UnitOfWork, actor: Actor, username: str, *,
                       roles: tuple[str, ...], services: tuple[str, ...]) -> None:
    """Replace a user's roles and services."""
    require(actor, Capability.MANAGE_USERS)
    try:
        parsed = parse_roles(roles)
    except ValueError as exc:
        raise ValidationFailed({"roles": str(exc)}) from exc
    if not parsed:
        raise ValidationFailed({"roles": "Give at least one role."})
    with uow:
        session = uow.session
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"No user {username!r}.")
        if actor.user_id == user.id and Role.ADMIN not in parsed:
            raise ValidationFailed({"roles": "You cannot remove your own administrator role."})
        service_ids = _resolve_services(session, services)
        before = {"roles": sorted(r.role for r in user.roles),
                  "service_ids": sorted(s.service_id for s in user.services)}
        user.roles = [UserRole(role=r.value) for r in sorted(parsed)]
        user.services = [UserService(service_id=s) for s in sorted(set(service_ids))]
        uow.record(actor, "user.access_changed", "user", user.id, before=before,
                   after={"roles": sorted(r.value for r in parsed),
                          "service_ids": sorted(set(service_ids))})
        uow.commit()


def change_password(uow: UnitOfWork, actor: Actor, current: str, new: str, *,
                    rules: Settings | None = None) -> None:
    """A user changes their own password (the current one must be right)."""
    rules = rules or settings()
    require(actor, Capability.MANAGE_ACCOUNT)
    problem = password_problem(new, username=actor.username,
                               min_length=rules.sign_in.min_password_length)
    if problem:
        raise ValidationFailed({"new_password": problem})
    with uow:
        user = uow.session.get(User, actor.user_id)
        if user is None or not password_matches(current, user.password_hash):
            raise ValidationFailed({"current_password": "That is not your current password."})
        changed_before = user.password_changed_at
        user.password_hash = hash_password(new, rules.sign_in.bcrypt_rounds)
        user.password_changed_at = utcnow()
        # Never the hashes: only when the password changed.
        uow.record(actor, "user.password_changed", "user", user.id,
                   before={"password_changed_at": changed_before},
                   after={"password_changed_at": user.password_changed_at})
        uow.commit()


@dataclass(frozen=True)
class UserSummary:
    username: str
    display_name: str
    email: str | None
    roles: tuple[str, ...]
    services: tuple[str, ...]
    staff_group: str | None
    active: bool
    locked: bool
    created_at: datetime = field(compare=False)


def list_users(session: Session, *, now: datetime | None = None) -> list[UserSummary]:
    """Every user with roles and services (for administrators and the command line)."""
    now = now or utcnow()
    service_names = dict(session.execute(select(Service.id, Service.name)).all())
    group_names = dict(session.execute(select(StaffGroup.id, StaffGroup.name)).all())
    users = session.scalars(select(User).order_by(User.username)).all()
    return [
        UserSummary(
            username=u.username, display_name=u.display_name, email=u.email,
            roles=tuple(sorted(r.role for r in u.roles)),
            services=tuple(sorted(service_names.get(s.service_id, "?") for s in u.services)),
            staff_group=group_names.get(u.staff_group_id) if u.staff_group_id else None,
            active=u.active, locked=bool(u.locked_until and u.locked_until > now),
            created_at=u.created_at,
        )
        for u in users
    ]


# Demo accounts: one per role, username = role id, services chosen to show scoping.
DEMO_ACCOUNTS: dict[Role, tuple[str, str | None]] = {
    Role.REPORTER: ("Riley Reporter (demo DSP)", "Direct support professional"),
    Role.SUPERVISOR: ("Sam Supervisor (demo)", "Supervisor"),
    Role.SAFEGUARDING: ("Sade Safeguarding (demo lead)", None),
    Role.CLINICAL: ("Casey Clinical (demo nurse)", "Nurse"),
    Role.OPERATIONS: ("Oli Operations (demo lead)", "Scheduler / coordinator"),
    Role.QUALITY: ("Quinn Quality (demo lead)", None),
    Role.GOVERNANCE: ("Gale Governance (demo board)", None),
    Role.COMMISSIONER: ("Cam Commissioner (demo funder)", None),
    Role.ADMIN: ("Ada Admin (demo)", None),
}


def ensure_demo_users(uow_factory: Callable[[], UnitOfWork] | None = None, *,
                      services: Mapping[Role, tuple[str, ...]] | None = None) -> list[str]:
    """Create the missing demo users (demo mode only); returns the usernames created.

    `services` gives the services of the service-scoped demo roles (reporter, supervisor);
    unknown service names are skipped so this also works on an empty database.
    """
    make_uow = uow_factory or UnitOfWork
    created: list[str] = []
    with make_uow() as probe:
        existing = set(probe.session.scalars(select(User.username)))
        known_groups = set(probe.session.scalars(select(StaffGroup.name)))
        known_services = set(probe.session.scalars(select(Service.name)))
    shared_hash = hash_password(DEMO_PASSWORD, rounds=10)
    for role, (name, group) in DEMO_ACCOUNTS.items():
        if role.value in existing:
            continue
        wanted = (services or {}).get(role, ())
        add_user(make_uow(), SYSTEM, NewUser(
            username=role.value, display_name=name, password=DEMO_PASSWORD, roles=(role.value,),
            services=tuple(s for s in wanted if s in known_services),
            email=f"{role.value}@demo.nearmiss.invalid",
            staff_group=group if group in known_groups else None,
        ), password_hash=shared_hash)
        created.append(role.value)
    return created
