"""UI benchmark (issue 6): in Debian's Chromium, open the runs table of an experiment with
10,000 runs, and the chart of a 1,000,000-point metric, in JupyterLab's workspace browser —
beside MLflow's UI (`mlflow server`) showing the same data in the same browser.

Run: `python benchmarks/bench_ui.py` (MLflow from the `bench` extra; without it, ours alone).
`--no-write` prints the table without appending it to `benchmarks/RESULTS.md`.

What is timed, in the page (`performance.now()`, checked on every animation frame), median of
`--repeat` tries, after one untimed warm-up, in one page that has already loaded the app:
- ours, runs table: from the click on the experiment in the sidebar to the first page of the
  runs table (100 rows) in the DOM; "Back to the experiments" between tries.
- ours, chart: from `mlws:open-run` to the run view's "Chart of loss" holding data
  (`data-points` > 0, set when uPlot was given the downsampled history) with its canvas; the
  tab is closed between tries.
- MLflow, runs table: from the route change (`location.hash`) to the experiment page's runs
  grid showing run rows; back to the experiments list between tries.
- MLflow, chart: from the route change to its metric page (`#/metric/loss?runs=...`) having
  drawn the line (a Plotly trace path with points).
Both stores are SQLite files written before the servers start; MLflow's is written in bulk
through its own SQLAlchemy models (its API would take many minutes for 10,000 runs).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.lab_server import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason, free_port, start_lab  # noqa: E402

T0 = 1_700_000_000_000
CHUNK = 50_000  # our per-call limit of log_batch


def fmt_ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def long_points(n: int, start: int = 0) -> list[tuple[str, float, int, int]]:
    steps = range(start, min(n, start + CHUNK))
    return [("loss", 1.0 / (1 + i * 1e-4) + (i % 97) * 1e-3, i, T0 + i) for i in steps]


def make_ours(workspace_dir: Path, runs: int, points: int) -> str:
    """10,000 runs in experiment "bench" and one run with the long metric in "long"; its id."""
    from jupyter_mlws import Workspace

    workspace = Workspace(workspace_dir)
    store = workspace.store
    try:
        experiment = store.create_experiment("bench").experiment_id
        for i in range(runs):
            run_id = store.create_run(experiment, name=f"run-{i:05d}", start_time=T0 + i * 1000).info.run_id
            store.log_batch(
                run_id,
                metrics=[("loss", 1.0 / (i + 1), 0, T0 + i), ("acc", i / runs, 0, T0 + i)],
                params={"lr": str(10 ** -(i % 5)), "batch_size": str(32 << (i % 3)), "optimizer": "adam"},
            )
            store.update_run(run_id, status="completed", end_time=T0 + i * 1000 + 500)
        long = store.create_run(store.create_experiment("long").experiment_id, name="long", start_time=T0)
        run_id = long.info.run_id
        for i in range(0, points, CHUNK):
            store.log_batch(run_id, metrics=long_points(points, i))
        store.update_run(run_id, status="completed", end_time=T0 + points)
        return run_id
    finally:
        workspace.close()


def make_mlflow(uri: str, artifacts: Path, runs: int, points: int) -> tuple[str, str, str]:
    """The same data in MLflow's SQLite schema, in bulk through its own models."""
    from mlflow.entities import ExperimentTag
    from mlflow.store.tracking.dbmodels import models
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, str(artifacts))
    bench = store.create_experiment("bench")
    long_exp = store.create_experiment("long")
    kind = ExperimentTag("mlflow.experimentKind", "custom_model_development")
    for experiment in (bench, long_exp):  # MLflow 3 opens untagged experiments as GenAI ones
        store.set_experiment_tag(experiment, kind)
    run_rows, params, metrics, tags = [], [], [], []

    def run_row(run_id: str, name: str, experiment: str, start: int, end: int) -> None:
        run_rows.append({
            "run_uuid": run_id, "name": name, "source_type": "LOCAL", "source_name": "bench_ui.py",
            "entry_point_name": "", "user_id": "bench", "status": "FINISHED", "start_time": start,
            "end_time": end, "source_version": "", "lifecycle_stage": "active",
            "artifact_uri": f"{artifacts}/{experiment}/{run_id}/artifacts", "experiment_id": int(experiment),
        })
        tags.extend([{"key": "mlflow.runName", "value": name, "run_uuid": run_id},
                     {"key": "mlflow.user", "value": "bench", "run_uuid": run_id}])

    for i in range(runs):
        run_id = uuid.uuid4().hex
        run_row(run_id, f"run-{i:05d}", bench, T0 + i * 1000, T0 + i * 1000 + 500)
        params.extend({"key": k, "value": v, "run_uuid": run_id} for k, v in (
            ("lr", str(10 ** -(i % 5))), ("batch_size", str(32 << (i % 3))), ("optimizer", "adam")))
        metrics.extend(
            {"key": k, "value": v, "timestamp": T0 + i, "step": 0, "is_nan": False, "run_uuid": run_id}
            for k, v in (("loss", 1.0 / (i + 1)), ("acc", i / runs))
        )
    long_id = uuid.uuid4().hex
    run_row(long_id, "long", long_exp, T0, T0 + points)
    with store.engine.begin() as conn:
        conn.execute(models.SqlRun.__table__.insert(), run_rows)
        conn.execute(models.SqlTag.__table__.insert(), tags)
        conn.execute(models.SqlParam.__table__.insert(), params)
        conn.execute(models.SqlMetric.__table__.insert(), metrics)
        conn.execute(models.SqlLatestMetric.__table__.insert(), metrics)
        last = None
        for i in range(0, points, CHUNK):
            chunk = [{"key": k, "value": v, "timestamp": t, "step": s, "is_nan": False, "run_uuid": long_id}
                     for k, v, s, t in long_points(points, i)]
            conn.execute(models.SqlMetric.__table__.insert(), chunk)
            last = chunk[-1]
        if last:
            conn.execute(models.SqlLatestMetric.__table__.insert(), [last])
    store.engine.dispose()
    return bench, long_exp, long_id


