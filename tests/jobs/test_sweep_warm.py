"""A sweep's function trials on warm processes (issue 18, `jobs/trial_host.py`): one process per
slot runs trial after trial, while each trial keeps its own job, run, log, outputs and end; a
trial whose job is canceled (here: past its timeout) takes its process with it; and
`reuse_processes=False` gives every trial a process of its own. Real server, cluster and processes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil

from jupyter_mlws.sweep import choice

from .conftest import CLUSTER


def who(x: int) -> None:
    import os
    import time
    from pathlib import Path

    import jupyter_mlws as mlws

    print(f"trial {x} pid {os.getpid()}", flush=True)
    Path("outputs").mkdir(exist_ok=True)
    Path("outputs/note.txt").write_text(f"x={x}")
    mlws.log_metric("v", float(x), step=0)
    if x == 2:
        raise ValueError("bad x 2")
    if x == 3:
        time.sleep(60)  # past the trial timeout: its job is canceled, its process killed


def _pid(ws: Any, job_id: str) -> int:
    text = ws.jobs.get(job_id).logs()
    line = next(line for line in text.splitlines() if " pid " in line)
    return int(line.split(" pid ")[1])


def test_function_trials_share_a_process_per_slot_and_keep_their_own_records(ws: Any, project: Path) -> None:
    sweep = ws.jobs.sweep(
        who,
        search_space={"x": choice(0, 1, 2, 3, 4)},
        objective="v",
        sampling="grid",
        max_concurrent_trials=1,
        trial_timeout=3,
        target=CLUSTER,
        experiment="warm-sweep",
        seed=1,
    )
    sweep.wait(240)
    table = sweep.trials().set_index("params.x")
    assert set(table.index) == {0, 1, 2, 3, 4}, table
    assert {x: table.loc[x, "status"] for x in (0, 1, 4)} == {0: "completed", 1: "completed", 4: "completed"}
    assert table.loc[2, "status"] == "failed" and "ValueError: bad x 2" in table.loc[2, "reason"], table
    assert table.loc[3, "status"] == "canceled", table
    assert table.loc[3, "reason"] == "timeout after 3 s (the job's timeout)", table
    jobs = {x: ws.get_run(table.loc[x, "run_id"]).tags["mlws.job.id"] for x in table.index}
    pids = {x: _pid(ws, jobs[x]) for x in table.index}
    # each trial's log is its own: only its line
    for x, job_id in jobs.items():
        lines = [line for line in ws.jobs.get(job_id).logs().splitlines() if line.startswith("trial ")]
        assert lines == [f"trial {x} pid {pids[x]}"], (x, lines)
    # fewer processes than trials: the trials before the timeout shared one (a failure keeps it)
    assert len(set(pids.values())) < len(pids), pids
    assert not psutil.pid_exists(pids[3]) or psutil.Process(pids[3]).status() == psutil.STATUS_ZOMBIE
    for x in (0, 1, 4):  # each completed trial's outputs are its own, and its point is there
        run = ws.get_run(table.loc[x, "run_id"])
        folder = run.download_artifacts("outputs", project / f"got-{x}")
        assert (Path(folder) / "note.txt").read_text() == f"x={x}"
        assert run.metrics["v"] == float(x)
        assert ws.jobs.get(jobs[x]).status == "completed"
    assert ws.get_run(sweep.run_id).metrics["best_v"] == 4.0


def test_reuse_processes_false_gives_every_trial_a_process_of_its_own(ws: Any, project: Path) -> None:
    sweep = ws.jobs.sweep(
        who,
        search_space={"x": choice(0, 1)},
        objective="v",
        sampling="grid",
        max_concurrent_trials=1,
        target=CLUSTER,
        experiment="cold-sweep",
        reuse_processes=False,
    )
    sweep.wait(240)
    table = sweep.trials()
    assert list(table["status"]) == ["completed", "completed"], table
    runs = [ws.get_run(r) for r in table["run_id"]]
    pids = {_pid(ws, r.tags["mlws.job.id"]) for r in runs}
    assert len(pids) == 2 and os.getpid() not in pids, pids
