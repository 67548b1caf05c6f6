"""An endpoint's log: what its replicas print, stamped, kept bounded, read back by `ep.logs()`.

Who calls this: `serving/replica.py` (`StampedStream` around its stdout/stderr), the manager's
`procs.spawn_replica` (`rotate` before a replica starts), and `read_tail` from `ws.endpoints`
(`Endpoint.logs()`, a folder workspace) and the server's `GET /endpoints/{name}/logs`.

What Azure ML's `service.get_logs()` gives: every replica writes into `<endpoint>/replica.log`
(the entry script's prints, a model's warnings, tracebacks of failed predictions — never a
key: only hashes reach a replica). Each line a replica's Python code writes starts with the
UTC time and the replica's pid (`2026-12-02T18:05:11Z [4121] ...`), so the lines of several
replicas sharing the file can be told apart; output written below Python (a C library
writing to fd 2) lands unstamped. The file is rotated to `replica.log.1` when it is over
`MAX_LOG_BYTES` as a replica starts; `read_tail` reads across both.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import TextIO

LOG_NAME = "replica.log"
MAX_LOG_BYTES = 8 * 1024 * 1024
#: The most lines one read returns.
MAX_LINES = 10_000


class StampedStream(io.TextIOBase):
    """A text stream that starts each line with the UTC time and this process's pid."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw
        self.prefix_pid = f" [{os.getpid()}] "
        self._at_line_start = True

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not text:
            return 0
        parts = []
        for piece in text.splitlines(keepends=True):
            if self._at_line_start:
                parts.append(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + self.prefix_pid)
            parts.append(piece)
            self._at_line_start = piece.endswith(("\n", "\r"))
        self.raw.write("".join(parts))
        self.raw.flush()
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def fileno(self) -> int:
        return self.raw.fileno()


def rotate(folder: Path) -> None:
    """Move a log over `MAX_LOG_BYTES` to `replica.log.1` (replacing the older one)."""
    path = folder / LOG_NAME
    try:
        if path.stat().st_size > MAX_LOG_BYTES:
            os.replace(path, folder / (LOG_NAME + ".1"))
    except FileNotFoundError:
        pass


def _tail(path: Path, lines: int, chunk: int = 64 * 1024) -> list[str]:
    """The last `lines` lines of a file, read backwards from its end (never the whole file)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return []
    with handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= lines:
            start = max(0, end - chunk)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
    text = data.decode("utf-8", "replace").splitlines()
    return text[-lines:] if lines else []


def read_tail(folder: Path, lines: int = 200) -> str:
    """The last `lines` lines (1..MAX_LINES) of an endpoint's log, oldest first."""
    lines = max(1, min(int(lines), MAX_LINES))
    found = _tail(folder / LOG_NAME, lines)
    if len(found) < lines:
        found = _tail(folder / (LOG_NAME + ".1"), lines - len(found)) + found
    return "\n".join(found) + ("\n" if found else "")
