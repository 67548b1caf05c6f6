"""The catalogue's hostile inputs (RELIABILITY P1, P3, P8, P9, P10) through the MLflow routes.

Raw HTTP, as a hostile client sends it (MLflow's client would refuse some of these itself), and
the stock client where the point is what a user reads back. Each refusal is MLflow's error JSON
with a 4xx, never a 500, and nothing stored is changed by a refused request.
"""

from __future__ import annotations

import http.client
import json
import math
import struct
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest

from .test_tracking import raw_call

TRAVERSAL = [
    "../x",
    "..%2fx",
    "%252e%252e%252fx",
    "..\\x",
    "/etc/passwd",
    "C:/x",
    "\\\\host\\share",
    "a/#/../..",
    "a?/../..",
    "a;/../..",
    "a%00b",
    "a\x01b",
    "%c0%ae%c0%ae/x",
]


@pytest.fixture
def run_id(server: Any) -> str:
    status, body = raw_call(
        server, "POST", "/api/2.0/mlflow/experiments/create", {"name": f"hostile-{uuid.uuid4().hex[:8]}"}
    )
    assert status == 200
    status, body = raw_call(
        server,
        "POST",
        "/api/2.0/mlflow/runs/create",
        {"experiment_id": body["experiment_id"], "start_time": 1},
    )
    assert status == 200
    return str(body["run"]["info"]["run_id"])


def _artifact(server: Any, run: dict[str, Any], rel: str) -> str:
    # `#`, `?` and control characters cannot be sent raw in a path: percent-encoded, as a client must
    rel = quote(rel, safe="/%:\\;")
    return f"/api/2.0/mlflow-artifacts/artifacts/{run['experiment_id']}/{run['run_id']}/artifacts/{rel}"


def send_big(server: Any, path: str, body: bytes) -> tuple[int, Any]:
    """POST a body the server may refuse before reading it all (the 413 is read all the same)."""
    connection = http.client.HTTPConnection("127.0.0.1", urlsplit(server.url).port, timeout=60)
    prefix = urlsplit(server.url).path
    connection.putrequest("POST", f"{prefix}/mlws/mlflow{path}")
    for name, value in (
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Authorization", f"Bearer {server.token}"),
    ):
        connection.putheader(name, value)
    connection.endheaders()
    try:
        connection.send(body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused early: the answer is waiting
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read() or b"{}")


@pytest.mark.catalogue("P1")
def test_p1_traversal_through_the_artifact_proxy_is_refused_and_nothing_outside_changes(
    server: Any, run_id: str, tmp_path: Path
) -> None:
    _, got = raw_call(server, "GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
    run = got["run"]["info"]
    root = server.root_dir
    before = sorted(str(p) for p in root.parent.rglob("*") if ".mlws" not in p.parts)
    for bad in TRAVERSAL:
        for method, body in (("PUT", b"owned"), ("GET", None), ("DELETE", None)):
            status, answer = raw_call(server, method, _artifact(server, run, bad), body)
            assert status in (400, 404), f"{method} {bad!r}: {status} {answer}"
            assert isinstance(answer, dict) and answer["error_code"] in (
                "INVALID_PARAMETER_VALUE",
                "BAD_REQUEST",
                "RESOURCE_DOES_NOT_EXIST",
                "ENDPOINT_NOT_FOUND",
            ), (bad, answer)
        prefix = f"{run['experiment_id']}/{run_id}/artifacts/{bad}"
        status, answer = raw_call(server, "GET", f"/api/2.0/mlflow-artifacts/artifacts?path={quote(prefix)}")
        assert status in (200, 400) and (status == 400 or answer == {"files": []}), (bad, answer)
        status, answer = raw_call(
            server, "GET", f"/api/2.0/mlflow/artifacts/list?run_id={run_id}&path={quote(bad)}"
        )
        assert status in (200, 400) and (status == 400 or answer["files"] == []), (bad, answer)
    after = sorted(str(p) for p in root.parent.rglob("*") if ".mlws" not in p.parts)
    assert after == before
    assert not (Path("/etc/passwd").read_bytes().startswith(b"owned"))


@pytest.mark.catalogue("P3")
def test_p3_a_chosen_artifact_location_is_refused(server: Any) -> None:
    for location in (
        "file:///etc",
        "http:///#/../../etc",
        "../../",
        "mlflow-artifacts:/../",
        "s3://elsewhere/x",
    ):
        name = f"loc-{uuid.uuid4().hex[:8]}"
        status, body = raw_call(
            server,
            "POST",
            "/api/2.0/mlflow/experiments/create",
            {"name": name, "artifact_location": location},
        )
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), location
        assert "artifact_location" in body["message"]
        status, _ = raw_call(server, "GET", f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}")
        assert status == 404  # nothing half-made


