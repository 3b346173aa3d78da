"""A partial index of the escalations not yet acknowledged, for the triage board's "escalation
overdue" flag and urgency: on PostgreSQL at a million reports the board looked the overdue
ones up by scanning every escalation (112,724; 30-38 ms a scan).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 08:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0029'
down_revision: str | None = '0028'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    waiting = sa.text("acknowledged_at IS NULL")
    op.create_index('ix_escalations_unacknowledged', 'escalations', ['report_id', 'due_at'],
                    postgresql_where=waiting, sqlite_where=waiting)
    # SQLite plans by the statistics ANALYZE keeps (migration 0023).
    op.execute("ANALYZE escalations")


def downgrade() -> None:
    op.drop_index('ix_escalations_unacknowledged', table_name='escalations')
