"""Action plans: plans, actions, evidence checks, verification measures, sustainment
checks, activity counts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:05:33.629569
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('activity_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('visits', sa.Integer(), nullable=True),
    sa.Column('shifts', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_activity_counts_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_counts')),
    sa.UniqueConstraint('service_id', 'week_start', name=op.f('uq_activity_counts_service_id'))
    )
    op.create_table('action_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('theme', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('rca_id', sa.Integer(), nullable=True),
    sa.Column('cluster_type_key', sa.String(length=60), nullable=True),
    sa.Column('cluster_service_id', sa.Integer(), nullable=True),
    sa.Column('cluster_region_id', sa.Integer(), nullable=True),
    sa.Column('high_potential', sa.Boolean(), nullable=False),
    sa.Column('clustered', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['cluster_region_id'], ['regions.id'], name=op.f('fk_action_plans_cluster_region_id_regions')),
    sa.ForeignKeyConstraint(['cluster_service_id'], ['services.id'], name=op.f('fk_action_plans_cluster_service_id_services')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_action_plans_created_by_id_users')),
    sa.ForeignKeyConstraint(['rca_id'], ['root_cause_analyses.id'], name=op.f('fk_action_plans_rca_id_root_cause_analyses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_plans'))
    )
    op.create_table('action_plan_reports',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['action_plans.id'], name=op.f('fk_action_plan_reports_plan_id_action_plans')),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_action_plan_reports_report_id_near_miss_reports')),
    sa.PrimaryKeyConstraint('plan_id', 'report_id', name=op.f('pk_action_plan_reports'))
    )
    op.create_table('actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('review_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('strength', sa.String(length=14), nullable=False),
    sa.Column('strength_category', sa.String(length=40), nullable=False),
    sa.Column('go_live_date', sa.Date(), nullable=True),
    sa.Column('test_window_days', sa.Integer(), nullable=True),
    sa.Column('sustainment_check_date', sa.Date(), nullable=True),
    sa.Column('last_reminded_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_actions_created_by_id_users')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_actions_owner_id_users')),
    sa.ForeignKeyConstraint(['plan_id'], ['action_plans.id'], name=op.f('fk_actions_plan_id_action_plans')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_actions_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_actions'))
    )
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.create_index('ix_actions_deadline', ['deadline'], unique=False)
        batch_op.create_index('ix_actions_owner_status', ['owner_id', 'status'], unique=False)
        batch_op.create_index('ix_actions_plan', ['plan_id'], unique=False)

    op.create_table('action_evidence_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('attachment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_action_evidence_checks_action_id_actions')),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachments.id'], name=op.f('fk_action_evidence_checks_attachment_id_attachments')),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_action_evidence_checks_completed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_evidence_checks'))
    )
    op.create_table('sustainment_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('in_place', sa.Boolean(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_sustainment_checks_action_id_actions')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_sustainment_checks_confirmed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sustainment_checks'))
    )
    op.create_table('verification_measures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('filters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('per', sa.String(length=12), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('target', sa.Double(), nullable=True),
    sa.Column('baseline_weeks', sa.Integer(), nullable=False),
    sa.Column('baseline_value', sa.Double(), nullable=True),
    sa.Column('observed_value', sa.Double(), nullable=True),
    sa.Column('proposed_verdict', sa.String(length=20), nullable=True),
    sa.Column('confirmed_verdict', sa.String(length=20), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('confirmation_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_verification_measures_action_id_actions')),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_verification_measures_confirmed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_measures')),
    sa.UniqueConstraint('action_id', name=op.f('uq_verification_measures_action_id'))
    )


def downgrade() -> None:
    op.drop_table('verification_measures')
    op.drop_table('sustainment_checks')
    op.drop_table('action_evidence_checks')
    with op.batch_alter_table('actions', schema=None) as batch_op:
        batch_op.drop_index('ix_actions_plan')
        batch_op.drop_index('ix_actions_owner_status')
        batch_op.drop_index('ix_actions_deadline')

    op.drop_table('actions')
    op.drop_table('action_plan_reports')
    op.drop_table('action_plans')
    op.drop_table('activity_counts')
