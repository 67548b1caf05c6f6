"""Alias moves and blue/green traffic over real HTTP (no failed request while redeploying)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .conftest import Client, frame, register


def test_moving_the_alias_redeploys_without_a_failed_request(ws: Any, manager: Any, tmp_path: Path) -> None:
    _, v1 = register(ws, tmp_path, seed=0)
    m2, v2 = register(ws, tmp_path, seed=1)
    ws.models.set_alias("churn", "production", v1.version)
    ep = ws.endpoints.deploy("live", model="churn@production")
    X = frame(1, seed=9)
    row = X.to_dict(orient="records")
    answers: list[tuple[int, Any]] = []
    stop = threading.Event()

    def client_loop() -> None:
        client = Client(ep.record.port, ep.keys.primary)
        while not stop.is_set():
            status, answer, _ = client.score(row)
            answers.append((status, answer.get("version")))

    thread = threading.Thread(target=client_loop)
    thread.start()
    try:
        time.sleep(0.3)
        ws.models.set_alias("churn", "production", v2.version)
        deadline = time.monotonic() + 30
        while not answers or answers[-1][1] != v2.version:
            assert time.monotonic() < deadline, "the alias move never reached the endpoint"
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join(30)
    assert answers and all(status == 200 for status, _ in answers)
    versions = [v for _, v in answers]
    assert versions[0] == v1.version and versions[-1] == v2.version
    switch = versions.index(v2.version)
    assert set(versions[switch:]) == {v2.version}  # no flapping back once swapped
    record = ws.store.get_endpoint("live")
    assert record.deployments[0].version == v2.version and record.state == "running"
    np.testing.assert_allclose(ep.score(X), m2.predict(X))


def test_blue_green_split_is_within_5_percent_over_2000_requests(
    ws: Any, manager: Any, tmp_path: Path
) -> None:
    register(ws, tmp_path, seed=0)
    register(ws, tmp_path, seed=1)
    ep = ws.endpoints.deploy("split", model="churn:1")
    ws.endpoints.deploy("split", model="churn:2", deployment="green", traffic=10)
    record = ws.store.get_endpoint("split")
    assert {d.name: d.traffic for d in record.deployments} == {"blue": 90, "green": 10}
    client = Client(ep.record.port, ep.keys.primary)
    row = frame(1).to_dict(orient="records")
    seen = {"blue": 0, "green": 0}
    for _ in range(2000):
        status, answer, _ = client.score(row)
        assert status == 200
        seen[answer["deployment"]] += 1
        assert answer["version"] == (1 if answer["deployment"] == "blue" else 2)
    assert abs(seen["green"] / 2000 - 0.10) <= 0.05, seen
    ep.update(traffic={"blue": 0, "green": 100})
    deadline = time.monotonic() + 5
    while client.score(row)[1]["deployment"] != "green" or any(
        client.score(row)[1]["deployment"] != "green" for _ in range(20)
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
