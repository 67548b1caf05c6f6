"""Batch scoring benchmark (issue 16, item 5): `ws.jobs.batch_score` beside raw Dask and MLflow.

Rows per second of scoring a folder of CSV files with one scikit-learn model into one CSV of
predictions, on 1 and on 2 workers of one thread, beside raw Dask (the floor) and MLflow's batch
path, all in the same run on the same files and the same model.

Run: `python benchmarks/bench_batch.py [--files 800] [--rows 1000] [--mini-batch 25] [--repeats 3]
[--workers 1,2] [--cli-sample 5] [--no-dataframe] [--no-mlflow] [--no-write]`.

The work: `--files` CSV files of `--rows` rows and 10 float columns (written here, 6 decimals), a
StandardScaler + LogisticRegression pipeline fitted on 2,000 such rows; the output is one CSV with
`source_file, row_index, prediction` for every input row. Sides, each with the same mini-batches
(`--mini-batch` files, in path order):
- ours: a folder workspace in a temp folder, the model saved with `save_sklearn` and registered,
  the folder registered as data asset `bench-data`, a cluster `cpu-N` (min = max = N nodes of
  1 CPU); `ws.jobs.batch_score("bench:1", "data:bench-data", target="cpu-N", ...)`. With no
  Jupyter server, this process dispatches and starts the cluster as a Dask LocalCluster; the
  dispatcher runs the job's driver (`jobs/batch.py`) in a thread with its Dask client, which fans
  the mini-batches out to the workers (`jobs/batch_work.py`) and writes
  `outputs/predictions.csv` into the run.
- raw Dask, the floor: a `LocalCluster(n_workers=N, threads_per_worker=1, processes=True)` in this
  process; `client.map` of a function that reads a mini-batch of files with pandas, predicts with
  the model (unpickled once per worker, kept on the worker object) and returns the predictions as
  CSV text; this process writes the answers, in order, into one CSV file. Also (unless
  `--no-dataframe`) `dask.dataframe.read_csv(files, blocksize=None).repartition(...)` to the same
  mini-batches, `.map_partitions(predict)`, `.to_csv(single_file=True)`.
- MLflow (after our clusters and raw Dask's have stopped; unless `--no-mlflow`), the model saved
  with `mlflow.sklearn.save_model` (signature from 5 rows): `mlflow models predict -m DIR -i FILE
  -t csv --env-manager local`, which scores one input file per call, timed on `--cli-sample` files
  spread over the set and extrapolated to all of them (running it on every file would take
  minutes); the same CLI once on all the rows concatenated into one CSV beforehand (untimed); and
  `mlflow.pyfunc.load_model(DIR).predict` over each file in one process, writing the same output
  CSV. MLflow runs in the Python given by `--mlflow-python`, else this one when it has the full
  `mlflow` (not only the tests' `mlflow-skinny` client), else a venv of its own (`--mlflow-venv`,
  default `.venv-mlflow`, git-ignored) created on first use with MLflow and this Python's numpy,
  pandas, scikit-learn and scipy versions (MLflow 3.17 wants older cryptography and pyarrow than
  tests/constraints.txt pins, so not the test venv).

How each figure is taken (wall clock, `time.time()`):
- ours: from just before `batch_score(...)` (its checks, the run, the queue entry included) to the
  job's `ended_time`, written once the driver ended and `outputs/` was uploaded into
  the run's artifacts; `summary()["seconds"]` (the driver's own time, from its start to its end)
  beside it. Raw Dask: from just before `client.map` to the output file written and closed.
- cold: the first batch of all, cluster not started (LocalCluster start, nodes, model load and,
  for ours, the data version materialized on each node). Warm: after that and one small warm-up
  batch (ours: `2N` files in mini-batches of 1; raw Dask: `client.run` loading the model), the
  median of `--repeats` runs, ours and raw Dask alternating.
- the fixed cost of a batch: the same small batch (`2N` files), timed in every repeat too; the
  rate "beyond the fixed cost" = (rows - its rows) / (seconds - its seconds).
- rows/s = input rows / seconds. Outputs are checked: every row once, the same predictions on
  every side as `model.predict` here.

Targets (issue 16): ours ≥ 0.9x raw Dask's rows/s; ours ≥ 10x MLflow's CLI. The table and
pass/fail per target are printed and appended to `benchmarks/RESULTS.md` (unless `--no-write`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

COLUMNS = [f"x{i}" for i in range(10)]
HEADER = "source_file,row_index,prediction\n"
MODEL = "bench"
DATA = "bench-data"


# ----- the work ----------------------------------------------------------------------------------
def make_data(folder: Path, files: int, rows: int) -> tuple[Any, list[Path]]:
    """The fitted pipeline and `files` CSV files of `rows` rows each under `folder`."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    weights = rng.normal(size=len(COLUMNS))
    train = pd.DataFrame(rng.normal(size=(2000, len(COLUMNS))), columns=COLUMNS)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        train, (train.to_numpy() @ weights > 0).astype(int)
    )
    folder.mkdir(parents=True)
    paths = []
    for i in range(files):
        path = folder / f"part-{i:05d}.csv"
        frame = pd.DataFrame(rng.normal(size=(rows, len(COLUMNS))), columns=COLUMNS)
        frame.to_csv(path, index=False, float_format="%.6f")
        paths.append(path)
    return model, paths


