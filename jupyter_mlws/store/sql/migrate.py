"""Bring a database to the schema this code knows, or refuse to touch it.

Called by `SqlStore.__init__` every time a store opens. The common case (the
database is at the head revision) costs one SELECT and never imports Alembic.
Otherwise, under the migration lock:

- SQLite: the lock is the write lock itself (`BEGIN IMMEDIATE` on the writer
  engine): a second process opening the same fresh file waits, then finds
  the schema made and does nothing (RELIABILITY C4). SQLite DDL is
  transactional, so a kill mid-migration leaves the old revision (U2).
- PostgreSQL: `pg_advisory_xact_lock` inside the migration transaction.
- Before the first DDL on an existing SQLite database, a copy is taken with
  the SQLite backup API into `<db>.bak-v<N>` (N = its current version).
- A database at a revision this code does not know (newer code wrote it), or
  a non-empty database that is not a jupyter_mlws store, is refused with an
  actionable message before anything is written (U4). Never downgrades.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from ...errors import IncompatibleStore
from .engine import WRITE_RETRY_SECONDS, is_busy_error, run_write
from .schema import HEAD_REVISION

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010")
_PG_LOCK_KEY = 0x6D6C7773  # "mlws"


def read_revision(conn: Connection) -> str | None:
    """The database's Alembic revision, None for a database without our version table."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
    if len(rows) != 1:
        raise IncompatibleStore(
            f"The workspace database has {len(rows)} schema versions recorded; it is damaged. "
            "Restore it from a .bak-vN backup."
        )
    return str(rows[0][0])


def _check_known(revision: str | None, where: str, conn: Connection) -> None:
    if revision is None:
        others = [t for t in inspect(conn).get_table_names() if not t.startswith("sqlite_")]
        if others:
            raise IncompatibleStore(
                f"The database {where} already holds tables ({', '.join(sorted(others)[:5])}) but is not "
                "a jupyter_mlws workspace. Point MLWS_WORKSPACE at an empty folder or another database."
            )
        return
    if revision not in KNOWN_REVISIONS:
        raise IncompatibleStore(
            f"The workspace database {where} has schema revision {revision}, newer than this "
            f"jupyter_mlws understands (up to {HEAD_REVISION}). Upgrade the package "
            "(pip install -U jupyter_mlws) in this environment; nothing was written."
        )


def sqlite_backup(db_path: Path, version: int) -> Path:
    """Copy the live database with SQLite's backup API to `<db>.bak-v<version>`; returns that path."""
    target = db_path.with_name(f"{db_path.name}.bak-v{version}")
    source = sqlite3.connect(str(db_path))
    try:
        dest = sqlite3.connect(str(target))
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
    return target


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _read_current(reader: Engine, where: str) -> str | None:
    """The revision in place, waiting out "database is locked" while another process migrates.

    Opening a fresh SQLite file while another process creates the schema can find it locked
    even for a read (switching it to WAL, or WAL recovery): the busy timeout does not always
    cover that, so the read is retried for up to WRITE_RETRY_SECONDS (RELIABILITY C4).
    """
    deadline = time.monotonic() + WRITE_RETRY_SECONDS
    while True:
        try:
            with reader.connect() as conn:
                revision = read_revision(conn)
                _check_known(revision, where, conn)
                return revision
        except Exception as err:
            if not is_busy_error(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def ensure_schema(
    writer: Engine, reader: Engine, where: str, sqlite_file: Path | None, gate: Any = None
) -> str:
    """Make the schema current (see the module docstring); returns the revision now in place."""
    revision = _read_current(reader, where)
    if revision == HEAD_REVISION:
        return revision

    def migrate(conn: Connection) -> str:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        current = read_revision(conn)
        _check_known(current, where, conn)
        if current == HEAD_REVISION:
            return current
        if sqlite_file is not None and current is not None:
            sqlite_backup(sqlite_file, int(current))
        _upgrade(conn)
        return HEAD_REVISION

    return run_write(writer, migrate, "the schema migration", gate)
