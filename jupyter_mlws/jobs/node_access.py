"""How a node reaches the workspace, and how a job's output reaches the store.

Who calls it: `jobs/node.py` (`run_job`: every job attempt on a node), the batch driver beside
the dispatcher (`jobs/batch_dispatch.py`) and a batch's mini-batches on the workers
(`jobs/batch_work.py`).

- `open_workspace(where)`: the workspace's stores as this process reaches them, kept open for the
  worker's next jobs: the store and artifact URLs when they are usable here (a SQLite file must
  exist on this machine; a database server is reached by its URL), else the workspace URL and
  token (issue "Log from anywhere"); `$MLWS_NODE_USE_URL` forces the URL.
- `LogShipper`: a process's output, line by line, appended to the job's log in the store at most
  `SHIP_SECONDS` apart (live readers are under 0.5 s behind), and kept (up to `LOG_ARTIFACT_MAX`)
  for the run's `logs/std_log.txt`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

#: The longest a line of output waits before it is shipped to the store.
SHIP_SECONDS = 0.1
#: Cap on the output kept as the run's `logs/std_log.txt` (the live log keeps all of it).
LOG_ARTIFACT_MAX = 32 * 1024 * 1024
#: Set on a worker to make its jobs reach the workspace only through its URL (tests, and nodes
#: that share a file system but should not open its database).
URL_ONLY_ENV = "MLWS_NODE_USE_URL"

_lock = threading.Lock()
_workspaces: dict[str, NodeWorkspace] = {}


def open_workspace(where: dict[str, Any]) -> NodeWorkspace:
    """The workspace as this node reaches it (kept open for the worker's next jobs)."""
    key = json.dumps(where, sort_keys=True) + os.environ.get(URL_ONLY_ENV, "")
    with _lock:
        found = _workspaces.get(key)
        if found is None:
            found = _workspaces[key] = _open_workspace(where)
        return found


class NodeWorkspace:
    """The workspace's stores as a node reaches them (store-level parts only: the job engine sits
    below the client)."""

    def __init__(self, where: dict[str, Any], use_url: bool) -> None:
        from ..location import resolve_location

        self.where = where
        if use_url:
            from ..store.rest_artifacts import RestArtifactStore
            from ..store.rest_connect import connect

            self.location = resolve_location(where["url"])
            self.store = connect(self.location.store_url, token=where.get("token"))
            self.artifacts = RestArtifactStore(self.store)
        else:
            from ..store.artifacts import open_artifact_store
            from ..store.factory import open_store

            self.location = resolve_location(
                store_url=where["store_url"], artifact_url=where.get("artifact_url")
            )
            self.store = open_store(self.location.store_url)
            self.artifacts = open_artifact_store(self.location.artifact_url)
        self.is_remote = use_url

    def upload(self, run_id: str, path: Path, name: str) -> None:
        """Store a file as an artifact of the run and record it."""
        from ..entities import ArtifactRecord

        info = self.artifacts.put_file(run_id, path, name)
        self.store.record_artifact(run_id, ArtifactRecord(info.path, info.size, info.sha256))

    def upload_folder(self, run_id: str, folder: Path, prefix: str) -> None:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.upload(run_id, file, f"{prefix}/{file.relative_to(folder).as_posix()}")


def _open_workspace(where: dict[str, Any]) -> NodeWorkspace:
    """Direct stores when usable here, else the URL."""
    direct = where.get("store_url")
    if direct and not os.environ.get(URL_ONLY_ENV) and _reachable(direct):
        return NodeWorkspace(where, use_url=False)
    if where.get("url"):
        return NodeWorkspace(where, use_url=True)
    if direct:
        return NodeWorkspace(where, use_url=False)
    raise RuntimeError("the job names no workspace this node can reach")


def _reachable(store_url: str) -> bool:
    """A SQLite file must exist on this machine; a database server is reached by its URL."""
    if not store_url.startswith("sqlite"):
        return True
    path = store_url.split(":///", 1)[-1]
    return os.path.exists(path)


class LogShipper:
    """Collects a process's output and appends it to the job's log in the store, in batches."""

    def __init__(self, store: Any, job_id: str, attempt: int) -> None:
        self.store = store
        self.job_id = job_id
        self.attempt = attempt
        self.pending: list[tuple[int, str, str, int]] = []
        self.kept: list[str] = []
        self.kept_bytes = 0
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.closed = False
        self._closing = threading.Event()  # ends the gathering pause at once: close() waits on no timer
        self.thread = threading.Thread(target=self._ship_loop, daemon=True, name="mlws-job-logs")
        self.thread.start()

    def add(self, stream: str, text: str) -> None:
        with self.lock:
            self.pending.append((self.attempt, stream, text, int(time.time() * 1000)))
            if self.kept_bytes < LOG_ARTIFACT_MAX:
                self.kept.append(text)
                self.kept_bytes += len(text)
        self.wake.set()

    def pump(self, pipe: Any, stream: str) -> None:
        for raw in iter(pipe.readline, b""):
            self.add(stream, raw.decode("utf-8", errors="replace"))
        pipe.close()

    def _ship_loop(self) -> None:
        while True:
            self.wake.wait(timeout=1.0)
            self.wake.clear()
            if not self.closed:
                self._closing.wait(SHIP_SECONDS / 2)  # gather what arrives together into one write
            self._ship()
            if self.closed:
                self._ship()
                return

    def _ship(self) -> None:
        with self.lock:
            batch, self.pending = self.pending, []
        if batch:
            try:
                self.store.append_job_logs(self.job_id, _merge(batch))
            except Exception as err:  # the live log is best effort; the artifact keeps the text
                print(f"jupyter_mlws: job {self.job_id}: could not ship output: {err}", file=sys.stderr)

    def close(self) -> None:
        self.closed = True
        self._closing.set()
        self.wake.set()
        self.thread.join(timeout=10)

    def text(self) -> str:
        with self.lock:
            return "".join(self.kept)


def _merge(batch: list[tuple[int, str, str, int]]) -> list[tuple[int, str, str, int]]:
    """Join consecutive lines of the same stream into one chunk (fewer rows, same text)."""
    merged: list[tuple[int, str, str, int]] = []
    for item in batch:
        if merged and merged[-1][1] == item[1] and len(merged[-1][2]) < 64_000:
            last = merged[-1]
            merged[-1] = (last[0], last[1], last[2] + item[2], last[3])
        else:
            merged.append(item)
    return merged
