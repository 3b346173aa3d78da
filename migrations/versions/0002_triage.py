"""Triage: triage records, workflow transitions, escalations, notifications, report flags.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 23:43:49.247683
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raised_at', sa.DateTime(), nullable=False),
    sa.Column('raised_by_id', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_escalations_acknowledged_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_escalations_decided_by_id_users')),
    sa.ForeignKeyConstraint(['raised_by_id'], ['users.id'], name=op.f('fk_escalations_raised_by_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_escalations_report_id_near_miss_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations'))
    )
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index('ix_escalations_kind_open', ['kind', 'decided_at'], unique=False)
        batch_op.create_index('ix_escalations_report', ['report_id'], unique=False)

    op.create_table('report_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=False),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_report_transitions_actor_id_users')),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_report_transitions_report_id_near_miss_reports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_transitions'))
    )
    with op.batch_alter_table('report_transitions', schema=None) as batch_op:
        batch_op.create_index('ix_report_transitions_report_at', ['report_id', 'at'], unique=False)

    op.create_table('triage_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('at_risk_now', sa.Boolean(), nullable=False),
    sa.Column('immediate_safeguards', sa.Text(), nullable=True),
    sa.Column('safeguarding_trigger', sa.Boolean(), nullable=False),
    sa.Column('safeguarding_signals', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('external_reporting', sa.Boolean(), nullable=False),
    sa.Column('recurrence', sa.String(length=10), nullable=False),
    sa.Column('related_report_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('matrix_level', sa.String(length=30), nullable=False),
    sa.Column('investigation', sa.String(length=30), nullable=False),
    sa.Column('route', sa.String(length=20), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('triaged_by_id', sa.Integer(), nullable=False),
    sa.Column('triaged_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_triage_records_report_id_near_miss_reports')),
    sa.ForeignKeyConstraint(['triaged_by_id'], ['users.id'], name=op.f('fk_triage_records_triaged_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_triage_records')),
    sa.UniqueConstraint('report_id', name=op.f('uq_triage_records_report_id'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=True),
    sa.Column('escalation_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('read_at', sa.DateTime(), nullable=True),
    sa.Column('email_to', sa.String(length=254), nullable=True),
    sa.Column('email_status', sa.String(length=12), nullable=False),
    sa.Column('email_attempts', sa.Integer(), nullable=False),
    sa.Column('email_error', sa.Text(), nullable=True),
    sa.Column('email_sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['escalation_id'], ['escalations.id'], name=op.f('fk_notifications_escalation_id_escalations')),
    sa.ForeignKeyConstraint(['report_id'], ['near_miss_reports.id'], name=op.f('fk_notifications_report_id_near_miss_reports')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_email_status', ['email_status'], unique=False)
        batch_op.create_index('ix_notifications_user_unread', ['user_id', 'read_at'], unique=False)

    with op.batch_alter_table('near_miss_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_changed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('stop_the_line', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('safeguarding', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('in_cluster', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('is_repeat', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('severity', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('review_level', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('routed_to', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('triaged_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_near_miss_reports_route', ['route_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_near_miss_reports_status_reported', ['status', 'reported_at'], unique=False)
    _backfill_flags()


def _backfill_flags() -> None:
    """Reports filed before triage existed: flags from their type's template, state time."""
    bind = op.get_bind()
    flags: dict[str, tuple[bool, bool]] = {}
    rows = bind.execute(sa.text("SELECT type_key, definition FROM near_miss_type_versions"))
    for type_key, definition in rows:
        if isinstance(definition, str):
            import json

            definition = json.loads(definition)
        stop, signal = flags.get(type_key, (False, False))
        flags[type_key] = (stop or bool(definition.get("stop_the_line")),
                           signal or bool(definition.get("safeguarding_signal")))
    for type_key, (stop, signal) in flags.items():
        if stop or signal:
            bind.execute(
                sa.text("UPDATE near_miss_reports SET stop_the_line = :stop, "
                        "safeguarding = :signal WHERE type_key = :key"),
                {"stop": stop, "signal": signal, "key": type_key},
            )
    bind.execute(sa.text("UPDATE near_miss_reports SET status_changed_at = reported_at "
                         "WHERE status_changed_at IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table('near_miss_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_near_miss_reports_status_reported')
        batch_op.drop_index('ix_near_miss_reports_route')
        batch_op.drop_column('triaged_at')
        batch_op.drop_column('routed_to')
        batch_op.drop_column('review_level')
        batch_op.drop_column('severity')
        batch_op.drop_column('is_repeat')
        batch_op.drop_column('in_cluster')
        batch_op.drop_column('safeguarding')
        batch_op.drop_column('stop_the_line')
        batch_op.drop_column('status_changed_at')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_unread')
        batch_op.drop_index('ix_notifications_email_status')

    op.drop_table('notifications')
    op.drop_table('triage_records')
    with op.batch_alter_table('report_transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_report_transitions_report_at')

    op.drop_table('report_transitions')
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_escalations_report')
        batch_op.drop_index('ix_escalations_kind_open')

    op.drop_table('escalations')
