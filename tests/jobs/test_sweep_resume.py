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


SCRIPT = """
import os, sys, time
import jupyter_mlws as mlws
from jupyter_mlws.sweep import choice


def marked(n):
    from pathlib import Path
    import jupyter_mlws as mlws

    with open(Path(os.environ["MARKS"]) / f"{n}.txt", "a") as handle:
        handle.write("ran\\n")
    time.sleep(2)
    mlws.log_metric("v", float(n), step=0)


if __name__ == "__main__":
    ws = mlws.Workspace("ws")
    ws.compute.create_cluster("local", min_nodes=0, max_nodes=1, node={"cpus": 1})
    sweep = ws.jobs.sweep(marked, search_space={"n": choice(0, 1, 2)}, objective="v", sampling="grid",
                          max_concurrent_trials=2, target="local", experiment="resume",
                          environment_variables={"MARKS": sys.argv[1]},
                          # trials queued as jobs (as commands' are): one is left in the queue
                          reuse_processes=False)
    print("SWEEP", sweep.id, flush=True)
    deadline = time.monotonic() + 120
    # One node of one CPU: leave once a trial has completed, one runs and the next waits in the queue
    # (the driver queues it a moment after the first completes; CI once read the table before).
    while time.monotonic() < deadline:
        status = sweep.trials()["status"]
        if (status == "completed").sum() >= 1 and (status == "queued").sum() >= 1:
            break
        time.sleep(0.1)
    print("LEAVING", sweep.trials().to_dict("records"), flush=True)  # its dispatcher hands it back
"""


def test_a_sweep_left_by_an_exited_process_is_resumed_by_another(tmp_path: Path) -> None:
    import subprocess
    import sys

    import jupyter_mlws as mlws
    from jupyter_mlws.client.jobs import stop_local_dispatchers

    marks = tmp_path / "marks"
    marks.mkdir()
    (tmp_path / "start.py").write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "start.py", str(marks)], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0 and "LEAVING" in done.stdout, done.stderr[-3000:]
    assert "'status': 'completed'" in done.stdout, done.stdout
    assert "'status': 'queued'" in done.stdout, done.stdout  # a trial the next process must take over
    sweep_id = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("SWEEP"))
    ws = mlws.Workspace(str(tmp_path / "ws"))
    sweep = ws.jobs.get_sweep(sweep_id)
    assert sweep.refresh().state == "queued" and "to be resumed" in (sweep.record.state_reason or "")
    before = {p.stem: p.read_text().count("ran") for p in marks.glob("*.txt")}
    try:
        sweep.resume().wait(120)
    finally:
        stop_local_dispatchers()
    table = sweep.trials()
    done_rows = table[table["status"] == "completed"]
    assert sweep.status == "completed" and sorted(done_rows["params.n"]) == [0, 1, 2], table
    after = {p.stem: p.read_text().count("ran") for p in marks.glob("*.txt")}
    finished = set(table[(table["status"] == "completed")]["params.n"].astype(str))
    assert finished == {"0", "1", "2"}
    # the trial that completed before the process left ran once; only the one it left running ran twice
    assert sorted(after.values()) in ([1, 1, 1], [1, 1, 2]), (before, after)
    assert len(done_rows) == 3


def test_a_sweep_longer_than_the_run_lease_is_not_killed_by_the_supervisor(tmp_path: Path) -> None:
    """The sweep's run sends no heartbeat (its driver runs beside the dispatcher, as a job's node
    does): seen, a sweep's run ended `killed` ("lease lapsed") 30 s into a sweep."""
    import jupyter_mlws as mlws

    marks = tmp_path / "marks"
    marks.mkdir()
    short = ["--MLWorkspaceApp.lease_seconds=1", "--MLWorkspaceApp.supervise_interval=0.2"]
    server = start_lab(tmp_path / "root", tmp_path / "state", app="server", extra_args=short)
    try:
        ws = mlws.Workspace(server.url, token=server.token)
        ws.compute.create_cluster("one", min_nodes=0, max_nodes=1, node={"cpus": 1})
        sweep = ws.jobs.sweep(
            marked,
            search_space={"n": choice(1, 2)},
            objective="v",
            sampling="grid",
            max_concurrent_trials=1,
            target="one",
            experiment="long",
            environment_variables={"MARKS": str(marks)},
        ).wait(120)  # two trials of 2 s each: several leases
        assert sweep.status == "completed"
        assert ws.get_run(sweep.run_id).status == "completed"
        assert set(sweep.trials()["status"]) == {"completed"}
    finally:
        server.stop()