async def timed(page, start_js: str, done_js: str, timeout_ms: float = 120_000) -> float:
    """Run `start_js` (stamping window.__t0) and return ms until `done_js` is true on a frame."""
    await page.evaluate(f"() => {{ window.__t0 = performance.now(); {start_js}; }}")
    handle = await page.wait_for_function(
        f"() => ({done_js}) ? performance.now() - window.__t0 : false", polling="raf", timeout=timeout_ms
    )
    return float(await handle.json_value())


OURS_ROWS = (
    "document.querySelectorAll('#mlws-sidebar table[aria-label=\"Runs table\"] tbody tr').length >= 100"
)
OURS_CHART = (
    "(() => { const f = document.querySelector('#jp-main-dock-panel figure[aria-label=\"Chart of loss\"]');"
    " return !!f && Number(f.dataset.points) > 0 && !!f.querySelector('canvas'); })()"
)


async def measure_ours(browser, lab, run_id: str, repeat: int) -> tuple[list[float], list[float], str]:
    page = await browser.new_page(viewport={"width": 1400, "height": 860})
    await page.goto(f"{lab.url}/lab?reset&token={lab.token}", wait_until="domcontentloaded")
    tab = page.locator('.jp-SideBar [data-id="mlws-sidebar"]')
    await tab.wait_for(timeout=120_000)
    await tab.click()
    panel = page.locator("#mlws-sidebar")
    entry = panel.get_by_label("Experiments").get_by_role("listitem").filter(has_text="bench")
    button = entry.get_by_role("button", name="bench", exact=True)
    back = panel.get_by_role("button", name="Back to the experiments")
    tables = []
    for i in range(repeat + 1):
        await button.wait_for(timeout=60_000)
        await button.evaluate("b => { document.__b = b; }")
        ms = await timed(page, "document.__b.click()", OURS_ROWS)
        print(f"ours table try {i}: {ms:.0f} ms", file=sys.stderr)
        if i:
            tables.append(ms)
        await back.click()
    charts = []
    caption = ""
    for i in range(repeat + 1):
        command = f"window.jupyterapp.commands.execute('mlws:open-run', {{runId: {json.dumps(run_id)}}})"
        ms = await timed(page, command, OURS_CHART)
        print(f"ours chart try {i}: {ms:.0f} ms", file=sys.stderr)
        if i:
            charts.append(ms)
        figure = page.locator('#jp-main-dock-panel figure[aria-label="Chart of loss"]')
        caption = await figure.locator("figcaption").inner_text()
        await page.evaluate("() => window.jupyterapp.commands.execute('application:close-all')")
        await page.wait_for_function(
            "() => !document.querySelector('#jp-main-dock-panel figure[aria-label=\"Chart of loss\"]')")
    await page.close()
    return tables, charts, caption


