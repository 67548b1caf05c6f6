"""Kernels of compute instances in a real jupyter_server (issue 7): usage, idle shutdown with
its warning on the events websocket, keepalive, the run a shut-down kernel leaves behind, and
no deletion while a kernel runs.

The kernels are started the way JupyterLab starts them (`POST /api/sessions` naming the
instance's kernelspec `mlws-<name>`), so they go through our kernel provisioner. Idle times
are tiny (`idle_shutdown_minutes=0.05`: 3 s; the warning 1.5 s before).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.entities import RunStatus

from .api_helpers import Api, error_of

COMPUTE_SCHEMA = "https://events.jupyter.org/jupyter_mlws/compute/v1"
IDLE_MINUTES = 0.05
REASON = "idle shutdown: no activity for 0.05 min on compute instance tiny"


@pytest.fixture
def jp_server_config(jp_root_dir: Path) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}, "allow_unauthenticated_access": False},
        "MLWorkspaceApp": {
            "workspace": str(jp_root_dir / "ws"),
            "compute_interval": 0.2,
            "idle_warning_seconds": 1.5,
            "supervise_interval": 0.2,
            "system_metrics_interval": 0,
        },
    }


class Events:
    """The compute events the browser would receive, read from the server's events websocket."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.seen = ws, []

    @classmethod
    async def subscribe(cls, jp_ws_fetch: Any) -> Events:
        return cls(await jp_ws_fetch("api", "events", "subscribe"))

    async def until(self, match: Callable[[dict], bool], timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = await asyncio.wait_for(self.ws.read_message(), timeout=deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
            event = json.loads(message)
            if event.get("schema_id") == COMPUTE_SCHEMA:
                self.seen.append(event)
                if match(event):
                    return event
        raise AssertionError(f"no matching compute event within {timeout} s; saw {self.seen}")


async def _instance_kernel(api: Api, jp_fetch, app: Any, **instance: Any) -> Any:
    """Define instance `tiny`, open a notebook on its kernel as JupyterLab does (a session),
    return a client on the kernel."""
    await api.json("POST", "/compute/instances", {"name": "tiny", **instance}, expect=201)
    session = {"path": "work/train.ipynb", "type": "notebook", "name": "", "kernel": {"name": "mlws-tiny"}}
    response = await jp_fetch("api", "sessions", method="POST", body=json.dumps(session))
    kernel_id = json.loads(response.body)["kernel"]["id"]
    client = app.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    await client.wait_for_ready(timeout=60)
    # One cell, so the server's activity monitor sees the kernel go busy and idle: on a loaded
    # machine its iopub subscription can miss the start-up statuses, and a kernel the server
    # still thinks is "starting" only counts as idle after 60 s (seen once in CI).
    await _run(client, "pass")
    client.kernel_id = kernel_id
    return client


async def _run(client: Any, code: str) -> str:
    out: list[str] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append("\n".join(msg["content"]["traceback"]))

    reply = await client.execute_interactive(code, output_hook=hook, timeout=60)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


async def _gone(app: Any, kernel_id: str, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while kernel_id in app.kernel_manager:
        assert time.monotonic() < deadline, f"kernel {kernel_id} still running after {timeout} s"
        await asyncio.sleep(0.1)
    return time.monotonic()


async def _stop(app: Any, client: Any, events: Events) -> None:
    events.ws.close()
    client.stop_channels()
    if client.kernel_id in app.kernel_manager:
        await app.kernel_manager.shutdown_kernel(client.kernel_id, now=True)


async def test_idle_kernel_is_warned_then_shut_down_and_its_run_ends(
    jp_serverapp, api: Api, jp_fetch, jp_ws_fetch, services
) -> None:
    events = await Events.subscribe(jp_ws_fetch)
    client = await _instance_kernel(
        api, jp_fetch, jp_serverapp, cpus=1, memory="4GiB", idle_shutdown_minutes=IDLE_MINUTES
    )
    kernel_id = client.kernel_id
    try:
        out = await _run(
            client,
            "import json, jupyter_mlws as mlws\n"
            "run = mlws.start_run(experiment='idle')\n"
            "print(json.dumps({'run_id': run.id}))\n",
        )
        run_id = json.loads(out.strip().splitlines()[-1])["run_id"]
        assert (await services.run(services.store.get_run_info, run_id)).compute_target == "tiny"

        # the instance cannot be deleted while its kernel runs
        refused = await api.call("DELETE", "/compute/instances/tiny")
        assert refused.code == 409
        assert (
            error_of(refused)["message"]
            == "Compute instance 'tiny' has 1 running kernel; shut them down first."
        )

        # usage, as the Compute tab shows it
        first = (await api.json("GET", "/compute/kernels"))["kernels"]
        assert [k["kernel_id"] for k in first] == [kernel_id]
        usage = first[0]
        assert usage["instance"] == "tiny" and usage["kernelspec"] == "mlws-tiny" and usage["cpus"] == 1
        assert usage["memory_limit_bytes"] == 4 * 1024**3 and usage["rss_bytes"] > 10 * 1024**2
        assert usage["pid"] == jp_serverapp.kernel_manager.get_kernel(kernel_id).provisioner.pid
        assert 0 <= usage["cpu_percent"] and usage["execution_state"] in ("idle", "busy")
        assert usage["notebook_path"] == "work/train.ipynb"
        assert usage["idle_shutdown_at"] - usage["last_activity"] == pytest.approx(
            IDLE_MINUTES * 60_000, abs=1000
        )
        listed = (await api.json("GET", "/compute/instances/tiny"))["kernels"]
        assert [k["kernel_id"] for k in listed] == [kernel_id]
        await asyncio.sleep(0.3)
        later = (await api.json("GET", "/compute/kernels"))["kernels"][0]
        assert later["uptime_s"] > usage["uptime_s"] and later["started"] == usage["started"]

        warning = await events.until(lambda e: e["action"] == "idle_warning", timeout=10)
        warned_at = time.monotonic()
        assert warning["instance"] == "tiny" and warning["kernel_id"] == kernel_id
        assert warning["shutdown_at"] / 1000 - time.time() == pytest.approx(1.5, abs=0.8)
        shutdown = await events.until(lambda e: e["action"] == "idle_shutdown")
        assert shutdown["reason"] == REASON and shutdown["kernel_id"] == kernel_id
        gone_at = await _gone(jp_serverapp, kernel_id, timeout=15)
        assert 0.8 < gone_at - warned_at < 6, "warned about 1.5 s before the shutdown"

        info = await services.run(services.store.get_run_info, run_id)
        assert info.status == RunStatus.KILLED and info.status_reason == REASON
        await events.until(lambda e: e["action"] == "kernel_stopped")
        recorded = (await api.json("GET", f"/compute/events?kernel_id={kernel_id}"))["events"]
        assert [e["kind"] for e in recorded] == [
            "kernel_stopped",
            "idle_shutdown",
            "idle_warning",
            "kernel_started",
        ]
        assert recorded[0]["reason"] == REASON and recorded[1]["reason"] == REASON
        assert recorded[3]["details"]["pid"] == usage["pid"]
        await api.json("DELETE", "/compute/instances/tiny", expect=204)
    finally:
        await _stop(jp_serverapp, client, events)


async def test_keepalive_and_busy_cells_postpone_idle_shutdown(
    jp_serverapp, api: Api, jp_fetch, jp_ws_fetch
) -> None:
    events = await Events.subscribe(jp_ws_fetch)
    client = await _instance_kernel(api, jp_fetch, jp_serverapp, idle_shutdown_minutes=IDLE_MINUTES)
    kernel_id = client.kernel_id
    try:
        first = await events.until(lambda e: e["action"] == "idle_warning")
        kept = await api.json("POST", f"/compute/kernels/{kernel_id}/keepalive", expect=200)
        assert kept["kernel_id"] == kernel_id
        assert kept["idle_shutdown_at"] - first["shutdown_at"] > 1000, "the idle clock starts again"
        # the kept period is a new idle period: warned again, for the new time
        again = await events.until(lambda e: e["action"] == "idle_warning")
        assert again["shutdown_at"] == kept["idle_shutdown_at"]
        await asyncio.sleep(first["shutdown_at"] / 1000 - time.time() + 0.8)
        assert kernel_id in jp_serverapp.kernel_manager, "kept running past the first deadline"

        # a cell that runs past the kept deadline: busy is not idle
        await _run(client, "import time; time.sleep(4)")
        assert time.time() * 1000 > kept["idle_shutdown_at"] + 500
        assert kernel_id in jp_serverapp.kernel_manager, "a busy kernel is not shut down"

        # idle again after the cell: warned, then shut down
        last = await events.until(lambda e: e["action"] == "idle_warning")
        assert last["shutdown_at"] > kept["idle_shutdown_at"] + 2000
        await events.until(lambda e: e["action"] == "idle_shutdown")
        await _gone(jp_serverapp, kernel_id, timeout=15)
        kinds = [
            e["kind"] for e in (await api.json("GET", f"/compute/events?kernel_id={kernel_id}"))["events"]
        ]
        assert kinds == [
            "kernel_stopped",
            "idle_shutdown",
            "idle_warning",
            "idle_warning",
            "keep_alive",
            "idle_warning",
            "kernel_started",
        ], "one warning per idle period"
    finally:
        await _stop(jp_serverapp, client, events)
