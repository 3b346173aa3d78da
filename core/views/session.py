"""The sign-in chrome: resuming a session, the signed-in actor, unread counts."""

from __future__ import annotations

from datetime import datetime

from core.accounts.service import (
    NOTICE_KIND,
    SignedIn,
    actor_for_session,
    resume_from_cookie,
)
from core.auth.actor import Actor
from core.config import Settings
from core.db import read_session
from core.escalation.queries import notifications_for, unread_count


def resumed_session(username: str, cookie_secret: str, *, now: datetime,
                    rules: Settings) -> SignedIn:
    """The session a browser cookie belongs to (SessionEnded, SessionIdle otherwise)."""
    with read_session() as session:
        return resume_from_cookie(session, username, cookie_secret, now=now, rules=rules)


def session_actor(session_id: int, *, now: datetime, rules: Settings) -> Actor:
    """The actor behind a live session (SessionEnded, SessionIdle otherwise)."""
    with read_session() as session:
        return actor_for_session(session, session_id, now=now, rules=rules)


def session_actor_and_unread(session_id: int, *, now: datetime,
                             rules: Settings) -> tuple[Actor, int]:
    """`session_actor` and the actor's unread notifications, in one read: what every page
    run asks first."""
    with read_session() as session:
        actor = actor_for_session(session, session_id, now=now, rules=rules)
        return actor, unread_count(session, actor)


def unread_sign_in_notices(actor: Actor) -> int:
    """How many notices about sign-ins (refused or slowed down) the actor has not read."""
    with read_session() as session:
        return len(notifications_for(session, actor, unread_only=True, kind=NOTICE_KIND))


def unread_notifications(actor: Actor) -> int:
    """How many notifications the actor has not read (shown beside the Inbox)."""
    with read_session() as session:
        return unread_count(session, actor)
