"""Schema v3: `run_changes`, the ordered feed of run changes behind the server's live events.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_changes",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("run", sa.Integer, nullable=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("time_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_run_changes"),
        sa.ForeignKeyConstraint(["run"], ["runs.id"], name="fk_run_changes_run_runs", ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("run_changes")
