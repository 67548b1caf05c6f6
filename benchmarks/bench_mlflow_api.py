"""MLflow API benchmark (issue 17, item 5): one MLflow client script against our server and
against `mlflow server`, same machine, same run.

Run: `python benchmarks/bench_mlflow_api.py [--points 100000] [--runs 2000] [--no-write]`.

Both servers are separate processes on 127.0.0.1 with SQLite stores in a temp folder: a
`jupyter server` with jupyter_mlws (MLflow API at `/mlws/mlflow`, the Jupyter token as
`MLFLOW_TRACKING_TOKEN`), and `mlflow server --workers 1 --serve-artifacts`. The client script
(`CLIENT` below) is the same for both and runs in MLflow's own Python (the full `mlflow` package:
`--mlflow-python`, else `.venv-mlflow` as `bench_batch.py` makes it), one process per server, ours
first. It times, with `time.perf_counter()`:

1. `MlflowClient.log_batch` of `--points` points of one metric in requests of 1,000 points;
2. `mlflow.search_runs` over `--runs` runs (3 params, 3 metrics each, made beforehand with the
   same client: untimed) into its DataFrame, median of 5 after a warm-up;
3. `MlflowClient.get_metric_history` of row 1's `--points` points, median of 3 after a warm-up;
4. `mlflow.register_model("runs:/<run>/model", name)` of a small scikit-learn model logged with
   `mlflow.sklearn.log_model` (untimed), median of 5 registrations (new versions of one model):
   MLflow 3's client makes nine requests for it (registered-models/create, runs/get twice, an
   artifact listing, logged-models/search, model-versions/create, logged-models/get twice and
   logged-models/tags), so it measures per-request cost more than any one call;
5. `MlflowClient.get_run` of that run, median of 50: one small request, the per-request floor of
   each server (its HTTP stack, authentication, one read).

Beside each wall time, the client's own CPU time (`time.process_time()`) over the same call: the
client builds and parses MLflow's protobuf JSON the same way against either server, so that part
is a floor no server can remove, and "server + wire" = wall - client CPU is what the server took.

Every answer is checked (the points, the runs, the version numbers). Target: ours ≥ 10x `mlflow
server` on each row. The table is printed and appended to `benchmarks/RESULTS.md` (unless
`--no-write`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_rest import free_port, wait_for  # noqa: E402  (the same server start-up helpers)

CLIENT = textwrap.dedent(
    """
    import json, statistics, sys, time
    import numpy as np
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from sklearn.linear_model import LogisticRegression

    points, runs = int(sys.argv[1]), int(sys.argv[2])
    client = MlflowClient()
    T0 = 1_700_000_000_000

    def timed(work):  # (wall seconds, this client's own CPU seconds) of one call
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        return time.perf_counter() - wall, time.process_time() - cpu

    def median(work, rounds):
        work()
        times = [timed(work) for _ in range(rounds)]
        return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)

    out = {}
    exp = client.create_experiment("bench-log")
    run_id = client.create_run(exp).info.run_id
    metrics = [Metric("loss", 1.0 / (i + 1), T0 + i, i) for i in range(points)]

    def log_all():
        for i in range(0, points, 1000):
            client.log_batch(run_id, metrics=metrics[i:i + 1000])

    out["log_batch"] = timed(log_all)

    search = client.create_experiment("bench-search")
    for i in range(runs):
        rid = client.create_run(search).info.run_id
        client.log_batch(
            rid,
            metrics=[Metric(k, v, T0, 0) for k, v in (("m1", i / runs), ("m2", (i % 10) / 10), ("m3", 1.0))],
            params=[Param("p1", str(i % 7)), Param("p2", str(i % 3)), Param("p3", "x")],
        )
        client.set_terminated(rid)
    found = mlflow.search_runs(experiment_ids=[search], max_results=runs)
    assert len(found) == runs, len(found)
    out["search_runs"] = median(lambda: mlflow.search_runs(experiment_ids=[search], max_results=runs), 5)

    assert len(client.get_metric_history(run_id, "loss")) == points
    out["get_metric_history"] = median(lambda: client.get_metric_history(run_id, "loss"), 3)

    mlflow.set_experiment("bench-registry")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="model")
    versions = []

    def register():
        versions.append(mlflow.register_model(f"runs:/{run.info.run_id}/model", "bench-model").version)

    out["register_model"] = median(register, 5)
    assert [int(v) for v in versions] == list(range(1, 7)), versions

    # One small call: what a server costs per request, the floor of register_model's nine calls.
    assert client.get_run(run.info.run_id).info.run_id == run.info.run_id
    out["get_run"] = median(lambda: client.get_run(run.info.run_id), 50)
    print(json.dumps(out))
    """
)


def mlflow_python(given: str) -> Path:
    if given:
        return Path(given)
    from bench_batch import mlflow_python as make

    return make(argparse.Namespace(mlflow_python="", mlflow_venv=str(HERE.parent / ".venv-mlflow")))


def start_ours(folder: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLWS_", "MLFLOW_"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(folder / "cfg"),
        JUPYTER_DATA_DIR=str(folder / "data"),
        JUPYTER_RUNTIME_DIR=str(folder / "rt"),
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            f"--ServerApp.root_dir={folder}",
            f"--IdentityProvider.token={token}",
            "--ServerApp.allow_root=True",
            "--ServerApp.jpserver_extensions=jupyter_mlws=True",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
    return proc, f"http://127.0.0.1:{port}/mlws/mlflow", token


def start_mlflow(folder: Path, python: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(python),
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder}/mlflow.db",
            "--artifacts-destination",
            str(folder / "mlartifacts"),
            "--serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(f"http://127.0.0.1:{port}/health", proc, 180)
    return proc, f"http://127.0.0.1:{port}"


def run_client(
    python: Path, folder: Path, uri: str, token: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    script = folder / "client.py"
    script.write_text(CLIENT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLWS_", "MLFLOW_"))}
    env.update(
        MLFLOW_TRACKING_URI=uri, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="600"
    )
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    done = subprocess.run(
        [str(python), str(script), str(args.points), str(args.runs)],
        env=env,
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=7200,
    )
    if done.returncode != 0:
        raise RuntimeError(f"client against {uri} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2_000)
    parser.add_argument("--mlflow-python", default="", help="a Python with the full mlflow package")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    python = mlflow_python(args.mlflow_python)
    version = subprocess.run(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mlws-bench-mlflow-") as tmp:
        folder = Path(tmp)
        for side in ("ours", "mlflow"):
            (folder / side).mkdir()
        proc, uri, token = start_ours(folder / "ours")
        try:
            print("ours: the client script ...", flush=True)
            ours = run_client(python, folder / "ours", uri, token, args)
        finally:
            proc.terminate()
            proc.wait(30)
        proc, uri = start_mlflow(folder / "mlflow", python)
        try:
            print("mlflow server: the client script ...", flush=True)
            theirs = run_client(python, folder / "mlflow", uri, None, args)
        finally:
            proc.terminate()
            proc.wait(30)
    rows = [
        ("log_batch", f"`log_batch` of {args.points:,} points in requests of 1,000", "s", 1),
        ("search_runs", f"`mlflow.search_runs` over {args.runs:,} runs into a DataFrame", "ms", 1000),
        ("get_metric_history", f"`get_metric_history` of {args.points:,} points", "ms", 1000),
        ("register_model", "`mlflow.register_model` (runs:/…/model)", "ms", 1000),
        ("get_run", "`get_run` (one small call: the per-request floor)", "ms", 1000),
    ]
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## MLflow API: the same MLflow client against ours and `mlflow server` — {when}\n",
        f"Machine: {platform.system()} {platform.release()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; MLflow {version} (client and server); load average "
        f"{os.getloadavg()[0]:.1f} at the end; total {time.monotonic() - started:.0f} s.\n",
        "| call | jupyter_mlws | mlflow server | ours vs MLflow, end to end | the client's own CPU (ours / "
        "MLflow's) | server + wire: ours vs MLflow | target |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for key, label, unit, scale in rows:
        (o_wall, o_cpu), (t_wall, t_cpu) = ours[key], theirs[key]
        ratio = t_wall / o_wall
        server = max(t_wall - t_cpu, 1e-9) / max(o_wall - o_cpu, 1e-9)
        lines.append(
            f"| {label} | {o_wall * scale:,.1f} {unit} | {t_wall * scale:,.1f} {unit} | {ratio:.1f}x | "
            f"{o_cpu * scale:,.1f} / {t_cpu * scale:,.1f} {unit} "
            f"(end-to-end ceiling {t_wall / o_cpu:.1f}x) | {server:.1f}x | ≥ 10x |"
        )
        verdicts.append(
            f"{'PASS' if ratio >= 10 else 'FAIL'}  {label}: {ratio:.1f}x end to end, "
            f"{server:.1f}x server + wire (ceiling {t_wall / o_cpu:.1f}x end to end)"
        )
    lines += [
        "",
        "(One client script, `benchmarks/bench_mlflow_api.py`, in MLflow's Python; SQLite on both "
        "sides; `mlflow server --workers 1 --serve-artifacts`; ours: `jupyter server` with jupyter_mlws; "
        "medians as the module docstring says.)",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    print("\n".join(verdicts))
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
