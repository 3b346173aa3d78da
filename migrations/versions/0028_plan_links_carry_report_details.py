"""Each action plan's link to a report carries the report's type, service, place, person and
day (copied when the link is made; a report's filed details never change): the governance
pages read which actions serve a period's, a type's, a place's or a person's reports from the
links alone, not with a lookup per link into the reports (core.actions.models.ActionPlanReport).
Existing links are filled from their reports.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 21:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0028'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COPIED = ('type_key', 'service_id', 'location_id', 'person_id', 'occurred_at')


def upgrade() -> None:
    with op.batch_alter_table('action_plan_reports') as batch:
        batch.add_column(sa.Column('type_key', sa.String(length=60), nullable=True))
        batch.add_column(sa.Column('service_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('location_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('person_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('occurred_at', sa.DateTime(), nullable=True))
    for column in COPIED:
        op.execute(f'UPDATE action_plan_reports SET {column} = (SELECT r.{column} '
                   'FROM near_miss_reports r WHERE r.id = action_plan_reports.report_id)')
    # Not reflecting the tables its keys point to: SQLite's copy of this one needs none of them.
    with op.batch_alter_table('action_plan_reports',
                              reflect_kwargs={'resolve_fks': False}) as batch:
        for column in ('type_key', 'service_id', 'location_id', 'occurred_at'):
            batch.alter_column(column, nullable=False)
        batch.create_index('ix_action_plan_reports_occurred', ['occurred_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('action_plan_reports',
                              reflect_kwargs={'resolve_fks': False}) as batch:
        batch.drop_index('ix_action_plan_reports_occurred')
        for column in reversed(COPIED):
            batch.drop_column(column)
