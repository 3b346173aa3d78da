"""Users, their roles and services, server-side sign-in sessions, and attempt throttles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base


class User(Base):
    """A person who signs in. Passwords are stored only as bcrypt hashes."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    staff_group_id: Mapped[int | None] = mapped_column(ForeignKey("staff_groups.id"))
    created_at: Mapped[datetime]
    password_changed_at: Mapped[datetime]
    # The language the portal speaks to them in (core.i18n), chosen at sign-in or in My account.
    language: Mapped[str] = mapped_column(String(12), default="en", server_default="en")

    roles: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    services: Mapped[list[UserService]] = relationship(cascade="all, delete-orphan",
                                                       lazy="selectin")


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(30), primary_key=True)


class UserService(Base):
    """A service the user covers (their reports, triage board and actions are scoped to it)."""

    __tablename__ = "user_services"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)


class UserSession(Base):
    """A sign-in session; ending it here ends it everywhere, cookie or not."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # The last click seen (stamped at most once a minute): idle sessions are refused.
    last_seen_at: Mapped[datetime]
    # A digest of the random secret in the browser cookie issued for this session (a new
    # one at every sign-in); the secret itself is never stored.
    cookie_id: Mapped[str | None] = mapped_column(String(40), index=True)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(40))


class AttemptThrottle(Base):
    """Failed attempts counted against one key (an account, an address, a follow-up code).

    `key` is a digest of what is counted, so the table holds no typed usernames or codes.
    After `failures` passes a scope's free allowance, nothing is checked for the key before
    `retry_at`. A key whose last failure is older than the forget period starts afresh.
    """

    __tablename__ = "attempt_throttles"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int]
    first_failure_at: Mapped[datetime]
    last_failure_at: Mapped[datetime]
    retry_at: Mapped[datetime | None]
    # When the owner and administrators were last told about this key (notices are spaced).
    notified_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("scope", "key", name="uq_attempt_throttles_scope_key"),
        Index("ix_attempt_throttles_last_failure", "last_failure_at"),
    )
