"""Languages: the one each person chose, and the one each report was written in.

A user's language (the portal speaks to them in it: pages and e-mails) and a report's language
(its text is kept as written, and the triage board says which language it is in). Existing
rows are English, the only language until now.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-11 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('language', sa.String(length=12), nullable=False,
                                   server_default='en'))
    with op.batch_alter_table('near_miss_reports') as batch:
        batch.add_column(sa.Column('language', sa.String(length=12), nullable=False,
                                   server_default='en'))


def downgrade() -> None:
    with op.batch_alter_table('near_miss_reports') as batch:
        batch.drop_column('language')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('language')
