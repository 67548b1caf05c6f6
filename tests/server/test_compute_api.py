"""Compute instances over real HTTP (issue 7): definitions, their kernelspecs in Jupyter's own
`/api/kernelspecs`, events, clear 4xx for bad input, and the live `changed` event on the
server's events websocket. Kernels of instances are in `test_idle_shutdown.py`."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.compute import spec
from jupyter_mlws.entities import ComputeInstance
from jupyter_mlws.location import resolve_location
from jupyter_mlws.store.factory import open_store

from .api_helpers import Api, error_of

COMPUTE_SCHEMA = "https://events.jupyter.org/jupyter_mlws/compute/v1"


@pytest.fixture
def jp_server_config(jp_root_dir: Path, request) -> dict:
    if "seeded" in request.fixturenames:
        request.getfixturevalue("seeded")  # written before the server starts
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}, "allow_unauthenticated_access": False},
        "MLWorkspaceApp": {"workspace": str(jp_root_dir / "ws"), "compute_interval": 0.2},
    }


async def _kernelspecs(jp_fetch) -> dict[str, Any]:
    response = await jp_fetch("api", "kernelspecs")
    return json.loads(response.body)["kernelspecs"]


async def test_instance_lifecycle_drives_the_kernelspecs(api: Api, jp_fetch) -> None:
    body = {
        "name": "cpu-small",
        "cpus": 1,
        "memory": "512MiB",
        "idle_shutdown_minutes": 30,
        "env": {"MY_FLAG": "1"},
        "description": "for tests",
    }
    created = await api.json("POST", "/compute/instances", body, expect=201)
    assert created["kernelspec"] == "mlws-cpu-small" and created["kernels"] == []
    assert created["memory_bytes"] == 512 * 1024**2 and created["memory"] == "512 MiB"
    assert created["cpus"] == 1 and created["env"] == {"MY_FLAG": "1"} and created["created_time"] > 0

    specs = await _kernelspecs(jp_fetch)
    assert "mlws-cpu-small" in specs
    kernel_json = specs["mlws-cpu-small"]["spec"]
    assert kernel_json["display_name"] == "cpu-small (1 CPU, 512 MiB)"
    provisioner = kernel_json["metadata"]["kernel_provisioner"]
    assert provisioner["provisioner_name"] == "mlws-instance"
    assert provisioner["config"]["instance"]["memory_bytes"] == 512 * 1024**2

    again = await api.call("POST", "/compute/instances", {"name": "cpu-small"})
    assert again.code == 409 and error_of(again)["error"] == "already_exists"

    changed = await api.json("PATCH", "/compute/instances/cpu-small", {"memory": "1GiB", "cpus": None})
    assert changed["memory"] == "1 GiB" and changed["cpus"] is None
    assert changed["env"] == {"MY_FLAG": "1"}, "untouched fields stay"
    assert changed["idle_shutdown_minutes"] == 30
    kernel_json = (await _kernelspecs(jp_fetch))["mlws-cpu-small"]["spec"]
    assert kernel_json["display_name"] == "cpu-small (1 GiB)"
    assert kernel_json["metadata"]["kernel_provisioner"]["config"]["instance"]["cpus"] is None

    assert await api.json("GET", "/compute/instances/cpu-small") == changed
    listed = await api.json("GET", "/compute/instances")
    assert [i["name"] for i in listed["instances"]] == ["cpu-small"]

    await api.json("DELETE", "/compute/instances/cpu-small", expect=204)
    assert "mlws-cpu-small" not in await _kernelspecs(jp_fetch)
    gone = await api.call("GET", "/compute/instances/cpu-small")
    assert gone.code == 404 and error_of(gone)["error"] == "not_found"
    missing = await api.call("DELETE", "/compute/instances/cpu-small")
    assert missing.code == 404

    events = (await api.json("GET", "/compute/events?instance=cpu-small"))["events"]
    assert [e["kind"] for e in events] == ["deleted", "updated", "created"]
    assert events[1]["details"]["memory_bytes"] == 1024**3
    oldest = events[-1]["event_id"]
    later = (await api.json("GET", f"/compute/events?after_id={oldest}&limit=1"))["events"]
    assert len(later) == 1 and later[0]["kind"] == "deleted", "limit keeps the newest"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "Bad_Name"}, "instance name 'Bad_Name' is not valid"),
        ({"name": "ok", "cpus": 0}, "cpus must be at least 1"),
        ({"name": "ok", "cpus": 100_000}, "this machine lets the workspace use"),
        ({"name": "ok", "cpus": "two"}, "cpus"),
        ({"name": "ok", "memory": "lots"}, "memory 'lots' is not a size"),
        ({"name": "ok", "memory": "1MiB"}, "at least 64 MiB"),
        ({"name": "ok", "gpus": -1}, "gpus must be a whole number from 0 to 64"),
        ({"name": "ok", "idle_shutdown_minutes": -5}, "idle_shutdown_minutes must be from 0"),
        ({"name": "ok", "env": {"1A": "x"}}, "'1A' is not a valid environment variable name"),
        ({"name": "ok", "env": {"MLWS_WORKSPACE": "x"}}, "cannot be overridden"),
        ({"name": "ok", "python": "/no/such/python"}, "is not an executable file"),
        ({"name": "ok", "size": "large"}, "size: Extra inputs are not permitted"),
        ({"cpus": 1}, "name: Field required"),
    ],
)
async def test_bad_definitions_are_400_naming_the_problem(api: Api, jp_fetch, body, message) -> None:
    response = await api.call("POST", "/compute/instances", body)
    assert response.code == 400, response.body
    error = error_of(response)
    assert error["error"] == "invalid_parameter" and message in error["message"], error["message"]
    assert (await api.json("GET", "/compute/instances"))["instances"] == []
    assert not [name for name in await _kernelspecs(jp_fetch) if name.startswith("mlws-")]


async def test_bad_updates_queries_and_kernels_are_clear_4xx(api: Api) -> None:
    await api.json("POST", "/compute/instances", {"name": "box", "cpus": 1}, expect=201)
    cases = [
        ("PATCH", "/compute/instances/box", {}, 400, "names no field to change"),
        ("PATCH", "/compute/instances/box", {"name": "other"}, 400, "name: Extra inputs"),
        ("PATCH", "/compute/instances/box", {"memory": "tiny"}, 400, "is not a size"),
        ("PATCH", "/compute/instances/nope", {"cpus": 1}, 404, "nope"),
        ("GET", "/compute/events?limit=0", None, 400, "limit must be an integer from 1 to 1000"),
        ("GET", "/compute/events?after_id=-1", None, 400, "after_id must be a non-negative integer"),
        ("GET", "/compute/events?target=box", None, 400, "Unknown query parameter(s): target"),
        ("POST", "/compute/kernels/not-a-kernel/keepalive", None, 404, "not-a-kernel"),
    ]
    for method, path, body, status, message in cases:
        response = await api.call(method, path, body)
        assert response.code == status, (method, path, response.body)
        assert message in error_of(response)["message"], (path, error_of(response)["message"])
    kept = await api.json("GET", "/compute/instances/box")
    assert kept["cpus"] == 1 and kept["memory_bytes"] is None, "a refused change changes nothing"
    assert (await api.json("GET", "/compute/kernels")) == {"kernels": []}


async def test_changes_reach_the_events_websocket(api: Api, jp_ws_fetch) -> None:
    ws = await jp_ws_fetch("api", "events", "subscribe")
    try:
        await api.json("POST", "/compute/instances", {"name": "live-box"}, expect=201)
        event = await _next_compute_event(ws)
        assert event["action"] == "changed" and event["instance"] == "live-box"
        assert event["kernel_id"] is None and event["shutdown_at"] is None
    finally:
        ws.close()


async def test_events_recorded_by_another_process_reach_the_websocket(
    api: Api, jp_ws_fetch, services
) -> None:
    """A limit stop is recorded by the kernel's provisioner, outside this server's handlers."""
    await api.json("POST", "/compute/instances", {"name": "small", "memory": "256MiB"}, expect=201)
    ws = await jp_ws_fetch("api", "events", "subscribe")
    elsewhere = open_store(services.location.store_url)
    try:
        reason = "kernel stopped: memory 300 MiB over the 256 MiB limit of compute instance small"
        elsewhere.record_compute_event("small", "limit_stopped", kernel_id="k-1", reason=reason)
        event = await _next_compute_event(ws, skip=("changed",))
        assert event["action"] == "limit_stopped" and event["instance"] == "small"
        assert event["kernel_id"] == "k-1" and event["reason"] == reason
    finally:
        elsewhere.close()
        ws.close()


async def _next_compute_event(ws, timeout: float = 10.0, skip: tuple[str, ...] = ()) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await asyncio.wait_for(ws.read_message(), timeout=max(0.1, deadline - time.monotonic()))
        event = json.loads(message)
        if event.get("schema_id") == COMPUTE_SCHEMA and event["action"] not in skip:
            return event
    raise AssertionError("no compute event on the websocket")


# ----- kernelspecs follow the store when the server starts ------------------------------------
@pytest.fixture
def seeded(jp_root_dir: Path, jp_data_dir: Path) -> None:
    """An instance only in the store, and a kernelspec left by an instance deleted meanwhile."""
    workspace = str(jp_root_dir / "ws")
    store = open_store(resolve_location(workspace).store_url)
    try:
        store.create_compute_target(spec.validate_instance("from-store", cpus=1))
    finally:
        store.close()
    kernels = jp_data_dir / "kernels"
    spec.write_kernelspec(ComputeInstance(name="deleted-meanwhile"), workspace, kernels)
    spec.write_kernelspec(ComputeInstance(name="other-workspace"), str(jp_root_dir / "elsewhere"), kernels)


async def test_server_start_syncs_kernelspecs_with_the_store(seeded, jp_serverapp, jp_fetch) -> None:
    deadline = time.monotonic() + 10
    while True:
        names = set(await _kernelspecs(jp_fetch))
        if "mlws-from-store" in names and "mlws-deleted-meanwhile" not in names:
            break
        assert time.monotonic() < deadline, f"kernelspecs not synced: {sorted(names)}"
        await asyncio.sleep(0.1)
    assert "mlws-other-workspace" in names, "another workspace's instance is left alone"
