"""Failure paths a user sees: predict timeout → 504 (S5), a model the gate refuses → the
endpoint is `failed` with the reason, delete → the port closes."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.errors import Unavailable

from .conftest import Client, frame, register

SLOW_SCRIPT = """
import json
import time

def init():
    pass

def run(raw_data):
    rows = json.loads(raw_data)
    if float(rows[0]["x"]) < 0:
        time.sleep(60)
    return {"predictions": [float(r["x"]) * 2 for r in rows]}
"""


@pytest.mark.catalogue("S5")
def test_predict_over_the_timeout_is_504_and_the_endpoint_keeps_serving(
    ws: Any, manager: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "score.py").write_text(SLOW_SCRIPT)
    ws.models.register("slow", folder, example=[{"x": 1.0}], trusted=True)
    ep = ws.endpoints.deploy("slow-api", model="slow:1", timeout_seconds=1)
    client = Client(ep.record.port, ep.keys.primary)
    started = time.monotonic()
    status, answer, text = client.score([{"x": -1.0}])
    assert status == 504 and answer["error"] == "timeout"
    assert time.monotonic() - started < 10 and "Traceback" not in text
    status, answer, _ = client.score([{"x": 2.5}])
    assert status == 200 and answer["predictions"] == [5.0]


@pytest.mark.catalogue("S1")
def test_a_model_the_gate_refuses_leaves_the_endpoint_failed_with_the_reason(
    ws: Any, manager: Any, tmp_path: Path
) -> None:
    import pickle

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"not": "trusted"}))
    ws.models.register("risky", path)  # not trusted: the gate will not unpickle it
    with pytest.raises(Unavailable) as info:
        ws.endpoints.deploy("risky-api", model="risky:1", wait=90)
    record = ws.store.get_endpoint("risky-api")
    assert record.state == "failed" and record.state_reason
    assert "trust" in record.state_reason.lower() and "Traceback" not in record.state_reason
    assert record.state_reason in str(info.value)


def test_deleting_an_endpoint_stops_its_replicas(ws: Any, manager: Any, tmp_path: Path) -> None:
    register(ws, tmp_path)
    ep = ws.endpoints.deploy("gone", model="churn:1")
    port = ep.record.port
    assert Client(port).request("GET", "/healthz")[0] == 200
    ws.endpoints.delete("gone")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert manager.replica_pids("gone") == []
    assert "gone" not in set(ws.endpoints.list()["name"])


@pytest.mark.catalogue("S6")
def test_deleting_the_served_version_keeps_the_pinned_model_and_fails_closed(
    ws: Any, manager: Any, tmp_path: Path
) -> None:
    model, _ = register(ws, tmp_path)
    ep = ws.endpoints.deploy("pinned", model="churn:1")
    ws.store.delete_model_version("churn", 1)
    deadline = time.monotonic() + 10
    while ws.store.get_endpoint("pinned").state != "failed":
        assert time.monotonic() < deadline, "the endpoint never reported the missing version"
        time.sleep(0.05)
    assert "churn:1 is no longer in the registry" in (ws.store.get_endpoint("pinned").state_reason or "")
    X = frame(2, seed=4)
    status, answer, _ = Client(ep.record.port, ep.keys.primary).score(X.to_dict(orient="records"))
    assert status == 200 and answer["version"] == 1  # the loaded, hash-checked model, nothing else
    # the same bits as the model in memory on the same rows (tests/serving/test_scoring.py
    # checks that promise on many random frames)
    assert answer["predictions"] == [float(v) for v in model.predict(X)]
