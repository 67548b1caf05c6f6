"""POST /score over real HTTP on 127.0.0.1 against a real replica (RELIABILITY S4, A7)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from .conftest import COLUMNS, Client, frame, kill_replicas, register


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One deployed skops model, shared by this module's tests (replica start costs ~1 s)."""
    import jupyter_mlws as mlws
    from jupyter_mlws.client.endpoints import stop_local_managers

    tmp = tmp_path_factory.mktemp("scoring")
    ws = mlws.Workspace(tmp / "ws")
    model, version = register(ws, tmp)
    ws.models.set_alias("churn", "production", version.version)
    ep = ws.endpoints.deploy("churn-api", model="churn@production")
    yield {"ws": ws, "model": model, "version": version, "ep": ep}
    stop_local_managers()
    kill_replicas(ws.location.workspace)
    ws.close()


def test_records_split_and_csv_score_like_the_model(served: dict[str, Any]) -> None:
    ep, model = served["ep"], served["model"]
    X = frame(7, seed=3)
    expected = model.predict(X)
    client = Client(ep.record.port, ep.keys.primary)
    status, records, _ = client.score(X.to_dict(orient="records"))
    assert status == 200
    assert records["deployment"] == "blue" and records["version"] == served["version"].version
    np.testing.assert_allclose(records["predictions"], expected)
    status, split, _ = client.score({"dataframe_split": {"columns": COLUMNS, "data": X.values.tolist()}})
    assert status == 200
    np.testing.assert_allclose(split["predictions"], expected)
    status, csv, _ = client.score(X.to_csv(index=False).encode(), ctype="text/csv")
    assert status == 200
    np.testing.assert_allclose(csv["predictions"], expected)
    np.testing.assert_allclose(ep.score(X), expected)  # the Python client
    assert ep.url == f"http://127.0.0.1:{ep.record.port}" and ep.scoring_url == ep.url + "/score"


def test_health_and_ready_need_no_key_and_other_routes_are_404(served: dict[str, Any]) -> None:
    client = Client(served["ep"].record.port)
    assert client.request("GET", "/healthz")[0] == 200
    assert client.request("GET", "/ready")[0] == 200
    assert client.request("GET", "/score")[0] == 405
    assert client.request("GET", "/")[0] == 404
    assert client.request("POST", "/admin", b"{}")[0] == 404


@pytest.mark.catalogue("A7")
def test_missing_or_wrong_key_is_401_and_never_echoed(served: dict[str, Any]) -> None:
    ep = served["ep"]
    client = Client(ep.record.port)
    body = frame(1).to_dict(orient="records")
    status, answer, text = client.score(body)
    assert status == 401 and answer["error"] == "unauthorized"
    wrong = ep.keys.primary[:-4] + "AAAA"
    status, _, text = client.score(body, key=wrong)
    assert status == 401 and wrong not in text
    raw_key = {"Authorization": ep.keys.primary}
    status, _, _ = client.request("POST", "/score", json.dumps(body).encode(), raw_key)
    assert status == 401  # not a Bearer header
    assert client.score(body, key=ep.keys.secondary)[0] == 200
    # the keys are nowhere in the store's record
    record = served["ws"].store.get_endpoint("churn-api")
    assert ep.keys.primary not in json.dumps(record.to_dict(with_keys=True))


@pytest.mark.catalogue("S4")
def test_bad_bodies_are_4xx_without_traceback(served: dict[str, Any]) -> None:
    ep = served["ep"]
    client = Client(ep.record.port, ep.keys.primary)
    answers = []
    status, answer, text = client.score(b'{"dataframe_split": ', ctype="application/json")
    assert status == 400 and answer["error"] == "invalid_parameter"
    answers.append(text)
    status, answer, text = client.score([{"a": 1.0, "b": 2.0, "c": 3.0}])
    assert status == 400 and "'d'" in answer["message"]
    answers.append(text)
    status, answer, text = client.score([{"a": 1.0, "b": "x", "c": 3.0, "d": 4.0}])
    assert status == 400 and "'b'" in answer["message"]
    answers.append(text)
    status, answer, text = client.score(b"", ctype="application/json")
    assert status == 400
    answers.append(text)
    big = b'{"x": "' + b"a" * (8 * 1024 * 1024 + 10) + b'"}'
    status, answer, text = Client(ep.record.port, ep.keys.primary).score(big)
    assert status == 413 and answer["error"] == "payload_too_large"
    answers.append(text)
    assert all("Traceback" not in t and 'File "' not in t for t in answers)
    assert client.score(frame(1).to_dict(orient="records"))[0] == 200  # still serving


