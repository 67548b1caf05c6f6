"""A sweep survives a server restart (issue 18, item 2): the stopping server hands the sweep's job
back to the queue without ending its run; the next server's driver rebuilds the Optuna study from
the trials' runs, never runs a finished trial again, runs again the one the restart killed, and
finishes the grid."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.sweep import choice

from ..lab_server import start_lab
from .conftest import until

pytestmark = pytest.mark.timeout(300)


def marked(n: int) -> None:
    """A trial that leaves a mark per execution (the folder `$MARKS`), then takes 2 s."""
    import time
    from pathlib import Path

    import jupyter_mlws as mlws

    with open(Path(os.environ["MARKS"]) / f"{n}.txt", "a") as handle:
        handle.write("ran\n")
    time.sleep(2)
    mlws.log_metric("v", float(n), step=0)


def _runs(local: Any, sweep_run: str) -> list[Any]:
    table = local.store.search_runs(None, filter=f"tags.`mlws.sweep.id` = '{sweep_run}'", limit=100)
    return list(table.runs)


def test_a_server_restart_mid_sweep_resumes_without_repeating_a_finished_trial(tmp_path: Path) -> None:
    import jupyter_mlws as mlws

    root, state, marks = tmp_path / "root", tmp_path / "state", tmp_path / "marks"
    marks.mkdir()
    first = start_lab(root, state, app="server")
    try:
        ws = mlws.Workspace(first.url, token=first.token)
        ws.compute.create_cluster(
            "one", min_nodes=0, max_nodes=1, node={"cpus": 1}, idle_seconds_before_scaledown=60
        )
        sweep = ws.jobs.sweep(
            marked,
            search_space={"n": choice(0, 1, 2, 3)},
            objective="v",
            goal="maximize",
            sampling="grid",
            max_concurrent_trials=1,
            target="one",
            experiment="resume",
            environment_variables={"MARKS": str(marks)},
        )
        until(
            lambda: (
                sum(r.status == "completed" for r in _runs(ws, sweep.run_id)) >= 2
                and any(r.status == "running" for r in _runs(ws, sweep.run_id))
            ),
            120,
            "two trials completed and a third running",
        )
        finished_before = {r.run_id for r in _runs(ws, sweep.run_id) if r.status == "completed"}
    finally:
        first.stop()

    local = mlws.Workspace(str(root / ".mlws"))
    job = local.jobs.get(sweep.id).refresh()
    assert job.state == "queued" and job.attempt == 1 and job.owner is None, job
    assert "to be resumed" in (job.state_reason or "")
    assert local.get_run(sweep.run_id).status == "running"  # the sweep did not end with the server
    killed = [r for r in _runs(local, sweep.run_id) if r.status == "killed"]
    assert len(killed) == 1, [(r.run_id, r.status) for r in _runs(local, sweep.run_id)]

    second = start_lab(root, state, app="server")
    try:
        ws = mlws.Workspace(second.url, token=second.token)
        resumed = ws.jobs.get_sweep(sweep.run_id).wait(180)
        assert resumed.status == "completed"
        table = resumed.trials()
        done = table[table["status"] == "completed"]
        assert sorted(done["params.n"]) == [0, 1, 2, 3], table  # the whole grid, each point once
        assert finished_before <= set(done["run_id"])  # the runs finished before the restart count
        executions = {int(p.stem): p.read_text().count("ran") for p in marks.glob("*.txt")}
        again = int(local.get_run(killed[0].run_id).params["n"])
        assert executions == {n: 2 if n == again else 1 for n in range(4)}, executions
        assert resumed.best_run is not None and resumed.best_run.params["n"] == "3"
        assert ws.get_run(sweep.run_id).metrics["best_v"] == 3.0
    finally:
        second.stop()