def chunked(names: list[str], size: int) -> list[list[str]]:
    return [names[i : i + size] for i in range(0, len(names), size)]


def expected_predictions(model: Any, paths: list[Path]) -> Any:
    """`model.predict` here, file by file: the answer every side must give (in path order)."""
    import numpy as np
    import pandas as pd

    return np.concatenate([model.predict(pd.read_csv(p)[COLUMNS]) for p in paths])


def check_output(frame: Any, names: list[str], rows: int, expected: Any, side: str) -> None:
    """Every input row once, with the prediction `model.predict` gives here."""
    import numpy as np

    if len(frame) != len(names) * rows:
        raise RuntimeError(f"{side}: {len(frame)} output rows for {len(names) * rows} input rows")
    frame = frame.sort_values(["source_file", "row_index"], kind="stable")
    if frame.duplicated(["source_file", "row_index"]).any():
        raise RuntimeError(f"{side}: some input rows are in the output twice")
    if not np.array_equal(frame["prediction"].to_numpy(), expected):
        raise RuntimeError(f"{side}: the predictions differ from model.predict's")


# ----- raw Dask: the floor -------------------------------------------------------------------------
def _raw_model(model_path: str, worker: Any = None) -> Any:
    """The model, unpickled once per worker process (kept on the worker object)."""
    from distributed import get_worker

    cache = (worker or get_worker()).__dict__.setdefault("_bench_models", {})
    if model_path not in cache:
        with open(model_path, "rb") as handle:
            cache[model_path] = pickle.load(handle)
    return cache[model_path]


def raw_load(model_path: str, dask_worker: Any = None) -> bool:
    """`client.run` on every worker: the model loaded before the warm runs."""
    _raw_model(model_path, dask_worker)
    return True


def raw_score(names: list[str], root: str, model_path: str) -> tuple[str, int]:
    """One mini-batch on a worker: read the files, one predict, the answer as CSV text (no header)."""
    import numpy as np
    import pandas as pd

    model = _raw_model(model_path)
    frames = [pd.read_csv(os.path.join(root, name)) for name in names]
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out = pd.DataFrame(
        {
            "source_file": np.repeat(names, [len(f) for f in frames]),
            "row_index": np.concatenate([np.arange(len(f)) for f in frames]),
            "prediction": model.predict(data[COLUMNS]),
        }
    )
    return out.to_csv(index=False, header=False, lineterminator="\n"), len(out)


def raw_partition(part: Any, model_path: str) -> Any:
    """dask.dataframe: one partition (whole files) to its predictions."""
    import pandas as pd

    model = _raw_model(model_path)
    names = part["source_file"].astype(str).map(os.path.basename)
    return pd.DataFrame(
        {
            "source_file": names.to_numpy(),
            "row_index": part.groupby("source_file", observed=True, sort=False).cumcount().to_numpy(),
            "prediction": model.predict(part[COLUMNS]),
        }
    )


