"""RELIABILITY K8: SIGKILL of the Dask scheduler a job runs on. The job's run ends `killed` with the
reason within 30 s, the job's process (still running on a worker nobody can reach through Dask any
more) is ended, and no process of the job is left. A scheduler and a worker of their own (an attached
cluster), the dispatcher of this process (a folder workspace)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from ..lab_server import free_port

pytestmark = pytest.mark.catalogue("K8")


@pytest.fixture
def scheduler_and_worker() -> Iterator[tuple[str, subprocess.Popen, subprocess.Popen]]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        **quiet,
    )
    worker = subprocess.Popen(
        [str(bindir / "dask"), "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
         "--no-dashboard"],
        **quiet,
    )
    try:
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="2s") as client:
                    if client.scheduler_info()["workers"]:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the scheduler did not come up"
            time.sleep(0.3)
        yield address, scheduler, worker
    finally:
        for proc in (worker, scheduler):
            if proc.poll() is None:
                proc.kill()
            proc.wait(15)


def _job_processes(job_id: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("MLWS_JOB_ID") == job_id:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def test_a_killed_scheduler_ends_the_run_with_the_reason_and_leaves_no_process(
    tmp_path: Path, scheduler_and_worker: tuple[str, Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import jupyter_mlws as mlws
    from jupyter_mlws.client.jobs import stop_local_dispatchers

    address, scheduler, _worker = scheduler_and_worker
    monkeypatch.delenv("MLWS_RUN_ID", raising=False)
    ws = mlws.Workspace(str(tmp_path / "ws"))
    try:
        ws.compute.attach("outside", address)
        job = ws.jobs.submit(
            command=[sys.executable, "-c", "import time; time.sleep(120)"], target="outside", experiment="k8"
        )
        deadline = time.monotonic() + 60
        while not (job.status == "running" and job.record.pid):
            assert time.monotonic() < deadline, f"the job never ran: {job.status} {job.reason}"
            time.sleep(0.2)
        assert _job_processes(job.id), "the job's process runs on the worker"
        os.kill(scheduler.pid, signal.SIGKILL)
        killed = time.monotonic()
        run_id = job.record.run_id
        while ws.get_run(run_id).status == "running":
            assert time.monotonic() - killed < 30, "the run is still running 30 s after the scheduler died"
            time.sleep(0.2)
        run = ws.get_run(run_id)
        assert run.status == "killed", run.status
        assert run.info.status_reason == "node lost: the cluster's scheduler stopped answering"
        assert job.status in ("killed", "failed"), job.status
        while _job_processes(job.id):
            assert time.monotonic() - killed < 30, "the job's process outlived its run"
            time.sleep(0.2)
    finally:
        stop_local_dispatchers()
        ws.close()
