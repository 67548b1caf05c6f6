"""A sweep's function trials on warm processes (issue 18, `jobs/trial_host.py`): one process per
slot runs trial after trial, while each trial keeps its own job, run, log, outputs and end; a
trial whose job is canceled (here: past its timeout) takes its process with it; and
`reuse_processes=False` gives every trial a process of its own. Real server, cluster and processes."""

from __future__ import annotations

import os
import time
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
    assert {x: table.loc[x, "status"] for x in (0, 1, 4)} == {
        0: "completed",
        1: "completed",
        4: "completed",
    }, table[["status", "reason"]].to_string()
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


def _spares() -> set[int]:
    found = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if "jupyter_mlws.client.trial_process" in cmdline and "--spare" in cmdline:
            found.add(proc.info["pid"])
    return found


def _settled_spares() -> set[int]:
    """The spare processes once there are some and their set has not changed for a second (each
    worker that ran a host starts one as its host is let go)."""
    deadline = time.monotonic() + 30
    seen, since = _spares(), time.monotonic()
    while not seen or time.monotonic() - since < 1.0:
        assert time.monotonic() < deadline, f"the spare trial processes did not settle: {seen}"
        time.sleep(0.1)
        now = _spares()
        if now != seen:
            seen, since = now, time.monotonic()
    return seen


def test_a_sweep_after_another_starts_its_trials_on_the_spare_processes(ws: Any, project: Path) -> None:
    """A worker that ran a sweep's trials keeps a spare process ready (Python started, jupyter_mlws
    imported); the next sweep's trials run in it, with the sweep's own workspace and folder."""
    options = dict(objective="v", sampling="grid", max_concurrent_trials=2, target=CLUSTER)
    ws.jobs.sweep(who, search_space={"x": choice(0, 4)}, experiment="spare-1", **options).wait(240)
    spares = _settled_spares()
    sweep = ws.jobs.sweep(who, search_space={"x": choice(1, 4)}, experiment="spare-2", **options).wait(240)
    table = sweep.trials()
    assert list(table["status"]) == ["completed", "completed"] and sorted(table["v"]) == [1.0, 4.0], table
    pids = {_pid(ws, ws.get_run(r).tags["mlws.job.id"]) for r in table["run_id"]}
    assert pids & spares, (pids, spares)  # the first host ready is the one that took a spare


def test_a_sweep_whose_spare_processes_died_starts_its_own(ws: Any, project: Path) -> None:
    """A spare killed while it waited (out of memory, a user's kill) costs the next sweep only the
    start-up it would have saved: its trials run in processes of their own and complete."""
    options = dict(objective="v", sampling="grid", max_concurrent_trials=1, target=CLUSTER)
    ws.jobs.sweep(who, search_space={"x": choice(0)}, experiment="spare-gone-1", **options).wait(240)
    killed = _settled_spares()
    for pid in killed:
        psutil.Process(pid).kill()
    sweep = ws.jobs.sweep(who, search_space={"x": choice(1, 4)}, experiment="spare-gone-2", **options).wait(
        240
    )
    table = sweep.trials()
    assert list(table["status"]) == ["completed", "completed"], table[["status", "reason"]]
    pids = {_pid(ws, ws.get_run(r).tags["mlws.job.id"]) for r in table["run_id"]}
    assert not pids & killed
