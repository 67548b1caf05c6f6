"""Load (issue 4, RELIABILITY C6, bounded): 50 concurrent clients mixing reads and writes
for 30 s against a real server on 127.0.0.1 → no 5xx, nothing lost; p99 and the event
loop's worst stall are printed (`-s`) for benchmarks/RESULTS.md."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid

import pytest

from jupyter_mlws.errors import MLWSError
from jupyter_mlws.http import HttpClient

pytestmark = pytest.mark.slow

CLIENTS = int(os.environ.get("MLWS_LOAD_CLIENTS", "50"))
SECONDS = float(os.environ.get("MLWS_LOAD_SECONDS", "30"))
API = "/mlws/api/v1"


async def _loop_lag(stop: asyncio.Event, worst: list[float]) -> None:
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.02)
        worst[0] = max(worst[0], time.perf_counter() - before - 0.02)


def test_fifty_clients_mixed_reads_and_writes(live_server) -> None:
    setup = HttpClient(live_server.url, live_server.token)
    experiment = setup.json("POST", f"{API}/experiments", json_body={"name": "load"})["experiment_id"]
    latencies: list[float] = []
    failures: list[str] = []
    sent: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def client(index: int) -> None:
        http = HttpClient(live_server.url, live_server.token, retry_seconds=0)
        run_id = http.json("POST", f"{API}/runs", json_body={"experiment_id": experiment})["run_id"]
        points, step, mine = 0, 0, []
        try:
            while time.monotonic() < deadline:
                for op in ("write", "read", "write", "search", "history"):
                    start = time.perf_counter()
                    if op == "write":
                        batch = [{"key": "m", "value": step + i * 0.5, "step": step + i} for i in range(10)]
                        http.json("PUT", f"{API}/runs/{run_id}/batches/{uuid.uuid4().hex}",
                                  json_body={"metrics": batch})
                        step, points = step + 10, points + 10
                    elif op == "read":
                        http.json("GET", f"{API}/runs/{run_id}")
                    elif op == "search":
                        http.json("GET", f"{API}/runs", query={"experiment_id": experiment, "limit": 50,
                                                               "filter": "metrics.m > 5"})
                    else:
                        http.json("GET", f"{API}/runs/{run_id}/metrics/m", query={"max_points": 200})
                    mine.append(time.perf_counter() - start)
        except MLWSError as err:
            with lock:
                failures.append(f"client {index}: {type(err).__name__}: {err}")
        with lock:
            latencies.extend(mine)
            sent[run_id] = points

    worst_lag = [0.0]
    stop = asyncio.Event()
    lag_task = asyncio.run_coroutine_threadsafe(_loop_lag(stop, worst_lag), live_server.loop)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 120)
    live_server.loop.call_soon_threadsafe(stop.set)
    lag_task.result(10)

    assert not failures, failures[:5]
    assert len(sent) == CLIENTS
    for run_id, points in sent.items():
        history = setup.json("GET", f"{API}/runs/{run_id}/metrics/m")
        assert history["total_points"] == points, f"run {run_id}: stored {history['total_points']} of {points}"
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[int(len(latencies) * 0.99)]
    print(
        f"\nload: {CLIENTS} clients x {SECONDS:.0f} s: {len(latencies)} requests "
        f"({len(latencies) / SECONDS:.0f}/s), p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"worst event-loop stall {worst_lag[0] * 1000:.1f} ms, points stored {sum(sent.values())}"
    )
    assert len(latencies) > CLIENTS * 5