@pytest.mark.catalogue("S4")
def test_100_concurrent_requests_each_get_their_own_answer(served: dict[str, Any]) -> None:
    ep, model = served["ep"], served["model"]
    X = frame(100, seed=11)
    expected = model.predict(X)
    results: dict[int, Any] = {}
    barrier = threading.Barrier(100)

    def one(i: int) -> None:
        client = Client(ep.record.port, ep.keys.primary)
        barrier.wait()
        status, answer, _ = client.score(X.iloc[[i]].to_dict(orient="records"))
        results[i] = answer["predictions"][0] if status == 200 else None
        client.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == list(range(100))
    # each answer is, to the bit, what the model says for that request's own row alone
    assert [results[i] for i in range(100)] == [float(model.predict(X.iloc[[i]])[0]) for i in range(100)]
    np.testing.assert_allclose([results[i] for i in range(100)], expected)


def test_answers_equal_the_models_own_predict_bit_for_bit_on_random_frames(served: dict[str, Any]) -> None:
    """An endpoint answers what the model in memory answers for the same frame: exact equality,
    on 150 random frames of 1..64 rows and several magnitudes, as records and in split
    orientation (JSON floats round-trip exactly; CSV parsing may not, so CSV is not here)."""
    import pandas as pd

    ep, model = served["ep"], served["model"]
    client = Client(ep.record.port, ep.keys.primary)
    rng = np.random.default_rng(20261202)
    for i in range(150):
        n = int(rng.integers(1, 65))
        values = rng.normal(size=(n, len(COLUMNS))) * rng.choice([1e-3, 1.0, 1e3], size=(1, len(COLUMNS)))
        records = pd.DataFrame(values, columns=COLUMNS).to_dict(orient="records")
        expected = [float(v) for v in model.predict(pd.DataFrame(records))]
        if i % 2:
            status, answer, _ = client.score(records)
        else:
            split = {"columns": COLUMNS, "data": [[r[c] for c in COLUMNS] for r in records]}
            status, answer, _ = client.score({"dataframe_split": split})
        assert status == 200
        assert answer["predictions"] == expected, f"frame {i} ({n} rows) differs from model.predict"