@pytest.mark.catalogue("P8")
def test_p8_special_floats_round_trip_bit_exact(mlflow: Any) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    values = [math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, float(2**53 + 1), 0.1]
    client = MlflowClient()
    mlflow.set_experiment(f"floats-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        client.log_batch(
            run.info.run_id, metrics=[Metric("v", v, 1_700_000_000_000, i) for i, v in enumerate(values)]
        )
    got = [m.value for m in client.get_metric_history(run.info.run_id, "v")]
    assert [struct.pack(">d", v) for v in got] == [struct.pack(">d", v) for v in values]


@pytest.mark.catalogue("P9")
def test_p9_bad_names_are_a_clear_400_and_twins_do_not_collide(server: Any) -> None:
    for bad in ("", "   ", "a" * 5000, "x\u200by" * 2000):
        status, body = raw_call(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": bad})
        assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", repr(bad[:20])
    nfc, nfd = "caf\u00e9-" + uuid.uuid4().hex[:6], None
    nfd = nfc.replace("\u00e9", "e\u0301")
    status, _ = raw_call(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": nfc})
    assert status == 200
    status, body = raw_call(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": nfd})
    assert (status, body["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")


@pytest.mark.catalogue("P8", "P10")
def test_p10_abusive_bodies_are_refused_quickly_and_nothing_is_written(server: Any, run_id: str) -> None:
    cases = [
        ("runs/log-parameter", {"run_id": run_id, "key": "big", "value": "x" * 1_000_000}),
        (
            "runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": i} for i in range(100_000)],
            },
        ),
        ("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 1.5}),
        ("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 2**64}),
        ("runs/log-metric", {"run_id": run_id, "key": "m", "value": [1], "timestamp": 1, "step": 0}),
        ("runs/log-metric", {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": "soon", "step": 0}),
        ("runs/log-metric", {"run_id": run_id, "key": {"a": 1}, "value": 1.0, "timestamp": 1, "step": 0}),
    ]
    for path, body in cases:
        status, answer = send_big(server, f"/api/2.0/mlflow/{path}", json.dumps(body).encode())
        assert status in (400, 413) and answer["error_code"] == "INVALID_PARAMETER_VALUE", (path, answer)
    deep = b'{"run_id": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    status, answer = raw_call(server, "POST", "/api/2.0/mlflow/runs/log-metric", deep)
    assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE"
    for number in (b"1e400", b"-1e400", b"1" + b"0" * 400 + b".5"):  # past a float: not infinity
        body = b'{"run_id": "%s", "key": "m", "value": %s, "timestamp": 1, "step": 0}' % (
            run_id.encode(),
            number,
        )
        status, answer = raw_call(server, "POST", "/api/2.0/mlflow/runs/log-metric", body)
        assert status == 400 and "outside the range of a 64-bit float" in answer["message"], answer
    huge = json.dumps({"run_id": run_id, "key": "k", "value": "v" * (5 * 1024 * 1024)}).encode()
    status, answer = send_big(server, "/api/2.0/mlflow/runs/log-parameter", huge)
    assert status == 413 and answer["error_code"] == "INVALID_PARAMETER_VALUE"
    status, got = raw_call(server, "GET", f"/api/2.0/mlflow/runs/get?run_id={run_id}")
    assert got["run"]["data"].get("metrics", []) == [] and got["run"]["data"].get("params", []) == []
