"""Replica supervision over real processes: crash restart, shared port, manager restart,
stale replica cleanup (RELIABILITY S5)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jupyter_mlws.serving import procs

from .conftest import Client, frame, register


def wait_for(check: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def scores(port: int, key: str, row: Any) -> bool:
    try:
        return Client(port, key).score(row)[0] == 200
    except OSError:
        return False


@pytest.mark.catalogue("S5")
def test_kill_9_of_a_replica_is_restarted_and_serves_again(ws: Any, manager: Any, tmp_path: Path) -> None:
    model, _ = register(ws, tmp_path)
    ep = ws.endpoints.deploy("crashy", model="churn:1")
    row = frame(1, seed=5).to_dict(orient="records")
    (old,) = manager.replica_pids("crashy")
    os.kill(old, signal.SIGKILL)
    new = wait_for(lambda: [p for p in manager.replica_pids("crashy") if p != old], what="a new replica")
    assert old not in new
    wait_for(lambda: scores(ep.record.port, ep.keys.primary, row), what="serving again")
    _, answer, _ = Client(ep.record.port, ep.keys.primary).score(row)
    np.testing.assert_allclose(answer["predictions"], model.predict(frame(1, seed=5)))
    wait_for(lambda: ws.store.get_endpoint("crashy").state == "running", what="running")


def test_two_replicas_share_one_port_and_both_answer(ws: Any, manager: Any, tmp_path: Path) -> None:
    register(ws, tmp_path)
    ep = ws.endpoints.deploy("pair", model="churn:1", replicas=2)
    pids = manager.replica_pids("pair")
    assert len(pids) == 2
    row = frame(1).to_dict(orient="records")
    for _ in range(60):  # new connections: the kernel spreads them over both listeners
        client = Client(ep.record.port, ep.keys.primary)
        assert client.score(row)[0] == 200
        client.close()
    folder = procs.serving_dir(ws.location.workspace) / "pair"

    def served_by_both() -> bool:
        counts = {}
        for pid in pids:
            data = procs.read_json(folder / f"replica-{pid}.json") or {}
            counts[pid] = sum(d["requests"] for d in (data.get("deployments") or {}).values())
        return all(n > 0 for n in counts.values())

    wait_for(served_by_both, timeout=5, what="requests on both replicas")


def test_endpoint_comes_back_on_the_same_port_after_the_manager_restarts(
    ws: Any, manager: Any, tmp_path: Path
) -> None:
    from jupyter_mlws.serving.manager import EndpointManager

    register(ws, tmp_path)
    ep = ws.endpoints.deploy("sticky", model="churn:1")
    port, row = ep.record.port, frame(1).to_dict(orient="records")
    manager.stop()
    wait_for(lambda: not scores(port, ep.keys.primary, row), what="the replicas to stop")
    assert ws.store.get_endpoint("sticky").owner is None
    again = EndpointManager(ws.store, ws.artifact_store, ws.location.workspace).start()
    try:
        wait_for(lambda: scores(port, ep.keys.primary, row), what="serving again on the same port")
        assert ws.store.get_endpoint("sticky").port == port
    finally:
        again.stop()


MANAGER_SCRIPT = """
import sys, time
import jupyter_mlws as mlws
from jupyter_mlws.serving.manager import EndpointManager
ws = mlws.Workspace(sys.argv[1])
EndpointManager(ws.store, ws.artifact_store, ws.location.workspace).start()
print("started", flush=True)
time.sleep(600)
"""


def test_a_new_manager_kills_stale_replicas_of_a_dead_one(ws: Any, tmp_path: Path) -> None:
    from jupyter_mlws.serving.manager import EndpointManager

    register(ws, tmp_path)
    where = ws.location.workspace
    old = subprocess.Popen([sys.executable, "-c", MANAGER_SCRIPT, where], stdout=subprocess.PIPE)
    try:
        assert old.stdout is not None and old.stdout.readline().strip() == b"started"
        ep = ws.endpoints.deploy("orphan", model="churn:1")  # the live manager in `old` runs it
        assert ws.store.get_endpoint("orphan").owner == f"{os.uname().nodename}:{old.pid}"
        folder = procs.serving_dir(where)
        (stale,) = wait_for(lambda: procs.stale_replicas(folder, keep=set()), what="the replica")
        # a dead manager leaves its replicas: simulate one that outlives it (SIGSTOP keeps it from
        # noticing its parent is gone), then kill the manager with -9
        os.kill(stale.pid, signal.SIGSTOP)
        old.kill()
        old.wait()
    finally:
        if old.poll() is None:
            old.kill()
            old.wait()
    mgr = EndpointManager(ws.store, ws.artifact_store, where).start()
    try:
        wait_for(lambda: not stale.is_running(), timeout=40, what="the stale replica to be killed")
        row = frame(1).to_dict(orient="records")
        wait_for(lambda: scores(ep.record.port, ep.keys.primary, row), timeout=40, what="serving again")
        assert ws.store.get_endpoint("orphan").owner == mgr.owner
        assert json.loads(json.dumps(mgr.replica_pids("orphan"))) != [stale.pid]
    finally:
        mgr.stop()
