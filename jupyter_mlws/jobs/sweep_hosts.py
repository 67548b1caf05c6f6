"""The sweep driver's warm trial processes, one per slot (`jobs/trial_host.py` is the node's side).

Who uses it: `SweepDriver` (`jobs/sweep_driver.py`) for a sweep whose trial is a function (or a
`%%mlsweep` cell) unless `reuse_processes=False`. Up to `max_concurrent_trials` hosts are started
as Dask tasks on the sweep's cluster (`trial_host.hold`, with the trial's resources: Dask places them
and adaptive scaling sees them); each runs trial after trial. A trial is handed over and waited for
through `Client.run` on the host's worker (a call, not a task: ~1 ms), in a thread per trial, which
announces the trial's job when it ended (`notice`), so the driver wakes at once.

- `idle()`: a ready host with no trial, else None — and while fewer hosts than wanted are alive, one
  more is started in the background; a host that could not start is returned once as a `Failed`
  slot, so the driver ends a trial `failed` with that reason instead of waiting forever;
- `run(slot, order)`: hand a trial to it; None, or why it could not;
- `close()`: let every host go (their processes exit, their slots free up) and forget the tasks.
A host whose process died (a stopped trial: its process is killed) is dropped; the next trial gets a
new one. Hosts are not counted in the dispatcher's hand-over limit (`JobDispatcher._dispatch`): a
job submitted while a sweep holds the cluster's slots waits in Dask's queue for one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import notice, trial_host

#: How often a starting host is looked for on the workers.
READY_POLL_S = 0.02
#: The longest one wait for a trial's end lasts in the worker (the thread then asks again).
WAIT_S = 2.0


@dataclass
class Slot:
    id: str
    future: Any
    address: str | None = None
    pid: int | None = None
    ready: bool = False
    busy: bool = False
    gone: bool = False


@dataclass
class Failed:
    """A host that could not start: the trial that would have used it fails with `error`."""

    error: str


class HostPool:
    def __init__(
        self,
        client: Any,
        spec: dict[str, Any],
        resources: dict[str, float] | None,
        wanted: int,
        wake_key: str,
    ) -> None:
        self.client = client
        self.spec = spec
        self.resources = resources or None
        self.wanted = wanted
        self.wake_key = wake_key  # announced when a host is ready or gone: the driver looks again
        self.slots: list[Slot] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.closed = False

    # ----- hosts -------------------------------------------------------------------------------
    def idle(self) -> Slot | Failed | None:
        with self.lock:
            if self.failures:
                return Failed(self.failures.pop(0))
            self.slots = [s for s in self.slots if not s.gone]
            for slot in self.slots:
                if slot.ready and not slot.busy:
                    slot.busy = True
                    return slot
            if len(self.slots) < self.wanted and not self.closed:
                self._launch()
        return None

    def _launch(self) -> None:
        host_id = uuid.uuid4().hex
        future = self.client.submit(
            trial_host.hold,
            host_id,
            self.spec,
            key=f"mlws-trials-{host_id}",
            resources=self.resources,
            pure=False,
        )
        slot = Slot(host_id, future)
        self.slots.append(slot)
        threading.Thread(target=self._until_ready, args=(slot,), daemon=True, name="mlws-trial-host").start()

    def _until_ready(self, slot: Slot) -> None:
        error: str | None = None
        while not self.closed:
            if slot.future.done():
                error = _why(slot.future)
                break
            try:
                found = self.client.run(trial_host.hosts_here, [slot.id], on_error="return")
            except Exception:
                found = {}
            state = next(
                (
                    (address, got[slot.id])
                    for address, got in (found or {}).items()
                    if isinstance(got, dict) and slot.id in got
                ),
                None,
            )
            if state is not None and state[1]["state"] == "ready":
                with self.lock:
                    slot.address, slot.pid, slot.ready = state[0], state[1]["pid"], True
                break
            if state is not None and state[1]["state"] == "gone":
                error = state[1].get("error") or "the trial process ended before it was ready"
                break
            time.sleep(READY_POLL_S)
        if error is not None:
            with self.lock:
                slot.gone = True
                if not self.closed:
                    self.failures.append(error)
        notice.announce(self.wake_key)

    # ----- trials ------------------------------------------------------------------------------
    def run(self, slot: Slot, order: dict[str, Any], on_end: Callable[[], None]) -> str | None:
        """Hand `order` ({n, run_id, job_id, attempt, kwargs}) to the slot's host; None, or why not."""
        try:
            refused = self.client.run(
                trial_host.start_trial, slot.id, order, workers=[slot.address], on_error="return"
            ).get(slot.address, "its worker did not answer")
        except Exception as err:
            refused = f"{type(err).__name__}: {err}"
        if refused is not None:
            with self.lock:
                slot.gone, slot.busy = True, False
            return str(refused)
        threading.Thread(
            target=self._wait, args=(slot, int(order["n"]), on_end), daemon=True, name="mlws-trial-wait"
        ).start()
        return None

    def _wait(self, slot: Slot, n: int, on_end: Callable[[], None]) -> None:
        state = "gone"
        while not self.closed:
            try:
                got = self.client.run(
                    trial_host.wait_trial, slot.id, n, WAIT_S, workers=[slot.address], on_error="return"
                )
            except Exception:
                got = {}
            answer = (got or {}).get(slot.address)
            if isinstance(answer, dict):
                state = str(answer.get("state"))
                break
            if answer is None and slot.address in (got or {}) and not slot.future.done():
                continue  # still running
            break  # its worker is gone or did not answer: the dispatcher sees the node lost
        with self.lock:
            slot.busy = False
            if state != "completed" and state != "failed":
                slot.gone = True  # its process was killed (a stop, a cancel, a timeout) or died
        on_end()
        notice.announce(self.wake_key)

    def close(self) -> None:
        """Let every host go; a host still starting is canceled."""
        with self.lock:
            self.closed = True
            slots, self.slots = self.slots, []
        for slot in slots:
            if slot.address is not None and not slot.gone:
                try:
                    self.client.run(trial_host.release, slot.id, workers=[slot.address], on_error="return")
                except Exception:
                    pass
            elif not slot.future.done():
                # not seen ready: Dask cannot stop a task that runs, so every worker is told to let
                # it go — now if it is there, or as soon as it has started (else it would hold its
                # slot, and its node's CPU, for good)
                try:
                    self.client.run(trial_host.release, slot.id, on_error="return")
                except Exception:
                    pass
                try:
                    slot.future.cancel()
                except Exception:
                    pass


def _why(future: Any) -> str:
    try:
        error = future.exception(timeout=1)
    except Exception as err:  # canceled, or the scheduler is gone
        return f"the trial process did not start: {type(err).__name__}: {err}"
    if error is not None:
        return str(error) or type(error).__name__
    try:
        result = future.result(timeout=1)
    except Exception as err:
        return f"the trial process did not start: {err}"
    return str((result or {}).get("error") or "the trial process ended before it was ready")
