"""The per-process background finalizer: the slow half of ending a run, off the user's cell.

Called by `%%mlrun` (`notebook/mlrun.py`), which opens its run synchronously
and hands everything else (the log artifact, the cell source, `--log-vars`,
the environment, the snapshot and the final status) to `submit`; by
`Workspace.settle` and every read of the Python API, which wait here for the
pending work of a run ("read your writes"); and by `client/lifecycle.py`,
which drains it at exit and on SIGTERM.

Decisions:
- One daemon thread per process, started on first use, working a FIFO queue:
  jobs of one run stay in order, and a kernel never has more than one extra
  thread for this, whatever the number of cells.
- `settle(run_id)` waits only for that run's jobs; `settle()` for all. On the
  finalizer thread itself it returns at once (a job that reads its own run
  must not wait for itself). With nothing pending it costs a dict lookup.
- A job may carry an `abandon` callable: when a bounded `drain` (exit,
  SIGTERM) runs out of time, jobs that had not finished get it called from
  the draining thread, so their run still reaches its terminal status (the
  job's `end` is the one part that must never be lost; a snapshot may be).
- Tickers (`every`) run on the same thread between jobs: the live log of a
  running `%%mlrun` cell is rewritten by one, at most once per period.
- Delayed jobs (`submit(..., delay=...)`, a `%%mlrun` cell's ending) give way
  to the kernel's cells: the notebook session calls `cell_started` and
  `cell_ended` around every cell the user runs, and such a job starts only
  once no cell has run for `delay` seconds; between its steps it calls
  `give_way`, which waits the same way. Why: the finalizer thread and the
  kernel share the GIL, and a thread that wants it back (the kernel waking
  for the next execute request, its IOPub thread, every return from a socket
  write or an SQLite call) waits up to the switch interval (5 ms) while the
  other one runs Python. Cells sent back to back (Run All) let the previous
  cells' endings run beside them: +6 to +12 ms per cell on 2 cores, against
  +4 ms for cells run by hand. Three limits keep the endings from waiting
  without end: a cell that has run `LONG_CELL_SECONDS` no longer holds them
  back (a few ms of the GIL are then a small part of it, and nothing at all
  when it computes outside the GIL); when the work waiting is estimated over
  `BACKLOG_SECONDS` (the mean time of the last delayed jobs times their
  number), they run at once, so a drain at exit (`client/lifecycle.py`, 5 s)
  still finishes them; and `settle` or `drain` starts them at once, as before.
  The order of the work, what it writes and the status it sets are unchanged;
  only when it runs is (a ticker due while a job waits in `give_way` runs
  after that job, as it always did: at most about `LONG_CELL_SECONDS` late).
- A job's exception is never raised anywhere: jobs record their own problems
  (in the run's log); a stray one is logged to the `jupyter_mlws` logger.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

SETTLE_SECONDS = 60.0
#: A cell that has run this long no longer holds delayed jobs back (see the module docstring).
LONG_CELL_SECONDS = 1.0
#: Delayed jobs stop giving way once the work waiting is estimated above this: half of the
#: drain at exit (`lifecycle.EXIT_DRAIN_SECONDS`), so that drain still finishes it.
BACKLOG_SECONDS = 2.5
#: The first estimate of a delayed job's time, before one has run.
FIRST_JOB_SECONDS = 0.05

_log = logging.getLogger("jupyter_mlws")


class _Job:
    __slots__ = ("abandon", "delay", "done", "fn", "not_before", "run_id")

    def __init__(
        self, run_id: str | None, fn: Callable[[], Any], abandon: Callable[[], Any] | None, delay: float
    ) -> None:
        self.run_id = run_id
        self.fn = fn
        self.abandon = abandon
        self.done = False
        self.delay = delay
        self.not_before = time.monotonic() + delay


class Ticker:
    """A callable run every `period` seconds on the finalizer thread until `cancel()`."""

    def __init__(self, owner: Finalizer, period: float, fn: Callable[[], Any]) -> None:
        self._owner = owner
        self.period = period
        self.fn = fn
        self.due = time.monotonic() + period
        self.cancelled = False

    def cancel(self) -> None:
        """Stop calling `fn` (a call in progress finishes)."""
        self.cancelled = True
        self._owner._drop_ticker(self)


class Finalizer:
    """A FIFO of jobs and tickers worked by one daemon thread (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: a SIGTERM handler may drain while main holds it
        self._wake = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._queue: deque[_Job] = deque()
        self._pending: dict[str | None, int] = {}
        self._current: _Job | None = None
        self._tickers: list[Ticker] = []
        self._thread: threading.Thread | None = None
        self._waiters = 0  # threads in `settle`: delayed jobs do not wait while someone does
        # the kernel's cells (`cell_started` / `cell_ended`, written by the kernel's main thread only)
        self._cells = 0  # cells running now (a cell may run others: `run_cell` inside a cell)
        self._cell_started = 0.0  # time.monotonic() when the outermost running cell started
        self._cell_ended = 0.0  # ... when the last one ended
        self._job_seconds = FIRST_JOB_SECONDS  # recent mean time of a delayed job, pauses left out
        self._paused = 0.0  # seconds the current job has waited in `give_way`

    # ----- called from user threads -----------------------------------------
    def submit(
        self,
        run_id: str | None,
        fn: Callable[[], Any],
        *,
        abandon: Callable[[], Any] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Queue `fn` (work for `run_id`); `abandon` is called instead if a drain gives up on it.

        With `delay`, the job waits that long before it starts, and gives way to the
        kernel's cells (it starts once none has run for `delay` seconds; see the module
        docstring), unless someone settles first (then it starts at once): `%%mlrun`
        lets the kernel answer its cells before its background work competes with them
        for the GIL.
        """
        job = _Job(run_id, fn, abandon, delay)
        with self._lock:
            self._queue.append(job)
            self._pending[run_id] = self._pending.get(run_id, 0) + 1
            self._ensure_thread()
            self._wake.notify()

    def every(self, period: float, fn: Callable[[], Any]) -> Ticker:
        """Call `fn` every `period` seconds on the finalizer thread until the ticker is cancelled."""
        ticker = Ticker(self, period, fn)
        with self._lock:
            self._tickers.append(ticker)
            self._ensure_thread()
            self._wake.notify()
        return ticker

    def cell_started(self) -> None:
        """A cell of the kernel starts: delayed jobs give way to it (main thread only)."""
        if self._cells == 0:
            self._cell_started = time.monotonic()  # before the count: the thread reads them in turn
        self._cells += 1

    def cell_ended(self) -> None:
        """A cell of the kernel ended: delayed jobs start once the kernel has been quiet a while."""
        if self._cells > 0:
            self._cells -= 1
        if self._cells == 0:
            self._cell_ended = time.monotonic()
            if self._queue:
                with self._lock:
                    self._wake.notify()  # its wait was for the cell to turn long: wait less now

    def give_way(self) -> None:
        """Called by a delayed job between its steps: wait while the kernel's cells have the way.

        On any thread but the finalizer's (a drain abandoning the job) it returns at once.
        """
        job = self._current
        if job is None or job.delay <= 0 or threading.current_thread() is not self._thread:
            return
        started = time.monotonic()
        with self._lock:
            while True:
                now = time.monotonic()
                start_at = self._start_at(job, now)
                if start_at <= now:
                    break
                self._wake.wait(start_at - now)
        self._paused += time.monotonic() - started

    def pending(self, run_id: str | None = None) -> int:
        """How many jobs (of `run_id`, or in all) are queued or running."""
        with self._lock:
            if run_id is None:
                return sum(self._pending.values())
            return self._pending.get(run_id, 0)

    def settle(self, run_id: str | None = None, timeout: float = SETTLE_SECONDS) -> bool:
        """Wait until the pending jobs (of `run_id`, or all) are done; False if `timeout` passed first."""
        pending = self._pending
        if not pending or (run_id is not None and run_id not in pending):
            return True
        if threading.current_thread() is self._thread:
            return True
        deadline = time.monotonic() + timeout
        with self._lock:
            self._waiters += 1
            self._wake.notify()  # a delayed job starts now: someone is waiting for it
            try:
                while pending if run_id is None else run_id in pending:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    if self._thread is None or not self._thread.is_alive():
                        self._ensure_thread()
                    self._settled.wait(min(left, 0.5))
            finally:
                self._waiters -= 1
        return True

    def drain(self, timeout: float) -> bool:
        """Wait at most `timeout` for every job; then call `abandon` of each unfinished job.

        Returns True when everything finished in time. Called at exit and on
        SIGTERM (see `client/lifecycle.py`); safe to call more than once.
        """
        finished = self.settle(None, timeout)
        if finished:
            return True
        with self._lock:
            left = list(self._queue)
            self._queue.clear()
            if self._current is not None and not self._current.done:
                left.insert(0, self._current)
        for job in left:
            self._finish(job)
            if job.abandon is not None:
                try:
                    job.abandon()
                except Exception:
                    _log.debug("abandoning finalizer work of run %s failed", job.run_id, exc_info=True)
        return False

    # ----- internals ---------------------------------------------------------
    def _drop_ticker(self, ticker: Ticker) -> None:
        with self._lock:
            if ticker in self._tickers:
                self._tickers.remove(ticker)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="mlws-finalizer", daemon=True)
            self._thread.start()

    def _finish(self, job: _Job) -> None:
        with self._lock:
            if job.done:
                return
            job.done = True
            count = self._pending.get(job.run_id, 0) - 1
            if count > 0:
                self._pending[job.run_id] = count
            else:
                self._pending.pop(job.run_id, None)
            self._settled.notify_all()

    def _start_at(self, job: _Job, now: float) -> float:
        """When `job` may start, or go on after a step (see the module docstring)."""
        if self._waiters > 0:
            return now  # someone waits for it
        if job.delay <= 0:
            return job.not_before
        if len(self._queue) * self._job_seconds > BACKLOG_SECONDS:
            return job.not_before  # too much waiting already: no more giving way
        if self._cells > 0:
            return max(job.not_before, self._cell_started + LONG_CELL_SECONDS)
        return max(job.not_before, self._cell_ended + job.delay)

    def _next(self) -> tuple[_Job | None, list[Ticker]]:
        with self._lock:
            while True:
                now = time.monotonic()
                due = [t for t in self._tickers if t.due <= now]
                start_at = self._start_at(self._queue[0], now) if self._queue else None
                ready = start_at is not None and start_at <= now
                if ready or due:
                    job = self._queue.popleft() if ready else None
                    self._current = job
                    return job, due
                wake_at = [t.due for t in self._tickers]
                if start_at is not None:
                    wake_at.append(start_at)
                wait = min(wake_at, default=now + 5.0) - now
                self._wake.wait(max(wait, 0.005))

    def _loop(self) -> None:
        while True:
            job, due = self._next()
            for ticker in due:
                ticker.due = time.monotonic() + ticker.period
                if not ticker.cancelled:
                    self._call(ticker.fn, None)
            if job is not None:
                if not job.done:
                    self._paused = 0.0
                    started = time.monotonic()
                    self._call(job.fn, job.run_id)
                    if job.delay > 0:  # the estimate behind BACKLOG_SECONDS
                        worked = time.monotonic() - started - self._paused
                        self._job_seconds = 0.7 * self._job_seconds + 0.3 * worked
                self._finish(job)
                with self._lock:
                    self._current = None

    @staticmethod
    def _call(fn: Callable[[], Any], run_id: str | None) -> None:
        try:
            fn()
        except Exception:
            _log.warning("background work of run %s failed", run_id, exc_info=True)


_finalizer = Finalizer()


def get() -> Finalizer:
    """The process's finalizer."""
    return _finalizer


def submit(
    run_id: str | None, fn: Callable[[], Any], *, abandon: Callable[[], Any] | None = None, delay: float = 0.0
) -> None:
    """Queue work for `run_id` on the process's finalizer (see `Finalizer.submit`)."""
    _finalizer.submit(run_id, fn, abandon=abandon, delay=delay)


def give_way() -> None:
    """Between the steps of a delayed job: wait while the kernel's cells have the way."""
    _finalizer.give_way()


def settle(run_id: str | None = None, timeout: float = SETTLE_SECONDS) -> bool:
    """Wait for the process's pending finalizer work (see `Finalizer.settle`)."""
    return _finalizer.settle(run_id, timeout)


def drain(timeout: float) -> bool:
    """Bounded wait for all finalizer work, abandoning what is left (see `Finalizer.drain`)."""
    return _finalizer.drain(timeout)
