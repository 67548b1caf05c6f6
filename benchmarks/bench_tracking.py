"""Tracking benchmark: jupyter_mlws against MLflow, same work, same machine, same run (DESIGN.md §6).

Run: `python benchmarks/bench_tracking.py` (MLflow from the `bench` extra; without it only our
side runs). Each side gets a fresh temp SQLite store. MLflow is slow, so some of its work is
scaled down; those rows compare rates (or time per item) and say so in the `note` column.
The table is printed and appended to `benchmarks/RESULTS.md` with the date and machine.
`--quick` shrinks every size (a smoke test of the script, not figures to report).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
T0 = 1_700_000_000_000


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    """The best wall time of `repeat` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def import_time(module: str, runs: int) -> float:
    """Median wall time of `python -c 'import module'` minus a bare interpreter start."""

    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - start

    bare = statistics.median(once("pass") for _ in range(runs))
    return max(0.0, statistics.median(once(f"import {module}") for _ in range(runs)) - bare)


class Ours:
    """Our side: the public API on a fresh workspace folder."""

    def __init__(self, folder: Path) -> None:
        import jupyter_mlws as mlws

        self.mlws = mlws
        self.ws = mlws.Workspace(folder)
        self.store = self.ws.store

    def one_call(self, n: int) -> float:
        run = self.ws.start_run("one-call")
        log = self.mlws.log_metric

        def work() -> None:
            for i in range(n):
                log("loss", 0.5, i)
            run.flush()

        took = timed(work)
        run.end()
        return took

    def batched(self, n: int, chunk: int = 10_000) -> float:
        run = self.ws.start_run("batched")
        points = [("loss", i * 1e-3, i, T0 + i) for i in range(n)]

        def work() -> None:
            for start in range(0, n, chunk):
                self.store.log_batch(run.id, metrics=points[start : start + chunk])

        took = timed(work)
        run.end()
        return took

    def make_runs(self, experiment: str, count: int) -> None:
        exp = self.store.get_or_create_experiment(experiment)
        for i in range(count):
            info = self.store.create_run(exp.experiment_id, name=f"r{i}", tags={"team": "ab"[i % 2]}).info
            self.store.log_batch(
                info.run_id,
                metrics=[(f"m{k}", (i * 7 + k) % 100 / 100, 1, T0) for k in range(5)],
                params={f"p{k}": str((i + k) % 10) for k in range(5)},
                tags={"stage": "dev"},
            )
            self.store.end_run(info.run_id, "completed")

    def search(self, experiment: str, filter: str | None, limit: int) -> tuple[float, int]:
        rows = []
        took = timed(lambda: rows.append(len(self.ws.runs(experiment, filter, limit=limit))), repeat=3)
        return took, rows[-1]

    def history_setup(self, key: str, n: int) -> str:
        run = self.ws.start_run("history")
        for start in range(0, n, 50_000):
            stop = min(n, start + 50_000)
            self.store.log_batch(
                run.id, metrics=[(key, (i % 977) / 977, i, T0 + i) for i in range(start, stop)]
            )
        run.end()
        return run.id

    def history(self, run_id: str, key: str, max_points: int | None) -> tuple[float, int]:
        run = self.ws.get_run(run_id)
        sizes = []
        took = timed(lambda: sizes.append(len(run.metric_history(key, max_points=max_points))), repeat=3)
        return took, sizes[-1]


