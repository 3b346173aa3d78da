"""Signing and verification of the audit chain (pure functions plus one streaming query).

Each event is signed with HMAC-SHA256 under the audit key (core/audit/keys.py) over all its
fields, the previous event's hash and its key id, so a row changed, inserted or deleted with
database access alone no longer verifies: recomputing a hash needs the key, which is not in the
database. The one-row chain head is signed as well (how many events, the last hash, where the
legacy segment ends), so events deleted from the end are found too.

Events written before the key existed keep their unkeyed SHA-256 ("legacy", key_id NULL). The
upgrade records the last of them in the head; the first signed event links to the last legacy
hash, so it seals that whole segment, and no legacy event is accepted after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.audit.keys import DEMO_KEY_ID, AuditKey, Keyring, load_keyring
from core.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from core.errors import DomainError


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


class EventFields(Protocol):
    """What is signed of an event: a mapped AuditEvent or a plain row of the table."""

    seq: int
    occurred_at: datetime
    actor_id: int | None
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    before_json: str | None
    after_json: str | None
    prev_hash: str
    key_id: str | None


def _fields(event: EventFields) -> list[Any]:
    return [
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
    ]


def _text(values: list[Any]) -> bytes:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_hash(event: EventFields) -> str:
    """The legacy, unkeyed hash of an event written before the audit key existed."""
    return hashlib.sha256(_text(_fields(event))).hexdigest()


def event_mac(event: EventFields, secret: bytes, head_mac: str | None) -> str:
    """An event's HMAC-SHA256 over every field, the previous event's hash, its key id, and the
    signature the chain's end carried when it was appended (so a chain end moved back by
    deleting the last events cannot be built on unnoticed)."""
    payload = _text([*_fields(event), event.key_id, head_mac])
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def head_signature(secret: bytes, *, last_seq: int, last_hash: str, legacy_last_seq: int,
                   key_id: str) -> str:
    """The HMAC of the chain's end: how many events, the last hash, where legacy ends."""
    payload = _text(["audit_chain_head", last_seq, last_hash, legacy_last_seq, key_id])
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def sign_and_append(head: AuditChainHead, event: AuditEvent, key: AuditKey) -> None:
    """Number, link and sign `event` as the next one after `head`, and move the head on."""
    event.seq = head.last_seq + 1
    event.prev_hash = head.last_hash
    event.key_id = key.key_id
    event.hash = event_mac(event, key.secret, head.mac)
    head.last_seq, head.last_hash, head.key_id = event.seq, event.hash, key.key_id
    head.mac = head_signature(key.secret, last_seq=head.last_seq, last_hash=head.last_hash,
                              legacy_last_seq=head.legacy_last_seq or 0, key_id=key.key_id)


class AuditTrailUnsigned(DomainError):
    """The chain holds events but its end carries no signature: refuse to build on it."""


UNSIGNED_END = (
    "The end of the audit trail is not signed with the audit key although it holds events. "
    "After `nearmiss init` (or `nearmiss restore`) upgrades a database, the trail is signed at "
    "once, so an unsigned end means it was rewritten outside the portal, or the schema was "
    "upgraded by other means. Run `nearmiss audit verify`; if you are sure the trail is as it "
    "was, `nearmiss audit seal --trust-unsigned` signs it.")


