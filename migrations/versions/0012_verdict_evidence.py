"""Verification measures keep the evidence behind a confirmed verdict.

The counts compared (baseline and test), the chance of a change that large with no real
change (the exact Poisson rate comparison's p-value), and the reason a person gave for
confirming "effective" when the numbers did not propose it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('verification_measures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('baseline_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('observed_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('p_value', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('override_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('verification_measures', schema=None) as batch_op:
        batch_op.drop_column('override_reason')
        batch_op.drop_column('p_value')
        batch_op.drop_column('observed_count')
        batch_op.drop_column('baseline_count')