@pytest.mark.catalogue("A7")
def test_rotated_key_is_rejected_within_a_second_while_the_secondary_works(served: dict[str, Any]) -> None:
    ws, ep = served["ws"], served["ep"]
    client = Client(ep.record.port)
    body = frame(1).to_dict(orient="records")
    old = ep.keys.primary
    assert client.score(body, key=old)[0] == 200
    new = ws.endpoints.regenerate_key("churn-api", "primary")
    assert new != old
    started = time.monotonic()
    while client.score(body, key=old)[0] != 401:
        assert time.monotonic() - started < 1.0, "the old key still works after 1 s"
        time.sleep(0.02)
    assert client.score(body, key=ep.keys.secondary)[0] == 200
    deadline = time.monotonic() + 1.0
    while client.score(body, key=new)[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    ep.keys = type(ep.keys)(new, ep.keys.secondary)


def test_request_counts_and_latency_reach_the_store(served: dict[str, Any]) -> None:
    ep = served["ep"]
    client = Client(ep.record.port, ep.keys.primary)
    before = ep.stats().get("requests", 0)
    for _ in range(20):
        assert client.score(frame(1).to_dict(orient="records"))[0] == 200
    deadline = time.monotonic() + 5
    while ep.stats().get("requests", 0) < before + 20:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    stats = ep.stats()
    assert stats["p50_ms"] is not None and stats["p99_ms"] >= stats["p50_ms"]
    assert stats["per_deployment"]["blue"]["requests"] >= 20
    listing = served["ws"].endpoints.list()
    assert listing.loc[0, "name"] == "churn-api" and listing.loc[0, "state"] == "running"


def test_pipelined_requests_are_answered_in_order_on_one_connection(served: dict[str, Any]) -> None:
    import socket

    ep = served["ep"]
    rows = [frame(1, seed=s) for s in (21, 22, 23)]
    bodies = [json.dumps(r.to_dict(orient="records")).encode() for r in rows]
    raw = b"".join(
        b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer "
        + ep.keys.primary.encode()
        + b"\r\nContent-Length: %d\r\n\r\n" % len(b)
        + b
        for b in bodies
    )
    with socket.create_connection(("127.0.0.1", ep.record.port), timeout=30) as sock:
        sock.sendall(raw)
        data = b""
        while data.count(b'"predictions"') < 3:
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            data += chunk
    answers = [json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in data.split(b"HTTP/1.1 ")[1:]]
    got = [a["predictions"][0] for a in answers]
    np.testing.assert_allclose(got, [served["model"].predict(r)[0] for r in rows])


@pytest.mark.catalogue("A5")
def test_a_foreign_host_header_is_refused_on_every_route(served: dict[str, Any]) -> None:
    """DNS rebinding (RELIABILITY A5): a page on evil.example re-pointed at 127.0.0.1 sends
    `Host: evil.example`; the replica answers it 403, as the Jupyter server would."""
    ep = served["ep"]
    client = Client(ep.record.port, ep.keys.primary)
    body = json.dumps(frame(1).to_dict(orient="records")).encode()
    auth = {"Authorization": f"Bearer {ep.keys.primary}", "Content-Type": "application/json"}
    for host in ("evil.example", "evil.example:80", f"127.0.0.1.evil.example:{ep.record.port}", ""):
        for method, path, payload in (("GET", "/healthz", None), ("GET", "/ready", None), ("POST", "/score", body)):
            status, answer, _ = client.request(method, path, payload, {**auth, "Host": host})
            assert status == 403 and answer["error"] == "forbidden", (host, path)
    for host in (f"127.0.0.1:{ep.record.port}", f"localhost:{ep.record.port}", "[::1]", "LOCALHOST"):
        assert client.request("GET", "/healthz", None, {"Host": host})[0] == 200, host
    assert client.request("POST", "/score", body, {**auth, "Host": f"localhost:{ep.record.port}"})[0] == 200


@pytest.mark.catalogue("S4", "P8")
def test_deep_nesting_and_non_json_tokens_are_400_never_500(served: dict[str, Any]) -> None:
    ep = served["ep"]
    client = Client(ep.record.port, ep.keys.primary)
    bodies = [
        b"[" * 100_000 + b"]" * 100_000,
        b"NaN",
        b'[{"a": NaN, "b": 1.0, "c": 1.0, "d": 1.0}]',
        b'{"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": [[Infinity, 1, 1, 1]]}}',
        b"1",
        b'"text"',
        b"null",
        b"[1, 2]",
        b"[[]]",
        b"[{}]",
        b'{"data": 5}',
        b'{"dataframe_split": {"columns": "a", "data": 3}}',
        b"\xff\xfe",
        b'[{"a": 1e400, "b": 1.0, "c": 1.0, "d": 1.0}]',
    ]
    for body in bodies:
        status, answer, text = client.score(body)
        assert status == 400, (body[:40], status, text[:200])
        assert answer["error"] == "invalid_parameter" and answer["message"]
        assert "Traceback" not in text
    assert "nested too deeply" in client.score(bodies[0])[1]["message"]
    assert "NaN is not JSON" in client.score(bodies[1])[1]["message"]
    assert "outside the range of a 64-bit float" in client.score(bodies[-1])[1]["message"]
    assert client.score(frame(1).to_dict(orient="records"))[0] == 200  # still serving
