"""REST benchmark (issues 4 and 14): logging and reading over HTTP through the public API, beside
MLflow's client against `mlflow server` doing the same work in the same run.

Run: `python benchmarks/bench_rest.py` in an environment with MLflow (the `bench` extra; a venv of
its own, never the test one). Both servers are separate processes on 127.0.0.1 on SQLite stores
in a temp folder: a `jupyter server` with jupyter_mlws, and `mlflow server --workers 1`.

Rows:
1. `mlws.log_metric` in a loop in a process whose workspace is the server's URL (only
   `MLWS_WORKSPACE` and `MLWS_TOKEN` set), timed in that process from the first call to the end of
   the run, final flush included. MLflow: `mlflow.log_metric` in a loop in its own process, one
   request per call (its default), and with `synchronous=False` (its batching async logger),
   timed the same way; the ratio is against MLflow's faster mode.
2. `ws.runs(...)` of 2,000 runs (each with 3 params and 3 metrics) into a DataFrame, vs
   `mlflow.search_runs` of the same runs into its DataFrame; median of 5 after a warm-up.
3. The whole 100,000-point history of one metric (`run.metric_history`, no downsampling) vs
   `MlflowClient.get_metric_history`; median of 5 after a warm-up.
4. The REST store alone: 100,000 points in `log_batch` calls of 50,000 (issue 4's row), for scale.
The table is printed and appended to `benchmarks/RESULTS.md` (`--no-write`: print only).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def median_of(work: Callable[[], Any], rounds: int = 5) -> float:
    work()  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def start_ours(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(folder / "cfg"),
        "JUPYTER_DATA_DIR": str(folder / "data"),
        "JUPYTER_RUNTIME_DIR": str(folder / "rt"),
    }
    env.pop("MLWS_WORKSPACE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--ServerApp.root_dir={folder}", f"--IdentityProvider.token={token}",
         "--ServerApp.allow_root=True", "--ServerApp.jpserver_extensions=jupyter_mlws=True"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
    return proc, f"http://127.0.0.1:{port}/", token


def start_mlflow(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
         "--default-artifact-root", str(folder / "mlartifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_for(f"http://127.0.0.1:{port}/health", proc, 180)
    return proc, f"http://127.0.0.1:{port}"


OUR_LOOP = textwrap.dedent(
    """
    import json, sys, time
    import jupyter_mlws as mlws
    n = int(sys.argv[1])
    run = mlws.start_run(experiment="loop", name="public-api")
    start = time.perf_counter()
    for i in range(n):
        mlws.log_metric("loss", 1.0 / (i + 1), step=i)
    run.end()
    elapsed = time.perf_counter() - start
    assert len(run.metric_history("loss")) == n
    print(json.dumps({"elapsed": elapsed}))
    """
)

MLFLOW_LOOP = textwrap.dedent(
    """
    import json, sys, time
    import mlflow
    n, synchronous = int(sys.argv[1]), sys.argv[2] == "sync"
    mlflow.set_tracking_uri(sys.argv[3])
    mlflow.set_experiment("loop")
    run = mlflow.start_run()
    start = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i, synchronous=synchronous)
    mlflow.end_run()  # waits for the async logger's queue
    elapsed = time.perf_counter() - start
    got = len(mlflow.tracking.MlflowClient().get_metric_history(run.info.run_id, "loss"))
    assert got == n, got
    print(json.dumps({"elapsed": elapsed}))
    """
)


def run_script(code: str, args: list[str], env: dict[str, str], folder: Path) -> float:
    script = folder / f"loop-{secrets.token_hex(4)}.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True, text=True,
                          cwd=folder, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return float(json.loads(done.stdout.strip().splitlines()[-1])["elapsed"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2_000)
    parser.add_argument("--mlflow-sync-points", type=int, default=2_000,
                        help="MLflow's one-request-per-call loop is slow: time this many calls")
    parser.add_argument("--mlflow-async-points", type=int, default=20_000,
                        help="MLflow's async logger took over 10 minutes for 100,000 points here")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    import mlflow
    from mlflow.entities import Metric, Param

    from jupyter_mlws import Workspace
    from jupyter_mlws.store.rest import RestStore

    rows = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mlws-bench-rest-") as tmp:
        folder = Path(tmp)
        (folder / "ours").mkdir()
        ours_proc, url, token = start_ours(folder / "ours")
        mlflow_proc: subprocess.Popen[bytes] | None = None
        try:
            # 1. the public API in a loop, in a process that has only the URL and token. Timed
            # before MLflow's server starts: its job runner's consumer processes (MLflow 3) took
            # CPU from our client and server on this 2-core machine (27,317 points/s in a first
            # run with both up, ~128,000 alone).
            env = {**os.environ, "MLWS_WORKSPACE": url, "MLWS_TOKEN": token,
                   "MLWS_SPOOL_DIR": str(folder / "spool")}
            ours_loop = args.points / run_script(OUR_LOOP, [str(args.points)], env, folder)
            mlflow_proc, mlflow_url = start_mlflow(folder)
            mlflow_env = {k: v for k, v in os.environ.items() if not k.startswith("MLWS_")}
            sync = args.mlflow_sync_points / run_script(
                MLFLOW_LOOP, [str(args.mlflow_sync_points), "sync", mlflow_url], mlflow_env, folder
            )
            asyn = args.mlflow_async_points / run_script(
                MLFLOW_LOOP, [str(args.mlflow_async_points), "async", mlflow_url], mlflow_env, folder
            )
            best = max(sync, asyn)
            rows.append((
                f"`log_metric` in a loop, {args.points:,} points, final flush included",
                f"{ours_loop:,.0f} points/s", f"{best:,.0f} points/s", ours_loop / best, "≥ 50,000 points/s, ≥ 10x",
                f"MLflow one request per call: {sync:,.0f}/s ({args.mlflow_sync_points:,} calls); "
                f"`synchronous=False`: {asyn:,.0f}/s ({args.mlflow_async_points:,} calls)",
            ))

            # 2. searching 2,000 runs into a DataFrame
            ws = Workspace(url, token=token)
            for i in range(args.runs):
                run = ws.start_run(experiment="search", name=f"r{i}")
                run.log_params({"p1": str(i % 7), "p2": str(i % 3), "p3": "x"})
                run.log_metrics({"m1": i / args.runs, "m2": (i % 10) / 10, "m3": 1.0}, step=0)
                run.end()
            ws.flush()
            client = mlflow.tracking.MlflowClient(tracking_uri=mlflow_url)
            exp_id = client.create_experiment("search")
            for i in range(args.runs):
                run_id = client.create_run(exp_id).info.run_id
                client.log_batch(
                    run_id,
                    metrics=[Metric(k, v, T0, 0) for k, v in (("m1", i / args.runs), ("m2", (i % 10) / 10), ("m3", 1.0))],
                    params=[Param("p1", str(i % 7)), Param("p2", str(i % 3)), Param("p3", "x")],
                )
                client.set_terminated(run_id)
            mlflow.set_tracking_uri(mlflow_url)
            ours_search = median_of(lambda: ws.runs(experiment="search", limit=args.runs))
            assert len(ws.runs(experiment="search", limit=args.runs)) == args.runs
            theirs_search = median_of(lambda: mlflow.search_runs(experiment_ids=[exp_id], max_results=args.runs))
            assert len(mlflow.search_runs(experiment_ids=[exp_id], max_results=args.runs)) == args.runs
            rows.append((f"`ws.runs` of {args.runs:,} runs into a DataFrame", f"{ours_search * 1000:,.1f} ms",
                         f"{theirs_search * 1000:,.1f} ms", theirs_search / ours_search, "≥ 10x",
                         "3 params + 3 metrics each; MLflow: `mlflow.search_runs`; median of 5"))

            # 3. a 100,000-point history over HTTP
            history_run = ws.get_run(ws.runs(experiment="loop")["run_id"].iloc[0])
            ours_history = median_of(lambda: history_run.metric_history("loss"))
            assert len(history_run.metric_history("loss")) == args.points
            big = client.create_run(exp_id).info.run_id
            metrics = [Metric("loss", 1.0 / (i + 1), T0 + i, i) for i in range(args.points)]
            for i in range(0, args.points, 1000):
                client.log_batch(big, metrics=metrics[i:i + 1000])
            theirs_history = median_of(lambda: client.get_metric_history(big, "loss"))
            assert len(client.get_metric_history(big, "loss")) == args.points
            rows.append((f"a {args.points:,}-point metric history", f"{ours_history * 1000:,.1f} ms",
                         f"{theirs_history * 1000:,.1f} ms", theirs_history / ours_history, "≥ 10x",
                         "ours: `run.metric_history` (all points); MLflow: `get_metric_history`; median of 5"))

            # 4. the REST store alone (issue 4's row), for scale
            store = RestStore(url.rstrip("/"), token=token)
            run_id = store.create_run(store.get_or_create_experiment("store").experiment_id).info.run_id
            data = [("loss", 1.0 / (i + 1), i, T0 + i) for i in range(args.points)]
            start = time.perf_counter()
            for i in range(0, args.points, 50_000):
                store.log_batch(run_id, metrics=data[i:i + 50_000])
            store_rate = args.points / (time.perf_counter() - start)
            rows.append((f"REST store alone: {args.points:,} points in `log_batch` calls", f"{store_rate:,.0f} points/s",
                         "", None, "", "requests of 1,000 points, one after another"))
        finally:
            for proc in (ours_proc, mlflow_proc):
                if proc is not None:
                    proc.terminate()
                    proc.wait(30)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## REST, through the public API — {when}\n",
        f"Machine: {platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}, MLflow {mlflow.__version__}; "
        f"load average {os.getloadavg()[0]:.1f} at the end; total {time.monotonic() - started:.0f} s.\n",
        "| work | jupyter_mlws (URL workspace → jupyter server) | MLflow (client → mlflow server) | ratio | target | note |",
        "|---|---|---|---|---|---|",
    ]
    for work, ours_text, theirs_text, ratio, target, note in rows:
        lines.append(f"| {work} | {ours_text} | {theirs_text} | {f'{ratio:,.1f}x' if ratio else ''} | {target} | {note} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(table)


if __name__ == "__main__":
    main()
