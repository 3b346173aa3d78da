"""The day counts' index by type and service also holds each row's barrier and count, so the
figures that read the day counts by type or service (the breakdowns, the verification
measures) read the index alone, not a table row per index entry (at 100k reports on SQLite a
year's near misses by type: 13 ms to 5 ms). On SQLite the table is analysed again: dropping an
index drops its planner statistics, and SQLite never gathers them by itself.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 11:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 'ix_near_miss_day_counts_type_service_day'
BEFORE = ['type_key', 'service_id', 'day']


def _replace(columns: list[str]) -> None:
    op.drop_index(NAME, table_name='near_miss_day_counts')
    op.create_index(NAME, 'near_miss_day_counts', columns)
    if op.get_bind().dialect.name == 'sqlite' and op.get_bind().exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
        op.execute('ANALYZE near_miss_day_counts')


def upgrade() -> None:
    _replace([*BEFORE, 'barrier', 'reports'])


def downgrade() -> None:
    _replace(BEFORE)
