"""An index of the escalations by when they were raised, holding what their timeliness reads
(kind, acknowledged, due), for the figures of a period: the commissioner's evidence page read
every escalation to find a quarter's (at 100k reports on SQLite 11,299 for 2,083: 7.6 ms, 4.8
with the index; at a million on PostgreSQL a scan of 112,726).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 15:50:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0030'
down_revision: str | None = '0029'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_escalations_raised', 'escalations',
                    ['raised_at', 'kind', 'acknowledged_at', 'due_at'])
    # SQLite plans by the statistics ANALYZE keeps (migration 0023).
    op.execute("ANALYZE escalations")


def downgrade() -> None:
    op.drop_index('ix_escalations_raised', table_name='escalations')
