"""The cluster rule's counts at filing (one type in a service or region over a window) read
an index alone: (type_key, service_id, occurred_at).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 03:40:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_near_miss_reports_type_service_occurred", "near_miss_reports",
                    ["type_key", "service_id", "occurred_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_near_miss_reports_type_service_occurred", table_name="near_miss_reports")
