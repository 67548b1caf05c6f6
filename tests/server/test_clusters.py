"""Training clusters and attached clusters through the server (issue 15, items 1 and 2): real Dask.

A LocalCluster of worker processes on 127.0.0.1 started by the server's ClusterService and scaled
by Dask's `adapt` (0 -> 2 -> 0 nodes, with the node events and their reasons), and a separate
`dask scheduler` + `dask worker` (processes of their own) attached, checked and detached.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from .api_helpers import Api
from .api_helpers import until as _until

IDLE = 2


@pytest.fixture
def jp_server_config(jp_root_dir: Path) -> dict:
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}, "allow_unauthenticated_access": False},
        "MLWorkspaceApp": {
            "workspace": str(jp_root_dir / "ws"),
            "cluster_interval": 0.2,
            "compute_interval": 0,
        },
    }


def _worker_pids(parent: int) -> set[int]:
    """Dask worker processes (spawned by a nanny) below this process."""
    found = set()
    for proc in psutil.Process(parent).children(recursive=True):
        try:
            if "spawn_main" in " ".join(proc.cmdline()):
                found.add(proc.pid)
        except psutil.Error:
            continue
    return found


def _listening(root: psutil.Process) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every listening TCP socket of `root` and its descendants."""
    found = []
    for proc in [root, *root.children(recursive=True)]:
        try:
            sockets = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        found.extend((proc.pid, c.laddr.ip, c.laddr.port) for c in sockets if c.status == psutil.CONN_LISTEN)
    return found


@pytest.mark.catalogue("A10")
async def test_a_cluster_scales_from_zero_to_two_and_back_with_its_reasons(api: Api, jp_serverapp) -> None:
    from distributed import Client

    made = await api.json(
        "POST",
        "/compute/clusters",
        {
            "name": "cpu-cluster",
            "min_nodes": 0,
            "max_nodes": 2,
            "node": {"cpus": 1, "memory": "1GiB"},
            "idle_seconds_before_scaledown": IDLE,
        },
        expect=201,
    )
    assert made["state"] == "stopped" and made["nodes"] == 0 and made["node"]["memory_bytes"] == 1024**3
    started = await api.json("PUT", "/compute/clusters/cpu-cluster/state", {"state": "running"})
    assert started["state"] == "running" and started["address"].startswith("tcp://127.0.0.1:")
    assert started["nodes"] == 0, "min_nodes 0: no node until there is work"

    client = await asyncio.get_running_loop().run_in_executor(
        None, lambda: Client(started["address"], set_as_default=False)
    )
    try:
        asked = time.monotonic()
        futures = client.map(lambda i: (time.sleep(3), i)[1], range(4), pure=False)

        async def nodes(n: int) -> Any:
            found = await api.json("GET", "/compute/clusters/cpu-cluster")
            return found if found["nodes"] == n else None

        up = await _until(lambda: nodes(2), 30, "scaled up to 2 nodes")
        up_after = time.monotonic() - asked
        assert up["busy_nodes"] >= 1
        # Dask's thread variables reach the nodes themselves (not the server): one BLAS thread per task thread
        threads = await asyncio.get_running_loop().run_in_executor(
            None, lambda: client.run(lambda: __import__("os").environ.get("OMP_NUM_THREADS"))
        )
        assert set(threads.values()) == {"1"}
        # RELIABILITY A10: the scheduler, its dashboard, the nannies and the workers listen on
        # 127.0.0.1 only (this process holds the scheduler; the nodes are its children)
        listening = _listening(psutil.Process())
        assert len(listening) >= 5 and all(ip == "127.0.0.1" for _, ip, _ in listening), listening
        results = await asyncio.get_running_loop().run_in_executor(None, client.gather, futures)
        assert sorted(results) == [0, 1, 2, 3]
        del futures  # released: Dask keeps a node while results are held in memory
        idle_from = time.monotonic()
        await _until(lambda: nodes(0), IDLE + 15, "scaled down to 0 nodes once idle")
        down_after = time.monotonic() - idle_from
    finally:
        await asyncio.get_running_loop().run_in_executor(None, client.close)
    events = (await api.json("GET", "/compute/events?instance=cpu-cluster&limit=100"))["events"]
    kinds = [e["kind"] for e in reversed(events)]
    assert kinds[:2] == ["created", "cluster_started"]
    assert kinds.count("node_added") == 2 and kinds.count("node_removed") == 2
    removed = [e for e in events if e["kind"] == "node_removed"]
    assert all("idle for" in e["reason"] and "Dask adaptive scaling" in e["reason"] for e in removed)
    scaled = [e["reason"] for e in events if e["kind"] == "scaled"]
    assert any(r.startswith("0 -> ") for r in scaled) and any(
        r.endswith("nodes idle (Dask adaptive scaling)") for r in scaled
    )
    print(
        f"scale-up to 2 nodes {up_after:.1f} s after the work arrived; back to 0 {down_after:.1f} s after idle"
    )
    # (DESIGN: retire <= idle + 5 s)
    assert down_after <= IDLE + 8

    me = os.getpid()
    await _until(lambda: _async(lambda: not _worker_pids(me)), 15, "no node: no worker process left")
    await api.json("PUT", "/compute/clusters/cpu-cluster/state", {"state": "running"})
    await api.json("PATCH", "/compute/clusters/cpu-cluster", {"min_nodes": 1})  # re-adapted in place
    await _until(lambda: nodes(1), 30, "min_nodes 1 keeps a node")
    pids = _worker_pids(me)
    assert pids
    # the server's environment (which its kernels inherit) is not Dask's: no OMP_NUM_THREADS=1
    assert "OMP_NUM_THREADS" not in os.environ and "MALLOC_TRIM_THRESHOLD_" not in os.environ
    await api.call("DELETE", "/compute/clusters/cpu-cluster")
    assert (await api.call("GET", "/compute/clusters/cpu-cluster")).code == 404
    assert "cluster_stopped" in [
        e["kind"] for e in (await api.json("GET", "/compute/events?instance=cpu-cluster"))["events"]
    ]
    await _until(lambda: _async(lambda: not (_worker_pids(me) & pids)), 15, "its processes end")


