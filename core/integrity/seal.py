"""Sealing: sign the chain's end with the current audit key, by appending one signed event.

Two moments need it. Right after the upgrade that introduced the key (`nearmiss init`), the
chain holds only legacy events and an unsigned head: the seal's signed event links to the last
legacy hash, so from then on that whole segment is fixed. After a key rotation, the seal signs
with the new key at once instead of at the next write, so history before the rotation is fixed
by a key the old key's holder does not have.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, inspect, select

from core.audit.chain import UNSIGNED_END, AuditTrailUnsigned, head_signature
from core.audit.keys import LEGACY_KEY_ID, load_keyring
from core.audit.models import AuditChainHead
from core.auth.actor import SYSTEM
from core.errors import DomainError
from core.uow import UnitOfWork


class AuditHeadAltered(DomainError):
    """The chain's end does not carry a valid signature: it is not signed over."""


@dataclass(frozen=True)
class Sealed:
    """What a seal signed: the events before it and the key it replaced."""

    events_before: int
    previous_key_id: str
    key_id: str


def trail_is_unkeyed(engine: Engine) -> bool:
    """Whether the database holds an audit table from before the audit key (no key_id column).

    Asked before migrating: only the run that performs that upgrade may seal an unsigned end.
    """
    with engine.connect() as conn:
        inspector = inspect(conn)
        if not inspector.has_table("audit_events"):
            return False
        return "key_id" not in {c["name"] for c in inspector.get_columns("audit_events")}


def seal_trail(engine: Engine, *, trust_unsigned: bool = False, now: datetime) -> Sealed | None:
    """Sign the chain's end with the current key unless it already is; None when nothing to do.

    An unsigned end holding events is signed only with `trust_unsigned` (the upgrade that
    introduced the key, or an administrator who checked the trail): otherwise it would bless
    a trail rewritten without the key. A signed end is re-signed only if its signature holds.
    """
    keyring = load_keyring()
    key = keyring.current
    with UnitOfWork(engine, seal_unsigned=trust_unsigned) as uow:
        head = uow.session.execute(
            select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
        ).scalar_one()
        if head.last_seq == 0 or (head.key_id == key.key_id and head.mac is not None):
            return None
        if head.mac is None:
            if not trust_unsigned:
                raise AuditTrailUnsigned(UNSIGNED_END)
            previous = LEGACY_KEY_ID
        else:
            assert head.key_id is not None
            secret = keyring.secret(head.key_id)
            expected = secret and head_signature(
                secret, last_seq=head.last_seq, last_hash=head.last_hash,
                legacy_last_seq=head.legacy_last_seq, key_id=head.key_id)
            if not expected or not hmac.compare_digest(expected, head.mac):
                raise AuditHeadAltered(
                    f"The end of the audit trail is signed with the key {head.key_id!r}, but "
                    "that signature does not hold (or the key is not on the keyring), so it is "
                    "not signed over. Run `nearmiss audit verify`.")
            previous = head.key_id
        sealed = Sealed(head.last_seq, previous, key.key_id)
        uow.record(SYSTEM, "audit.sealed", "audit_chain", None, after={
            "key_id": key.key_id, "previous_key_id": previous,
            "events_before": head.last_seq, "last_legacy_seq": head.legacy_last_seq}, at=now)
        uow.commit()
        return sealed
