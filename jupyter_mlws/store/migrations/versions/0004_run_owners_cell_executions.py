"""Schema v4: who owns a running run (host, pid, kernel id) and the `cell_executions` record.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("host", sa.String(256), nullable=True))
    op.add_column("runs", sa.Column("pid", sa.Integer, nullable=True))
    op.add_column("runs", sa.Column("kernel_id", sa.String(64), nullable=True))
    op.create_table(
        "cell_executions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run", sa.Integer, nullable=True),
        sa.Column("kernel_id", sa.String(64), nullable=True),
        sa.Column("notebook_path", sa.Text, nullable=True),
        sa.Column("cell_id", sa.String(256), nullable=True),
        sa.Column("execution_count", sa.Integer, nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("start_time", sa.BigInteger, nullable=False),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cell_executions"),
        sa.ForeignKeyConstraint(
            ["run"], ["runs.id"], name="fk_cell_executions_run_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_cell_executions_run", "cell_executions", ["run"])
    op.create_index(
        "ix_cell_executions_notebook_path_start_time", "cell_executions", ["notebook_path", "start_time"]
    )


def downgrade() -> None:
    op.drop_table("cell_executions")
    op.drop_column("runs", "kernel_id")
    op.drop_column("runs", "pid")
    op.drop_column("runs", "host")
