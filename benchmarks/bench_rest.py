"""REST logging benchmark (issue 4): 100,000 metric points through the REST store into a
real `jupyter server` with jupyter_mlws, beside MLflow's tracking server (`mlflow server`
on the same kind of SQLite store) doing the same work in the same run.

Run: `python benchmarks/bench_rest.py` (MLflow from the `bench` extra). Both servers run as
separate processes on 127.0.0.1; each client gets the points in `log_batch` calls of 50,000
and splits them into requests of 1,000 (MLflow's per-request limit, and ours) — MLflow's
client sends them one after another, ours keeps a few in flight on kept-alive connections.
The table is printed and appended to `benchmarks/RESULTS.md`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
T0 = 1_700_000_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


def points(n: int) -> list[tuple[str, float, int, int]]:
    return [("loss", 1.0 / (i + 1), i, T0 + i) for i in range(n)]


def bench_ours(folder: Path, n: int) -> float:
    from jupyter_mlws.store.rest import RestStore

    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(folder / "cfg"), "JUPYTER_DATA_DIR": str(folder / "data"),
           "JUPYTER_RUNTIME_DIR": str(folder / "rt")}
    env.pop("MLWS_WORKSPACE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--ServerApp.root_dir={folder}", f"--IdentityProvider.token={token}",
         "--ServerApp.allow_root=True", "--ServerApp.jpserver_extensions=jupyter_mlws=True"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
        store = RestStore(f"http://127.0.0.1:{port}", token=token)
        experiment = store.create_experiment("bench")
        run_id = store.create_run(experiment.experiment_id).info.run_id
        data = points(n)
        start = time.perf_counter()
        for i in range(0, n, 50_000):  # our per-call limit; the client splits into requests of 1,000
            store.log_batch(run_id, metrics=data[i:i + 50_000])
        elapsed = time.perf_counter() - start
        assert store.get_metric_history(run_id, "loss").total_points == n
        return n / elapsed
    finally:
        proc.terminate()
        proc.wait(30)


def bench_mlflow(folder: Path, n: int) -> float | None:
    try:
        import mlflow  # noqa: F401
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
    except ImportError:
        return None
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
         "--default-artifact-root", str(folder / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health", proc, 180)
        client = MlflowClient(tracking_uri=f"http://127.0.0.1:{port}")
        experiment_id = client.create_experiment("bench")
        run_id = client.create_run(experiment_id).info.run_id
        data = [Metric(k, v, t, s) for k, v, s, t in points(n)]
        start = time.perf_counter()
        for i in range(0, n, 50_000):  # the same calls; MLflow's client splits into requests of 1,000
            client.log_batch(run_id, metrics=data[i:i + 50_000])
        elapsed = time.perf_counter() - start
        assert len(client.get_metric_history(run_id, "loss")) == n
        return n / elapsed
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlws-bench-rest-") as tmp:
        (Path(tmp) / "ours").mkdir()
        ours = bench_ours(Path(tmp) / "ours", args.points)
        theirs = bench_mlflow(Path(tmp), args.points)
    ratio = f"{ours / theirs:,.1f}×" if theirs else ""
    theirs_text = f"{theirs:,.0f} points/s" if theirs else "(MLflow not installed)"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = (
        f"\n## REST logging — {when}\n\nMachine: {platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}.\n\n"
        "| work | jupyter_mlws (REST store → jupyter server) | MLflow (client → mlflow server) | ratio | target |\n"
        "|---|---|---|---|---|\n"
        f"| {args.points:,} points in batches of 1,000 over HTTP | {ours:,.0f} points/s | {theirs_text} | {ratio} "
        "| ≥ 50,000 points/s |\n"
    )
    print(table)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(table)


if __name__ == "__main__":
    main()
