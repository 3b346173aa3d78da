"""Review and closure: reviews, gate checks, validation evidence, attachments,
communication decisions, root cause analyses.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:57:16.466149
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('root_cause_analyses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('five_whys', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('contributing_factors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['users.id'], name=op.f('fk_root_cause_analyses_lead_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_root_cause_analyses'))
    )
    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('original_name', sa.String(length=200), nullable=False),
    sa.Column('stored_path', sa.String(length=300), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_attachments_report_id_near_miss_reports')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_attachments_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments'))
    )
    op.create_table('communication_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('audience', sa.String(length=30), nullable=False),
    sa.Column('communicated', sa.Boolean(), nullable=False),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('communicated_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_communication_decisions_decided_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_communication_decisions_report_id_near_miss_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communication_decisions'))
    )
    with op.batch_alter_table('communication_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_communication_decisions_report', ['report_id'], unique=False)

    op.create_table('gate_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('gate_key', sa.String(length=60), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('checked_by_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['checked_by_id'], ['users.id'], name=op.f('fk_gate_checks_checked_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_gate_checks_report_id_near_miss_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gate_checks')),
    sa.UniqueConstraint('report_id', 'gate_key', name=op.f('uq_gate_checks_report_id'))
    )
    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('template_version', sa.Integer(), nullable=False),
    sa.Column('field_values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('what_stopped_harm', sa.Text(), nullable=True),
    sa.Column('control_reliable', sa.String(length=10), nullable=True),
    sa.Column('would_work_again', sa.String(length=10), nullable=True),
    sa.Column('would_work_again_note', sa.Text(), nullable=True),
    sa.Column('contributing_factors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('barrier_class', sa.String(length=30), nullable=True),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_reviews_closed_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_reviews_report_id_near_miss_reports')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_reviews_reviewer_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('report_id', name=op.f('uq_reviews_report_id'))
    )
    op.create_table('root_cause_analysis_reports',
    sa.Column('rca_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['rca_id'], ['root_cause_analyses.id'], name=op.f('fk_root_cause_analysis_reports_rca_id_root_cause_analyses')),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_root_cause_analysis_reports_report_id_near_miss_reports')),
    sa.PrimaryKeyConstraint('rca_id', 'report_id', name=op.f('pk_root_cause_analysis_reports'))
    )
    op.create_table('validation_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=60), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('attachment_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['attachment_id'], ['attachments.id'], name=op.f('fk_validation_evidence_attachment_id_attachments')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_validation_evidence_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_validation_evidence_report_id_near_miss_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_validation_evidence')),
    sa.UniqueConstraint('report_id', 'item_key', name=op.f('uq_validation_evidence_report_id'))
    )


def downgrade() -> None:
    op.drop_table('validation_evidence')
    op.drop_table('root_cause_analysis_reports')
    op.drop_table('reviews')
    op.drop_table('gate_checks')
    with op.batch_alter_table('communication_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_communication_decisions_report')

    op.drop_table('communication_decisions')
    op.drop_table('attachments')
    op.drop_table('root_cause_analyses')
