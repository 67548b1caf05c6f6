"""SQLAlchemy engines for the SQL store, with the SQLite rules of RELIABILITY.md.

Called once per `SqlStore`. For SQLite it builds two engines on the same file:

- a writer with ONE pooled connection (one writer connection per process;
  threads queue for it) whose transactions start with `BEGIN IMMEDIATE`, so a
  write never upgrades a read lock and dies with "database is locked";
- a reader pool whose transactions start with a plain (deferred) `BEGIN`,
  so reads see one snapshot and never block writers (WAL).

Every connection gets WAL, `busy_timeout` 10 s, `synchronous=FULL` (metric
points too: measured, FULL costs one fsync per batch and the batched rate
stays above the budget, so there is no NORMAL exception) and foreign keys.
`run_write` takes the store's cross-process write gate (`gate.py`: a fair
`flock` queue, because SQLite's own busy handler lets a waiter starve) and
retries a whole transaction when SQLite still reports the database busy or
locked, so that message never reaches the user; after 60 s it gives up with
`Unavailable`.

SQLite over NFS/SMB/FUSE corrupts WAL databases (no shared memory across
hosts), so opening one there is refused with an actionable message.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool, QueuePool

from ...errors import InvalidParameter, Unavailable
from ...location import redact_url
from .wal_watch import WAL_CAP_BYTES

T = TypeVar("T")

BUSY_TIMEOUT_MS = 10_000
WRITE_RETRY_SECONDS = 60.0
ALLOW_NETWORK_FS_ENV = "MLWS_ALLOW_NETWORK_FS"

# statfs f_type magic numbers (linux/magic.h) of file systems SQLite WAL must not use.
NETWORK_FS_MAGIC = {
    0x6969: "nfs",
    0x517B: "smb",
    0xFF534D42: "cifs",
    0xFE534D42: "smb2",
    0x65735546: "fuse",
    0x01021997: "9p",
    0x00C36400: "ceph",
    0x5346414F: "afs",
    0x0BD00BD0: "lustre",
    0x47504653: "gpfs",
}
_LOCAL_FS_NAMES = {
    0xEF53: "ext4",
    0x01021994: "tmpfs",
    0x9123683E: "btrfs",
    0x58465342: "xfs",
    0x9FA0: "proc",
    0x794C7630: "overlayfs",
    0x2FC12FC1: "zfs",
}


class _StatFs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_byte * 112)]


def filesystem_type(path: str | os.PathLike[str]) -> str:
    """The kind of file system holding `path` (from statfs), e.g. `ext4`, `nfs`; `unknown` elsewhere."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name or not hasattr(os, "statvfs"):
        return "unknown"
    libc = ctypes.CDLL(libc_name, use_errno=True)
    buf = _StatFs()
    if libc.statfs(os.fsencode(os.fspath(path)), ctypes.byref(buf)) != 0:
        return "unknown"
    magic = buf.f_type & 0xFFFFFFFF
    return NETWORK_FS_MAGIC.get(magic) or _LOCAL_FS_NAMES.get(magic) or f"0x{magic:x}"


def network_fs_refusal(fs_type: str, folder: str) -> str | None:
    """The error message for a SQLite store on `fs_type`, or None when that file system is fine."""
    if fs_type not in NETWORK_FS_MAGIC.values():
        return None
    return (
        f"The workspace database folder {folder} is on a network file system ({fs_type}); "
        "SQLite in WAL mode corrupts databases there. Put the workspace on a local disk "
        "(MLWS_WORKSPACE=/local/path), or use PostgreSQL (store URL postgresql://...). "
        f"Set {ALLOW_NETWORK_FS_ENV}=1 only if you know this file system supports SQLite locking."
    )


