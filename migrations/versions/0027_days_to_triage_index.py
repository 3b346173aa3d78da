"""On SQLite, an index of each triaged report's days from filing to triage, with the columns a
governance scope narrows by: the median time to triage walks it to the middle row, in order,
instead of reading and sorting every triaged report of the period (a year at 100k reports,
71,000 times: in SQLite alone 55 ms to sort them, 7 ms to count them and walk the index;
through core.metrics.governance, 134 ms to 22 ms). PostgreSQL has its own ordered-set
aggregate (percentile_cont) and needs none. The index is on an expression, so it lives here and not on the model: SQLAlchemy does
not reflect expression indexes on SQLite, so the models and migrations still compare equal.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 12:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0027'
down_revision: str | None = '0026'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The expression is written as core.metrics.governance.DAYS_TO_TRIAGE renders it: SQLite uses
# an expression index only for the same expression.
NAME = 'ix_near_miss_reports_days_to_triage'


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.execute(f'CREATE INDEX {NAME} ON near_miss_reports ('
               '(julianday(triaged_at) - julianday(reported_at)), '
               'occurred_at, service_id, type_key, reported_at, triaged_at) '
               'WHERE triaged_at IS NOT NULL')
    if op.get_bind().exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
        op.execute(f'ANALYZE {NAME}')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'DROP INDEX {NAME}')
