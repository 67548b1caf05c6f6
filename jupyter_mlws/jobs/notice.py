"""In-process notice that a job ended, so a `JobHandle.wait` in the dispatching process need not poll.

A dispatcher in this process (a script's, the CLI's, or the Jupyter server's) announces a job
id once the job's end is in the store: when the job's Dask task or batch driver is done, or
when the dispatcher itself ended the job (canceled, lost, failed to start). A waiter whose job
this process dispatches sleeps on the notice instead of reading the store every 20-50 ms: those
reads took CPU from the nodes of the same machine (about 0.1 s per 2.5 s batch on 2 cores). The
waiter still reads the store after each wake-up and at least every `FALLBACK_SECONDS`, so a
missed notice costs latency, never a wrong answer.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

#: The longest a waiter sleeps between two reads of the store, notice or not.
FALLBACK_SECONDS = 0.5
#: How many recent endings are remembered (a waiter that starts late still finds its job's).
KEEP = 1024

_ended: OrderedDict[str, int] = OrderedDict()
_changed = threading.Condition()
_count = 0  # announcements so far: `wait_any` waits for one after a count it saw


def count() -> int:
    """How many announcements there were so far (for `wait_any`)."""
    return _count


def announce(job_id: str) -> None:
    """The job's end (or its attempt's) is in the store: wake whoever waits for it."""
    global _count
    with _changed:
        _count += 1
        _ended[job_id] = _count
        _ended.move_to_end(job_id)
        while len(_ended) > KEEP:
            _ended.popitem(last=False)
        _changed.notify_all()


def wait(job_id: str, timeout: float) -> bool:
    """Sleep until `job_id` is announced (True) or `timeout` seconds passed (False).

    An announcement is consumed, so the next wait for the same job (its retry) sleeps again."""
    deadline = time.monotonic() + max(timeout, 0.0)
    with _changed:
        while job_id not in _ended:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _changed.wait(left)
        del _ended[job_id]
        return True


def wait_any(job_ids: set[str], after: int, timeout: float) -> int:
    """Sleep until one of `job_ids` is announced after the announcement count `after`, or `timeout`
    seconds passed; the count now. Nothing is consumed (a sweep's driver waits for any of its
    trials this way, while a `wait` for one of them still gets its notice)."""
    deadline = time.monotonic() + max(timeout, 0.0)
    with _changed:
        while not any(_ended.get(j, 0) > after for j in job_ids):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            _changed.wait(left)
        return _count
