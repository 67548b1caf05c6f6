"""The execution recorder: every cell a kernel runs, kept as a lightweight `CellExecution`.

Called by the extension's IPython event handlers (`notebook/session.py`):
`begin` from `pre_run_cell`, `end` from `post_run_cell`. `%mlws record on|off`
switches it for this notebook's kernel; `$MLWS_RECORD_EXECUTIONS=0` (exported
by the server when its setting is off) starts it switched off.

Decisions:
- The cell's own cost is two clock reads and a list append (target <= 1 ms
  per cell, measured in benchmarks/): no store, no validation, no object
  building in the user's thread. A daemon thread builds the `CellExecution`s
  and writes them with `store.record_executions`, every `FLUSH_SECONDS` or at
  `FLUSH_ITEMS` waiting, and at exit (bounded by `EXIT_SECONDS`).
- The store is opened lazily on that thread (the workspace of
  `$MLWS_WORKSPACE`, shared with `mlws.*`), so loading the extension at
  kernel start imports no SQLAlchemy.
- Only executions the user asked for are recorded: silent requests (the
  frontend's completions and inspectors) and `store_history=False` are not.
- A batch the store refuses or cannot take is kept and retried; past
  `MAX_WAITING` waiting items the oldest are dropped and counted, and each
  problem is logged once to the `jupyter_mlws` logger (the kernel's log),
  never printed into a user's cell.
- Status: `ok`; `error` with "Type: message" (SystemExit included);
  `interrupted` for KeyboardInterrupt.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from typing import Any

FLUSH_SECONDS = 1.0
FLUSH_ITEMS = 100
BATCH_MAX = 1000
MAX_WAITING = 10_000
EXIT_SECONDS = 5.0
RECORD_ENV = "MLWS_RECORD_EXECUTIONS"
ERROR_MAX = 2000

_log = logging.getLogger("jupyter_mlws")


def recording_wanted() -> bool:
    """The default from the environment: on unless `$MLWS_RECORD_EXECUTIONS` says 0/false/off/no."""
    value = os.environ.get(RECORD_ENV, "").strip().lower()
    return value not in ("0", "false", "off", "no")


def error_text(error: BaseException | None) -> str | None:
    """`Type: message` of an exception, cut to `ERROR_MAX` characters."""
    if error is None:
        return None
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:ERROR_MAX]


class ExecutionRecorder:
    """Collects cell executions and writes them in batches (see the module docstring)."""

    def __init__(self, *, enabled: bool | None = None, notebook_path: str | None = None) -> None:
        self.enabled = recording_wanted() if enabled is None else enabled
        self.notebook_path = notebook_path
        self.recorded = 0  # executions handed to the writer
        self.written = 0  # executions the store took
        self.dropped = 0
        self._started: list[tuple[int, int, str, str | None] | None] = []
        self._waiting: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle = threading.Condition(self._lock)
        self._writing = 0
        self._flush_requested = False
        self._thread: threading.Thread | None = None
        self._store: Any = None
        self._kernel_id: str | None = None
        self._problem_logged = False
        self._closed = False

    # ----- the cell's thread (keep cheap) --------------------------------------
    def begin(self, source: str, cell_id: str | None) -> None:
        """A cell starts (from `pre_run_cell`; cells run by cells nest)."""
        if self.enabled:
            self._started.append((time.time_ns() // 1_000_000, time.perf_counter_ns(), source, cell_id))
        else:
            self._started.append(None)

    def end(self, execution_count: int | None, error: BaseException | None, run_id: str | None) -> None:
        """The cell of the matching `begin` has finished (from `post_run_cell`)."""
        started = self._started.pop() if self._started else None
        if started is None or not self.enabled:
            return
        duration_ms = (time.perf_counter_ns() - started[1]) // 1_000_000
        item = (started[2], started[0], duration_ms, started[3], execution_count, error, run_id)
        with self._lock:
            self._waiting.append(item)
            self.recorded += 1
            if self._thread is None:
                self._start()
            if len(self._waiting) >= FLUSH_ITEMS:
                self._wake.notify()

    # ----- control -----------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> bool:
        """Write what is waiting now; True when nothing is left waiting within `timeout`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._thread is None and self._waiting:
                self._start()
            while self._waiting or self._writing:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._flush_requested = True
                self._wake.notify()
                self._idle.wait(min(left, 0.25))
        return True

    def close(self, timeout: float = EXIT_SECONDS) -> None:
        """Flush (bounded) and stop the writer thread."""
        try:
            self.flush(timeout)
        finally:
            with self._lock:
                self._closed = True
                self._wake.notify()

    # ----- the writer thread ---------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mlws-execution-recorder", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _loop(self) -> None:
        while True:
            with self._lock:
                deadline = time.monotonic() + FLUSH_SECONDS
                while not (self._closed or self._flush_requested or len(self._waiting) >= FLUSH_ITEMS):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._wake.wait(left)
                self._flush_requested = False
                batch = self._waiting[:BATCH_MAX]
                del self._waiting[:BATCH_MAX]
                self._writing = len(batch)
                closed = self._closed
            kept = self._write(batch) if batch else []
            with self._lock:
                if kept:
                    self._waiting[:0] = kept
                    overflow = len(self._waiting) - MAX_WAITING
                    if overflow > 0:
                        del self._waiting[:overflow]
                        self.dropped += overflow
                self._writing = 0
                self._idle.notify_all()
                if closed and (kept or not self._waiting):
                    return
            if kept:
                time.sleep(FLUSH_SECONDS)  # the store said no: retry later, do not spin

    def _executions(self, batch: list[tuple[Any, ...]]) -> list[Any]:
        from ..entities import CellExecution

        status_of = {KeyboardInterrupt: "interrupted"}
        made = []
        for source, start, duration, cell_id, count, error, run_id in batch:
            status = "ok" if error is None else status_of.get(type(error), "error")
            made.append(
                CellExecution(
                    source=source,
                    start_time=start,
                    duration_ms=duration,
                    status=status,
                    run_id=run_id,
                    notebook_path=self.notebook_path,
                    cell_id=cell_id,
                    execution_count=count,
                    kernel_id=self._kernel_id,
                    error=error_text(error),
                )
            )
        return made

    def _write(self, batch: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """Write a batch; returns what must be retried (empty when stored or refused for good)."""
        from ..errors import InvalidParameter, NotFound

        try:
            if self._store is None:
                self._open()
        except Exception as err:
            self._problem(f"cell executions are waiting, the workspace did not open: {err}")
            return batch
        try:
            self.written += self._store.record_executions(self._executions(batch))
            return []
        except (InvalidParameter, NotFound) as err:
            if len(batch) > 1:  # one bad item (e.g. a run deleted meanwhile) must not sink the rest
                return [kept for item in batch for kept in self._write([item])]
            self.dropped += 1
            self._problem(f"a cell execution was not recorded: {err}")
            return []
        except Exception as err:
            self._problem(f"cell executions are waiting, the store did not take them: {err}")
            return batch

    def _open(self) -> None:
        from ..client.fluent import default_workspace
        from ..client.owner import process_owner

        self._store = default_workspace().store
        self._kernel_id = process_owner()[2]

    def _problem(self, message: str) -> None:
        if not self._problem_logged:
            self._problem_logged = True
            _log.warning("mlws execution recorder: %s", message)