MLFLOW_ROWS = "document.querySelectorAll('.ag-row a[href*=\"/runs/\"]').length >= 10"
MLFLOW_CHART = (
    "[...document.querySelectorAll('.js-plotly-plot .scatterlayer .trace path.js-line')]"
    ".some(p => (p.getAttribute('d') || '').length > 100)"
)
# The metric page's summary table: Latest, Min and Max cells each read "<value> (step=<n>)".
MLFLOW_FULL = (
    "[...document.querySelectorAll('td')].filter(t => /\\(step=\\d+\\)/.test(t.textContent)).length >= 3"
)


async def measure_mlflow(browser, url: str, bench: str, long_exp: str, long_id: str, repeat: int,
                         chart_repeat: int, points: int) -> tuple[list[float], list[float], list[float]]:
    page = await browser.new_page(viewport={"width": 1400, "height": 860})
    await page.goto(f"{url}/#/experiments", wait_until="domcontentloaded")
    await page.wait_for_function("() => document.body.innerText.includes('bench')", timeout=120_000)
    tables = []
    for i in range(repeat + 1):
        ms = await timed(page, f"location.hash = '#/experiments/{bench}/runs'", MLFLOW_ROWS)
        if i:
            tables.append(ms)
        await page.evaluate("() => { location.hash = '#/experiments'; }")
        await page.wait_for_function(f"() => !({MLFLOW_ROWS})")
    await page.close()
    metric_hash = (
        f"#/metric?runs={json.dumps([long_id])}&metric=%22loss%22"
        f"&experiments={json.dumps([long_exp])}&plot_metric_keys=[%22loss%22]"
    )
    # Done when Min and Max are filled and "Latest" is the last step again (while the pages
    # arrive, it shows the last step seen so far).
    full_js = f"({MLFLOW_FULL}) && document.body.innerText.includes('(step={points - 1})')"
    charts, full = [], []
    for i in range(chart_repeat + 1):
        # A fresh page (and browser context) per try: MLflow keeps fetched histories in its Redux
        # store, so a second visit in the same page would draw from memory.
        page = await browser.new_page(viewport={"width": 1400, "height": 860})
        await page.goto(f"{url}/#/experiments", wait_until="domcontentloaded")
        await page.wait_for_function("() => document.body.innerText.includes('bench')", timeout=120_000)
        ms = await timed(page, f"location.hash = {json.dumps(metric_hash)}", MLFLOW_CHART, timeout_ms=600_000)
        print(f"MLflow chart try {i}: {ms:.0f} ms", file=sys.stderr)
        if i:
            charts.append(ms)
        # The whole history (for the page's Min/Max table) keeps arriving after the first draw,
        # 25,000 points a request; waited for on every try, so no try's fetches run into the next.
        handle = await page.wait_for_function(
            f"() => ({full_js}) ? performance.now() - window.__t0 : false", polling="raf", timeout=600_000
        )
        print(f"MLflow whole history: {float(await handle.json_value()):.0f} ms", file=sys.stderr)
        if i:
            full.append(float(await handle.json_value()))
        await page.close()
    return tables, charts, full


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 180) -> None:
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


