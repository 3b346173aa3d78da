"""Private follow-up codes: how someone who reported without their name hears what changed.

At submission an anonymous reporter is given a random code (shown once, never stored); the
report keeps only its SHA-256 hash, so nothing links the code to a person. Whoever holds the
code can see that one report's reference, type and status and the published updates linked
to it, and nothing else: no description, no names, no other reports.

A code is 12 characters from a 31-character alphabet without look-alikes (no 0/O, 1/I/L),
about 59 bits: guessing one is hopeless, so a plain hash is enough to store it safely.

Wrong codes are throttled in the database (core.auth.throttle), per address and per code, so
a reload or a new browser session does not reset the count. A code that matches leaves no row
and no event: nothing links an address, or a moment, to the report a code opened.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import throttle
from core.auth.actor import UNAUTHENTICATED
from core.db import get_engine, read_session
from core.errors import DomainError
from core.feedback.models import FeedbackUpdate, FeedbackUpdateReport
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.taxonomy.models import NearMissType
from core.uow import UnitOfWork

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
GROUP = 4
_HASH_PREFIX = b"nearmiss-follow-up:"
_NOT_CODE = re.compile(r"[^0-9A-Z]")


def new_follow_up_code() -> str:
    """A fresh random code, grouped for reading aloud and writing down: K7QM-2XRD-9TFA."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def normalise_code(code: str) -> str | None:
    """The code as typed (any case, spaces or dashes) in canonical form, or None if it cannot
    be a code at all."""
    raw = _NOT_CODE.sub("", (code or "").upper())
    if len(raw) != CODE_LENGTH or any(ch not in ALPHABET for ch in raw):
        return None
    return raw


def hash_code(code: str) -> str:
    """The stored form of a code (64 hex characters)."""
    raw = normalise_code(code)
    if raw is None:
        raise ValueError("not a follow-up code")
    return hashlib.sha256(_HASH_PREFIX + raw.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class FollowUpUpdate:
    """A published update as the holder of a follow-up code sees it."""

    title: str
    what_changed: str
    why: str
    published_at: datetime


@dataclass(frozen=True)
class FollowUpView:
    """All a follow-up code reveals."""

    reference: str
    type_name: str
    status: ReportStatus
    updates: list[FollowUpUpdate]


def follow_up_view(session: Session, code: str) -> FollowUpView | None:
    """The report a follow-up code belongs to, or None (a wrong code reveals nothing).

    Needs no sign-in: the code itself is the permission, and it opens one report only.
    """
    if normalise_code(code) is None:
        return None
    row = session.execute(
        select(NearMissReport.id, NearMissReport.reference, NearMissType.name,
               NearMissReport.status)
        .join(NearMissType, NearMissType.key == NearMissReport.type_key)
        .where(NearMissReport.follow_up_code_hash == hash_code(code),
               NearMissReport.reporter_id.is_(None))
    ).first()
    if row is None:
        return None
    report_id, reference, type_name, status = row
    updates = [
        FollowUpUpdate(u.title, u.what_changed, u.why, u.published_at)
        for u in session.scalars(
            select(FeedbackUpdate)
            .join(FeedbackUpdateReport, FeedbackUpdateReport.update_id == FeedbackUpdate.id)
            .where(FeedbackUpdateReport.report_id == report_id,
                   FeedbackUpdate.status == "published")
            .order_by(FeedbackUpdate.published_at.desc(), FeedbackUpdate.id.desc()))
    ]
    return FollowUpView(reference, type_name, ReportStatus(status), updates)


# Four wrong codes are free; each one after that pauses the address (or the code) for 15
# minutes, as the sign-in page always promised.
FOLLOW_UP_DELAYS = throttle.Delays(free_failures=4, first=timedelta(minutes=15),
                                   cap=timedelta(minutes=15), forget_after=timedelta(hours=1))


class FollowUpPaused(DomainError):
    """Too many wrong codes from this address (or for this code): try again later."""

    def __init__(self, retry_at: datetime, now: datetime):
        self.retry_at = retry_at
        minutes = max(1, math.ceil((retry_at - now).total_seconds() / 60))
        self.minutes = minutes  # the sign-in page says it in the reader's language
        super().__init__(f"Too many codes that did not match. Try again in {minutes} minute"
                         f"{'s' if minutes != 1 else ''}.")


def look_up_follow_up(uow: UnitOfWork, code: str, *, source: str | None,
                      now: datetime) -> FollowUpView | None:
    """What a follow-up code opens, under the throttle; None for a code that matches nothing.

    `source` is the client's address (None when it cannot be told: then only the code is
    counted). Every wrong code counts against its address; a code is counted while it is
    not paused. While either waits, FollowUpPaused is raised and a right code is refused too,
    uncounted. Each refusal is audited as someone not signed in: never the address, never
    the code.
    """
    raw = normalise_code(code)
    code_key = throttle.throttle_key(throttle.FOLLOW_UP_CODE, raw) if raw else None
    source_key = throttle.throttle_key(throttle.FOLLOW_UP_SOURCE, source) if source else None
    with read_session(uow._engine or get_engine()) as session:
        states = {key: throttle.state_of(session, scope, key, FOLLOW_UP_DELAYS, now)
                  for scope, key in ((throttle.FOLLOW_UP_CODE, code_key),
                                     (throttle.FOLLOW_UP_SOURCE, source_key)) if key}
        view = follow_up_view(session, code)
    waits = [state.retry_at for state in states.values()
             if state.waiting(now) and state.retry_at is not None]
    if view is not None and not waits:
        return view  # nothing written: no trace of which report was opened, or when
    with uow:
        before = {"code_failures": states[code_key].failures if code_key else 0,
                  "source_failures": states[source_key].failures if source_key else 0}
        after = dict(before)
        if view is None and code_key and not states[code_key].waiting(now):
            after["code_failures"] = throttle.count_failure(
                uow.session, throttle.FOLLOW_UP_CODE, code_key, FOLLOW_UP_DELAYS, now)[1].failures
        if view is None and source_key:
            after["source_failures"] = throttle.count_failure(
                uow.session, throttle.FOLLOW_UP_SOURCE, source_key, FOLLOW_UP_DELAYS,
                now)[1].failures
        uow.record(UNAUTHENTICATED, "follow_up.lookup_refused", "follow_up_code", None, at=now,
                   before=before, after={**after, "reason": "paused" if waits else "no match"})
        uow.commit()
    if waits:
        raise FollowUpPaused(max(waits), now)
    return None
