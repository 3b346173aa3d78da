"""Regulator clocks: whether an event is reportable (who, when, why) and its deadlines.

A decision per report (reportable or not, with the reason), and for a reportable one a clock
per deadline the jurisdiction sets (report to the state, start and close the investigation):
when it started, when it is due, and when it was met, with the reference the state gave.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-10 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "regulator_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("reportable", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=120), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["near_miss_reports.id"],
                                name="fk_regulator_decisions_report_id_near_miss_reports"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name="fk_regulator_decisions_decided_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_regulator_decisions"),
        sa.UniqueConstraint("report_id", name="uq_regulator_decisions_report_id"),
    )
    op.create_table(
        "regulator_clocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("rule", sa.String(length=160), nullable=False),
        sa.Column("needs_reference", sa.Boolean(), nullable=False),
        sa.Column("remind_before_hours", sa.Double(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("met_at", sa.DateTime(), nullable=True),
        sa.Column("met_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=True),
        sa.Column("state_reference", sa.String(length=120), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("reminded_soon_at", sa.DateTime(), nullable=True),
        sa.Column("reminded_overdue_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["decision_id"], ["regulator_decisions.id"],
                                name="fk_regulator_clocks_decision_id_regulator_decisions"),
        sa.ForeignKeyConstraint(["report_id"], ["near_miss_reports.id"],
                                name="fk_regulator_clocks_report_id_near_miss_reports"),
        sa.ForeignKeyConstraint(["met_by_id"], ["users.id"],
                                name="fk_regulator_clocks_met_by_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_regulator_clocks"),
    )
    op.create_index("ix_regulator_clocks_report", "regulator_clocks", ["report_id"])
    op.create_index("ix_regulator_clocks_due", "regulator_clocks", ["due_at", "met_at"])


def downgrade() -> None:
    op.drop_index("ix_regulator_clocks_due", table_name="regulator_clocks")
    op.drop_index("ix_regulator_clocks_report", table_name="regulator_clocks")
    op.drop_table("regulator_clocks")
    op.drop_table("regulator_decisions")
