"""User administration: creating users, their roles and services, disabling them, a user's own
password and language, the list administrators see, and the demo accounts. Every write is
audited. Signing in and sessions are core.accounts.service.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import i18n
from core.auth import throttle
from core.auth.actor import SYSTEM, Actor
from core.auth.models import AttemptThrottle, User, UserRole, UserService, UserSession
from core.auth.passwords import hash_password, password_matches, password_problem
from core.auth.policy import Capability, require
from core.auth.roles import Role, parse_roles
from core.config import Settings
from core.errors import NUL_MESSAGE, NotFound, ValidationFailed, has_nul
from core.i18n import N_
from core.organisation.models import Service, StaffGroup
from core.uow import UnitOfWork

DEMO_PASSWORD = "nearmiss-demo"
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")


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


def add_user(uow: UnitOfWork, actor: Actor, new: NewUser, *, now: datetime, rules: Settings,
             password_hash: str | None = None) -> int:
    """Create a user with roles and services. `password_hash` skips hashing (demo seeding)."""
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
            active=True, staff_group_id=staff_group_id,
            created_at=now, password_changed_at=now,
            roles=[UserRole(role=r.value) for r in sorted(roles)],
            # A service named twice (a CLI typo, a pasted list) is one membership.
            services=[UserService(service_id=s) for s in sorted(set(service_ids))],
        )
        session.add(user)
        session.flush()
        uow.record(actor, "user.created", "user", user.id, at=now, after={
            "username": username, "display_name": user.display_name,
            "roles": sorted(r.value for r in roles),
            "services": sorted({s.strip() for s in new.services if s.strip()}),
            "email": user.email, "staff_group": new.staff_group,
        })
        uow.commit()
        return user.id


def set_user_active(uow: UnitOfWork, actor: Actor, username: str, active: bool, *,
                    now: datetime) -> None:
    """Disable or re-enable a user; disabling ends every session they have at once."""
    if actor is not SYSTEM:
        require(actor, Capability.MANAGE_USERS)
    with uow:
        user = uow.session.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None:
            raise NotFound(f"No user {username!r}.")
        if actor.user_id == user.id and not active:
            raise ValidationFailed({"username": "You cannot disable your own account."})
        before = user.active
        user.active = active
        if not active:
            uow.session.execute(
                update(UserSession)
                .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
                .values(ended_at=now, end_reason="account disabled")
            )
        uow.record(actor, "user.enabled" if active else "user.disabled", "user", user.id, at=now,
                   before={"active": before}, after={"active": active})
        uow.commit()


def update_user_access(uow: UnitOfWork, actor: Actor, username: str, *,
                       roles: tuple[str, ...], services: tuple[str, ...], now: datetime) -> None:
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
                          "service_ids": sorted(set(service_ids))}, at=now)
        uow.commit()


def change_password(uow: UnitOfWork, actor: Actor, current: str, new: str, *,
                    now: datetime, rules: Settings) -> None:
    """A user changes their own password (the current one must be right)."""
    require(actor, Capability.MANAGE_ACCOUNT)
    problem = password_problem(new, username=actor.username,
                               min_length=rules.sign_in.min_password_length)
    if problem:
        raise ValidationFailed({"new_password": problem})
    with uow:
        user = uow.session.get(User, actor.user_id)
        if user is None or not password_matches(current, user.password_hash):
            raise ValidationFailed({"current_password": N_("That is not your current password.")})
        changed_before = user.password_changed_at
        user.password_hash = hash_password(new, rules.sign_in.bcrypt_rounds)
        user.password_changed_at = now
        # Never the hashes: only when the password changed.
        uow.record(actor, "user.password_changed", "user", user.id,
                   before={"password_changed_at": changed_before},
                   after={"password_changed_at": user.password_changed_at}, at=now)
        uow.commit()


def set_language(uow: UnitOfWork, actor: Actor, language: str, *, now: datetime) -> None:
    """A user chooses the language the portal speaks to them in (pages and e-mails)."""
    require(actor, Capability.MANAGE_ACCOUNT)
    if not i18n.is_supported(language):
        raise ValidationFailed({"language": "Choose one of the listed languages."})
    with uow:
        user = uow.session.get(User, actor.user_id)
        if user is None:
            raise NotFound("No such user.")
        if user.language == language:
            uow.rollback()
            return
        before = user.language
        user.language = language
        uow.record(actor, "user.language_changed", "user", user.id,
                   before={"language": before}, after={"language": language}, at=now)
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
    sign_in_paused: bool  # failed sign-ins make the next one wait (see core.auth.throttle)
    created_at: datetime = field(compare=False)


def list_users(session: Session, *, now: datetime) -> list[UserSummary]:
    """Every user with roles and services (for administrators and the command line); `now`
    tells whose sign-in is paused."""
    service_names = dict(session.execute(select(Service.id, Service.name)).all())
    group_names = dict(session.execute(select(StaffGroup.id, StaffGroup.name)).all())
    users = session.scalars(select(User).order_by(User.username)).all()
    waiting = set(session.scalars(select(AttemptThrottle.key).where(
        AttemptThrottle.scope == throttle.SIGN_IN_ACCOUNT, AttemptThrottle.retry_at > now)))
    return [
        UserSummary(
            username=u.username, display_name=u.display_name, email=u.email,
            roles=tuple(sorted(r.role for r in u.roles)),
            services=tuple(sorted(service_names.get(s.service_id, "?") for s in u.services)),
            staff_group=group_names.get(u.staff_group_id) if u.staff_group_id else None,
            active=u.active, sign_in_paused=throttle.throttle_key(
                throttle.SIGN_IN_ACCOUNT, u.username) in waiting,
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
                      services: Mapping[Role, tuple[str, ...]] | None = None, now: datetime,
                      rules: Settings) -> list[str]:
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
    # At the configured cost, so a wrong demo password takes as long as an unknown username.
    shared_hash = hash_password(DEMO_PASSWORD, rounds=rules.sign_in.bcrypt_rounds)
    for role, (name, group) in DEMO_ACCOUNTS.items():
        if role.value in existing:
            continue
        wanted = (services or {}).get(role, ())
        add_user(make_uow(), SYSTEM, NewUser(
            username=role.value, display_name=name, password=DEMO_PASSWORD, roles=(role.value,),
            services=tuple(s for s in wanted if s in known_services),
            email=f"{role.value}@demo.nearmiss.invalid",
            staff_group=group if group in known_groups else None,
        ), now=now, rules=rules, password_hash=shared_hash)
        created.append(role.value)
    return created
