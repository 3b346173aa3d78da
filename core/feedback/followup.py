"""Private follow-up codes: how someone who reported without their name hears what changed.

At submission an anonymous reporter is given a random code (shown once, never stored); the
report keeps only its SHA-256 hash, so nothing links the code to a person. Whoever holds the
code can see that one report's reference, type and status and the published updates linked
to it, and nothing else: no description, no names, no other reports.

A code is 12 characters from a 31-character alphabet without look-alikes (no 0/O, 1/I/L),
about 59 bits: guessing one is hopeless, so a plain hash is enough to store it safely.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.feedback.models import FeedbackUpdate, FeedbackUpdateReport
from core.reports.models import NearMissReport
from core.reports.vocabulary import ReportStatus
from core.taxonomy.models import NearMissType

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
