"""Feedback: "what changed because you reported" updates with their links, audiences and
revisions; editable cue guides; anonymous reporters' follow-up code hashes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 01:33:59.456146
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cue_guides',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('markdown', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_cue_guides_updated_by_id_users')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_cue_guides'))
    )
    op.create_table('feedback_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('what_changed', sa.Text(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_feedback_updates_created_by_id_users')),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_feedback_updates_published_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_updates'))
    )
    op.create_table('feedback_update_revisions',
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('what_changed', sa.Text(), nullable=False),
    sa.Column('why', sa.Text(), nullable=False),
    sa.Column('edited_by_id', sa.Integer(), nullable=False),
    sa.Column('edited_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['edited_by_id'], ['users.id'], name=op.f('fk_feedback_update_revisions_edited_by_id_users')),
    sa.ForeignKeyConstraint(['update_id'], ['feedback_updates.id'], name=op.f('fk_feedback_update_revisions_update_id_feedback_updates')),
    sa.PrimaryKeyConstraint('update_id', 'revision', name=op.f('pk_feedback_update_revisions'))
    )
    op.create_table('feedback_update_roles',
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.ForeignKeyConstraint(['update_id'], ['feedback_updates.id'], name=op.f('fk_feedback_update_roles_update_id_feedback_updates')),
    sa.PrimaryKeyConstraint('update_id', 'role', name=op.f('pk_feedback_update_roles'))
    )
    op.create_table('feedback_update_services',
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_feedback_update_services_service_id_services')),
    sa.ForeignKeyConstraint(['update_id'], ['feedback_updates.id'], name=op.f('fk_feedback_update_services_update_id_feedback_updates')),
    sa.PrimaryKeyConstraint('update_id', 'service_id', name=op.f('pk_feedback_update_services'))
    )
    op.create_table('feedback_update_themes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('type_key', sa.String(length=60), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_feedback_update_themes_region_id_regions')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_feedback_update_themes_service_id_services')),
    sa.ForeignKeyConstraint(['update_id'], ['feedback_updates.id'], name=op.f('fk_feedback_update_themes_update_id_feedback_updates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_update_themes'))
    )
    op.create_table('feedback_update_reports',
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_feedback_update_reports_report_id_near_miss_reports')),
    sa.ForeignKeyConstraint(['update_id'], ['feedback_updates.id'], name=op.f('fk_feedback_update_reports_update_id_feedback_updates')),
    sa.PrimaryKeyConstraint('update_id', 'report_id', name=op.f('pk_feedback_update_reports'))
    )
    op.create_table('feedback_update_actions',
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], name=op.f('fk_feedback_update_actions_action_id_actions')),
    sa.ForeignKeyConstraint(['update_id'], ['feedback_updates.id'], name=op.f('fk_feedback_update_actions_update_id_feedback_updates')),
    sa.PrimaryKeyConstraint('update_id', 'action_id', name=op.f('pk_feedback_update_actions'))
    )
    with op.batch_alter_table('near_miss_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_code_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_near_miss_reports_follow_up_code_hash'), ['follow_up_code_hash'])



def downgrade() -> None:
    with op.batch_alter_table('near_miss_reports', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_near_miss_reports_follow_up_code_hash'), type_='unique')
        batch_op.drop_column('follow_up_code_hash')

    op.drop_table('feedback_update_actions')
    op.drop_table('feedback_update_reports')
    op.drop_table('feedback_update_themes')
    op.drop_table('feedback_update_services')
    op.drop_table('feedback_update_roles')
    op.drop_table('feedback_update_revisions')
    op.drop_table('feedback_updates')
    op.drop_table('cue_guides')