async def run(args: argparse.Namespace, tmp: Path) -> dict:
    from playwright.async_api import async_playwright

    out: dict = {}
    started = time.perf_counter()
    run_id = make_ours(tmp / "lab" / ".mlws", args.runs, args.points)
    out["setup_ours"] = time.perf_counter() - started
    mlflow_data = None
    if not args.no_mlflow:
        try:
            import mlflow

            out["mlflow_version"] = mlflow.__version__
            started = time.perf_counter()
            uri = f"sqlite:///{tmp}/mlflow.db"
            mlflow_data = make_mlflow(uri, tmp / "mlartifacts", args.runs, args.points)
            out["setup_mlflow"] = time.perf_counter() - started
        except ImportError:
            out["mlflow_missing"] = True
    lab = start_lab(tmp / "lab", tmp / "state", ["--LabApp.expose_app_in_browser=True"])
    proc = None
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            out["chromium"] = browser.version
            try:
                out["ours"] = await measure_ours(browser, lab, run_id, args.repeat)
                lab.stop()
                if mlflow_data:
                    port = free_port()
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
                         "--default-artifact-root", str(tmp / "mlartifacts"), "--host", "127.0.0.1",
                         "--port", str(port), "--workers", "1"],
                        stdout=(tmp / "mlflow.log").open("wb"), stderr=subprocess.STDOUT,
                    )
                    wait_for(f"http://127.0.0.1:{port}/health", proc)
                    out["mlflow"] = await measure_mlflow(
                        browser, f"http://127.0.0.1:{port}", *mlflow_data,
                        args.repeat, args.mlflow_chart_repeat, args.points,
                    )
            finally:
                await browser.close()
    finally:
        lab.stop()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mlflow-chart-repeat", type=int, default=3,
                        help="tries of MLflow's metric page (each waits for the whole history)")
    parser.add_argument("--no-mlflow", action="store_true", help="ours alone")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    if chromium_missing_reason():
        sys.exit(chromium_missing_reason())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlws-bench-ui-") as tmp:
        out = asyncio.run(run(args, Path(tmp)))
    ours_tables, ours_charts, caption = out["ours"]
    theirs_tables, theirs_charts, theirs_full = out.get("mlflow") or ([], [], [])
    median = lambda xs: statistics.median(xs) if xs else None  # noqa: E731

    def row(work: str, ours: list[float], theirs: list[float], target: str, note: str) -> str:
        a, b = median(ours), median(theirs)
        ratio = f"{b / a:,.1f}×" if a and b else ""
        spread = f"ours {fmt_ms(min(ours))}–{fmt_ms(max(ours))}"
        if theirs:
            spread += f", MLflow {fmt_ms(min(theirs))}–{fmt_ms(max(theirs))}"
        return f"| {work} | {fmt_ms(a)} | {fmt_ms(b)} | {ratio} | {target} | {note}; {spread} |\n"

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mlflow_text = f", MLflow {out['mlflow_version']}" if "mlflow_version" in out else ""
    table = (
        f"\n## UI in Chromium — {when}\n\n"
        f"Machine: {platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}{mlflow_text}, Chromium {out['chromium']} "
        f"(headless); median of {args.repeat}; total {time.perf_counter() - started:.0f} s.\n\n"
        "| work | jupyter_mlws | MLflow | ratio | target | note |\n"
        "|---|---|---|---|---|---|\n"
        + row(f"runs table of an experiment with {args.runs:,} runs", ours_tables, theirs_tables, "≤ 500 ms",
              "ours: click → first page (100 rows); MLflow: route change → runs grid rows")
        + row(f"chart of a {args.points:,}-point metric", ours_charts, theirs_charts, "≤ 500 ms",
              f"ours: `mlws:open-run` → uPlot chart holding data (\"{caption}\"); MLflow: route change → its "
              "metric page's Plotly line drawn (from its 320-point sampled request)")
    )
    if theirs_full:
        table += (f"| the same metric, whole history loaded | | {fmt_ms(median(theirs_full))} | | | "
                  "MLflow: route change → the page's Min/Max table filled from the whole history "
                  "(fetched alongside the chart, 25,000 points a request); "
                  f"{fmt_ms(min(theirs_full))}–{fmt_ms(max(theirs_full))} |\n")
    mlflow_note = (
        f"MLflow's metric page: median of {args.mlflow_chart_repeat}, each in a fresh page "
        "(its Redux store keeps fetched histories) that waited for the whole history before closing. "
        "Both stores were written before the servers started, MLflow's in bulk through "
        "its own SQLAlchemy models (its client would take many minutes for 10,000 runs)."
        if "mlflow" in out else "MLflow was not run (not installed, or `--no-mlflow`)."
    )
    table += (
        "\n(Timed inside the page with `performance.now()` from the action to the first animation frame "
        "on which the result is in the DOM, in a page that had already loaded each app, after one untimed "
        f"warm-up; ranges are min–max. Setup: ours {out['setup_ours']:.0f} s"
        + (f", MLflow {out['setup_mlflow']:.0f} s" if "setup_mlflow" in out else "")
        + f". {mlflow_note})\n"
    )
    print(table)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out_file:
            out_file.write(table)


if __name__ == "__main__":
    main()
