"""Who keeps a SQLite workspace's write-ahead log from being reset (RELIABILITY C2).

Who calls it: `SqlStore.checkpoint` (store.py) after each TRUNCATE checkpoint, when the WAL is still
larger than the cap; `/info` shows the warning it leaves.

Why: a WAL is reset only when no reader still uses a snapshot inside it. Our own reads are short
(each is one `with reader.connect()` block: the transaction ends with the request), but a reader
outside our control (an `sqlite3` shell left in a transaction, a database browser, a notebook
holding a cursor open) pins it, and under write load the WAL then grows without bound (1.9 GB in two
minutes, measured) until that reader lets go.

How the reader is found: SQLite readers of a WAL database hold a shared POSIX lock on one
"read mark" byte of the `-shm` file while their transaction lasts; marks 1-4 (bytes 124-127) are
the ones that pin WAL frames (mark 0 reads the database file alone). Linux lists every such lock
with the process that holds it in `/proc/locks`, so the processes are named exactly, not guessed
from who has the file open. Elsewhere (no `/proc/locks`) the warning says the WAL is pinned without
naming the process.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Past this size the WAL is reported (the catalogue's bound for back-to-back reads and writes).
WAL_CAP_BYTES = 64 * 1024 * 1024
#: The `-shm` bytes that readers pinning WAL frames lock (SQLite's WAL_READ_LOCK(1..4)).
_PINNING_MARKS = range(124, 128)


def wal_bytes(database: Path) -> int:
    """The size of `database`'s WAL file (0 when there is none)."""
    try:
        return os.path.getsize(f"{database}-wal")
    except OSError:
        return 0


def pinning_readers(database: Path, locks_file: str = "/proc/locks") -> list[int] | None:
    """The processes holding a read transaction that pins `database`'s WAL, or None when this
    system does not say (no `/proc/locks`)."""
    try:
        shm = os.stat(f"{database}-shm")
        with open(locks_file, encoding="ascii", errors="replace") as listing:
            lines = listing.readlines()
    except OSError:
        return None
    device = f"{os.major(shm.st_dev):02x}:{os.minor(shm.st_dev):02x}:{shm.st_ino}"
    found: set[int] = set()
    for line in lines:
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        try:
            kind, access, pid, where, start = fields[1], fields[3], int(fields[4]), fields[5], int(fields[6])
        except (IndexError, ValueError):
            continue
        if kind == "POSIX" and access == "READ" and where == device and start in _PINNING_MARKS:
            found.add(pid)
    return sorted(found)


def describe_process(pid: int) -> str:
    """`pid 1234 (sqlite3 /ws/mlws.db)`, or `pid 1234 (this process)`."""
    if pid == os.getpid():
        return f"pid {pid} (this process)"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        command = ""
    return f"pid {pid} ({command[:120]})" if command else f"pid {pid}"


def wal_warning(database: Path, cap: int = WAL_CAP_BYTES) -> str | None:
    """A warning naming who pins the WAL when it is larger than `cap` after a checkpoint; None
    while it is within the cap."""
    size = wal_bytes(database)
    if size <= cap:
        return None
    readers = pinning_readers(database)
    mb = f"{size / 1024**2:.0f} MB (cap {cap / 1024**2:.0f} MB)"
    if readers is None:
        who = "a reader holds a transaction open (this system does not say which process)"
    elif not readers:
        return None  # nobody pins it: the next checkpoint resets it
    else:
        named = ", ".join(describe_process(pid) for pid in readers[:5])
        who = f"held by a read transaction left open in {named}: end that transaction or process"
    return f"The workspace database's write-ahead log {database.name}-wal is {mb} and cannot be reset: {who}."
