"""Hashing and verification of the audit chain (pure functions plus one streaming query)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"cannot audit a value of type {type(value).__name__}")


def canonical_json(value: Any) -> str | None:
    """Stable JSON text for a before/after state (sorted keys, ISO dates)."""
    if value is None:
        return None
    return json.dumps(value, default=_json_default, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def event_hash(event: AuditEvent) -> str:
    """The hash of an event over every field and the previous event's hash."""
    payload = json.dumps(
        [
            event.seq,
            event.occurred_at.isoformat(timespec="microseconds"),
            event.actor_id,
            event.actor,
            event.action,
            event.entity_type,
            event.entity_id,
            event.before_json,
            event.after_json,
            event.prev_hash,
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying the chain: `first_bad_seq` names where it breaks."""

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def verify_chain(session: Session, batch_size: int = 5000) -> ChainReport:
    """Walk every event in order, recomputing hashes and checking links and numbering."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    stream = session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch_size)
    ).scalars()
    for event in stream:
        if event.seq != expected_seq:
            missing = f"event {expected_seq} is missing (next stored event is {event.seq})"
            return ChainReport(False, checked, expected_seq, missing)
        if event.prev_hash != expected_prev:
            return ChainReport(False, checked, event.seq,
                               "its link to the previous event does not match")
        if event_hash(event) != event.hash:
            return ChainReport(False, checked, event.seq,
                               "its content does not match its hash (the row was changed)")
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
        session.expunge(event)
    head = session.get(AuditChainHead, 1)
    if head is None:
        return ChainReport(False, checked, None, "the chain head row is missing")
    if head.last_seq != checked or head.last_hash != expected_prev:
        first_bad = checked + 1 if head.last_seq > checked else head.last_seq
        return ChainReport(False, checked, first_bad,
                           f"the chain head says {head.last_seq} events but {checked} were found "
                           "(events were deleted from the end)")
    return ChainReport(True, checked)
