"""Audit tables: one row per event, chained by signed hash; a one-row signed head records the
chain's end (see core/audit/chain.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base

GENESIS_HASH = "0" * 64


class AuditEvent(Base):
    """Who did what, when, with the state before and after (canonical JSON text)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime]
    actor_id: Mapped[int | None]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(80))
    entity_type: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(80))
    before_json: Mapped[str | None] = mapped_column(Text)
    after_json: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 under the key `key_id`; for a legacy event (key_id NULL, written before the
    # audit key existed) the unkeyed SHA-256.
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
        Index("ix_audit_events_action_time", "action", "occurred_at"),
    )


class AuditChainHead(Base):
    """The last sequence number and hash; locked while an event is appended.

    `mac` signs (last_seq, last_hash, legacy_last_seq) with the key `key_id`; `legacy_last_seq`
    is the last event hashed without a key, recorded by the upgrade that introduced the key.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    legacy_last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    key_id: Mapped[str | None] = mapped_column(String(32))
    mac: Mapped[str | None] = mapped_column(String(64))
    # Events of transactions that wrote nothing a figure reads (a sign-in, a session's
    # activity stamp, a notification read, an evidence view logged): `last_seq - quiet_events`
    # is the data version the pages' caches are keyed by (core/audit/queries.py), so a
    # meeting room's viewers do not empty each other's caches. Not signed: a cache key, not
    # evidence.
    quiet_events: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
