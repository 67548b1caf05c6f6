"""The load generator of tests/server/test_load.py, run as its own process so that its
50 client threads do not share the server's interpreter (and GIL).

Usage: python load_client.py URL TOKEN EXPERIMENT_ID CLIENTS SECONDS  → JSON on stdout.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid

from jupyter_mlws.errors import MLWSError
from jupyter_mlws.http import HttpClient

API = "/mlws/api/v1"


def main(url: str, token: str, experiment: int, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    failures: list[str] = []
    sent: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        http = HttpClient(url, token, retry_seconds=0)
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
                        http.json("GET", f"{API}/runs",
                                  query={"experiment_id": experiment, "limit": 50, "filter": "metrics.m > 5"})
                    else:
                        http.json("GET", f"{API}/runs/{run_id}/metrics/m", query={"max_points": 200})
                    mine.append(time.perf_counter() - start)
        except MLWSError as err:
            with lock:
                failures.append(f"client {index}: {type(err).__name__}: {err}")
        with lock:
            latencies.extend(mine)
            sent[run_id] = points

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"latencies": latencies, "failures": failures, "sent": sent}


if __name__ == "__main__":
    url, token, experiment, clients, seconds = sys.argv[1:6]
    print(json.dumps(main(url, token, int(experiment), int(clients), float(seconds))))
