"""Foundation: reference data, taxonomy, users and sessions, near-miss reports, audit chain.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 23:08:56.902658
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    op.create_table('audit_events',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('entity_type', sa.String(length=60), nullable=False),
    sa.Column('entity_id', sa.String(length=80), nullable=True),
    sa.Column('before_json', sa.Text(), nullable=True),
    sa.Column('after_json', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_action_time', ['action', 'occurred_at'], unique=False)
        batch_op.create_index('ix_audit_events_entity', ['entity_type', 'entity_id'], unique=False)

    op.create_table('near_miss_types',
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_near_miss_types'))
    )
    op.create_table('reference_counters',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_reference_counters'))
    )
    op.create_table('regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_regions')),
    sa.UniqueConstraint('name', name=op.f('uq_regions_name'))
    )
    op.create_table('staff_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('cue_guide', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_groups')),
    sa.UniqueConstraint('name', name=op.f('uq_staff_groups_name'))
    )
    op.create_table('taxonomy_lists',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('items', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('file_hash', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_taxonomy_lists'))
    )
    op.create_table('near_miss_type_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type_key', sa.String(length=60), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('file_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['type_key'], ['near_miss_types.key'], name=op.f('fk_near_miss_type_versions_type_key_near_miss_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_near_miss_type_versions')),
    sa.UniqueConstraint('type_key', 'version', name=op.f('uq_near_miss_type_versions_type_key'))
    )
    op.create_table('services',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_services_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services')),
    sa.UniqueConstraint('name', name=op.f('uq_services_name'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('password_hash', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('staff_group_id', sa.Integer(), nullable=True),
    sa.Column('failed_sign_ins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('password_changed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['staff_group_id'], ['staff_groups.id'], name=op.f('fk_users_staff_group_id_staff_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=160), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_locations_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locations')),
    sa.UniqueConstraint('service_id', 'name', name=op.f('uq_locations_service_id'))
    )
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_locations_service_id'), ['service_id'], unique=False)

    op.create_table('people_supported',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('local_ref', sa.String(length=60), nullable=False),
    sa.Column('display_name', sa.String(length=160), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_people_supported_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people_supported')),
    sa.UniqueConstraint('local_ref', name=op.f('uq_people_supported_local_ref'))
    )
    with op.batch_alter_table('people_supported', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_people_supported_service_id'), ['service_id'], unique=False)

    op.create_table('routes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_routes_service_id_services')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routes')),
    sa.UniqueConstraint('service_id', 'name', name=op.f('uq_routes_service_id'))
    )
    with op.batch_alter_table('routes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routes_service_id'), ['service_id'], unique=False)

    op.create_table('user_roles',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_roles_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'role', name=op.f('pk_user_roles'))
    )
    op.create_table('user_services',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_user_services_service_id_services')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_services_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'service_id', name=op.f('pk_user_services'))
    )
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('cookie_id', sa.String(length=40), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('end_reason', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_cookie_id'), ['cookie_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('near_miss_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=24), nullable=False),
    sa.Column('type_key', sa.String(length=60), nullable=False),
    sa.Column('type_version', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('reported_at', sa.DateTime(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('barrier', sa.String(length=30), nullable=False),
    sa.Column('still_at_risk', sa.Boolean(), nullable=False),
    sa.Column('immediate_safeguards', sa.Text(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('route_id', sa.Integer(), nullable=True),
    sa.Column('staff_group_id', sa.Integer(), nullable=True),
    sa.Column('interface_flag', sa.String(length=60), nullable=True),
    sa.Column('capture_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('submission_key', sa.String(length=64), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_near_miss_reports_location_id_locations')),
    sa.ForeignKeyConstraint(['person_id'], ['people_supported.id'], name=op.f('fk_near_miss_reports_person_id_people_supported')),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_near_miss_reports_reporter_id_users')),
    sa.ForeignKeyConstraint(['route_id'], ['routes.id'], name=op.f('fk_near_miss_reports_route_id_routes')),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_near_miss_reports_service_id_services')),
    sa.ForeignKeyConstraint(['staff_group_id'], ['staff_groups.id'], name=op.f('fk_near_miss_reports_staff_group_id_staff_groups')),
    sa.ForeignKeyConstraint(['type_key'], ['near_miss_types.key'], name=op.f('fk_near_miss_reports_type_key_near_miss_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_near_miss_reports')),
    sa.UniqueConstraint('reference', name=op.f('uq_near_miss_reports_reference')),
    sa.UniqueConstraint('submission_key', name=op.f('uq_near_miss_reports_submission_key'))
    )
    with op.batch_alter_table('near_miss_reports', schema=None) as batch_op:
        batch_op.create_index('ix_near_miss_reports_location', ['location_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_near_miss_reports_occurred', ['occurred_at'], unique=False)
        batch_op.create_index('ix_near_miss_reports_person', ['person_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_near_miss_reports_reporter', ['reporter_id', 'reported_at'], unique=False)
        batch_op.create_index('ix_near_miss_reports_service_status', ['service_id', 'status'], unique=False)
        batch_op.create_index('ix_near_miss_reports_type_occurred', ['type_key', 'occurred_at'], unique=False)
    op.execute("INSERT INTO audit_chain_head (id, last_seq, last_hash) "
               "VALUES (1, 0, '" + "0" * 64 + "')")
    _append_only_triggers()


def _append_only_triggers() -> None:
    """Refuse UPDATE and DELETE on the audit trail at the database level too."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    with op.batch_alter_table('near_miss_reports', schema=None) as batch_op:
        batch_op.drop_index('ix_near_miss_reports_type_occurred')
        batch_op.drop_index('ix_near_miss_reports_service_status')
        batch_op.drop_index('ix_near_miss_reports_reporter')
        batch_op.drop_index('ix_near_miss_reports_person')
        batch_op.drop_index('ix_near_miss_reports_occurred')
        batch_op.drop_index('ix_near_miss_reports_location')

    op.drop_table('near_miss_reports')
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_user_sessions_cookie_id'))

    op.drop_table('user_sessions')
    op.drop_table('user_services')
    op.drop_table('user_roles')
    with op.batch_alter_table('routes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routes_service_id'))

    op.drop_table('routes')
    with op.batch_alter_table('people_supported', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_people_supported_service_id'))

    op.drop_table('people_supported')
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_locations_service_id'))

    op.drop_table('locations')
    op.drop_table('users')
    op.drop_table('services')
    op.drop_table('near_miss_type_versions')
    op.drop_table('taxonomy_lists')
    op.drop_table('staff_groups')
    op.drop_table('regions')
    op.drop_table('reference_counters')
    op.drop_table('near_miss_types')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_entity')
        batch_op.drop_index('ix_audit_events_action_time')

    op.drop_table('audit_events')
    op.drop_table('audit_chain_head')
