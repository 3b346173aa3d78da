"""Near misses per local week, service, type and place, and per local week, service and person
supported: the rollups the cluster review's repeats read instead of every report of the period
(at a million reports, 0.2 s of the page). The rollup state is cleared: `nearmiss init`, which
runs this, then builds every rollup again (new tables start empty), and until it has, every
figure counts the reports themselves.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'location_week_counts',
        sa.Column('week', sa.Date(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('type_key', sa.String(length=60), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('reports', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('week', 'service_id', 'type_key', 'location_id'))
    op.create_table(
        'person_week_counts',
        sa.Column('week', sa.Date(), nullable=False),
        sa.Column('service_id', sa.Integer(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('reports', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('week', 'service_id', 'person_id'))
    op.execute("DELETE FROM rollup_state")


def downgrade() -> None:
    op.drop_table('person_week_counts')
    op.drop_table('location_week_counts')