class Theirs:
    """MLflow's side: its fluent API and client on a fresh SQLite tracking store."""

    def __init__(self, folder: Path) -> None:
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore")
        import mlflow
        from mlflow.tracking import MlflowClient

        folder.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
        self.mlflow = mlflow
        self.client = MlflowClient()
        self.folder = folder

    def _experiment(self, name: str) -> str:
        found = self.mlflow.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        return str(self.mlflow.create_experiment(name, artifact_location=str(self.folder / "artifacts")))

    def one_call(self, n: int) -> float:
        exp = self._experiment("one-call")
        with self.mlflow.start_run(experiment_id=exp):
            took = timed(lambda: [self.mlflow.log_metric("loss", 0.5, step=i) for i in range(n)])
        return took

    def batched(self, n: int, chunk: int = 1000) -> float:
        from mlflow.entities import Metric

        exp = self._experiment("batched")
        run = self.client.create_run(exp)
        points = [Metric("loss", i * 1e-3, T0 + i, i) for i in range(n)]

        def work() -> None:
            for start in range(0, n, chunk):
                self.client.log_batch(run.info.run_id, metrics=points[start : start + chunk])

        return timed(work)

    def make_runs(self, experiment: str, count: int) -> None:
        from mlflow.entities import Metric, Param, RunTag

        exp = self._experiment(experiment)
        for i in range(count):
            run = self.client.create_run(exp, run_name=f"r{i}", tags={"team": "ab"[i % 2]})
            self.client.log_batch(
                run.info.run_id,
                metrics=[Metric(f"m{k}", (i * 7 + k) % 100 / 100, T0, 1) for k in range(5)],
                params=[Param(f"p{k}", str((i + k) % 10)) for k in range(5)],
                tags=[RunTag("stage", "dev")],
            )
            self.client.set_terminated(run.info.run_id)

    def search(self, experiment: str, filter: str | None, limit: int) -> tuple[float, int]:
        exp = self._experiment(experiment)
        rows = []

        def work() -> None:
            frame = self.mlflow.search_runs(
                experiment_ids=[exp], filter_string=filter or "", max_results=limit
            )
            rows.append(len(frame))

        return timed(work), rows[-1]

    def history_setup(self, key: str, n: int) -> str:
        from mlflow.entities import Metric

        exp = self._experiment("history")
        run = self.client.create_run(exp)
        for start in range(0, n, 1000):
            stop = min(n, start + 1000)
            self.client.log_batch(
                run.info.run_id, metrics=[Metric(key, (i % 977) / 977, T0 + i, i) for i in range(start, stop)]
            )
        return str(run.info.run_id)

    def history(self, run_id: str, key: str) -> tuple[float, int]:
        sizes = []
        took = timed(lambda: sizes.append(len(self.client.get_metric_history(run_id, key))))
        return took, sizes[-1]


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script runs")
    parser.add_argument("--no-mlflow", action="store_true", help="only our side")
    parser.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()
    q = 50 if args.quick else 1
    sizes = {
        "one_call": 200_000 // q,
        "one_call_mlflow": max(20, 300 // q),
        "batched": 100_000 // q,
        "batched_mlflow": max(1000, 20_000 // q),
        "runs": 2_000 // q,
        "runs_big": 10_000 // q,
        "history": 100_000 // q,
        "history_mlflow": max(1000, 20_000 // q),
        "history_big": 1_000_000 // q,
    }
    have_mlflow = not args.no_mlflow
    if have_mlflow:
        try:
            import mlflow
        except ImportError:
            print("MLflow is not installed (pip install -e '.[bench]'): only our figures are shown.")
            have_mlflow = False

    rows: list[tuple[str, str, str, str, str, str]] = []  # work, ours, mlflow, ratio, target, note

    def add(work: str, ours: str, theirs: str, ratio: float | None, target: str, note: str = "") -> None:
        rows.append((work, ours, theirs, "" if ratio is None else f"{ratio:,.0f}x", target, note))
        print(f"  {work}: ours {ours}, mlflow {theirs or '-'}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="mlws-bench-"))
    started = time.perf_counter()
    ours = Ours(tmp / "ours")
    theirs = Theirs(tmp / "mlflow") if have_mlflow else None

    n = sizes["one_call"]
    our_s = ours.one_call(n) / n
    their_s = None
    if theirs is not None:
        m = sizes["one_call_mlflow"]
        their_s = theirs.one_call(m) / m
    add(
        "log_metric, one call at a time (amortised, incl. final flush)",
        f"{fmt_time(our_s)}/call",
        f"{fmt_time(their_s)}/call" if their_s else "",
        their_s / our_s if their_s else None,
        "≥ 500x",
        f"ours {n:,} calls; MLflow {sizes['one_call_mlflow']:,} calls",
    )

    n = sizes["batched"]
    our_rate = n / ours.batched(n)
    their_rate = None
    if theirs is not None:
        m = sizes["batched_mlflow"]
        their_rate = m / theirs.batched(m)
    add(
        f"batched logging, {n:,} points",
        f"{our_rate:,.0f} points/s",
        f"{their_rate:,.0f} points/s" if their_rate else "",
        our_rate / their_rate if their_rate else None,
        "≥ 200,000 points/s",
        f"MLflow {sizes['batched_mlflow']:,} points in batches of 1,000 (its limit)",
    )

    r, big = sizes["runs"], sizes["runs_big"]
    ours.make_runs("search", r)
    ours.make_runs("search-big", big)
    their_runs = None
    if theirs is not None:
        their_runs = r
        theirs.make_runs("search", their_runs)
    flt = "metrics.m1 > 0.5 and params.p2 = '3' and tags.team = 'b'"
    took, found = ours.search("search", None, r)
    their = theirs.search("search", None, r) if theirs else None
    add(
        f"search {r:,} runs into a DataFrame",
        fmt_time(took),
        fmt_time(their[0]) if their else "",
        their[0] / took if their else None,
        "≤ 50 ms",
        f"{found:,} rows each",
    )
    took, found = ours.search("search", flt, r)
    their = theirs.search("search", flt, r) if theirs else None
    add(
        f"search {r:,} runs, filtered",
        fmt_time(took),
        fmt_time(their[0]) if their else "",
        their[0] / took if their else None,
        "",
        f"{found:,} rows; `{flt}`",
    )
    took, found = ours.search("search-big", flt, 10_000)
    add(
        f"search {big:,} runs, filtered",
        fmt_time(took),
        "",
        None,
        "≤ 100 ms",
        f"{found:,} rows; MLflow not run at this size (setup alone takes minutes)",
    )

    h = sizes["history"]
    run_id = ours.history_setup("loss", h)
    took, got = ours.history(run_id, "loss", None)
    their = None
    if theirs is not None:
        their_id = theirs.history_setup("loss", sizes["history_mlflow"])
        their = theirs.history(their_id, "loss")
    add(
        f"metric history, {h:,} points",
        fmt_time(took),
        f"{fmt_time(their[0])} for {their[1]:,}" if their else "",
        (their[0] / their[1]) / (took / got) if their else None,
        "≤ 100 ms",
        f"ratio per point; MLflow {sizes['history_mlflow']:,} points" if their else "",
    )
    hb = sizes["history_big"]
    run_id = ours.history_setup("big", hb)
    took, got = ours.history(run_id, "big", 2000)
    add(
        f"{hb:,} points downsampled to ≤ 2,000",
        fmt_time(took),
        "",
        None,
        "≤ 200 ms",
        f"{got:,} points kept (min/max buckets); MLflow has no downsampling",
    )

    runs = 3 if args.quick else 7
    ours_import = import_time("jupyter_mlws", runs)
    their_import = import_time("mlflow", 3) if theirs is not None else None
    add(
        "import in a fresh interpreter",
        fmt_time(ours_import),
        fmt_time(their_import) if their_import else "",
        their_import / ours_import if their_import else None,
        "≤ 150 ms",
        f"median of {runs}, interpreter start subtracted",
    )
    ours.ws.close()
    total = time.perf_counter() - started

    machine = (
        f"{platform.uname().system} {platform.uname().release} {platform.machine()}, {os.cpu_count()} CPUs"
    )
    head = "| work | jupyter_mlws | MLflow | ratio | target | note |\n|---|---|---|---|---|---|\n"
    body = "".join(f"| {' | '.join(row)} |\n" for row in rows)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mlflow_version = ""
    if theirs is not None:
        import mlflow

        mlflow_version = f", MLflow {mlflow.__version__}"
    section = (
        f"\n## {stamp}{' (quick)' if args.quick else ''}\n\nMachine: {machine}; Python "
        f"{platform.python_version()}{mlflow_version}; total {total:.0f} s.\n\n{head}{body}"
    )
    print(section)
    if not args.no_write and not args.quick:
        results = HERE / "RESULTS.md"
        if not results.exists():
            results.write_text(
                "# Tracking benchmark results\n\nWritten by `python benchmarks/bench_tracking.py`.\n"
            )
        with results.open("a") as handle:
            handle.write(section)
    with contextlib.suppress(Exception):
        import shutil

        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