async def _async(check: Any) -> Any:
    return check()


async def test_a_factory_that_is_not_a_dask_cluster_class_is_never_called(api: Api, tmp_path: Path) -> None:
    """`factory` names a backend class; a function (here one that would run a command) is refused
    before it is called, and nothing stays stored."""
    marker = tmp_path / "ran"
    answer = await api.call(
        "POST",
        "/compute/clusters",
        {
            "name": "sneaky",
            "min_nodes": 1,
            "max_nodes": 1,
            "factory": "subprocess.Popen",
            "factory_kwargs": {"args": ["touch", str(marker)]},
        },
    )
    assert answer.code == 400 and "is not a Dask cluster class" in json.loads(answer.body)["message"]
    assert not marker.exists()
    assert (await api.json("GET", "/compute/clusters"))["clusters"] == []


async def test_bad_clusters_are_refused_with_the_reason(api: Api) -> None:
    cases = [
        ({"name": "c1", "min_nodes": 3, "max_nodes": 2}, "min_nodes (3) is more than max_nodes (2)"),
        ({"name": "c2", "min_nodes": -1}, "min_nodes must be a whole number"),
        ({"name": "c3", "max_nodes": 0}, "max_nodes must be at least 1"),
        (
            {"name": "c4", "node": {"cpus": 4096}},
            f"bigger than this machine, which has {len(os.sched_getaffinity(0))}",
        ),
        ({"name": "c5", "factory": "not a path"}, "dotted path"),
        ({"name": "Bad_Name"}, "is not valid"),
        ({"name": "c6", "address": "ftp://x"}, "Dask scheduler address"),
        (
            {"name": "c7", "address": "tcp://127.0.0.1:9", "min_nodes": 1},
            "attached cluster is somebody else's",
        ),
    ]
    for body, message in cases:
        answer = await api.call("POST", "/compute/clusters", body)
        assert answer.code == 400, (body, answer.code, answer.body)
        assert message in json.loads(answer.body)["message"], (body, answer.body)
    # an attached scheduler that does not answer: 503 within seconds, and nothing stays stored
    started = time.monotonic()
    answer = await api.call("POST", "/compute/clusters", {"name": "nobody", "address": "tcp://127.0.0.1:9"})
    assert answer.code == 503 and "no Dask scheduler answered" in json.loads(answer.body)["message"]
    assert time.monotonic() - started < 15
    assert (await api.json("GET", "/compute/clusters"))["clusters"] == []
    # names are shared with compute instances
    await api.json("POST", "/compute/instances", {"name": "taken"}, expect=201)
    assert (await api.call("POST", "/compute/clusters", {"name": "taken"})).code == 409


