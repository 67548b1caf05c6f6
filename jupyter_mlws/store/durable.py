"""The REST store of a workspace URL that never loses or hides a point (issue 14, item 2).

Who uses it: `Workspace` opens it for an `http(s)://` workspace (`store.rest.connect`); the
batching metric logger (`client/logger.py`) and `log_param`/`set_tag`/`run.end` write through it.

What it adds to `RestStore`:
- Every batch gets its id before the first try. A batch the server cannot take now (connection
  refused, timeouts, 502/503/504 past `LIVE_RETRY_SECONDS`) goes to the spool (`store/spool.py`)
  before the call returns; while anything waits there, later batches queue behind it, so the
  server receives them in order. A background thread delivers the spool as soon as the server
  answers (each batch under its id: applied at most once, no duplicate, no gap). A run's own
  ending (`end_run`) queues the same way, after its batches.
- At exit (after the metric logger's last flush; bounded by `EXIT_SECONDS` in all) it keeps
  delivering; whatever still waits stays on disk and one line on stderr says how many points,
  where, and how to send them (`jupyter mlws sync`, which any later client of the workspace
  also does by itself when it opens).
- A full spool raises `SpoolFull` from the call (the logger turns it into the error of the next
  `log_metric`/`flush`), or, with `$MLWS_SPOOL_FULL=block`, waits for room; the points refused
  are counted per run, and a small note queued past the cap gives the run the tag
  `mlws.refused_points` once the server has it.
- A run the server ended for us (`RunEnded`, 409) is reported once per run by the logger; the
  spool counts such refusals too and says so when it delivers.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import Metric, RunInfo, RunStatus
from ..errors import Unavailable
from .base import now_ms
from .rest import PreparedBatch, RestStore
from .spool import (
    Delivery,
    Segment,
    SpoolFull,
    deliver_orphans,
    max_spool_bytes,
    send_record,
    spool_folder,
    waiting_points,
)

#: How long a live batch is retried before it goes to the spool.
LIVE_RETRY_SECONDS = 2.0
#: How long the process may spend at exit delivering what waits (then it is left on disk).
EXIT_SECONDS = 7.0
SPOOL_FULL_ENV = "MLWS_SPOOL_FULL"
REFUSED_TAG = "mlws.refused_points"

_LIVE: weakref.WeakSet[DurableRestStore] = weakref.WeakSet()


class DurableRestStore(RestStore):
    """`RestStore` with a disk spool for what the server cannot take now (module docstring)."""

    def __init__(self, url: str, token: str | None = None, **options: Any) -> None:
        super().__init__(url, token, **options)
        self.live_retry_seconds = LIVE_RETRY_SECONDS
        self.spool_folder = spool_folder(self.url)
        self._segment = Segment(self.spool_folder, max_spool_bytes())
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._refused: dict[str, int] = {}  # run id -> points refused because the spool was full
        self._closed = False
        self._finishing = False  # the exit's delivery has begun: the background thread stands down
        self.delivered = Delivery()  # what this process delivered from the spool (for tests, sync)
        _LIVE.add(self)

    # ----- writes ------------------------------------------------------------------------------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        taken_ms: int | None = None,
    ) -> bool:
        prepared = self.prepare_batch(metrics, params, tags)
        batch_id = batch_id or uuid.uuid4().hex
        taken = now_ms() if taken_ms is None else int(taken_ms)
        with self._lock:
            if not self._segment.waiting:
                try:
                    return self.send_batch(run_id, prepared, batch_id, taken, self.live_retry_seconds)
                except Unavailable:
                    pass
            self._queue(_batch_record(run_id, prepared, batch_id, taken))
            return True

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        name: str | None = None,
        status_reason: str | None = None,
    ) -> RunInfo:
        ending = status is not None and RunStatus.parse(status).is_terminal and name is None
        if not ending:
            return super().update_run(
                run_id, status=status, end_time=end_time, name=name, status_reason=status_reason
            )
        assert status is not None
        end = now_ms() if end_time is None else int(end_time)
        with self._lock:
            if not self._segment.waiting:
                try:
                    return self.deliver_end(run_id, RunStatus.parse(status).value, end, status_reason)
                except Unavailable:
                    pass
            record = {"op": "end", "run": run_id, "status": RunStatus.parse(status).value}
            self._queue({**record, "end_time": end, "reason": status_reason})
        return RunInfo(run_id, -1, "", RunStatus.parse(status), None, end, None, status_reason=status_reason)

    def heartbeat(self, run_id: str, time_ms: int | None = None) -> RunStatus:
        try:
            return super().heartbeat(run_id, time_ms)
        except Unavailable:
            return RunStatus.RUNNING  # the lease is the server's to judge when it is back

    # ----- the spool ---------------------------------------------------------------------------
    def _queue(self, record: dict[str, Any]) -> None:
        """Append to the spool (under the lock); a full spool raises, or blocks when asked to."""
        blocking = os.environ.get(SPOOL_FULL_ENV, "").strip().lower() == "block"
        while True:
            try:
                self._segment.append(record, self.url)
                break
            except SpoolFull:
                if not blocking or self._closed:
                    self._note_refused(record)
                    raise
                self._wake.notify_all()
                self._wake.wait(1.0)
                self._deliver_locked()
        self._ensure_thread()
        self._wake.notify_all()

    def waiting(self) -> int:
        """Operations of this process that wait in the spool."""
        with self._lock:
            return self._segment.waiting

    def deliver(self) -> Delivery:
        """Try to deliver what this process spooled (in order); what the server refuses is counted."""
        with self._lock:
            return self._deliver_locked()

    def _deliver_locked(self) -> Delivery:
        done = self._segment.deliver(lambda record: send_record(self, record))
        self.delivered.add(done)
        if done.refused:
            _report_refused(self.url, done)
        self._wake.notify_all()
        return done

    def _note_refused(self, record: dict[str, Any]) -> None:
        """Count the points a full spool refused; the run's tag `mlws.refused_points` says how many
        (queued past the cap: a note this small must reach the server with the rest)."""
        run = str(record.get("run"))
        self._refused[run] = self._refused.get(run, 0) + len(record.get("columns", {}).get("key", ()))
        note = _batch_record(
            run, self.prepare_batch(tags={REFUSED_TAG: self._refused[run]}), uuid.uuid4().hex, now_ms()
        )
        self._segment.append(note, self.url, force=True)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._deliver_loop, name="mlws-spool", daemon=True)
            self._thread.start()

    def _deliver_loop(self) -> None:
        pause = 0.5
        with self._lock:
            while not self._closed and self._segment.waiting:
                self._wake.wait(pause)
                if self._closed or self._finishing:
                    return
                before = self._segment.waiting
                self._deliver_locked()
                pause = 0.5 if self._segment.waiting < before else min(pause * 2, 5.0)

    def start(self) -> None:
        """Called once the server accepted us (`connect`): deliver what dead processes left."""
        self._start_orphan_delivery()

    def _start_orphan_delivery(self) -> None:
        """What dead processes left for this workspace goes out in the background, once."""
        if not self.spool_folder.is_dir():
            return

        def work() -> None:
            done = deliver_orphans(self.spool_folder, lambda record: send_record(self, record))
            self.delivered.add(done)
            if done.refused:
                _report_refused(self.url, done)

        threading.Thread(target=work, name="mlws-spool-orphans", daemon=True).start()

    def finish(self, deadline: float) -> None:
        """At exit: deliver until `deadline`; then say, in one line, what waits and where. Once:
        a second call (`close` after the exit hook) returns at once. The background thread stops
        taking turns (each of its tries may take `live_retry_seconds`, which would push the
        process's exit past its bound, RELIABILITY K2); at most its try under way is waited for."""
        self._finishing = True
        with self._lock:
            if self._closed:
                return
            live = self.live_retry_seconds
            try:
                while self._segment.waiting and time.monotonic() < deadline:
                    before = self._segment.waiting
                    # No attempt outlasts the deadline: the process must end in time (RELIABILITY K2).
                    self.live_retry_seconds = max(0.0, min(live, deadline - time.monotonic()))
                    self._deliver_locked()
                    if self._segment.waiting and self._segment.waiting == before:
                        self._wake.wait(min(0.5, max(0.0, deadline - time.monotonic())))
            finally:
                self.live_retry_seconds = live
            self._closed = True
            self._wake.notify_all()
            left = self._segment.waiting
            self._segment.close()
        if left:
            points, lines = waiting_points(self.spool_folder)
            print(
                f"jupyter_mlws: {points:,} metric points ({lines} spooled writes) could not reach "
                f"{self.url} and wait in {self.spool_folder}; run `jupyter mlws sync` to send them "
                "(any new client of this workspace sends them too).",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        self.finish(time.monotonic() + EXIT_SECONDS)
        super().close()


def _batch_record(run_id: str, batch: PreparedBatch, batch_id: str, taken_ms: int) -> dict[str, Any]:
    return {
        "op": "batch",
        "run": run_id,
        "batch_id": batch_id,
        "taken_ms": taken_ms,
        "columns": {
            "key": batch.keys,
            "value": batch.values,
            "step": batch.steps,
            "timestamp": batch.timestamps,
        },
        "params": batch.params,
        "tags": batch.tags,
    }


def _report_refused(url: str, done: Delivery) -> None:
    for run_id, reason in done.refused.items():
        print(
            f"jupyter_mlws: {url} refused spooled data of run {run_id}: {reason}", file=sys.stderr, flush=True
        )


def finish_all(deadline: float) -> None:
    """At exit, after the metric loggers' last flush (`client/logger.finish_writes` calls this):
    every durable store delivers until `deadline` (monotonic), then says what still waits."""
    for store in list(_LIVE):
        store.finish(deadline)
