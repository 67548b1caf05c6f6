"""Run supervision by the server (RELIABILITY K1, K4 sweep, K5) and system metrics, with real kernels.

The kernels are started through the server's own kernel manager, so they
inherit the workspace ($MLWS_WORKSPACE) and are driven with jupyter_client's
async client, exactly as JupyterLab would drive them. Nothing is mocked: a
kernel is killed with SIGKILL, restarted and shut down through the REST API.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.entities import RunStatus
from jupyter_mlws.errors import RunEnded
from jupyter_mlws.location import resolve_location
from jupyter_mlws.server import sysmetrics
from jupyter_mlws.store.factory import open_store

from .api_helpers import until as _until

HOST = socket.gethostname()


@pytest.fixture
def mlws_traits() -> dict[str, Any]:
    """Extra MLWorkspaceApp traits for one test (override by parametrizing `mlws_traits`)."""
    return {}


@pytest.fixture
def kernel_manager_config() -> dict[str, Any]:
    """Extra MappingKernelManager config for one test (override by parametrizing)."""
    return {}


@pytest.fixture
def workspace_dir(jp_root_dir: Path) -> Path:
    return jp_root_dir / "ws"


@pytest.fixture
def jp_server_config(jp_root_dir, workspace_dir, mlws_traits, kernel_manager_config, request) -> dict:
    if "stale_runs" in request.fixturenames:
        request.getfixturevalue("stale_runs")  # seeded before the server starts
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}, "allow_unauthenticated_access": False},
        "MLWorkspaceApp": {
            "workspace": str(workspace_dir),
            "supervise_interval": 0.2,
            "system_metrics_interval": 0.5,
            **mlws_traits,
        },
        "MappingKernelManager": kernel_manager_config,
    }


@pytest.fixture
def services(jp_serverapp):
    return jp_serverapp.web_app.settings["mlws_services"]


async def _info(services, run_id: str):
    return await services.run(services.store.get_run_info, run_id)


async def _ended(services, run_id: str, timeout: float = 10.0):
    async def check():
        info = await _info(services, run_id)
        return info if info.status != RunStatus.RUNNING else None

    return await _until(check, timeout, f"run {run_id} leaves 'running'")


class Kernel:
    """A kernel of the test server and a client on it."""

    def __init__(self, app: Any, kernel_id: str) -> None:
        self.app, self.id = app, kernel_id
        self.manager = app.kernel_manager.get_kernel(kernel_id)
        self.client = self.manager.client()

    @classmethod
    async def start(cls, app: Any) -> Kernel:
        kernel = cls(app, await app.kernel_manager.start_kernel())
        kernel.client.start_channels()
        await kernel.client.wait_for_ready(timeout=60)
        return kernel

    async def run(self, code: str, timeout: float = 60) -> str:
        out: list[str] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = await self.client.execute_interactive(code, output_hook=hook, timeout=timeout)
        assert reply["content"]["status"] == "ok", "".join(out)
        return "".join(out)

    async def start_run(self, experiment: str, server_only: bool = False) -> dict:
        """`mlws.start_run()` in the kernel, 50 metric points flushed; returns the run's owner fields.

        `server_only`: the kernel's own exit hooks forget the run, so only the server can end it
        (as when a kernel hangs in its shutdown and is killed).
        """
        out = await self.run(
            "import json, jupyter_mlws as mlws\n"
            f"run = mlws.start_run(experiment={experiment!r})\n"
            "for i in range(50):\n"
            "    mlws.log_metric('loss', 1.0 / (i + 1), step=i)\n"
            "mlws.active_run().flush()\n"
            + ("from jupyter_mlws.client import lifecycle\nlifecycle.forget(run)\n" if server_only else "")
            + "print(json.dumps({'run_id': run.id, 'pid': run.info.pid, 'host': run.info.host,"
            " 'kernel_id': run.info.kernel_id}))\n"
        )
        return json.loads(out.strip().splitlines()[-1])

    async def close(self) -> None:
        self.client.stop_channels()
        if self.id in self.app.kernel_manager:
            await self.app.kernel_manager.shutdown_kernel(self.id, now=True)


# ----- start-up sweep (K4) ----------------------------------------------------------
@pytest.fixture
def stale_runs(workspace_dir: Path):
    """Runs left `running` in the workspace before the server starts, by owner situation."""
    now = int(time.time() * 1000)
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(exited.stdout)
    # A live process that started after its "run" did: the run's pid was reused.
    newcomer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    store = open_store(resolve_location(str(workspace_dir)).store_url)
    try:
        exp = store.create_experiment("left-running")

        def run(**owner: Any) -> str:
            return store.create_run(exp.experiment_id, **owner).info.run_id

        seeded = {
            "dead_pid": run(host=HOST, pid=dead_pid, start_time=now - 5_000),
            "reused_pid": run(host=HOST, pid=newcomer.pid, start_time=now - 60_000),
            "foreign_stale": run(host="node-elsewhere", pid=4242, start_time=now - 120_000),
            "no_owner_stale": run(start_time=now - 120_000),
            "foreign_fresh": run(host="node-elsewhere", pid=4242, start_time=now - 1_000),
            # a kernel of another machine's server (a team workspace): that server supervises it
            "foreign_kernel": run(
                host="node-elsewhere", pid=4243, kernel_id="k-elsewhere", start_time=now - 120_000
            ),
            "ours": run(host=HOST, pid=os.getpid(), start_time=now - 1_000),
        }
    finally:
        store.close()
    yield seeded
    newcomer.kill()
    newcomer.wait(timeout=10)


@pytest.mark.catalogue("K4", "K5")
async def test_startup_sweep_ends_runs_whose_owner_is_gone(stale_runs, services) -> None:
    for name in ("dead_pid", "reused_pid", "foreign_stale", "no_owner_stale"):
        info = await _ended(services, stale_runs[name])
        assert info.status == RunStatus.KILLED and info.end_time is not None, name
        assert info.status_reason.endswith("(found at server start)"), (name, info.status_reason)
    assert "is gone" in (await _info(services, stale_runs["dead_pid"])).status_reason
    assert "pid was reused" in (await _info(services, stale_runs["reused_pid"])).status_reason
    assert "lease lapsed" in (await _info(services, stale_runs["foreign_stale"])).status_reason
    # a fresh heartbeat elsewhere, a run owned by this live process, and another server's kernel
    # (supervised by that server only) stay running
    for name in ("foreign_fresh", "ours", "foreign_kernel"):
        assert (await _info(services, stale_runs[name])).status == RunStatus.RUNNING, name
    # a late heartbeat does not bring a swept run back
    with pytest.raises(RunEnded, match="lease lapsed"):
        await services.run(services.store.heartbeat, stale_runs["foreign_stale"])
    assert (await _info(services, stale_runs["foreign_stale"])).status == RunStatus.KILLED


# ----- kernels (K1, restart, shutdown) -------------------------------------------------
@pytest.mark.catalogue("K1")
@pytest.mark.parametrize(
    "mlws_traits",
    [{}, {"supervise_interval": 60}],
    ids=["pid-check", "kernel-restarter"],  # the second leaves only jupyter_client's restarter in time
)
async def test_kill_9_of_the_kernel_ends_its_run_killed_with_every_flushed_point(
    jp_serverapp, services, mlws_traits
) -> None:
    kernel = await Kernel.start(jp_serverapp)
    try:
        owner = await kernel.start_run("k1")
        assert owner["kernel_id"] == kernel.id and owner["host"] == HOST
        assert owner["pid"] == kernel.manager.provisioner.pid, "the run names the kernel process"
        killed_at = time.monotonic()
        os.kill(owner["pid"], signal.SIGKILL)
        info = await _ended(services, owner["run_id"], timeout=10)
        assert time.monotonic() - killed_at < 10
        assert info.status == RunStatus.KILLED and info.end_time is not None
        if mlws_traits:
            assert info.status_reason == "kernel process died (restarted automatically)"
        else:
            assert "gone" in info.status_reason or "died" in info.status_reason, info.status_reason
        history = await services.run(services.store.get_metric_history, owner["run_id"], "loss")
        assert history.total_points == 50 and list(history.steps) == list(range(50))
    finally:
        await kernel.close()


async def test_shutting_down_a_kernel_during_its_automatic_restart_stops_it(jp_serverapp) -> None:
    """The user closes a notebook whose kernel just died, while jupyter_client restarts it."""
    kernel = await Kernel.start(jp_serverapp)
    manager = jp_serverapp.kernel_manager
    stopping: list[asyncio.Task] = []

    def on_restart() -> None:  # fired just before the restarter's restart_kernel
        stopping.append(asyncio.ensure_future(manager.shutdown_kernel(kernel.id, now=True)))

    kernel.manager.add_restart_callback(on_restart, "restart")
    try:
        os.kill(kernel.manager.provisioner.pid, signal.SIGKILL)

        async def stopped() -> bool:
            return bool(stopping) and stopping[0].done()

        await _until(stopped, 30, "the shutdown asked for during the restart returns")
        stopping[0].result()  # no InvalidStateError from jupyter_client
        assert kernel.id not in manager
    finally:
        await kernel.close()


@pytest.mark.catalogue("K2")
async def test_kernel_restart_and_shutdown_end_the_kernels_runs(jp_serverapp, jp_fetch, services) -> None:
    kernel = await Kernel.start(jp_serverapp)
    try:
        first = await kernel.start_run("restart", server_only=True)
        response = await jp_fetch("api", "kernels", kernel.id, "restart", method="POST", body="")
        assert response.code == 200
        info = await _ended(services, first["run_id"])
        assert info.status == RunStatus.KILLED and info.status_reason == "kernel restarted"
        assert (
            await services.run(services.store.get_metric_history, first["run_id"], "loss")
        ).total_points == 50

        await kernel.client.wait_for_ready(timeout=60)
        second = await kernel.start_run("shutdown", server_only=True)
        assert second["pid"] != first["pid"] and second["kernel_id"] == kernel.id
        response = await jp_fetch("api", "kernels", kernel.id, method="DELETE")
        assert response.code == 204
        info = await _ended(services, second["run_id"])
        assert info.status == RunStatus.KILLED and info.status_reason == "kernel shut down"
        assert info.end_time is not None
    finally:
        await kernel.close()


@pytest.mark.parametrize("kernel_manager_config", [{"cull_idle_timeout": 2, "cull_interval": 1}])
async def test_an_idle_kernel_culled_by_the_server_ends_its_run_with_the_reason(
    jp_serverapp, services
) -> None:
    kernel = await Kernel.start(jp_serverapp)
    try:
        # server_only: the kernel's own exit hook would end the run again with "kernel shut down"
        # and today's store lets a second ending with the same status rewrite the reason.
        owner = await kernel.start_run("culled", server_only=True)
        info = await _ended(services, owner["run_id"], timeout=20)
        assert info.status == RunStatus.KILLED
        assert info.status_reason.startswith("kernel culled after ") and info.status_reason.endswith(
            " s idle"
        )
        assert int(info.status_reason.split()[3]) >= 2

        async def culled() -> bool:
            return kernel.id not in jp_serverapp.kernel_manager

        await _until(culled, 20, "the kernel is culled")  # the run ended first, then the kernel went
    finally:
        await kernel.close()


# ----- lease (K5) -----------------------------------------------------------------------
@pytest.mark.catalogue("K5")
@pytest.mark.parametrize("mlws_traits", [{"lease_seconds": 1.5}])
async def test_a_run_outside_kernels_lives_while_it_beats_and_ends_when_its_lease_lapses(services) -> None:
    store = services.store
    exp = await services.run(store.create_experiment, "outside")
    record = await services.run(store.create_run, exp.experiment_id, host="dask-worker-3", pid=777)
    run_id = record.info.run_id
    beating_until = time.monotonic() + 3.0
    while time.monotonic() < beating_until:  # twice the lease, heartbeat every 0.3 s
        assert await services.run(store.heartbeat, run_id) == RunStatus.RUNNING
        await asyncio.sleep(0.3)
    silent_from = time.monotonic()
    info = await _ended(services, run_id, timeout=10)
    assert info.status == RunStatus.KILLED and "lease lapsed" in info.status_reason
    assert time.monotonic() - silent_from >= 1.0, "not before the lease lapsed"
    with pytest.raises(RunEnded):  # a late heartbeat changes nothing, and says why
        await services.run(store.heartbeat, run_id)
    assert (await _info(services, run_id)).status == RunStatus.KILLED


@pytest.mark.catalogue("K5")
@pytest.mark.parametrize("mlws_traits", [{"lease_seconds": 1.5}])
async def test_a_rest_client_that_keeps_logging_keeps_its_run_without_heartbeats(
    services, jp_fetch
) -> None:
    """A batch over REST renews the lease: logging for twice the lease without one heartbeat keeps
    the run running; silence then ends it when the lease lapses."""
    import json
    import uuid

    exp = await services.run(services.store.create_experiment, "rest-client")
    made = await jp_fetch(
        "mlws", "api", "v1", "runs", method="POST", body=json.dumps({"experiment_id": exp.experiment_id}),
        headers={"Content-Type": "application/json"},
    )
    run_id = json.loads(made.body)["run_id"]
    logging_until, step = time.monotonic() + 3.0, 0
    while time.monotonic() < logging_until:
        body = {"metrics": [{"key": "loss", "value": 1.0 / (step + 1), "step": step}]}
        await jp_fetch("mlws", "api", "v1", "runs", run_id, "batches", uuid.uuid4().hex,
                       method="PUT", body=json.dumps(body), headers={"Content-Type": "application/json"})
        step += 1
        assert (await _info(services, run_id)).status == RunStatus.RUNNING
        await asyncio.sleep(0.3)
    info = await _ended(services, run_id, timeout=10)
    assert info.status == RunStatus.KILLED and "lease lapsed" in info.status_reason


# ----- system metrics ------------------------------------------------------------------
async def test_a_cell_that_burns_cpu_gets_system_metrics(jp_serverapp, services) -> None:
    kernel = await Kernel.start(jp_serverapp)
    try:
        out = await kernel.run(
            "import time, jupyter_mlws as mlws\n"
            "run = mlws.start_run(experiment='burn')\n"
            "started = time.perf_counter()\n"
            "while time.perf_counter() - started < 3:\n"
            "    pass\n"
            "print(run.id)\n"
        )
        run_id = out.strip().splitlines()[-1]
        store = services.store
        cpu = await services.run(store.get_metric_history, run_id, sysmetrics.CPU)
        rss = await services.run(store.get_metric_history, run_id, sysmetrics.RSS)
        assert len(cpu.values) >= 2 and max(cpu.values) > 50, list(cpu.values)
        assert len(rss.values) >= 2 and min(rss.values) > 0
        assert list(cpu.steps) == list(range(len(cpu.steps))), "steps count samples from 0"
        keys = set((await services.run(store.get_run, run_id)).data.metrics)
        if sysmetrics.NvmlProbe.open(services.log) is None:
            # No NVML on this machine: the GPU keys are skipped cleanly, nothing else is lost.
            assert not any(key.startswith("system/gpu") for key in keys), keys
        await kernel.run("mlws.end_run()")
        assert (await _info(services, run_id)).status == RunStatus.COMPLETED
    finally:
        await kernel.close()
