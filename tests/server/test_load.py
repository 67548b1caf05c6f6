"""Load (issue 4, RELIABILITY C6, bounded): 50 concurrent clients mixing reads and writes
for 30 s against a real server on 127.0.0.1 → no 5xx, nothing lost. The clients run in
their own process; the server's event loop is watched for stalls. p50/p99 and the worst
stall are printed (`-s`) for benchmarks/RESULTS.md."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_mlws.http import HttpClient

pytestmark = [pytest.mark.slow, pytest.mark.catalogue("C6")]

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
    worst_lag = [0.0]
    stop = asyncio.Event()
    lag_task = asyncio.run_coroutine_threadsafe(_loop_lag(stop, worst_lag), live_server.loop)
    script = Path(__file__).with_name("load_client.py")
    result = subprocess.run(
        [sys.executable, str(script), live_server.url, live_server.token, str(experiment), str(CLIENTS),
         str(SECONDS)],
        capture_output=True, text=True, timeout=SECONDS + 180,
    )
    live_server.loop.call_soon_threadsafe(stop.set)
    lag_task.result(10)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert not report["failures"], report["failures"][:5]
    sent = report["sent"]
    assert len(sent) == CLIENTS
    for run_id, points in sent.items():
        history = setup.json("GET", f"{API}/runs/{run_id}/metrics/m")
        assert history["total_points"] == points, f"run {run_id}: stored {history['total_points']} of {points}"
    latencies = sorted(report["latencies"])
    assert len(latencies) > CLIENTS * 5
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(
        f"\nload: {CLIENTS} clients x {SECONDS:.0f} s: {len(latencies)} requests "
        f"({len(latencies) / SECONDS:.0f}/s), p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"worst event-loop stall {worst_lag[0] * 1000:.1f} ms, points stored {sum(sent.values())}"
    )
