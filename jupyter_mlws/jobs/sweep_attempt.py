"""One attempt of a sweep's job: claim it, drive it (`SweepDriver`), finish it (issue 18).

Who calls it: `jobs/batch_dispatch.start_driver`, in a thread beside the dispatcher that took the
sweep's job. Like `node.run_job` for other jobs: the job is claimed exactly once and its run goes
`running`; the driver's lines go to the job's log (`LogShipper`); at the end the trials table
(`outputs/sweep_trials.csv`) is uploaded and the run and the job end (`node._finish`) — unless the
dispatcher is stopping, when the sweep is handed over without ending anything (the next
dispatcher's driver resumes it from its trials' runs).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..entities import RunStatus
from .sweep_driver import Hooks, SweepDriver


def run_attempt(spec: dict[str, Any], task: Any, hooks: Hooks) -> dict[str, Any]:
    """Claim the sweep's job, drive it, finish it (outputs, run and job ended) unless handed over."""
    import shutil
    import tempfile

    from ..errors import Conflict
    from . import node

    workspace = node.open_workspace(spec["workspace"])
    store = workspace.store
    job_id, attempt, run_id = spec["job_id"], int(spec["attempt"]), spec["run_id"]
    try:
        store.update_job(
            job_id,
            expect={"state": "queued", "attempt": attempt},
            state="running",
            node=f"{node._node_name()} (sweep driver)",
            started_time=int(time.time() * 1000),
        )
    except Conflict:
        return {"job_id": job_id, "attempt": attempt, "skipped": "not queued any more"}
    store.update_run(run_id, status=RunStatus.RUNNING)
    folder = Path(tempfile.mkdtemp(prefix=f"mlws-sweep-{job_id[:8]}-"))
    shipper = node.LogShipper(store, job_id, attempt)
    driver = SweepDriver(spec, workspace, hooks, task)
    try:
        (folder / "outputs").mkdir()
        try:
            state, reason = driver.run()
        except Exception as err:
            if task.handing_over:  # the dispatcher stopped under it: the next one resumes
                shipper.close()
                return {"job_id": job_id, "attempt": attempt, "handover": True}
            driver._cancel_running(f"the sweep's driver failed: {err}")
            state, reason = "failed", f"the sweep's driver failed: {type(err).__name__}: {err}"
            shipper.add("stderr", f"sweep: {reason}\n")
        if state == "handover":
            shipper.close()
            return {"job_id": job_id, "attempt": attempt, "handover": True}
        if task.stop.is_set() and state == "canceled":
            reason = task.reason or "canceled"
        try:
            write_table(driver, folder / "outputs")
        except Exception as err:
            shipper.add("stderr", f"sweep: the trials table was not written: {err}\n")
        shipper.add("stdout", f"sweep: {len(driver.trials)} trials, ended {state}\n")
        shipper.close()
        return node._finish(
            workspace, spec, folder, shipper, state, 0 if state == "completed" else None, reason
        )
    finally:
        if driver.pool is not None:
            driver.pool.close()
        shutil.rmtree(folder, ignore_errors=True)


def write_table(driver: SweepDriver, folder: Path) -> None:
    """`outputs/sweep_trials.csv`: one row per trial (number, run, state, value, values)."""
    import csv

    names = list(driver.space)
    with open(folder / "sweep_trials.csv", "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["trial", "run_id", "status", driver.objective, *names])
        for t in sorted(driver.trials, key=lambda t: t.number):
            try:
                state = driver.store.get_job(t.job_id).state
            except Exception:
                state = ""
            out.writerow(
                [
                    t.number,
                    t.run_id,
                    state,
                    "" if t.value is None else t.value,
                    *(t.values[n] for n in names),
                ]
            )
