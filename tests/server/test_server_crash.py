"""K4: `kill -9` of the jupyter server (and of a process logging into the workspace) mid-batch.

Real processes only: a `python -m jupyter_server` with the extension on a
temporary workspace (its Jupyter state dirs in the test's tmp dir, never in
$HOME), and a separate Python process that owns a run and logs fixed-size
metric batches into the workspace's SQLite file as fast as it can. Both are
killed with SIGKILL while writing; then the database must be intact, every
batch all-or-nothing, and a restarted server must sweep the orphaned run to
`killed` at start-up.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest

from jupyter_mlws.location import resolve_location
from jupyter_mlws.store.factory import open_store

from ..lab_server import LabServer, free_port, server_env

BATCH = 50

LOGGER = """
import sys, time
import jupyter_mlws as mlws

workspace = mlws.Workspace(sys.argv[1])
batch = int(sys.argv[2])
run = workspace.start_run(experiment="crash")
print(run.id, flush=True)
n = 0
while True:
    now = int(time.time() * 1000)
    workspace.store.log_batch(run.id, metrics=[("m", float(j), n * batch + j, now) for j in range(batch)])
    n += 1
    print(n, flush=True)
"""


def start_server(root_dir: Path, state_dir: Path, workspace: Path) -> LabServer:
    """`python -m jupyter_server` with the extension on `workspace`, bound to 127.0.0.1."""
    port, token = free_port(), secrets.token_hex(16)
    env = server_env(state_dir)
    config_dir = state_dir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}}})
    )
    argv = [
        sys.executable, "-m", "jupyter_server",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root_dir}",
        f"--IdentityProvider.token={token}",
        "--ServerApp.allow_root=True",
        f"--MLWorkspaceApp.workspace={workspace}",
        "--MLWorkspaceApp.supervise_interval=0.5",
        "--MLWorkspaceApp.system_metrics_interval=0.2",
    ]  # fmt: skip
    log_path = state_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root_dir)
    server = LabServer(f"http://127.0.0.1:{port}", token, root_dir, process, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter server exited early:\n{log_path.read_text()[-3000:]}")
        try:
            if server.api("/mlws/api/v1/info").get("ready"):
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"jupyter server did not start in 60 s:\n{log_path.read_text()[-3000:]}")


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


@pytest.mark.catalogue("K4")
@pytest.mark.slow
def test_kill_9_of_server_and_logger_mid_batch_loses_nothing_acknowledged_and_restart_sweeps(
    tmp_path,
) -> None:
    root, state, workspace = tmp_path / "root", tmp_path / "state", tmp_path / "root" / "ws"
    root.mkdir()
    servers: list[LabServer] = []
    logger: subprocess.Popen | None = None
    try:
        servers.append(start_server(root, state / "first", workspace))
        env = {**os.environ, "MLWS_WORKSPACE": str(workspace)}
        logger = subprocess.Popen(
            [sys.executable, "-c", LOGGER, str(workspace), str(BATCH)],
            env=env, stdout=subprocess.PIPE, text=True, cwd=root,
        )  # fmt: skip
        assert logger.stdout is not None
        run_id = logger.stdout.readline().strip()
        assert len(run_id) == 32, run_id
        seen = servers[0].api(f"/mlws/api/v1/runs/{run_id}")
        assert seen["pid"] == logger.pid and seen["status"] == "running"
        for line in logger.stdout:  # let it write a good number of batches
            if int(line) >= 40:
                break
        # The server samples this run's process every 0.2 s: it is writing too.
        deadline = time.monotonic() + 10
        while "system/memory_rss_mb" not in servers[0].api(f"/mlws/api/v1/runs/{run_id}")["metrics"]:
            assert time.monotonic() < deadline, "the server never sampled the logging process"
            time.sleep(0.1)
        os.kill(logger.pid, signal.SIGKILL)
        os.kill(servers[0].process.pid, signal.SIGKILL)
        _kill(logger)
        _kill(servers[0].process)

        db_path = resolve_location(str(workspace)).store_url.removeprefix("sqlite:///")
        with sqlite3.connect(db_path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        store = open_store(resolve_location(str(workspace)).store_url)
        try:
            history = store.get_metric_history(run_id, "m")
            assert history.total_points >= 40 * BATCH
            assert history.total_points % BATCH == 0, "a batch was written in part"
            assert list(history.steps) == list(range(history.total_points)), "batches land whole and in order"
            assert store.get_run_info(run_id).status.value == "running", "nobody ended it yet"
        finally:
            store.close()

        servers.append(start_server(root, state / "second", workspace))
        deadline = time.monotonic() + 15
        while (run := servers[1].api(f"/mlws/api/v1/runs/{run_id}"))["status"] == "running":
            assert time.monotonic() < deadline, "the restarted server did not sweep the orphaned run"
            time.sleep(0.2)
        assert run["status"] == "killed" and run["end_time"] is not None
        assert run["status_reason"] == (
            f"owner process {logger.pid} on host {run['host']} is gone (found at server start)"
        )
    finally:
        if logger is not None:
            _kill(logger)
        for server in servers:
            server.stop()
