"""The reports-by-place index also holds each report's type and service, so a verification
measure counting one place's near misses of a type (before and after an action went live)
reads the index alone: at a million reports PostgreSQL combined it with the service index
and read every matching report (29 ms a window, two windows per action and register row),
where it now takes 1 ms.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 08:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_near_miss_reports_location', table_name='near_miss_reports')
    op.create_index('ix_near_miss_reports_location', 'near_miss_reports',
                    ['location_id', 'occurred_at', 'type_key', 'service_id'])


def downgrade() -> None:
    op.drop_index('ix_near_miss_reports_location', table_name='near_miss_reports')
    op.create_index('ix_near_miss_reports_location', 'near_miss_reports',
                    ['location_id', 'occurred_at'])
