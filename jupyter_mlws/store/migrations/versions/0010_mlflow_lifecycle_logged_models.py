"""Schema v10: what MLflow's API needs (issue 17): soft delete of experiments and runs
(`lifecycle_stage`, existing rows "active"), experiment tags, run inputs and outputs, logged models.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The server default fills the rows already there and keeps inserts that do not name the column.
    for table in ("experiments", "runs"):
        op.add_column(
            table, sa.Column("lifecycle_stage", sa.String(16), nullable=False, server_default="active")
        )
    op.create_table(
        "experiment_tags",
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "key", name="pk_experiment_tags"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_experiment_tags_experiment_id_experiments",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "run_io",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_run_io"),
        sa.ForeignKeyConstraint(["run"], ["runs.id"], name="fk_run_io_run_runs", ondelete="CASCADE"),
        sa.UniqueConstraint("run", "direction", "digest", name="uq_run_io_run_direction_digest"),
    )
    op.create_table(
        "logged_models",
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("artifact_location", sa.Text, nullable=False),
        sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
        sa.Column("model_type", sa.String(256), nullable=True),
        sa.Column("source_run_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("lifecycle_stage", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("model_id", name="pk_logged_models"),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.experiment_id"],
            name="fk_logged_models_experiment_id_experiments",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_logged_models_experiment_id_creation_timestamp",
        "logged_models",
        ["experiment_id", "creation_timestamp"],
    )


def downgrade() -> None:
    op.drop_table("logged_models")
    op.drop_table("run_io")
    op.drop_table("experiment_tags")
    op.drop_column("runs", "lifecycle_stage")
    op.drop_column("experiments", "lifecycle_stage")
