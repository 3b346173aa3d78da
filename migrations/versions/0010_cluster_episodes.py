"""Cluster episodes: one burst of a near-miss type in a service or region, with its status.

The cluster rule used to be re-run over every window on each view, and the same burst showed
as a new finding week after week with no way to say "seen" or "not a real cluster". An
episode is stored once, kept current when reports are filed (and recomputed after imports and
demo loads), and carries its status: open, acknowledged, linked to an action plan, or
dismissed with a reason.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_key", sa.String(length=60), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("peak", sa.Integer(), nullable=False),
        sa.Column("usual", sa.Double(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("seen_peak", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("part_of_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("alerted_at", sa.DateTime(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["type_key"], ["near_miss_types.key"]),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"]),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"]),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["action_plans.id"]),
        sa.ForeignKeyConstraint(["part_of_id"], ["cluster_episodes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cluster_episodes_series", "cluster_episodes",
                    ["type_key", "scope", "service_id", "region_id", "last_day"], unique=False)
    op.create_index("ix_cluster_episodes_last_day", "cluster_episodes", ["last_day", "status"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_cluster_episodes_last_day", table_name="cluster_episodes")
    op.drop_index("ix_cluster_episodes_series", table_name="cluster_episodes")
    op.drop_table("cluster_episodes")