class RawDask:
    """A LocalCluster of `n` worker processes of one thread, and its client, in this process."""

    def __init__(self, n: int) -> None:
        from distributed import Client, LocalCluster

        self.cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        self.client = Client(self.cluster, set_as_default=False)

    def run(self, chunks: list[list[str]], root: Path, model_path: Path, out: Path) -> dict[str, float]:
        t0 = time.time()
        futures = self.client.map(raw_score, chunks, root=str(root), model_path=str(model_path), pure=False)
        rows = 0
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(HEADER)
            for future in futures:
                text, count = future.result()
                handle.write(text)
                rows += count
        return {"seconds": time.time() - t0, "rows": rows}

    def warm(self, model_path: Path) -> None:
        self.client.run(raw_load, str(model_path))

    def dataframe(self, paths: list[Path], size: int, model_path: Path, out: Path) -> dict[str, float]:
        import dask
        import dask.dataframe as dd
        import pandas as pd

        t0 = time.time()
        frame = dd.read_csv([str(p) for p in paths], blocksize=None, include_path_column="source_file")
        frame = frame.repartition(npartitions=math.ceil(len(paths) / size))
        meta = pd.DataFrame(
            {
                "source_file": pd.Series(dtype=object),
                "row_index": pd.Series(dtype="int64"),
                "prediction": pd.Series(dtype="int64"),
            }
        )
        scored = frame.map_partitions(raw_partition, str(model_path), meta=meta)
        with dask.config.set(scheduler=self.client):
            scored.to_csv(str(out), single_file=True, index=False, lineterminator="\n")
        return {"seconds": time.time() - t0, "rows": 0}

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


# ----- ours ------------------------------------------------------------------------------------------
def ours_run(ws: Any, cluster: str, data: str, size: int) -> dict[str, Any]:
    """One batch through `ws.jobs.batch_score`; the times described in the module docstring."""
    t0 = time.time()
    job = ws.jobs.batch_score(
        f"{MODEL}:1", f"data:{data}", target=cluster, mini_batch_size=size, experiment="bench-batch"
    )
    returned = time.time()
    job.wait(timeout=600)
    record = job.record
    if record.state != "completed":
        raise RuntimeError(f"batch job {record.job_id} ended {record.state}: {record.state_reason}")
    summary = job.summary()
    return {
        "seconds": record.ended_time / 1000 - t0,
        "submit_call": returned - t0,
        "claim": record.started_time / 1000 - t0,
        "driver": float(summary["seconds"]),
        "rows": int(summary["rows"]),
        "job": job,
    }


def ours_setup(folder: Path, model: Any, example: Any, data: Path, warm: Path, workers: list[int]) -> Any:
    import jupyter_mlws as mlws
    from jupyter_mlws.models.flavors import save_sklearn

    ws = mlws.Workspace(folder)
    save_sklearn(model, folder.parent / "model.skops")
    ws.models.register(MODEL, folder.parent / "model.skops", example=example)
    ws.data.register(DATA, data)
    for n in workers:
        ws.data.register(f"{DATA}-small-{n}", warm / str(n))
        ws.compute.create_cluster(
            f"cpu-{n}", min_nodes=n, max_nodes=n, node={"cpus": 1}, idle_seconds_before_scaledown=600
        )
    return ws


def one_size(
    n: int, ws: Any, args: argparse.Namespace, paths: list[Path], folder: Path, expected: Any
) -> dict[str, Any]:
    """Cold, warm-up and the warm repeats on `n` workers, ours and raw Dask alternating."""
    import pandas as pd

    from jupyter_mlws.client.jobs import stop_local_dispatchers

    names = [p.name for p in paths]
    chunks = chunked(names, args.mini_batch)
    root, model_path = paths[0].parent, folder / "model.pkl"
    small = chunked(names[: 2 * n], 1)
    out: dict[str, Any] = {
        "ours": [],
        "raw": [],
        "frame": [],
        "ours_small": [],
        "raw_small": [],
        "small": 2 * n,
    }
    cluster = f"cpu-{n}"
    raw: RawDask | None = None
    try:
        print(f"{n} worker(s): ours cold (cluster not started) ...", flush=True)
        cold = ours_run(ws, cluster, DATA, args.mini_batch)
        out["ours_cold"] = cold
        check_output(cold["job"].predictions(), names, args.rows, expected, "ours")
        print(f"{n} worker(s): raw Dask cold (LocalCluster start + first batch) ...", flush=True)
        began = time.time()
        raw = RawDask(n)
        first = raw.run(chunks, root, model_path, folder / "raw.csv")
        out["raw_cold"] = {"seconds": time.time() - began, "rows": first["rows"]}
        check_output(pd.read_csv(folder / "raw.csv"), names, args.rows, expected, "raw Dask")
        ours_run(ws, cluster, f"{DATA}-small-{n}", 1)
        raw.warm(model_path)
        print(f"{n} worker(s): {args.repeats} warm runs each, alternating ...", flush=True)
        for _ in range(args.repeats):
            out["raw"].append(raw.run(chunks, root, model_path, folder / "raw.csv"))
            out["ours"].append(ours_run(ws, cluster, DATA, args.mini_batch))
            out["raw_small"].append(raw.run(small, root, model_path, folder / "raw-small.csv"))
            out["ours_small"].append(ours_run(ws, cluster, f"{DATA}-small-{n}", 1))
        # after ours and client.map, not between them: dask.dataframe leaves raw Dask's workers
        # with memory to collect, which slowed raw Dask's next client.map (ratios read too high)
        if not args.no_dataframe:
            raw.dataframe(paths, args.mini_batch, model_path, folder / "frame.csv")  # its warm-up
            check_output(pd.read_csv(folder / "frame.csv"), names, args.rows, expected, "dask.dataframe")
        for _ in range(args.repeats if not args.no_dataframe else 0):
            out["frame"].append(raw.dataframe(paths, args.mini_batch, model_path, folder / "frame.csv"))
        for run in out["ours"]:
            if run["rows"] != len(names) * args.rows:
                raise RuntimeError(f"ours scored {run['rows']} rows of {len(names) * args.rows}")
        return out
    finally:
        if raw is not None:
            raw.close()
        stop_local_dispatchers()


