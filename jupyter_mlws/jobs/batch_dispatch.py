"""Where a batch job's driver (and a sweep's) runs: in a thread beside the dispatcher, not on a node.

Who calls it: `JobDispatcher._dispatch` for a job of kind "batch". Every other job is one Dask task
on a node; a batch job's driver (`jobs/batch.py`) is the one that hands mini-batches to the nodes,
and it must outlive any of them: a mini-batch past its timeout is stopped by restarting its worker
(a thread cannot be stopped), and a worker killed mid-batch only means Dask runs that worker's
mini-batches again. So the dispatcher runs the driver itself, in a thread, with its own Dask
client (already connected: no process to start, no import, no second connection — a batch's
fixed cost is a few tens of milliseconds).

An attempt is what `node.run_job` does for other jobs, with the same pieces: claim it (exactly
once), the run `running`, the driver's lines shipped to the job's log (`node_access.LogShipper`), then
`node._finish` uploads `outputs/` and the log and ends the run and the job. A cancel (`cancel`)
sets the driver's stop event: it cancels its mini-batches and ends `canceled`. A dispatcher that
stops does the same; the job is retried by the next dispatcher, as a job of a lost node is.

A sweep's driver (`jobs/sweep_driver.py`, its attempt `jobs/sweep_attempt.py`) runs here the
same way. A dispatcher that stops hands a sweep over instead (`handover`): its driver leaves
without ending anything, and the next dispatcher's driver resumes the sweep from its trials' runs.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..entities import RunStatus


class LocalTask:
    """A driver running in this process, with what the dispatcher asks of a Dask future."""

    local = True

    def __init__(self) -> None:
        self._future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.stop = threading.Event()
        self.reason: str | None = None
        self.handing_over = False

    def done(self) -> bool:
        return self._future.done()

    @property
    def status(self) -> str:
        if not self._future.done():
            return "pending"
        return "error" if self._future.exception() is not None else "finished"

    def exception(self) -> BaseException | None:
        return self._future.exception()

    def result(self) -> Any:
        return self._future.result()

    def cancel(self, reason: str = "canceled") -> bool:
        """Ask the driver to stop: its mini-batches are canceled, the attempt ends `canceled`."""
        if self.reason is None:
            self.reason = reason
        self.stop.set()
        return True

    def handover(self) -> None:
        """A sweep: stop driving without ending the sweep (the next dispatcher resumes it)."""
        self.handing_over = True
        self.stop.set()

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        self._future.add_done_callback(lambda _: callback(self))

    def wait(self, timeout: float) -> None:
        concurrent.futures.wait([self._future], timeout=timeout)


def start_driver(spec: dict[str, Any], client: Any, wake: Callable[[], None], hooks: Any = None) -> LocalTask:
    """Run the batch (or sweep) job's attempt `spec` in a thread of this process (the module
    docstring); `hooks` (a sweep's): how its driver asks the dispatcher for its trials' jobs."""
    task = LocalTask()

    def work() -> None:
        try:
            if spec["kind"] == "sweep":
                from .sweep_attempt import run_attempt as run_sweep

                task._future.set_result(run_sweep(spec, task, hooks))
                return
            task._future.set_result(run_attempt(spec, client, task))
        except BaseException as err:  # the dispatcher's `_reap` ends the job `failed` with it
            task._future.set_exception(err)
        finally:
            wake()

    threading.Thread(
        target=work, daemon=True, name=f"mlws-{spec['kind']}-driver-{spec['job_id'][:8]}"
    ).start()
    return task


def run_attempt(spec: dict[str, Any], client: Any, task: LocalTask) -> dict[str, Any]:
    """Claim the attempt, drive it, finish it as `node.run_job` finishes a job."""
    from ..errors import Conflict
    from . import node
    from .batch import BatchDriver

    workspace = node.open_workspace(spec["workspace"])
    store = workspace.store
    job_id, attempt, run_id = spec["job_id"], int(spec["attempt"]), spec["run_id"]
    try:
        store.update_job(
            job_id,
            expect={"state": "queued", "attempt": attempt},
            state="running",
            node=f"{node._node_name()} (batch driver)",
            started_time=int(time.time() * 1000),
        )
    except Conflict:
        return {"job_id": job_id, "attempt": attempt, "skipped": "not queued any more"}
    store.update_run(run_id, status=RunStatus.RUNNING)
    folder = Path(tempfile.mkdtemp(prefix=f"mlws-batch-{job_id[:8]}-"))
    shipper = node.LogShipper(store, job_id, attempt)
    try:
        (folder / "job").mkdir()
        driver = BatchDriver({**spec, **spec["batch"]}, folder, workspace, client, shipper.add, task.stop)
        try:
            code = driver.run()
        except Exception as err:
            shipper.add("stderr", f"batch: the driver failed: {type(err).__name__}: {err}\n")
            (folder / "job" / "error.txt").write_text(f"the batch driver failed: {type(err).__name__}: {err}")
            code = 1
        shipper.close()
        if task.stop.is_set():
            return node._finish(workspace, spec, folder, shipper, "canceled", None, task.reason or "canceled")
        state = "completed" if code == 0 else "failed"
        return node._finish(
            workspace, spec, folder, shipper, state, code, None if code == 0 else "the batch failed"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
