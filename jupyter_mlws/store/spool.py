"""The spool: batches a workspace URL's client could not deliver, kept on disk until it can.

Who uses it: `store/durable.py` (the REST store a `Workspace` opens on a server URL) appends to
it when the server cannot be reached, and delivers from it when the server is back;
`jupyter mlws sync` (cli/sync.py) and every new client of the same workspace deliver what dead
processes left behind.

Layout: one folder per workspace URL under the spool root (`$MLWS_SPOOL_DIR`, else
`$XDG_CACHE_HOME/jupyter_mlws/spool`, else `~/.cache/jupyter_mlws/spool`), named by a digest of
the URL, holding `url.txt` (the URL, never a token) and append-only segment files
`<host>-<pid>-<ms>.jsonl`, one per process. Each line is one operation in JSON:

- `{"op": "batch", "run", "batch_id", "taken_ms", "columns": {key, value, step, timestamp},
  "params", "tags"}` — replayed as `log_batch` with its batch id, which the server applies at
  most once, so a line delivered twice (a crash between sending and forgetting it) is harmless;
- `{"op": "end", "run", "status", "end_time", "reason"}` — the run's own ending, replayed after
  its batches (the store lets an earlier client ending replace a later `killed` verdict).

Decisions:
- Durable before the call returns: each line is written and fsynced (the spool is used only
  while the server is unreachable, when a few ms per batch do not matter). A line torn by a
  crash mid-write is skipped on replay (it was never acknowledged).
- One writer per segment: the writing process holds an exclusive `flock` on it while it lives;
  delivery from another process (`sync`, a new client) takes only segments it can lock, so it
  never replays a file that is still growing. A segment is deleted once every line in it was
  delivered or refused.
- Bounded: `max_bytes` (default 256 MiB, `$MLWS_SPOOL_MAX_MB`) for the whole folder; an append
  past it raises `SpoolFull` (the caller raises or blocks; nothing is dropped silently).
- Refusals are reported, never hidden: a line the server refuses (its run was ended for it, or
  deleted) is counted per run with the reason, the summary says so, and the line is kept in
  `refused.jsonl`. A wrong token or a server that does not answer refuses nothing: delivery
  stops and the lines wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import Forbidden, MLWSError, Unavailable

SPOOL_DIR_ENV = "MLWS_SPOOL_DIR"
SPOOL_MAX_ENV = "MLWS_SPOOL_MAX_MB"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


class SpoolFull(Unavailable):
    """The spool of a workspace URL reached its cap while the server was unreachable."""

    code = "spool_full"


def spool_root() -> Path:
    """Where every workspace URL's spool folder lives."""
    configured = os.environ.get(SPOOL_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "jupyter_mlws" / "spool"


def spool_folder(url: str, root: Path | None = None) -> Path:
    """The spool folder of one workspace URL."""
    digest = hashlib.sha256(url.rstrip("/").encode()).hexdigest()[:16]
    return (root or spool_root()) / digest


def max_spool_bytes() -> int:
    raw = os.environ.get(SPOOL_MAX_ENV)
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        return max(1, int(float(raw) * 1024 * 1024))
    except ValueError:
        return DEFAULT_MAX_BYTES


@dataclass
class Delivery:
    """What one delivery pass did: batches and points sent, ends applied, refusals by run."""

    batches: int = 0
    points: int = 0
    ends: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # run id -> reason
    refused_points: int = 0
    refused_lines: list[dict[str, Any]] = field(default_factory=list)
    left: int = 0  # lines still waiting (the server went away again)

    def add(self, other: Delivery) -> None:
        self.batches += other.batches
        self.points += other.points
        self.ends += other.ends
        self.refused.update(other.refused)
        self.refused_points += other.refused_points
        self.refused_lines.extend(other.refused_lines)
        self.left += other.left

    def describe(self) -> str:
        text = (
            f"{_count(self.batches, 'batch', 'batches')} ({self.points:,} metric points) and "
            f"{_count(self.ends, 'run ending', 'run endings')} sent"
        )
        if self.refused:
            runs = "; ".join(f"run {r}: {why}" for r, why in list(self.refused.items())[:3])
            text += f"; {self.refused_points:,} points refused by the server ({runs})"
        if self.left:
            text += f"; {self.left} still waiting (the server did not answer)"
        return text


class Segment:
    """This process's append-only file in a spool folder (created on the first append)."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.path: Path | None = None
        self._file: IO[bytes] | None = None
        self.delivered = 0  # bytes of the file already delivered
        self.waiting = 0  # lines appended and not delivered

    def append(self, record: dict[str, Any], url: str, force: bool = False) -> None:
        """Write one line durably; past the cap `SpoolFull`, unless `force` (a small note that
        must not be lost: how many points a full spool refused)."""
        line = json.dumps(record, separators=(",", ":"), allow_nan=False).encode() + b"\n"
        if not force and folder_bytes(self.folder) + len(line) > self.max_bytes:
            raise SpoolFull(
                f"The spool {self.folder} for {url} is full ({_size(self.max_bytes)}, "
                f"${SPOOL_MAX_ENV}): the server has not answered for too long."
            )
        handle = self._open(url)
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
        self.waiting += 1

    def _open(self, url: str) -> IO[bytes]:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / "url.txt").write_text(url + "\n")
            name = f"{socket.gethostname()}-{os.getpid()}-{int(time.time() * 1000)}.jsonl"
            self.path = self.folder / name
            self._file = open(self.path, "ab")
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.delivered = 0
        return self._file

    def deliver(self, send: Callable[[dict[str, Any]], Delivery]) -> Delivery:
        """Send the waiting lines in order until one fails to reach the server."""
        done = Delivery()
        if self.path is None or self.waiting == 0:
            return done
        with open(self.path, "rb") as source:
            source.seek(self.delivered)
            for raw in source:
                if not raw.endswith(b"\n"):
                    break  # an append in progress elsewhere cannot happen (one writer): torn line
                record = _parse(raw)
                if record is not None:
                    try:
                        done.add(send(record))
                    except (Unavailable, Forbidden):
                        done.left = self.waiting
                        keep_refused(self.folder, done)
                        return done
                self.delivered += len(raw)
                self.waiting -= 1
        keep_refused(self.folder, done)
        if self.waiting == 0:
            self.close(remove=True)
        return done

    def close(self, remove: bool = False) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if remove and self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        if remove:
            self.path = None
            self.delivered = self.waiting = 0


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _size(count: int) -> str:
    return f"{count / 1024**2:.0f} MiB" if count >= 1024**2 else f"{count / 1024:.0f} KiB"


def folder_bytes(folder: Path) -> int:
    try:
        return sum(p.stat().st_size for p in folder.glob("*.jsonl"))
    except OSError:
        return 0


def waiting_points(folder: Path) -> tuple[int, int]:
    """(metric points, lines) waiting in every segment of a folder (for messages)."""
    points = lines = 0
    for path in sorted(folder.glob("*.jsonl")):
        with open(path, "rb") as source:
            for raw in source:
                record = _parse(raw)
                if record is not None:
                    lines += 1
                    points += len(record.get("columns", {}).get("key", ()))
    return points, lines


def orphan_segments(folder: Path) -> Iterator[tuple[Path, IO[bytes]]]:
    """Segments no live process is writing: (path, a handle holding its lock), oldest first."""
    for path in sorted(folder.glob("*.jsonl"), key=lambda p: p.stat().st_mtime if p.exists() else 0):
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        yield path, handle


def deliver_orphans(folder: Path, send: Callable[[dict[str, Any]], Delivery]) -> Delivery:
    """Deliver every segment dead processes left in `folder` (jupyter mlws sync, a new client)."""
    done = Delivery()
    if not folder.is_dir():
        return done
    for path, handle in orphan_segments(folder):
        with handle:
            lines = [raw for raw in handle if raw.endswith(b"\n")]
            for index, raw in enumerate(lines):
                record = _parse(raw)
                if record is None:
                    continue
                try:
                    done.add(send(record))
                except (Unavailable, Forbidden):
                    done.left += len(lines) - index
                    keep_refused(folder, done)
                    return done
            keep_refused(folder, done)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return done


def send_record(store: Any, record: dict[str, Any]) -> Delivery:
    """Replay one spooled operation on a REST store; refusals are counted, Unavailable raised."""
    done = Delivery()
    run = str(record.get("run"))
    try:
        if record.get("op") == "end":
            store.deliver_end(run, record["status"], record.get("end_time"), record.get("reason"))
            done.ends = 1
            return done
        columns = record.get("columns") or {}
        points = list(
            zip(
                columns.get("key", ()),
                columns.get("value", ()),
                columns.get("step", ()),
                columns.get("timestamp", ()),
                strict=False,
            )
        )
        store.deliver_batch(
            run,
            points,
            record.get("params") or {},
            record.get("tags") or {},
            str(record["batch_id"]),
            record.get("taken_ms"),
        )
        done.batches, done.points = 1, len(points)
    except (Unavailable, Forbidden):
        raise  # not now (the server is away, or the token is wrong): the line stays
    except MLWSError as err:
        done.refused[run] = err.message
        done.refused_points = len((record.get("columns") or {}).get("key", ()))
        done.refused_lines.append(record)
    return done


def keep_refused(folder: Path, done: Delivery) -> None:
    """Refused lines are not thrown away: they go to `refused.jsonl` beside the segments."""
    if not done.refused_lines:
        return
    with open(folder / "refused.jsonl", "ab") as out:
        for record in done.refused_lines:
            out.write(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        out.flush()
        os.fsync(out.fileno())
    done.refused_lines.clear()


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, dict) and record.get("run") else None
