"""Near misses per local day, service, type and barrier (the weekly figures' rollup), per
local week, service, type, staff group and reporter (reporting culture's), and the state
saying for which time zone they are built. Empty here: `nearmiss init` builds it (it needs
the configured zone), and until then every figure counts the reports themselves.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-13 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'near_miss_day_counts',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('type_key', sa.String(length=60), nullable=False),
        sa.Column('barrier', sa.String(length=30), nullable=False),
        sa.Column('reports', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'service_id', 'type_key', 'barrier'))
    op.create_index('ix_near_miss_day_counts_type_service_day', 'near_miss_day_counts',
                    ['type_key', 'service_id', 'day'])
    op.create_table(
        'reporter_week_counts',
        sa.Column('week', sa.Date(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('type_key', sa.String(length=60), nullable=False),
        sa.Column('staff_group_id', sa.Integer(), nullable=False),
        sa.Column('reporter_id', sa.Integer(), nullable=False),
        sa.Column('reports', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('week', 'service_id', 'type_key', 'staff_group_id',
                                'reporter_id'))
    op.create_table(
        'rollup_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('zone', sa.String(length=64), nullable=False),
        sa.Column('built_at', sa.DateTime(), nullable=False),
        sa.Column('timings_version', sa.BigInteger(), nullable=False, server_default='0'),
        sa.PrimaryKeyConstraint('id'))


def downgrade() -> None:
    op.drop_table('rollup_state')
    op.drop_table('reporter_week_counts')
    op.drop_index('ix_near_miss_day_counts_type_service_day', 'near_miss_day_counts')
    op.drop_table('near_miss_day_counts')
