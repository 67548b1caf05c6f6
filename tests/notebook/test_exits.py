"""How runs end when their process ends (RELIABILITY K2, K3), in real scripts and real kernels.

- a script: `sys.exit(0)` completes its open run; `sys.exit(1)` or `sys.exit("message")` fails it;
- a kernel: `exit()` fails the runs still open (and a `%%mlrun` cell that calls it); a shutdown
  or restart by the kernel's manager kills them with the reason; SIGTERM kills them within 5 s;
  a `%%mlrun` cell that finished just before the shutdown still ends `completed` (the background
  finalizer is drained at exit).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import Kernel, store_of, wait_for


def _run_info(folder: Path, run_id: str):
    with store_of(folder) as store:
        return store.get_run_info(run_id)


def _ended(folder: Path, run_id: str, timeout: float = 30.0):
    return wait_for(
        lambda: (info := _run_info(folder, run_id)).status.is_terminal and info,
        timeout=timeout,
        what=f"run {run_id} to end",
    )


@pytest.mark.catalogue("K3")
@pytest.mark.parametrize(
    ("exit_call", "status", "reason"),
    [
        ("sys.exit(0)", "completed", "process exited"),
        ("sys.exit()", "completed", "process exited"),
        ("sys.exit(1)", "failed", "exited with status 1"),
        ("sys.exit('cannot go on')", "failed", "exited with status 1 (cannot go on)"),
    ],
)
def test_a_script_s_exit_code_decides_its_open_run(
    tmp_path: Path, exit_call: str, status: str, reason: str
) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            import jupyter_mlws as mlws
            run = mlws.start_run(experiment="script")
            mlws.log_metric("loss", 1.0)
            print(run.id, flush=True)
            {exit_call}
            """
        )
    )
    env = {**os.environ, "MLWS_WORKSPACE": str(tmp_path / "ws")}
    env.pop("MLWS_RUN_ID", None)
    result = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    run_id = result.stdout.split()[0]
    info = _run_info(tmp_path, run_id)
    assert (info.status.value, info.status_reason) == (status, reason)
    with store_of(tmp_path) as store:
        assert store.get_metric_history(run_id, "loss").total_points == 1


@pytest.mark.catalogue("K3")
def test_exit_in_a_kernel_fails_the_open_runs(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path)
    try:
        kernel.ok("%load_ext jupyter_mlws\nimport jupyter_mlws as mlws")
        outer = kernel.ok("outer = mlws.start_run(experiment='exits')\nprint(outer.id)").stdout.strip()
        kernel.ok("mlws.log_metric('loss', 0.5)")
        cell = kernel.execute("%%mlrun -n quits\nprint('bye')\nexit()\n", timeout=30).run_id
        wait_for(lambda: not kernel.manager.is_alive(), timeout=30, what="the kernel to exit")
        info = _ended(tmp_path, outer)
        assert info.status.value == "failed"
        assert info.status_reason == "the kernel exited (exit()) before the run ended"
        cell_info = _ended(tmp_path, cell)
        assert cell_info.status.value == "failed" and "exit()" in cell_info.status_reason
        with store_of(tmp_path) as store:
            assert store.get_metric_history(outer, "loss").total_points == 1
    finally:
        kernel.close()


@pytest.mark.catalogue("K2")
def test_shutdown_and_restart_kill_open_runs_and_finished_cells_complete(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path)
    try:
        kernel.ok("%load_ext jupyter_mlws\nimport jupyter_mlws as mlws")
        before = kernel.ok("print(mlws.start_run(experiment='k').id)").stdout.strip()
        kernel.manager.restart_kernel(now=False)
        kernel.client.wait_for_ready(timeout=60)
        info = _ended(tmp_path, before)
        assert (info.status.value, info.status_reason) == ("killed", "kernel restarted")

        kernel.ok("%load_ext jupyter_mlws\nimport jupyter_mlws as mlws")
        open_run = kernel.ok("print(mlws.start_run(experiment='k').id)").stdout.strip()
        # a %%mlrun cell whose run is still being finished in the background when shutdown comes
        finished = kernel.ok("%%mlrun -n last-cell\nprint('done')\n").run_id
        kernel.close(graceful=True)
        info = _ended(tmp_path, open_run)
        assert (info.status.value, info.status_reason) == ("killed", "kernel shut down")
        assert _ended(tmp_path, finished).status.value == "completed"
    finally:
        kernel.close()


@pytest.mark.catalogue("K2")
def test_sigterm_kills_the_kernel_s_runs_within_5_seconds(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path)
    try:
        kernel.ok("%load_ext jupyter_mlws\nimport jupyter_mlws as mlws")
        run_id = kernel.ok(
            "run = mlws.start_run(experiment='term')\n"
            "for i in range(1000):\n"
            "    mlws.log_metric('loss', float(i))\n"
            "print(run.id)"
        ).stdout.strip()
        started = time.monotonic()
        kernel.manager.signal_kernel(signal.SIGTERM)
        info = _ended(tmp_path, run_id, timeout=5)
        assert time.monotonic() - started < 5
        assert (info.status.value, info.status_reason) == ("killed", "kernel shut down (SIGTERM)")
        wait_for(lambda: not kernel.manager.is_alive(), timeout=10, what="the kernel to exit")
        with store_of(tmp_path) as store:
            assert store.get_metric_history(run_id, "loss").total_points == 1000
    finally:
        kernel.close()
