"""Links between related reports: a reviewer says "this happened before" in one click.

One row per pair, the later report first; the recurrence count uses it (a linked earlier
report counts as a recurrence even when its type differs).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("earlier_id", sa.Integer(), nullable=False),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["near_miss_reports.id"],
                                name="fk_report_links_report_id_near_miss_reports"),
        sa.ForeignKeyConstraint(["earlier_id"], ["near_miss_reports.id"],
                                name="fk_report_links_earlier_id_near_miss_reports"),
        sa.ForeignKeyConstraint(["linked_by_id"], ["users.id"],
                                name="fk_report_links_linked_by_id_users"),
        sa.CheckConstraint("report_id <> earlier_id", name="ck_report_links_distinct"),
        sa.PrimaryKeyConstraint("id", name="pk_report_links"),
        sa.UniqueConstraint("report_id", "earlier_id", name="uq_report_links_report_id"),
    )
    op.create_index("ix_report_links_earlier", "report_links", ["earlier_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_report_links_earlier", table_name="report_links")
    op.drop_table("report_links")
