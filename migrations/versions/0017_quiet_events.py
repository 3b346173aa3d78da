"""The data version leaves quiet transactions out: the audit chain head counts the events of
transactions that wrote nothing a figure reads (a sign-in, a view logged), so the pages'
caches, keyed by `last_seq - quiet_events`, survive them. Existing events count as writes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-12 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_chain_head') as batch:
        batch.add_column(sa.Column('quiet_events', sa.BigInteger(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('audit_chain_head') as batch:
        batch.drop_column('quiet_events')
