"""The audit chain is signed with a key kept outside the database (HMAC-SHA256).

Each event records the id of the key that signed it (`key_id`); the events already stored keep
their unkeyed SHA-256 and are left with key_id NULL ("legacy"). The chain head gains the number
of the last legacy event (`legacy_last_seq`, set here to the chain's current end) and its own
signature (`key_id`, `mac`), written by the first signed event: `nearmiss init` signs the chain
right after this upgrade, so the legacy segment is sealed from then on.

Columns are only added (ALTER TABLE ... ADD COLUMN): the audit table keeps its append-only
triggers, and no existing row is rewritten. A downgrade drops the columns; events signed with
the key no longer verify under the older code (their hashes are HMACs).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 12:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("key_id", sa.String(length=32), nullable=True))
    op.add_column("audit_chain_head", sa.Column("legacy_last_seq", sa.BigInteger(),
                                                server_default="0", nullable=False))
    op.add_column("audit_chain_head", sa.Column("key_id", sa.String(length=32), nullable=True))
    op.add_column("audit_chain_head", sa.Column("mac", sa.String(length=64), nullable=True))
    # Everything stored so far was hashed without a key: that is the legacy segment.
    op.execute("UPDATE audit_chain_head SET legacy_last_seq = last_seq")


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild would drop the append-only triggers.
    for table, column in (("audit_chain_head", "mac"), ("audit_chain_head", "key_id"),
                          ("audit_chain_head", "legacy_last_seq"), ("audit_events", "key_id")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
