"""Sign-in is throttled, not locked; sessions end when idle; follow-up lookups are throttled.

- attempt_throttles: failed attempts per account, per source address and per follow-up code
  (keys are digests), with the time before which the next attempt is not checked. It
  replaces the hard lock (users.failed_sign_ins, users.locked_until), which anyone could set
  off for any account by typing wrong passwords.
- user_sessions.last_seen_at: the last activity of a session (stamped at most once a
  minute), so the server refuses a session idle past the limit even when its cookie comes
  back after a reload. Existing sessions take their start time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 06:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'attempt_throttles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=20), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('first_failure_at', sa.DateTime(), nullable=False),
        sa.Column('last_failure_at', sa.DateTime(), nullable=False),
        sa.Column('retry_at', sa.DateTime(), nullable=True),
        sa.Column('notified_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_attempt_throttles')),
        sa.UniqueConstraint('scope', 'key', name='uq_attempt_throttles_scope_key'),
    )
    op.create_index('ix_attempt_throttles_last_failure', 'attempt_throttles',
                    ['last_failure_at'], unique=False)

    op.add_column('user_sessions', sa.Column('last_seen_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE user_sessions SET last_seen_at = created_at")
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.alter_column('last_seen_at', existing_type=sa.DateTime(), nullable=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_sign_ins')


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_sign_ins', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('failed_sign_ins', existing_type=sa.Integer(), server_default=None)

    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('last_seen_at')

    op.drop_index('ix_attempt_throttles_last_failure', table_name='attempt_throttles')
    op.drop_table('attempt_throttles')