def sqlite_path(url: URL) -> Path:
    """The database file of a sqlite URL; in-memory databases are refused (WAL needs a file)."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        raise InvalidParameter("A workspace needs a SQLite file (sqlite:////path/mlws.db), not :memory:.")
    return Path(database).expanduser().resolve()


def normalise_url(raw: str) -> URL:
    """A SQLAlchemy URL; `postgresql://` and `postgres://` use psycopg 3."""
    try:
        url = make_url(raw)
    except Exception as err:
        raise InvalidParameter(f"Store URL {redact_url(raw)!r} is not a valid database URL: {err}") from None
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg3"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidParameter(f"Store URL {redact_url(raw)!r}: only sqlite and postgresql are supported.")
    return url


def _sqlite_engine(url: URL, begin: str, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=WRITE_RETRY_SECONDS,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise Unavailable(f"SQLite refused WAL mode (got {mode!r}) for {url.database}.")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA journal_size_limit={WAL_CAP_BYTES}")  # a reset WAL shrinks to the cap
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA case_sensitive_like=ON")  # LIKE behaves as on PostgreSQL
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


def create_engines(url: URL) -> tuple[Engine, Engine]:
    """(writer, reader) engines for `url`; for PostgreSQL both are the same pooled engine."""
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not os.environ.get(ALLOW_NETWORK_FS_ENV):
            refusal = network_fs_refusal(filesystem_type(path.parent), str(path.parent))
            if refusal:
                raise Unavailable(refusal)
        url = url.set(database=str(path))
        return _sqlite_engine(url, "BEGIN IMMEDIATE", 1), _sqlite_engine(url, "BEGIN", 4)
    engine = create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True)
    return engine, engine


def throwaway_engine(url: URL) -> Engine:
    """An unpooled engine for one-off work (backups, tests)."""
    return create_engine(url, poolclass=NullPool)


def is_busy_error(err: BaseException) -> bool:
    """True for SQLite's transient 'database is locked' / 'database is busy' errors."""
    text = str(getattr(err, "orig", err)).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def run_write(engine: Engine, work: Callable[[Connection], T], what: str = "write", gate: Any = None) -> T:
    """Run `work(conn)` in one write transaction, retrying the whole transaction while SQLite is busy.

    Callers pass a function that only touches the database, so re-running it
    after a rollback is safe and the transaction stays all-or-nothing. For
    SQLite, `gate` (a `gate.WriteGate`) is held around each attempt so that
    writers from many processes take turns fairly.
    """
    deadline = time.monotonic() + WRITE_RETRY_SECONDS
    delay = 0.005
    while True:
        if gate is not None and not gate.acquire(max(0.0, deadline - time.monotonic())):
            raise _busy(what)
        try:
            with engine.begin() as conn:
                return work(conn)
        except OperationalError as err:
            if is_disk_error(err):
                raise _disk(what, err) from err
            if not is_busy_error(err):
                raise
            if time.monotonic() > deadline:
                raise _busy(what) from None
        finally:
            if gate is not None:
                gate.release()
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.25)


#: What SQLite and PostgreSQL say when a write or fsync of the database failed (RELIABILITY K6).
_DISK_ERRORS = (
    "disk i/o error",
    "database or disk is full",
    "no space left on device",
    "could not extend file",
    "could not write",
    "input/output error",
)


def is_disk_error(err: BaseException) -> bool:
    """True when the database could not write its files: a full disk, an I/O error, a size limit."""
    text = str(getattr(err, "orig", err)).lower()
    return any(part in text for part in _DISK_ERRORS)


def _disk(what: str, err: BaseException) -> Unavailable:
    cause = str(getattr(err, "orig", err)).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return Unavailable(
        f"The workspace database could not be written during {what} ({cause}): the disk may be full "
        "or failing. Nothing of this change was stored; what was stored before is kept."
    )


def _busy(what: str) -> Unavailable:
    return Unavailable(
        f"The workspace database stayed busy for {WRITE_RETRY_SECONDS:.0f} s during {what}; "
        "another process holds a long write transaction. Try again."
    )


def wal_checkpoint(writer: Engine, gate: Any) -> None:
    """TRUNCATE-checkpoint a SQLite WAL under the write gate; gives up quickly when busy.

    Called every few hundred writes by `SqlStore` and when it closes, so the
    WAL file stays small even while readers come and go (RELIABILITY C2).
    """
    if gate is not None and not gate.acquire(0.5):
        return
    try:
        with writer.connect() as conn:
            raw: Any = conn.connection.driver_connection
            raw.execute("PRAGMA busy_timeout=200")
            try:
                raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        if gate is not None:
            gate.release()
