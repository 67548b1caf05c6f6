"""Schema v8: data assets and their versions (issue 16).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_assets",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_assets"),
        sa.UniqueConstraint("name", name="uq_data_assets_name"),
    )
    op.create_table(
        "data_versions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("asset", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("files", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("source_run_id", sa.String(64), nullable=True),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_data_versions"),
        sa.ForeignKeyConstraint(
            ["asset"], ["data_assets.id"], name="fk_data_versions_asset_data_assets", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("asset", "version", name="uq_data_versions_asset_version"),
    )


def downgrade() -> None:
    op.drop_table("data_versions")
    op.drop_table("data_assets")