# ----- MLflow --------------------------------------------------------------------------------------
def mlflow_python(args: argparse.Namespace) -> Path:
    """The Python that runs MLflow (see the module docstring)."""
    if args.mlflow_python:
        return Path(args.mlflow_python)
    from importlib.metadata import PackageNotFoundError, version

    try:  # the full MLflow (its server and CLI), not only mlflow-skinny (the tests' client)
        version("mlflow")
        return Path(sys.executable)
    except PackageNotFoundError:
        pass

    venv = Path(args.mlflow_venv)
    python = venv / "bin" / "python"
    marker = venv / ".bench-mlflow-installed"
    if not marker.exists():
        print(f"Creating {venv} with MLflow (first use only; takes a minute or two) ...", flush=True)
        pins = [f"{p}=={version(p)}" for p in ("numpy", "pandas", "scikit-learn", "scipy", "joblib")]
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "mlflow>=3", *pins], check=True)
        marker.write_text("mlflow\n")
    return python


MLFLOW_DRIVER = textwrap.dedent(
    """
    import json, os, pickle, subprocess, sys, time
    import numpy as np
    import pandas as pd
    import mlflow, mlflow.pyfunc, mlflow.sklearn, sklearn
    from mlflow.models import infer_signature

    args = json.load(open(sys.argv[1]))
    with open(args["model_pickle"], "rb") as handle:
        model = pickle.load(handle)
    example = pd.read_csv(args["files"][0]).head(5)
    folder = args["model_dir"]
    mlflow.sklearn.save_model(
        model, folder, signature=infer_signature(example, model.predict(example)),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )

    t0 = time.perf_counter()
    loaded = mlflow.pyfunc.load_model(folder)
    load = time.perf_counter() - t0
    rows = 0
    with open(args["pyfunc_out"], "w") as out:
        out.write("source_file,row_index,prediction\\n")
        for path in args["files"]:
            frame = pd.read_csv(path)
            predicted = np.asarray(loaded.predict(frame))
            scored = pd.DataFrame({"source_file": os.path.basename(path), "row_index": np.arange(len(frame)),
                                   "prediction": predicted})
            scored.to_csv(out, index=False, header=False, lineterminator="\\n")
            rows += len(frame)
    pyfunc = time.perf_counter() - t0

    cli = [os.path.join(os.path.dirname(sys.executable), "mlflow"), "models", "predict", "-m", folder,
           "-t", "csv", "--env-manager", "local"]

    def call(path, out):
        began = time.perf_counter()
        done = subprocess.run(cli + ["-i", path, "-o", out], capture_output=True, text=True)
        took = time.perf_counter() - began
        if done.returncode != 0:
            raise SystemExit(f"mlflow models predict failed: {done.stderr[-2000:]}")
        return took, len(json.load(open(out))["predictions"])

    calls = [call(p, os.path.join(args["folder"], f"cli-{i}.json")) for i, p in enumerate(args["sample"])]
    whole = call(args["all_csv"], os.path.join(args["folder"], "cli-all.json"))
    print(json.dumps({
        "version": mlflow.__version__, "load": load, "pyfunc": pyfunc, "pyfunc_rows": rows,
        "cli_calls": [c[0] for c in calls], "cli_rows": sum(c[1] for c in calls),
        "cli_all": whole[0], "cli_all_rows": whole[1],
    }))
    """
)


