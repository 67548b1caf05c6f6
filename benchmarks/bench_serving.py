"""Scoring endpoint benchmark (issue 8): one-row latency and requests/s, ours vs `mlflow models serve`.

Run: `python benchmarks/bench_serving.py [--requests 2000] [--seconds 5] [--no-write]`.

The same fitted scikit-learn pipeline (StandardScaler + LogisticRegression, 4 numeric features,
200 rows) is served, in this one run, by:
- ours: `ws.models.register(...)` (skops) + `ws.endpoints.deploy(..., replicas=1)` on a folder
  workspace in a temp folder, its endpoint manager in a process of its own
  (`jupyter mlws endpoints serve`, as a Jupyter server would hold it) starting one replica;
- MLflow: `mlflow.sklearn.save_model(...)` + `mlflow models serve -m <dir> --env-manager local
  -h 127.0.0.1 --workers 1` (uvicorn).
Both get the same body, one row in split orientation (`{"dataframe_split": {"columns", "data"}}`),
POSTed to `/score` (with the bearer key) and `/invocations`. The load generator is raw sockets over
KEPT-ALIVE connections with TCP_NODELAY (TOOLCHAIN's "HTTP latency trap"), the request bytes
built once: sequential = one connection per side, `--requests` requests after 200 warm-up ones,
in `--rounds` blocks that alternate between ours and MLflow (this machine's speed drifts by tens
of percent within a minute; alternating makes the ratio compare the same moments); concurrent =
8 client processes, each with its own kept-alive connection, for `--seconds`. Latency = send to
last byte of the answer, per request; p50/p99 over all requests; req/s = answered / wall time.

Targets (issue 8): ours one-row p50 ≤ 1 ms, requests/s ≥ 10x MLflow's. The table is printed and
appended to `benchmarks/RESULTS.md` (unless `--no-write`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing as mp
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
COLUMNS = ["a", "b", "c", "d"]


def fitted() -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(200, 4)), columns=COLUMNS)
    y = (x["a"] + x["b"] > 0).astype(int)
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), x


def request_bytes(port: int, path: str, body: bytes, key: str | None) -> bytes:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def roundtrip(sock: socket.socket, req: bytes, buf: bytearray) -> int:
    """Send one request, read its whole answer; the HTTP status."""
    sock.sendall(req)
    buf.clear()
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head = bytes(buf[:end]).lower()
    i = head.find(b"content-length:")
    length = int(head[i + 15 : head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
    while len(buf) < end + 4 + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return int(head[9:12])


def interleaved(
    sides: dict[str, tuple[int, bytes]], n: int, rounds: int
) -> tuple[dict[str, tuple[list[float], float]], list[float]]:
    """`n` sequential requests per side over one kept-alive connection each, in `rounds` blocks
    that alternate between the sides, so that both see the same moments of a noisy machine.
    Per side: (latencies, answered / time spent on that side); and the per-round req/s ratios
    (first side over second), which show how much the machine's noise moved the ratio."""
    socks = {name: connect(port) for name, (port, _) in sides.items()}
    buf = bytearray()
    for name, (_, req) in sides.items():
        for _ in range(200):
            assert roundtrip(socks[name], req, buf) == 200
    lat: dict[str, list[float]] = {name: [] for name in sides}
    spent = dict.fromkeys(sides, 0.0)
    ratios = []
    per_round = max(1, n // rounds)
    for _ in range(rounds):
        rps = []
        for name, (_, req) in sides.items():
            began = time.perf_counter()
            for _ in range(per_round):
                t = time.perf_counter()
                status = roundtrip(socks[name], req, buf)
                lat[name].append(time.perf_counter() - t)
                assert status == 200, status
            took = time.perf_counter() - began
            spent[name] += took
            rps.append(per_round / took)
        ratios.append(rps[0] / rps[1])
    for sock in socks.values():
        sock.close()
    return {name: (lat[name], len(lat[name]) / spent[name]) for name in sides}, ratios


def sequential(port: int, req: bytes, n: int) -> tuple[list[float], float]:
    sock, buf = connect(port), bytearray()
    for _ in range(200):
        assert roundtrip(sock, req, buf) == 200
    lat = []
    began = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        status = roundtrip(sock, req, buf)
        lat.append(time.perf_counter() - t)
        assert status == 200, status
    wall = time.perf_counter() - began
    sock.close()
    return lat, n / wall


def _worker(port: int, req: bytes, start_at: float, stop_at: float, out: Any) -> None:
    sock, buf = connect(port), bytearray()
    for _ in range(20):
        roundtrip(sock, req, buf)
    while time.time() < start_at:
        time.sleep(0.001)
    lat = []
    while time.time() < stop_at:
        t = time.perf_counter()
        status = roundtrip(sock, req, buf)
        lat.append(time.perf_counter() - t)
        if status != 200:
            raise SystemExit(f"status {status}")
    out.put(lat)


def concurrent(port: int, req: bytes, clients: int, seconds: float) -> tuple[list[float], float]:
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 1.5
    workers = [
        ctx.Process(target=_worker, args=(port, req, start_at, start_at + seconds, out))
        for _ in range(clients)
    ]
    for w in workers:
        w.start()
    lat: list[float] = []
    for _ in workers:
        lat += out.get(timeout=seconds + 60)
    for w in workers:
        w.join()
    return lat, len(lat) / seconds


def summary(lat: list[float], rps: float) -> dict[str, float]:
    lat = sorted(lat)
    return {
        "p50_ms": statistics.median(lat) * 1000,
        "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "rps": rps,
        "n": len(lat),
    }


def ours(tmp: Path, model: Any, x: Any) -> tuple[Any, int, str, subprocess.Popen[bytes]]:
    """Register and deploy on a folder workspace whose endpoint manager runs in its own process
    (`jupyter mlws endpoints serve`, as the Jupyter server would run it), so that no manager
    thread shares this load generator's interpreter (MLflow's server has none here either)."""
    import jupyter_mlws as mlws
    from jupyter_mlws.models import save_sklearn

    where = tmp / "ours"
    ws = mlws.Workspace(where)
    save_sklearn(model, tmp / "model.skops")
    ws.models.register("bench", tmp / "model.skops", example=x.head(5))
    manager = subprocess.Popen(
        [sys.executable, "-m", "jupyter_mlws.cli", "--workspace", str(where), "endpoints", "serve"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert manager.stdout is not None
    manager.stdout.readline()  # "Serving the endpoints of ..."
    ep = ws.endpoints.deploy("bench", model="bench:1", replicas=1)
    return ws, int(ep.record.port), str(ep.keys.primary), manager


def mlflow_serve(tmp: Path, model: Any, x: Any) -> tuple[subprocess.Popen[bytes], int]:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    path = tmp / "mlflow-model"
    mlflow.sklearn.save_model(
        model, str(path), signature=infer_signature(x.head(5), model.predict(x.head(5)))
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mlflow_bin = str(Path(sys.executable).with_name("mlflow"))
    proc = subprocess.Popen(
        [
            mlflow_bin,
            "models",
            "serve",
            "-m",
            str(path),
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        # it runs `uvicorn` from PATH: the one beside this interpreter
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as resp:
                if resp.status == 200:
                    return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            raise SystemExit("mlflow models serve did not start")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=2000, help="sequential requests per side (default 2000)"
    )
    parser.add_argument(
        "--rounds", type=int, default=10, help="alternating blocks of the sequential run (default 10)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the 8-client run (default 5)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    os.environ.pop("MLWS_WORKSPACE", None)
    began = time.perf_counter()
    model, x = fitted()
    body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": x.head(1).values.tolist()}}).encode()
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="mlws-bench-serving-") as tmp:
        ws, port, key, manager = ours(Path(tmp), model, x)
        proc = None
        try:
            proc, mport = mlflow_serve(Path(tmp), model, x)
            mine, theirs = (
                request_bytes(port, "/score", body, key),
                request_bytes(mport, "/invocations", body, None),
            )
            sides = {"ours": (port, mine), "mlflow": (mport, theirs)}
            seq, ratios = interleaved(sides, args.requests, args.rounds)
            results["ours"] = {"seq": summary(*seq["ours"])}
            results["mlflow"] = {"seq": summary(*seq["mlflow"])}
            results["ours"]["conc"] = summary(*concurrent(port, mine, args.clients, args.seconds))
            results["mlflow"]["conc"] = summary(*concurrent(mport, theirs, args.clients, args.seconds))
        finally:
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
            manager.send_signal(signal.SIGTERM)
            manager.wait(30)
            ws.close()
    import mlflow
    import sklearn

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    rows = []
    for mode, label in (("seq", "sequential, 1 connection"), ("conc", f"{args.clients} concurrent clients")):
        o, m = results["ours"][mode], results["mlflow"][mode]
        rows.append(
            f"| {label} | {o['p50_ms']:.2f} / {o['p99_ms']:.2f} ms | "
            f"{m['p50_ms']:.2f} / {m['p99_ms']:.2f} ms | {m['p50_ms'] / o['p50_ms']:.1f}x | "
            f"{o['rps']:,.0f} | {m['rps']:,.0f} | {o['rps'] / m['rps']:.1f}x |"
        )
    text = (
        f"\n## Scoring endpoint, one row — {when}\n\nMachine: {platform.system()} {platform.release()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs (load average {load:.1f} at the end); Python "
        f"{platform.python_version()}, scikit-learn {sklearn.__version__}, MLflow {mlflow.__version__}; "
        f"both servers with ONE process (ours: replicas=1; MLflow: `mlflow models serve --env-manager local "
        f"--workers 1`); kept-alive connections, TCP_NODELAY; total {time.perf_counter() - began:.0f} s.\n\n"
        "| load | ours p50 / p99 | MLflow p50 / p99 | p50 ratio | ours req/s | MLflow req/s | req/s ratio |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Targets: ours p50 ≤ 1 ms; req/s ≥ 10x MLflow's. Requests: {args.requests} sequential per side, "
        f"in {args.rounds} blocks alternating between the sides (req/s ratio per block: "
        f"{min(ratios):.1f}x - {max(ratios):.1f}x, median {statistics.median(ratios):.1f}x); "
        f"{args.seconds:g} s with {args.clients} client processes per side (the clients share the machine's "
        "CPUs with the server).\n"
    )
    print(text)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
