"""Alembic environment: runs migrations on the connection `migrate.py` hands over.

`migrate.py` opens the connection, takes the migration lock and starts the
transaction; this script only runs the revisions inside it. It never reads an
ini file or configures logging (that would touch the user's logging setup).
"""

from __future__ import annotations

from alembic import context

from jupyter_mlws.store.sql.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