def refuse_unsigned_end(head: AuditChainHead) -> None:
    """Refuse to append to a chain whose end is unsigned (only a seal may do that)."""
    if head.mac is None and head.last_seq > 0:
        raise AuditTrailUnsigned(UNSIGNED_END)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying the chain: `first_bad_seq` names where it breaks.

    `legacy_events` were hashed without a key (written before the audit key existed);
    `key_ids` are the keys that signed the rest, in the order they were first used.
    """

    ok: bool
    events_checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    legacy_events: int = 0
    key_ids: tuple[str, ...] = ()


def _snapshot(session: Session) -> None:
    # One consistent view of the chain and its head while writers keep appending.
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def verify_chain(session: Session, batch_size: int = 5000,
                 keyring: Keyring | None = None) -> ChainReport:
    """Walk every event in order, checking numbering, links and each event's signature (its
    legacy hash for events written before the audit key), then the signed chain head.

    A legacy event is accepted only inside the sealed legacy segment: before any signed event
    and no later than the last legacy event the upgrade recorded in the head.
    """
    keyring = keyring or load_keyring()
    _snapshot(session)
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = legacy = 0
    head_mac: str | None = None  # what the chain's end was signed with after each event
    last_key: str | None = None
    key_ids: list[str] = []

    def broken(seq: int | None, reason: str) -> ChainReport:
        return ChainReport(False, checked, seq, reason, legacy, tuple(key_ids))

    head = session.get(AuditChainHead, 1)
    if head is None:
        return broken(None, "the chain head row is missing")
    legacy_last_seq = head.legacy_last_seq or 0
    # Plain rows, not mapped objects: a million events are read in one pass at a steady pace.
    stream = session.execute(
        select(AuditEvent.__table__).order_by(AuditEvent.seq)
        .execution_options(yield_per=batch_size))
    for event in stream:
        if event.seq != expected_seq:
            missing = f"event {expected_seq} is missing (next stored event is {event.seq})"
            return broken(expected_seq, missing)
        if event.prev_hash != expected_prev:
            return broken(event.seq, "its link to the previous event does not match")
        if event.key_id is None:
            if last_key is not None or event.seq > legacy_last_seq:
                return broken(event.seq, (
                    "it carries the legacy unkeyed hash, but the legacy segment was sealed at "
                    f"event {legacy_last_seq}: every later event must be signed with the audit "
                    "key (a forged or re-hashed event)"))
            if event_hash(event) != event.hash:
                return broken(event.seq, "its content does not match its hash (the row was "
                                         "changed)")
            legacy += 1
        else:
            secret = keyring.secret(event.key_id)
            if secret is None:
                return broken(event.seq, _unknown_key(event.key_id, keyring))
            if not hmac.compare_digest(event_mac(event, secret, head_mac), event.hash):
                return broken(event.seq, "its content does not match its hash (the row was "
                                         "changed, or it was signed with another key)")
            if event.key_id not in key_ids:
                key_ids.append(event.key_id)
            last_key = event.key_id
            head_mac = head_signature(secret, last_seq=event.seq, last_hash=event.hash,
                                      legacy_last_seq=legacy_last_seq, key_id=event.key_id)
        expected_prev = event.hash
        expected_seq += 1
        checked += 1
    if head.last_seq != checked or head.last_hash != expected_prev:
        first_bad = checked + 1 if head.last_seq > checked else head.last_seq
        return broken(first_bad, f"the chain head says {head.last_seq} events but {checked} "
                                 "were found (events were deleted from the end)")
    if checked and legacy < min(legacy_last_seq, checked):
        return broken(legacy + 1, f"the upgrade recorded {legacy_last_seq} legacy events but "
                                  f"only {legacy} carry the legacy hash")
    if checked and head_mac is None:
        return broken(None, UNSIGNED_END)
    if checked and not hmac.compare_digest(head.mac or "", head_mac or ""):
        return broken(checked, "the chain head's signature does not match (its end was moved "
                               "or edited outside the portal)")
    return ChainReport(True, checked, legacy_events=legacy, key_ids=tuple(key_ids))


def _unknown_key(key_id: str, keyring: Keyring) -> str:
    if key_id == DEMO_KEY_ID:
        return ("it is signed with the public demo key, which is not trusted outside demo mode "
                "(NEARMISS_ENV=demo)")
    return (f"it is signed with the audit key {key_id!r}, which is not on the keyring "
            f"({keyring.source}): keep every old key on the keyring, or this is the wrong key "
            "file")
