"""What the batch driver (`jobs/batch.py`) watches while its mini-batches run: the futures that
finished, the mini-batches past their timeout, and which models a cluster loaded lately.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any


class Timeouts:
    """Which of our mini-batches run past the timeout: seen executing on a worker (what the workers
    say they execute, not the scheduler's `processing`, which also holds the tasks queued on a
    worker behind others) for longer than `seconds`. The future is canceled and its worker restarted
    (Dask runs that worker's other tasks again elsewhere; their answers still count once)."""

    def __init__(self, client: Any, seconds: float, say: Callable[[str, str], None]) -> None:
        self.client = client
        self.say = say
        self.seconds = seconds
        self.seen: dict[str, tuple[float, str]] = {}
        self._last = 0.0
        self._restarting: list[threading.Thread] = []

    def expired(self, futures: dict[Any, int]) -> list[tuple[Any, str]]:
        now = time.monotonic()
        # checked every tenth of the timeout (0.5 s to 3 s): each look asks every worker
        if self.seconds <= 0 or now - self._last < min(max(self.seconds / 10, 0.5), 3.0) or not futures:
            return []
        self._last = now
        try:
            from .batch_work import executing

            running = self.client.run(executing, on_error="return")
        except Exception:
            return []
        where = {key: worker for worker, keys in running.items() if isinstance(keys, list) for key in keys}
        out = []
        for future in list(futures):
            worker = where.get(future.key)
            if worker is None:
                self.seen.pop(future.key, None)
                continue
            first = self.seen.setdefault(future.key, (now, worker))
            if first[1] != worker:
                self.seen[future.key] = (now, worker)
            elif now - first[0] > self.seconds:
                future.cancel()
                self._restart(worker)
                out.append((future, f"timed out after {self.seconds:g} s on {worker}"))
        return out

    def _restart(self, worker: str) -> None:
        def restart() -> None:
            try:
                self.client.restart_workers([worker], timeout=60, raise_for_error=False)
            except Exception as err:
                self.say("stderr", f"batch: could not restart {worker}: {err}\n")

        thread = threading.Thread(target=restart, daemon=True, name="mlws-batch-restart")
        thread.start()
        self._restarting.append(thread)

    def close(self) -> None:
        for thread in self._restarting:
            thread.join(timeout=30)


def drain(finished: queue.Queue[Any], wait: float) -> list[Any]:
    """The futures that finished: the first within `wait` seconds, and all others already there."""
    try:
        done = [finished.get(timeout=wait)]
    except queue.Empty:
        return []
    while True:
        try:
            done.append(finished.get_nowait())
        except queue.Empty:
            return done


#: (scheduler, model, version) -> when a worker of that scheduler last loaded the model for a batch.
CHECKED: dict[tuple[str, str, int], float] = {}
#: A model that loaded on the cluster this recently is not checked again before the next batch.
CHECK_SECONDS = 60.0


def check_key(client: Any, model: dict[str, Any]) -> tuple[str, str, int]:
    return (str(client.scheduler.address), str(model["name"]), int(model["version"]))


def checked_lately(client: Any, model: dict[str, Any]) -> bool:
    when = CHECKED.get(check_key(client, model))
    return when is not None and time.monotonic() - when < CHECK_SECONDS
