"""Schema v1: experiments, runs, params, tags and the metric history.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("artifact_location", sa.Text, nullable=True),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("last_update_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", name="pk_experiments"),
        sa.UniqueConstraint("name", name="uq_experiments_name"),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("source_kind", sa.String(32), nullable=False),
        sa.Column("compute_target", sa.String(256), nullable=False),
        sa.Column("notebook_path", sa.Text, nullable=True),
        sa.Column("cell_id", sa.String(256), nullable=True),
        sa.Column("parent_run_id", sa.String(32), nullable=True),
        sa.Column("user_name", sa.String(256), nullable=True),
        sa.Column("start_time", sa.BigInteger, nullable=True),
        sa.Column("end_time", sa.BigInteger, nullable=True),
        sa.Column("heartbeat_time", sa.BigInteger, nullable=True),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.UniqueConstraint("run_id", name="uq_runs_run_id"),
        sa.ForeignKeyConstraint(
            ["experiment_id"], ["experiments.experiment_id"], name="fk_runs_experiment_id_experiments"
        ),
    )
    op.create_index("ix_runs_experiment_id_start_time", "runs", ["experiment_id", "start_time"])
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])
    for table in ("params", "tags"):
        op.create_table(
            table,
            sa.Column("run", sa.Integer, nullable=False),
            sa.Column("key", sa.String(250), nullable=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.PrimaryKeyConstraint("run", "key", name=f"pk_{table}"),
            sa.ForeignKeyConstraint(["run"], ["runs.id"], name=f"fk_{table}_run_runs", ondelete="CASCADE"),
        )
    op.create_table(
        "metrics",
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("value_kind", sa.SmallInteger, nullable=False),
        sa.ForeignKeyConstraint(["run"], ["runs.id"], name="fk_metrics_run_runs", ondelete="CASCADE"),
    )
    op.create_index("ix_metrics_run_key_step", "metrics", ["run", "key", "step"])


def downgrade() -> None:
    raise NotImplementedError("jupyter_mlws never downgrades a workspace; restore the .bak-vN backup")