def mlflow_side(
    args: argparse.Namespace, paths: list[Path], folder: Path, model_path: Path
) -> dict[str, Any]:
    python = mlflow_python(args)
    work = folder / "mlflow"
    work.mkdir()
    whole = work / "all.csv"  # every row in one CSV for the one-call CLI figure (untimed)
    with open(whole, "wb") as out:
        for i, path in enumerate(paths):
            with open(path, "rb") as source:
                if i:
                    source.readline()
                out.write(source.read())
    step = max(1, len(paths) // args.cli_sample)
    sample = [str(p) for p in paths[::step][: args.cli_sample]]
    spec = {
        "model_pickle": str(model_path),
        "model_dir": str(work / "model"),
        "files": [str(p) for p in paths],
        "sample": sample,
        "all_csv": str(whole),
        "pyfunc_out": str(work / "pyfunc.csv"),
        "folder": str(work),
    }
    (work / "spec.json").write_text(json.dumps(spec))
    (work / "driver.py").write_text(MLFLOW_DRIVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLWS_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["MLFLOW_TRACKING_URI"] = (work / "mlruns").as_uri()
    done = subprocess.run(
        [str(python), str(work / "driver.py"), str(work / "spec.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=1200,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the MLflow driver failed:\n{done.stderr[-3000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    found["sample_files"] = len(sample)
    found["pyfunc_csv"] = work / "pyfunc.csv"
    return found


# ----- the run ----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=800, help="CSV files (default 800)")
    parser.add_argument("--rows", type=int, default=1000, help="rows per file (default 1000)")
    parser.add_argument("--mini-batch", type=int, default=25, help="files per mini-batch (default 25)")
    parser.add_argument("--repeats", type=int, default=3, help="warm runs per side and size (default 3)")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure (default 1,2)")
    parser.add_argument("--cli-sample", type=int, default=5, help="files scored by MLflow's CLI (default 5)")
    parser.add_argument("--no-dataframe", action="store_true", help="skip the dask.dataframe variant")
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow")
    parser.add_argument("--mlflow-python", default="", help="a Python with MLflow (default: see above)")
    parser.add_argument(
        "--mlflow-venv", default=str(REPO / ".venv-mlflow"), help="venv for MLflow (default .venv-mlflow)"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    os.environ.pop("MLWS_WORKSPACE", None)
    os.environ.pop("MLWS_TOKEN", None)
    began = time.monotonic()
    import pandas as pd

    results: dict[int, dict[str, Any]] = {}
    mlflow: dict[str, Any] | None = None
    mlflow_missing = "skipped (--no-mlflow)" if args.no_mlflow else ""
    with tempfile.TemporaryDirectory(prefix="mlws-bench-batch-") as tmp:
        folder = Path(tmp)
        print(f"writing {args.files} files of {args.rows} rows ...", flush=True)
        model, paths = make_data(folder / "data", args.files, args.rows)
        expected = expected_predictions(model, paths)
        with open(folder / "model.pkl", "wb") as handle:
            pickle.dump(model, handle)
        warm = folder / "warm"
        warm.mkdir()
        for n in workers:  # the small batch of n workers: 2n files, one a mini-batch
            (warm / str(n)).mkdir()
            for path in paths[: 2 * n]:
                (warm / str(n) / path.name).write_bytes(path.read_bytes())
        example = pd.read_csv(paths[0]).head(5)
        ws = ours_setup(folder / "ws", model, example, folder / "data", warm, workers)
        try:
            for n in workers:
                results[n] = one_size(n, ws, args, paths, folder, expected)
        finally:
            ws.close()
        if not args.no_mlflow:
            print(
                "MLflow: pyfunc over each file, the CLI on a sample of files and on all rows ...", flush=True
            )
            try:
                mlflow = mlflow_side(args, paths, folder, folder / "model.pkl")
                check_output(
                    pd.read_csv(mlflow["pyfunc_csv"]),
                    [p.name for p in paths],
                    args.rows,
                    expected,
                    "MLflow pyfunc",
                )
            except Exception as err:
                first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                mlflow_missing = f"not measured: {first[:300]}"
                print(f"MLflow not measured: {err}", file=sys.stderr)

    import dask
    import sklearn

    text, verdicts = report(
        args,
        workers,
        results,
        mlflow,
        mlflow_missing,
        time.monotonic() - began,
        dask.__version__,
        sklearn.__version__,
    )
    print(text)
    for line in verdicts:
        print(line)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out:
            out.write(text)
    return 0


def report(
    args: argparse.Namespace,
    workers: list[int],
    results: dict[int, dict[str, Any]],
    mlflow: dict[str, Any] | None,
    mlflow_missing: str,
    total: float,
    dask_version: str,
    sklearn_version: str,
) -> tuple[str, list[str]]:
    """The RESULTS.md section and the pass/fail lines."""
    rows = args.files * args.rows

    def med(runs: list[dict[str, Any]], key: str = "seconds") -> float:
        return statistics.median(r[key] for r in runs)

    def rps(seconds: float) -> str:
        return f"{rows / seconds:,.0f} rows/s"

    def span(runs: list[dict[str, Any]]) -> str:
        values = [r["seconds"] for r in runs]
        return f"{min(values):.2f}-{max(values):.2f} s"

    cli_rps = cli_all_rps = pyfunc_rps = None
    if mlflow:
        cli_rps = mlflow["cli_rows"] / sum(mlflow["cli_calls"])
        cli_all_rps = mlflow["cli_all_rows"] / mlflow["cli_all"]
        pyfunc_rps = mlflow["pyfunc_rows"] / mlflow["pyfunc"]
    none = "not measured" if mlflow_missing else ""
    table: list[tuple[str, ...]] = []
    verdicts: list[str] = []

    def verdict(ok: bool, what: str) -> None:
        verdicts.append(f"{'PASS' if ok else 'FAIL'}  {what}")

    for n in workers:
        res = results[n]
        ours, raw = med(res["ours"]), med(res["raw"])
        driver, claim = med(res["ours"], "driver"), med(res["ours"], "claim")
        call = med(res["ours"], "submit_call")
        label = f"{n} worker{'s' if n > 1 else ''}"
        small_rows = res["small"] * args.rows
        ours_small, raw_small = med(res["ours_small"]), med(res["raw_small"])
        beyond_o = (rows - small_rows) / max(ours - ours_small, 1e-9)
        beyond_r = (rows - small_rows) / max(raw - raw_small, 1e-9)
        table.append(
            (
                f"{label}, warm: submit → completed",
                f"{rps(raw)} ({raw:.2f} s)",
                f"{rps(ours)} ({ours:.2f} s)",
                "",
                f"{raw / ours:.2f}x",
                f"{rows / ours / cli_rps:.0f}x CLI" if cli_rps else "",
                "≥ 0.9x raw Dask",
                f"median of {args.repeats}; raw {span(res['raw'])}, ours {span(res['ours'])}; ours' driver "
                f"(summary seconds) {driver:.2f} s = {rps(driver)}; submit → claim {claim * 1000:.0f} ms "
                f"(`batch_score()` call {call * 1000:.0f} ms); beyond the fixed cost (row below): ours "
                f"{beyond_o:,.0f} rows/s, raw {beyond_r:,.0f} rows/s",
            )
        )
        table.append(
            (
                f"{label}, warm: a {res['small']}-file batch (the fixed cost)",
                f"{raw_small * 1000:.0f} ms",
                f"{ours_small * 1000:.0f} ms",
                "",
                f"{ours_small - raw_small:+.2f} s",
                "",
                "",
                f"{small_rows:,} rows in {res['small']} mini-batches of 1 file; ours' driver "
                f"{med(res['ours_small'], 'driver') * 1000:.0f} ms",
            )
        )
        if res["frame"]:
            frame = med(res["frame"])
            table.append(
                (
                    f"{label}, warm: dask.dataframe",
                    f"{rps(frame)} ({frame:.2f} s)",
                    "",
                    "",
                    f"{frame / ours:.2f}x",
                    "",
                    "",
                    "`read_csv(blocksize=None)` → `repartition` to the same mini-batches → "
                    f"`map_partitions` → `to_csv(single_file=True)`; {span(res['frame'])}",
                )
            )
        cold_o, cold_r = res["ours_cold"], res["raw_cold"]
        table.append(
            (
                f"{label}, cold: cluster not started",
                f"{rps(cold_r['seconds'])} ({cold_r['seconds']:.2f} s)",
                f"{rps(cold_o['seconds'])} ({cold_o['seconds']:.2f} s)",
                "",
                f"{cold_r['seconds'] / cold_o['seconds']:.2f}x",
                "",
                "",
                f"the first batch: LocalCluster start, {n} node(s), model load; ours' driver "
                f"{cold_o['driver']:.2f} s, "
                f"submit → claim {cold_o['claim']:.2f} s",
            )
        )
        verdict(
            raw / ours >= 0.9, f"{label}: ours {rps(ours)} = {raw / ours:.2f}x raw Dask's {rps(raw)} ≥ 0.9x"
        )
    if mlflow:
        calls = mlflow["cli_calls"]
        per_call = statistics.mean(calls)
        best = max(rows / med(results[n]["ours"]) for n in workers)
        one = rows / med(results[min(workers)]["ours"])
        table += [
            (
                "MLflow CLI, one call per file",
                "",
                "",
                f"{cli_rps:,.0f} rows/s",
                "",
                f"{one / cli_rps:.0f}x ({min(workers)} w), {best / cli_rps:.0f}x (best)",
                "ours ≥ 10x",
                f"`mlflow models predict -t csv --env-manager local`, {len(calls)} files sampled: "
                f"{per_call:.2f} s a call ({min(calls):.2f}-{max(calls):.2f} s); all {args.files} files "
                f"would take ~{per_call * args.files / 60:.0f} min (extrapolated, not run)",
            ),
            (
                "MLflow CLI, one call on all rows in one CSV",
                "",
                "",
                f"{cli_all_rps:,.0f} rows/s ({mlflow['cli_all']:.2f} s)",
                "",
                f"{one / cli_all_rps:.1f}x ({min(workers)} w), {best / cli_all_rps:.1f}x (best)",
                "",
                "the files concatenated beforehand (untimed); no source_file in its output",
            ),
            (
                "MLflow pyfunc over each file, one process",
                "",
                "",
                f"{pyfunc_rps:,.0f} rows/s ({mlflow['pyfunc']:.2f} s)",
                "",
                f"{one / pyfunc_rps:.1f}x ({min(workers)} w), {best / pyfunc_rps:.1f}x (best)",
                "",
                f"`load_model` ({mlflow['load']:.2f} s) + per file `read_csv`, `predict`, CSV rows appended",
            ),
        ]
        times = one / cli_rps
        verdict(
            times >= 10,
            f"ours on {min(workers)} worker(s) {one:,.0f} rows/s = {times:.0f}x MLflow's CLI ≥ 10x",
        )
    else:
        verdicts.append(f"----  ≥ 10x MLflow's CLI: {mlflow_missing}")
        table.append(("MLflow", "", "", none, "", "", "ours ≥ 10x CLI", mlflow_missing))

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = (
        f"Python {platform.python_version()}, dask/distributed {dask_version}, scikit-learn {sklearn_version}"
        + (f", MLflow {mlflow['version']}" if mlflow else "")
    )
    body = "\n".join("| " + " | ".join(row) + " |" for row in table)
    text = (
        f"\n## Batch scoring — {when}\n\nMachine: {platform.system()} {platform.release()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end); "
        f"{versions}; total {total:.0f} s.\n\n"
        f"Work: {args.files} CSV files x {args.rows} rows x {len(COLUMNS)} float columns = {rows:,} rows; "
        f"StandardScaler + LogisticRegression; mini-batches of {args.mini_batch} files; one output CSV "
        "(source_file, row_index, prediction).\n\n"
        "| work | raw Dask (floor) | jupyter_mlws | MLflow | ours vs raw Dask | ours / MLflow | target "
        "| note |\n"
        "|---|---|---|---|---|---|---|---|\n"
        + body
        + "\n\nTargets:\n\n"
        + "".join(f"- {v}\n" for v in verdicts)
        + "\n(Ours = `ws.jobs.batch_score` on a folder workspace, dispatched by the benchmark's process, "
        "its cluster a LocalCluster of N one-thread nodes; from before the call to the job's `ended_time` "
        "(outputs uploaded into the run). Raw Dask = `client.map` of read → predict → CSV text per "
        "mini-batch, the model unpickled once per worker, the answers written in order into one file by "
        "the client. Warm = after a cold first batch and a small warm-up batch; ours and raw Dask "
        "alternating. Every side's output checked against `model.predict`.)\n"
    )
    return text, verdicts


if __name__ == "__main__":
    sys.exit(main())