async def test_an_attached_scheduler_is_used_and_left_running(api: Api, outside_scheduler: str) -> None:
    from distributed import Client

    attached = await api.json(
        "POST", "/compute/clusters", {"name": "hpc", "address": outside_scheduler}, expect=201
    )
    assert attached["kind"] == "attached" and attached["state"] == "running" and attached["warnings"] == []

    async def one_node() -> Any:
        found = await api.json("GET", "/compute/clusters/hpc")
        return found if found["nodes"] == 1 else None

    await _until(one_node, 10, "the outside worker is seen")
    # never scaled: a state change to stopped only disconnects; detach leaves it running
    await api.json("PUT", "/compute/clusters/hpc/state", {"state": "stopped"})
    await api.json("PUT", "/compute/clusters/hpc/state", {"state": "running"})
    assert (await api.call("DELETE", "/compute/clusters/hpc")).code == 204

    def still_there() -> int:
        with Client(outside_scheduler, timeout="5s") as client:
            return len(client.scheduler_info()["workers"])

    assert await asyncio.get_running_loop().run_in_executor(None, still_there) == 1
    assert (await api.call("GET", "/compute/clusters/hpc")).code == 404


async def test_another_backend_by_factory_runs_its_scheduler_in_a_process_of_its_own(api: Api) -> None:
    """A second backend, for real: Dask's SubprocessCluster (scheduler and workers each a process),
    named by its dotted path with JSON keyword arguments, as dask-jobqueue's would be."""
    from distributed import Client

    body = {
        "name": "subprocess-cluster",
        "min_nodes": 0,
        "max_nodes": 1,
        "idle_seconds_before_scaledown": IDLE,
        "factory": "distributed.deploy.subprocess.SubprocessCluster",
        "factory_kwargs": {
            "host": "127.0.0.1",
            "n_workers": 0,
            "threads_per_worker": 1,
            "dashboard_address": None,
        },
    }
    await api.json("POST", "/compute/clusters", body, expect=201)
    started = await api.json("PUT", "/compute/clusters/subprocess-cluster/state", {"state": "running"})
    port = int(started["address"].rsplit(":", 1)[1])
    owners = {
        c.pid
        for c in psutil.net_connections("tcp")
        if c.laddr and c.laddr.port == port and c.status == "LISTEN"
    }
    assert owners and os.getpid() not in owners, "the scheduler listens from a process of its own"
    client = await asyncio.get_running_loop().run_in_executor(
        None, lambda: Client(started["address"], set_as_default=False)
    )
    try:
        answer = await asyncio.get_running_loop().run_in_executor(
            None, lambda: client.submit(lambda: 6 * 7).result(timeout=60)
        )
        assert answer == 42  # a node was added for the work (Dask's adapt on the factory's cluster)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, client.close)
    assert (await api.call("DELETE", "/compute/clusters/subprocess-cluster")).code == 204

    def listening() -> bool:
        return any(
            c.laddr and c.laddr.port == port and c.status == "LISTEN" for c in psutil.net_connections("tcp")
        )

    await _until(lambda: _async(lambda: not listening()), 15, "its scheduler process is gone")
