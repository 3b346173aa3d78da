"""Learning responses: swarm huddles, after-action reviews, MDT reviews and PSIIs.

Besides the full root cause analysis, the proportionate responses NHS PSIRF names. A response
links one or more reports, keeps the template it started with, its answers, who took part and
its due date; a completed one feeds an action plan, which now records the response it came from
(and its source, "learning_response", needs a wider column).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-10 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'learning_responses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('type_key', sa.String(length=40), nullable=False),
        sa.Column('template', JSON, nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('answers', JSON, nullable=False),
        sa.Column('participants', JSON, nullable=False),
        sa.Column('suggested_type_key', sa.String(length=40), nullable=False),
        sa.Column('choice_reason', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('completed_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['lead_id'], ['users.id'],
                                name=op.f('fk_learning_responses_lead_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_learning_responses')),
    )
    op.create_index('ix_learning_responses_status_due', 'learning_responses',
                    ['status', 'due_on'], unique=False)
    op.create_table(
        'learning_response_reports',
        sa.Column('response_id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['response_id'], ['learning_responses.id'],
            name=op.f('fk_learning_response_reports_response_id_learning_responses')),
        sa.ForeignKeyConstraint(
            ['report_id'], ['near_miss_reports.id'],
            name=op.f('fk_learning_response_reports_report_id_near_miss_reports')),
        sa.PrimaryKeyConstraint('response_id', 'report_id',
                                name=op.f('pk_learning_response_reports')),
    )
    op.create_index('ix_learning_response_reports_report', 'learning_response_reports',
                    ['report_id'], unique=False)
    with op.batch_alter_table('action_plans', schema=None) as batch_op:
        batch_op.alter_column('source', existing_type=sa.String(length=10),
                              type_=sa.String(length=20), existing_nullable=False)
        batch_op.add_column(sa.Column('learning_response_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f('fk_action_plans_learning_response_id_learning_responses'),
            'learning_responses', ['learning_response_id'], ['id'])


def downgrade() -> None:
    # A plan from a learning response stays, as a plan from its reports.
    op.execute("UPDATE action_plans SET source = 'report' WHERE source = 'learning_response'")
    with op.batch_alter_table('action_plans', schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f('fk_action_plans_learning_response_id_learning_responses'),
            type_='foreignkey')
        batch_op.drop_column('learning_response_id')
        batch_op.alter_column('source', existing_type=sa.String(length=20),
                              type_=sa.String(length=10), existing_nullable=False)
    op.drop_index('ix_learning_response_reports_report', table_name='learning_response_reports')
    op.drop_table('learning_response_reports')
    op.drop_index('ix_learning_responses_status_due', table_name='learning_responses')
    op.drop_table('learning_responses')
