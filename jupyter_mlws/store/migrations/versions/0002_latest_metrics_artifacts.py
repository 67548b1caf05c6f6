"""Schema v2: `latest_metrics` and `metric_chunks` (both backfilled from the history),
`applied_batches` (idempotent batch ids) and `artifacts`.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "latest_metrics",
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Double, nullable=True),
        sa.Column("value_kind", sa.SmallInteger, nullable=False),
        sa.PrimaryKeyConstraint("run", "key", name="pk_latest_metrics"),
        sa.ForeignKeyConstraint(["run"], ["runs.id"], name="fk_latest_metrics_run_runs", ondelete="CASCADE"),
    )
    op.create_table(
        "artifacts",
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run", "path", name="pk_artifacts"),
        sa.ForeignKeyConstraint(["run"], ["runs.id"], name="fk_artifacts_run_runs", ondelete="CASCADE"),
    )
    op.create_table(
        "metric_chunks",
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("chunk", sa.Integer, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("run", "key", "chunk", name="pk_metric_chunks"),
        sa.ForeignKeyConstraint(["run"], ["runs.id"], name="fk_metric_chunks_run_runs", ondelete="CASCADE"),
    )
    op.create_table(
        "applied_batches",
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run", "batch_id", name="pk_applied_batches"),
        sa.ForeignKeyConstraint(["run"], ["runs.id"], name="fk_applied_batches_run_runs", ondelete="CASCADE"),
    )
    _backfill_chunks()
    # Backfill: per (run, key) the point with the largest (step, timestamp).
    op.execute(
        "INSERT INTO latest_metrics (run, key, step, timestamp_ms, value, value_kind) "
        "SELECT run, key, step, timestamp_ms, value, value_kind FROM ("
        "  SELECT run, key, step, timestamp_ms, value, value_kind, ROW_NUMBER() OVER ("
        "    PARTITION BY run, key ORDER BY step DESC, timestamp_ms DESC) AS rn FROM metrics"
        ") AS ranked WHERE rn = 1"
    )


def _backfill_chunks() -> None:
    """Pack each existing series, in step order, into one chunk (the format of `sql/metrics.py`)."""
    from jupyter_mlws.store.sql.chunks import pack_points

    conn = op.get_bind()
    series = conn.execute(sa.text("SELECT DISTINCT run, key FROM metrics")).fetchall()
    for run, key in series:
        rows = conn.execute(
            sa.text(
                "SELECT step, timestamp_ms, value, value_kind FROM metrics WHERE run = :r AND key = :k "
                "ORDER BY step"
            ),
            {"r": run, "k": key},
        ).fetchall()
        conn.execute(
            sa.text("INSERT INTO metric_chunks (run, key, chunk, points, data) VALUES (:r, :k, 0, :n, :d)"),
            {"r": run, "k": key, "n": len(rows), "d": pack_points(rows)},
        )


def downgrade() -> None:
    raise NotImplementedError("jupyter_mlws never downgrades a workspace; restore the .bak-vN backup")
