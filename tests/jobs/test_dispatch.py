"""Who dispatches jobs when (issue 15): a server restart keeps the queue, and a script with no
server dispatches its own jobs.

- A Jupyter server stopped while one job runs and one waits: the running attempt ends `killed`
  with the reason and is queued again (it has a retry left), the waiting one stays queued; the
  next server on the same workspace starts the cluster again and runs both.
- A plain Python script on a local workspace with no server: `ws.jobs.submit` starts a dispatcher
  (and the cluster, a LocalCluster) in that process; the job runs and completes before it exits.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ..lab_server import start_lab
from .conftest import until

pytestmark = pytest.mark.timeout(300)


def test_a_server_restart_keeps_the_queue_and_retries_what_was_running(tmp_path: Path) -> None:
    import jupyter_mlws as mlws

    root, state = tmp_path / "root", tmp_path / "state"
    marker = tmp_path / "first-attempt-ran"
    first = start_lab(root, state, app="server")
    try:
        ws = mlws.Workspace(first.url, token=first.token)
        ws.compute.create_cluster(
            "one", min_nodes=0, max_nodes=1, node={"cpus": 1}, idle_seconds_before_scaledown=60
        )
        code = (
            "import pathlib, time, sys; m = pathlib.Path(sys.argv[1]); "
            "first = not m.exists(); m.touch(); print('first' if first else 'again', flush=True); "
            "time.sleep(60 if first else 0)"
        )
        running = ws.jobs.submit(
            command=[sys.executable, "-c", code, str(marker)],
            target="one",
            experiment="restart",
            max_retries=1,
        )
        waiting = ws.jobs.submit(
            command=[sys.executable, "-c", "print('done')"], target="one", experiment="restart"
        )
        until(lambda: running.status == "running" and marker.exists(), 90, "the first job running")
        first_run = running.record.run_id
        assert waiting.status == "queued"
    finally:
        first.stop()

    local = mlws.Workspace(str(root / ".mlws"))
    job = local.jobs.get(running.id).refresh()
    assert job.state == "queued" and job.attempt == 2 and job.owner is None
    assert "the Jupyter server stopped while it ran" in job.state_reason
    assert local.get_run(first_run).status == "killed"
    assert local.jobs.get(waiting.id).refresh().state == "queued"

    second = start_lab(root, state, app="server")
    try:
        ws = mlws.Workspace(second.url, token=second.token)
        again, other = ws.jobs.get(running.id), ws.jobs.get(waiting.id)
        again.wait(120)
        other.wait(120)
        assert again.status == "completed" and "again" in again.run.logs()
        assert other.status == "completed" and "done" in other.logs()
    finally:
        second.stop()


def test_a_script_with_no_server_dispatches_its_own_jobs(tmp_path: Path) -> None:
    script = tmp_path / "submit.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            import jupyter_mlws as mlws

            if __name__ == "__main__":
                ws = mlws.Workspace("ws")
                ws.compute.create_cluster("local", min_nodes=0, max_nodes=1, node={"cpus": 1})
                job = ws.jobs.submit(command=[sys.executable, "-c", "print('from a node')"], target="local",
                                     experiment="script")
                job.wait(120)
                print("STATE", job.status, job.id)
                print("OUTPUT", job.logs().strip())
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "STATE completed" in done.stdout and "OUTPUT from a node" in done.stdout, done.stdout

    import jupyter_mlws as mlws

    ws = mlws.Workspace(str(tmp_path / "ws"))
    job_id = done.stdout.split("STATE completed ")[1].split()[0]
    job = ws.jobs.get(job_id).refresh()
    assert job.state == "completed" and job.owner is not None and ":process:" in job.owner
    assert ws.store.job_dispatchers() == [], "the script's dispatcher left when it exited"
