"""Schema v9: batch endpoints (issue 16).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch_endpoints",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("model", sa.String(300), nullable=True),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("defaults", sa.Text, nullable=False),
        sa.Column("key_hashes", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("last_job_id", sa.String(32), nullable=True),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_batch_endpoints"),
    )


def downgrade() -> None:
    op.drop_table("batch_endpoints")
