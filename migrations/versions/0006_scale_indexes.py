"""Indexes for scale: reverse lookups from a report to its plans, analyses, updates and
attachments, and near misses by service over a period (checked with EXPLAIN on PostgreSQL in
tests/integration/test_indexes.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 02:35:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_action_plan_reports_report", "action_plan_reports", ["report_id"]),
    ("ix_root_cause_analysis_reports_report", "root_cause_analysis_reports", ["report_id"]),
    ("ix_attachments_report", "attachments", ["report_id"]),
    ("ix_feedback_update_reports_report", "feedback_update_reports", ["report_id"]),
    ("ix_near_miss_reports_service_occurred", "near_miss_reports",
     ["service_id", "occurred_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
