"""Governance reads a period's reports from one covering index instead of the table.

The index on occurred_at alone made every governance aggregate (weekly counts, reporting
culture, clusters, the barrier mix) visit each report's table row: 42,000 pages for a year at
a million reports. With the columns those aggregates group and filter by in the index,
PostgreSQL answers them by index-only scans and SQLite from the index alone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 06:30:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERIOD_COLUMNS = ["occurred_at", "service_id", "type_key", "reporter_id", "staff_group_id",
                  "reported_at", "triaged_at", "barrier", "location_id", "person_id", "id"]


def upgrade() -> None:
    op.create_index("ix_near_miss_reports_period", "near_miss_reports", PERIOD_COLUMNS,
                    unique=False)
    op.drop_index("ix_near_miss_reports_occurred", table_name="near_miss_reports")


def downgrade() -> None:
    op.create_index("ix_near_miss_reports_occurred", "near_miss_reports", ["occurred_at"],
                    unique=False)
    op.drop_index("ix_near_miss_reports_period", table_name="near_miss_reports")
