"""UI benchmark (issues 6 and 21): in Debian's Chromium, open the runs table of an experiment with
10,000 runs, the chart of a 1,000,000-point metric, and an experiment's Charts view of 100 runs ×
10 metrics × 10,000 points, with its smoothing slider moved, in JupyterLab's workspace browser —
beside MLflow's UI (`mlflow server`) showing the same data in the same browser.

Run: `python benchmarks/bench_ui.py` (MLflow: `--mlflow-python`, else the full `mlflow` of this
Python, else `.venv-mlflow` as bench_batch.py makes it; without it, `--no-mlflow`). `--only issue6`
or `--only charts` runs one part; `--chart-runs/--chart-metrics/--chart-points` size the Charts
view's data. `--no-write` prints the table without appending it to `benchmarks/RESULTS.md`.

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
- ours, Charts view, first full render: from `mlws:experiment-charts` (all tabs closed before each
  try, smoothing 0) to every metric's chart holding a canvas and every run's line at the bins the
  view settles on for its width (`data-lines` = runs, `data-points` = runs × bins); the frame on
  which all lines were first drawn (at the first request's bins) is recorded too, with the requests'
  resource timings, and a breakdown measured in the open view (the histories request, its download
  and `JSON.parse`, uPlot's redraw and ChartView's update of all charts).
- ours, smoothing move: the slider's value set and `input` fired, to every chart's uPlot draw hook
  having run with `data-smoothing` = the new weight ("drawn"), and to the animation frame after it
  (the reported figure); `--slider-moves` moves after an untimed one, median and max.
- MLflow, chart view: from the route change to `#/experiments/<id>/runs?compareRunsMode=CHART`
  (its run visibility set to all runs in local storage; its default draws the first 10) to a
  Plotly chart per metric with a drawn line for every run (it fetches 320-point samples with
  `get-history-bulk-interval`); each try in a fresh page of one browser context; the viewport is
  1400×2000 on both sides so that MLflow, which draws only the cards in view, draws all ten.
- MLflow, smoothing move: its global "Line smoothing" (Configure charts; its number box set as
  typing does) to the first frame on which every chart's line path changed.
Both stores are SQLite files written before the servers start; MLflow's is written in bulk
through its own SQLAlchemy models by the Python that serves it (so the schema is its version's; its
API would take many minutes for 10,000 runs).
"""

# ruff: noqa: RUF001, RUF002, RUF003 (the tables use typographic dashes and ×, as RESULTS.md does)
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
# Tall enough for MLflow to draw all ten charts of its chart view (it draws only the cards in view).
CHART_VIEWPORT_HEIGHT = 2000


def fmt_ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def long_points(n: int, start: int = 0) -> list[tuple[str, float, int, int]]:
    steps = range(start, min(n, start + CHUNK))
    return [("loss", 1.0 / (1 + i * 1e-4) + (i % 97) * 1e-3, i, T0 + i) for i in steps]


def chart_key(metric: int) -> str:
    return f"metric_{metric:02d}"


def chart_rows(run: int, metrics: int, points: int):
    """Every point of run `run` of the charts experiment: (key, value, step, timestamp ms)."""
    for j in range(metrics):
        key, scale, rate = chart_key(j), 1.0 + j, (1 + run % 7) * 1e-3
        for step in range(points):
            yield key, scale / (1 + step * rate) + ((step * 31 + run * 17 + j) % 101) * 1e-3, step, T0 + step


def chunks(rows, size: int = CHUNK):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def make_ours_charts(workspace_dir: Path, runs: int, metrics: int, points: int) -> int:
    """Experiment "charts": `runs` runs, each with `metrics` metrics of `points` steps; its id."""
    from jupyter_mlws import Workspace

    workspace = Workspace(workspace_dir)
    store = workspace.store
    try:
        experiment = store.create_experiment("charts").experiment_id
        for i in range(runs):
            run_id = store.create_run(experiment, name=f"chart-{i:03d}", start_time=T0 + i * 1000).info.run_id
            store.log_batch(run_id, params={"lr": str(10 ** -(i % 5)), "seed": str(i)})
            for batch in chunks(chart_rows(i, metrics, points)):
                store.log_batch(run_id, metrics=batch)
            store.update_run(run_id, status="completed", end_time=T0 + points)
        return int(experiment)
    finally:
        workspace.close()


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


def make_mlflow(uri: str, artifacts: Path, spec: dict) -> dict:
    """The same data in MLflow's SQLite schema, in bulk through its own models.

    Runs in the Python that runs `mlflow server` (`--make-mlflow`), so the schema is its own.
    `spec`: "runs" and "points" (the runs table and the long metric; 0 for none), "chart_runs",
    "chart_metrics", "chart_points" (the charts experiment; 0 for none). Returns the ids.
    """
    from mlflow.entities import ExperimentTag
    from mlflow.store.tracking.dbmodels import models
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(uri, str(artifacts))
    kind = ExperimentTag("mlflow.experimentKind", "custom_model_development")
    out: dict = {}

    def experiment(name: str) -> str:
        experiment_id = store.create_experiment(name)
        store.set_experiment_tag(experiment_id, kind)  # MLflow 3 opens untagged experiments as GenAI ones
        return experiment_id

    run_rows, params, metrics, latest, tags = [], [], [], [], []

    def run_row(run_id: str, name: str, experiment: str, start: int, end: int) -> None:
        run_rows.append(
            {
                "run_uuid": run_id,
                "name": name,
                "source_type": "LOCAL",
                "source_name": "bench_ui.py",
                "entry_point_name": "",
                "user_id": "bench",
                "status": "FINISHED",
                "start_time": start,
                "end_time": end,
                "source_version": "",
                "lifecycle_stage": "active",
                "artifact_uri": f"{artifacts}/{experiment}/{run_id}/artifacts",
                "experiment_id": int(experiment),
            }
        )
        tags.extend(
            [
                {"key": "mlflow.runName", "value": name, "run_uuid": run_id},
                {"key": "mlflow.user", "value": "bench", "run_uuid": run_id},
            ]
        )

    def metric_row(run_id: str, key: str, value: float, step: int, timestamp: int) -> dict:
        return {
            "key": key,
            "value": value,
            "timestamp": timestamp,
            "step": step,
            "is_nan": False,
            "run_uuid": run_id,
        }

    long_id, runs, points = uuid.uuid4().hex, spec["runs"], spec["points"]
    if runs:
        out["bench"] = bench = experiment("bench")
        out["long_exp"] = long_exp = experiment("long")
        out["long_id"] = long_id
        for i in range(runs):
            run_id = uuid.uuid4().hex
            run_row(run_id, f"run-{i:05d}", bench, T0 + i * 1000, T0 + i * 1000 + 500)
            params.extend(
                {"key": k, "value": v, "run_uuid": run_id}
                for k, v in (
                    ("lr", str(10 ** -(i % 5))),
                    ("batch_size", str(32 << (i % 3))),
                    ("optimizer", "adam"),
                )
            )
            rows = [
                metric_row(run_id, "loss", 1.0 / (i + 1), 0, T0 + i),
                metric_row(run_id, "acc", i / runs, 0, T0 + i),
            ]
            metrics.extend(rows)
            latest.extend(rows)
        run_row(long_id, "long", long_exp, T0, T0 + points)
    chart_ids = []
    if spec["chart_runs"]:
        out["charts"] = charts = experiment("charts")
        for i in range(spec["chart_runs"]):
            run_id = uuid.uuid4().hex
            chart_ids.append(run_id)
            run_row(run_id, f"chart-{i:03d}", charts, T0 + i * 1000, T0 + spec["chart_points"])
            params.extend(
                {"key": k, "value": v, "run_uuid": run_id}
                for k, v in (("lr", str(10 ** -(i % 5))), ("seed", str(i)))
            )
    with store.engine.begin() as conn:
        conn.execute(models.SqlRun.__table__.insert(), run_rows)
        conn.execute(models.SqlTag.__table__.insert(), tags)
        if params:
            conn.execute(models.SqlParam.__table__.insert(), params)
        if metrics:
            conn.execute(models.SqlMetric.__table__.insert(), metrics)
        last = None
        for i in range(0, points if runs else 0, CHUNK):
            chunk = [metric_row(long_id, k, v, s, t) for k, v, s, t in long_points(points, i)]
            conn.execute(models.SqlMetric.__table__.insert(), chunk)
            last = chunk[-1]
        if last:
            latest.append(last)
        for i, run_id in enumerate(chart_ids):
            for batch in chunks(chart_rows(i, spec["chart_metrics"], spec["chart_points"])):
                rows = [metric_row(run_id, k, v, s, t) for k, v, s, t in batch]
                conn.execute(models.SqlMetric.__table__.insert(), rows)
                latest.extend(r for r in rows if r["step"] == spec["chart_points"] - 1)
        if latest:
            conn.execute(models.SqlLatestMetric.__table__.insert(), latest)
    store.engine.dispose()
    return out


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
        title = await figure.locator(".mlws-chart-title").inner_text()
        note = await figure.locator(".mlws-chart-note").inner_text()
        caption = f"{title} {note}".strip()
        await page.evaluate("() => window.jupyterapp.commands.execute('application:close-all')")
        await page.wait_for_function(
            "() => !document.querySelector('#jp-main-dock-panel figure[aria-label=\"Chart of loss\"]')"
        )
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


async def measure_mlflow(
    browser, url: str, bench: str, long_exp: str, long_id: str, repeat: int, chart_repeat: int, points: int
) -> tuple[list[float], list[float], list[float]]:
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


def charts_full_js(runs: int, metrics: int, points: int) -> str:
    """True when the Charts view holds every metric's chart drawn with all runs at its final bins."""
    return (
        "(() => { const figs = [...document.querySelectorAll("
        "'#jp-main-dock-panel [aria-label=\"Metric charts\"] figure.mlws-chart')];"
        f" if (figs.length !== {metrics}) return false;"
        " return figs.every(f => { const c = f.mlwsChart, p = c && c.plot;"
        " if (!p || !f.querySelector('canvas')) return false;"
        # the bins the view asks for at this width (runsCharts.tsx: binsFor of the reported width)
        " const w = Math.min(4000, Math.max(100, Math.round(c.width())));"
        f" const want = Math.min({points}, Math.max(50, Math.min(2000, Math.round(w / 2))));"
        " const n = p.data[0].length;"
        f" return Number(f.dataset.lines) === {runs} && Number(f.dataset.points) === {runs} * n"
        " && n === want;"
        " }); })()"
    )


def charts_drawn_js(runs: int, metrics: int) -> str:
    """True when every metric's chart has a canvas and all runs' lines (at whatever bins)."""
    return (
        "(() => { const figs = [...document.querySelectorAll("
        "'#jp-main-dock-panel [aria-label=\"Metric charts\"] figure.mlws-chart')];"
        f" return figs.length === {metrics} && figs.every(f => !!f.querySelector('canvas')"
        f" && Number(f.dataset.lines) === {runs} && Number(f.dataset.points) > 0); }})()"
    )


# In-page: stamps when `done` first holds (checked on every animation frame) into window.__first.
WATCH_FIRST = (
    "window.__first = null; (function tick() { if (window.__first === null && (DONE)) "
    "{ window.__first = performance.now() - window.__t0; }"
    " if (window.__first === null) requestAnimationFrame(tick); })();"
)

# The requests of a Charts view since window.__t0: [path, start, response start, end, bytes].
CHART_REQUESTS_JS = (
    "() => performance.getEntriesByType('resource').filter(e => e.startTime >= window.__t0"
    " && /\\/mlws\\/api\\/v1\\/(runs\\?|metrics\\/histories)/.test(e.name)).map(e => ["
    "new URL(e.name).pathname.split('/').pop(), e.startTime - window.__t0, e.responseStart - window.__t0,"
    " e.responseEnd - window.__t0, e.encodedBodySize])"
)

# One smoothing move: sets the slider, fires `input`, and times (ms from the dispatch) the moment
# every chart in view has drawn with the new weight (a draw hook on each plot; `data-smoothing`
# must match too) and the first animation frame after it (when the browser paints the canvases).
# Charts out of view draw when scrolled to (as MLflow's and W&B's panels); CHARTS_CATCH_UP_JS
# checks that they do, untimed.
SLIDER_MOVE_JS = """async (value) => {
  const figs = [...document.querySelectorAll(
    '#jp-main-dock-panel [aria-label="Metric charts"] figure.mlws-chart')].filter(f => {
      const r = f.querySelector('canvas').getBoundingClientRect();
      return r.bottom > 0 && r.top < innerHeight; });
  const slider = document.querySelector('#jp-main-dock-panel input[type=range][aria-label="Smoothing"]');
  const drawn = new Map();
  for (const f of figs) {
    const hooks = f.mlwsChart.plot.hooks;
    hooks.draw = (hooks.draw || []).filter(h => !h.__bench);
    const hook = () => { drawn.set(f, performance.now()); };
    hook.__bench = true;
    hooks.draw.push(hook);
  }
  const frame = () => new Promise(r => requestAnimationFrame(r));
  const task = () => new Promise(r => {
    const c = new MessageChannel(); c.port1.onmessage = r; c.port2.postMessage(0); });
  const t0 = performance.now();
  slider.value = String(value);
  slider.dispatchEvent(new Event('input', { bubbles: true }));
  const done = () => figs.every(f => drawn.has(f) && Number(f.dataset.smoothing) === Number(value));
  while (!done()) {
    await task();
    if (!done()) await frame();
    if (performance.now() - t0 > 30000) throw new Error('slider move not drawn in 30 s');
  }
  const work = Math.max(...drawn.values()) - t0;
  await frame();
  return [work, performance.now() - t0, figs.length];
}"""

# After the moves: every chart out of view, scrolled to, draws with the last weight (its uPlot's
# smoothed line equals an EMA of the raw values held for it); returns how many were out of view.
CHARTS_CATCH_UP_JS = """async (value) => {
  const figs = [...document.querySelectorAll(
    '#jp-main-dock-panel [aria-label="Metric charts"] figure.mlws-chart')];
  const frame = () => new Promise(r => requestAnimationFrame(r));
  const inView = f => {
    const r = f.querySelector('canvas').getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight;
  };
  const away = new Set(figs.filter(f => !inView(f)));
  const drawn = new Set();
  const hooks = figs.map(f => {
    const h = f.mlwsChart.plot.hooks;
    const hook = () => { drawn.add(f); };
    h.draw = [...(h.draw || []), hook];
    return [h, hook];
  });
  for (const f of figs) {
    f.scrollIntoView();
    for (let i = 0; i < 3 && away.has(f) && !drawn.has(f); i++) await frame();
  }
  for (const [h, hook] of hooks) h.draw = h.draw.filter(x => x !== hook);
  if ([...away].some(f => !drawn.has(f)))
    throw new Error('a chart out of view was not drawn when scrolled to');
  for (const f of figs) {
    if (Number(f.dataset.smoothing) !== Number(value)) throw new Error('a chart kept an old weight');
    const line = f.mlwsChart.lines[0];
    let s = 0, d = 0, ema = null;
    for (const y of line.y) {
      if (y !== null) { s = s * value + (1 - value) * y; d = d * value + (1 - value); ema = s / d; }
    }
    const held = f.mlwsChart.plot.data[1].filter(v => v !== null && v !== undefined);
    if (Math.abs(held[held.length - 1] - ema) > 1e-9 * Math.max(1, Math.abs(ema)))
      throw new Error(`a chart's line is not smoothed at ${value}: ${held[held.length - 1]} vs ${ema}`);
  }
  return away.size;
}"""


async def measure_ours_charts(browser, lab, experiment_id: int, args: argparse.Namespace) -> dict:
    runs, metrics, points = args.chart_runs, args.chart_metrics, args.chart_points
    page = await browser.new_page(viewport={"width": 1400, "height": CHART_VIEWPORT_HEIGHT})
    await page.goto(f"{lab.url}/lab?reset&token={lab.token}", wait_until="domcontentloaded")
    await page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.commands.hasCommand('mlws:experiment-charts')",
        timeout=120_000,
    )
    full_js, drawn_js = charts_full_js(runs, metrics, points), charts_drawn_js(runs, metrics)
    command = (
        f"window.jupyterapp.commands.execute('mlws:experiment-charts', {{experimentId: {experiment_id}}})"
    )
    out: dict = {"first": [], "drawn": [], "requests": []}
    for i in range(args.repeat + 1):
        # Smoothing 0 and no pins at every open (the view keeps its settings in local storage).
        await page.evaluate(
            "() => { localStorage.setItem('jp-mlws:chart-settings',"
            " JSON.stringify({x: 'step', smoothing: 0, logY: false}));"
            " localStorage.removeItem('jp-mlws:pinned-metrics'); }"
        )
        start = WATCH_FIRST.replace("DONE", drawn_js) + command
        ms = await timed(page, start, full_js, timeout_ms=300_000)
        first = await page.evaluate("() => window.__first")
        requests = await page.evaluate(CHART_REQUESTS_JS)
        print(
            f"ours charts try {i}: {ms:.0f} ms (all lines first drawn {first:.0f} ms); {requests}",
            file=sys.stderr,
        )
        if i:
            out["first"].append(ms)
            out["drawn"].append(first)
            out["requests"].append(requests)
        if i < args.repeat:
            await page.evaluate("() => window.jupyterapp.commands.execute('application:close-all')")
            await page.wait_for_function(
                "() => !document.querySelector('#jp-main-dock-panel figure.mlws-chart')"
            )
    # The view stays open: smoothing moves, one untimed first.
    values = [
        round(0.05 + 0.9 * ((k * 7) % args.slider_moves) / args.slider_moves, 2)
        for k in range(args.slider_moves + 1)
    ]
    out["work"], out["frame"], out["in_view"] = [], [], []
    for i, value in enumerate(values):
        work, frame, in_view = await page.evaluate(SLIDER_MOVE_JS, value)
        print(
            f"ours slider {value}: drawn {work:.1f} ms, next frame {frame:.1f} ms ({in_view} charts in view)",
            file=sys.stderr,
        )
        if i:
            out["work"].append(work)
            out["frame"].append(frame)
            out["in_view"].append(in_view)
    out["caught_up"] = await page.evaluate(CHARTS_CATCH_UP_JS, values[-1])
    out["breakdown"] = await page.evaluate(BREAKDOWN_JS, {"token": lab.token})
    await page.close()
    return out


# Where the first render's time goes, measured in the open view: the histories request again
# (server answer, download, JSON.parse, each on its own), and per chart the time of uPlot's redraw
# of the data it holds (`setData`) and of ChartView's whole update from its lines (`setLines`:
# aligning, smoothing and `setData`).
BREAKDOWN_JS = """async ({ token }) => {
  const entries = performance.getEntriesByType('resource').filter(e => e.name.includes('/metrics/histories'));
  const url = entries[entries.length - 1].name;
  const t0 = performance.now();
  const response = await fetch(url, { headers: { Authorization: `token ${token}` } });
  const t1 = performance.now();
  const text = await response.text();
  const t2 = performance.now();
  JSON.parse(text);
  const t3 = performance.now();
  const figs = [...document.querySelectorAll(
    '#jp-main-dock-panel [aria-label="Metric charts"] figure.mlws-chart')];
  const frame = () => new Promise(r => requestAnimationFrame(r));
  const task = () => new Promise(r => {
    const c = new MessageChannel(); c.port1.onmessage = r; c.port2.postMessage(0); });
  await frame();
  let s = performance.now();
  for (const f of figs) f.mlwsChart.plot.setData(f.mlwsChart.plot.data, false);
  await task();
  const redraw = performance.now() - s;
  await frame();
  s = performance.now();
  for (const f of figs) f.mlwsChart.setLines(f.mlwsChart.lines);
  await task();
  const update = performance.now() - s;
  return { answer: t1 - t0, download: t2 - t1, parse: t3 - t2, bytes: text.length, redraw, update,
    charts: figs.length };
}"""


def mlflow_charts_js(runs: int, metrics: int) -> str:
    """True when MLflow's chart view has a Plotly chart per metric with a drawn line for every run."""
    return (
        "(() => { const plots = [...document.querySelectorAll('.js-plotly-plot')];"
        f" return plots.length >= {metrics} && plots.every(p =>"
        f" (p.data || []).filter(t => (t.x || []).length > 0).length >= {runs}"
        " && [...p.querySelectorAll('.scatterlayer .trace path.js-line')]"
        f".filter(l => (l.getAttribute('d') || '').length > 20).length >= {runs}); }})()"
    )


async def measure_mlflow_charts(browser, url: str, experiment: str, args: argparse.Namespace) -> dict:
    """MLflow's experiment page in its chart view (`compareRunsMode=CHART`), all runs shown."""
    context = await browser.new_context(viewport={"width": 1400, "height": CHART_VIEWPORT_HEIGHT})
    # Its runs visibility: all runs in the charts (its default draws the first 10 only); the page's
    # UI state is read from local storage under the experiment ids.
    ids = json.dumps([experiment], separators=(",", ":"))
    key = f"MLflowLocalStorage-1.1-ExperimentPage-{ids}-ReactComponentState"
    await context.add_init_script(
        f"if (!localStorage.getItem({json.dumps(key)})) localStorage.setItem({json.dumps(key)}, "
        "JSON.stringify({runsHiddenMode: 'SHOW_ALL'}));"
    )
    done_js = mlflow_charts_js(args.chart_runs, args.chart_metrics)
    route = f"#/experiments/{experiment}/runs?compareRunsMode=CHART"
    out: dict = {"first": [], "moves": []}
    page = None
    for i in range(args.mlflow_chart_repeat + 1):
        # A fresh page per try (MLflow keeps fetched histories in its Redux store).
        page = await context.new_page()
        await page.goto(f"{url}/#/experiments", wait_until="domcontentloaded")
        await page.wait_for_function("() => document.body.innerText.includes('charts')", timeout=120_000)
        ms = await timed(page, f"location.hash = {json.dumps(route)}", done_js, timeout_ms=900_000)
        print(f"MLflow charts try {i}: {ms:.0f} ms", file=sys.stderr)
        if i:
            out["first"].append(ms)
        if i < args.mlflow_chart_repeat:
            await page.close()
    out["moves"] = await mlflow_smoothing_moves(page, args)
    await context.close()
    return out


# One move of MLflow's "Line smoothing" (Configure charts → its number box, 0–100; React's
# value setter and an `input` event, as typing does): ms from the event to the first animation
# frame on which every chart's first line path differs from before (Plotly redrew it smoothed).
MLFLOW_SMOOTH_JS = """async (value) => {
  const box = document.querySelector(
    'input[data-component-id="mlflow.experiment_tracking.common.line_smooth_slider"]');
  const paths = () => [...document.querySelectorAll('.js-plotly-plot')].map(p => {
    const l = p.querySelector('.scatterlayer .trace path.js-line'); return l ? l.getAttribute('d') : ''; });
  const before = paths();
  const frame = () => new Promise(r => requestAnimationFrame(r));
  const t0 = performance.now();
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(box, String(value));
  box.dispatchEvent(new Event('input', { bubbles: true }));
  for (;;) {
    await frame();
    const now = paths();
    if (now.every((d, i) => d !== before[i])) return performance.now() - t0;
    if (performance.now() - t0 > 60000) throw new Error('MLflow did not redraw in 60 s');
  }
}"""


async def mlflow_smoothing_moves(page, args: argparse.Namespace) -> list[float]:
    await page.get_by_role("button", name="Configure charts").click()
    box = page.locator('input[data-component-id="mlflow.experiment_tracking.common.line_smooth_slider"]')
    await box.wait_for(timeout=30_000)
    moves = []
    values = [10 + (k * 37) % 80 for k in range(args.mlflow_slider_moves + 1)]
    for i, value in enumerate(values):
        ms = await page.evaluate(MLFLOW_SMOOTH_JS, value)
        print(f"MLflow smoothing {value}: {ms:.0f} ms", file=sys.stderr)
        if i:
            moves.append(ms)
    return moves


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


def mlflow_python(args: argparse.Namespace) -> Path:
    """A Python with the full MLflow (its server and UI): `--mlflow-python`, else bench_batch's choice."""
    sys.path.insert(0, str(HERE))
    from bench_batch import mlflow_python as choose

    return choose(
        argparse.Namespace(mlflow_python=args.mlflow_python, mlflow_venv=str(HERE.parent / ".venv-mlflow"))
    )


def start_mlflow_data(python: Path, tmp: Path, spec: dict) -> subprocess.Popen[bytes]:
    """MLflow's store written by the Python that serves it (its schema version), in the background."""
    return subprocess.Popen(
        ["nice", str(python), str(Path(__file__).resolve()), "--make-mlflow", json.dumps(spec), str(tmp)],
        stdout=subprocess.PIPE,
        stderr=(tmp / "mlflow-setup.log").open("wb"),
    )


async def run(args: argparse.Namespace, tmp: Path) -> dict:
    from playwright.async_api import async_playwright

    out: dict = {}
    issue6, charts = args.only in (None, "issue6"), args.only in (None, "charts")
    spec = {
        "runs": args.runs if issue6 else 0,
        "points": args.points if issue6 else 0,
        "chart_runs": args.chart_runs if charts else 0,
        "chart_metrics": args.chart_metrics,
        "chart_points": args.chart_points,
    }
    setup = None
    if not args.no_mlflow:
        setup = start_mlflow_data(mlflow_python(args), tmp, spec)
    started = time.perf_counter()
    run_id = make_ours(tmp / "lab" / ".mlws", args.runs, args.points) if issue6 else None
    chart_experiment = (
        make_ours_charts(tmp / "lab" / ".mlws", args.chart_runs, args.chart_metrics, args.chart_points)
        if charts
        else None
    )
    out["setup_ours"] = time.perf_counter() - started
    mlflow_data = None
    if setup is not None:
        stdout, _ = setup.communicate()
        if setup.returncode:
            raise RuntimeError(f"MLflow's data failed:\n{(tmp / 'mlflow-setup.log').read_text()[-3000:]}")
        mlflow_data = json.loads(stdout.decode().strip().splitlines()[-1])
        out["mlflow_version"] = mlflow_data.pop("version")
        out["setup_mlflow"] = mlflow_data.pop("seconds")
    # Both stores' writes reach the disk before anything is timed: the kernel's writeback of a
    # gigabyte just written would otherwise compete with the first measurements.
    os.sync()
    lab = start_lab(tmp / "lab", tmp / "state", ["--LabApp.expose_app_in_browser=True"])
    proc = None
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            out["chromium"] = browser.version
            try:
                if issue6:
                    out["ours"] = await measure_ours(browser, lab, run_id, args.repeat)
                if charts:
                    out["ours_charts"] = await measure_ours_charts(browser, lab, chart_experiment, args)
                lab.stop()
                if mlflow_data:
                    port = free_port()
                    proc = subprocess.Popen(
                        [
                            "nice",
                            str(mlflow_python(args)),
                            "-m",
                            "mlflow",
                            "server",
                            "--backend-store-uri",
                            f"sqlite:///{tmp}/mlflow.db",
                            "--default-artifact-root",
                            str(tmp / "mlartifacts"),
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(port),
                            "--workers",
                            "1",
                        ],
                        stdout=(tmp / "mlflow.log").open("wb"),
                        stderr=subprocess.STDOUT,
                    )
                    wait_for(f"http://127.0.0.1:{port}/health", proc)
                    url = f"http://127.0.0.1:{port}"
                    if issue6:
                        out["mlflow"] = await measure_mlflow(
                            browser,
                            url,
                            mlflow_data["bench"],
                            mlflow_data["long_exp"],
                            mlflow_data["long_id"],
                            args.repeat,
                            args.mlflow_chart_repeat,
                            args.points,
                        )
                    if charts:
                        out["mlflow_charts"] = await measure_mlflow_charts(
                            browser, url, mlflow_data["charts"], args
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


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def row(work: str, ours: list[float], theirs: list[float], target: str, note: str) -> str:
    a, b = median(ours), median(theirs)
    ratio = f"{b / a:,.1f}×" if a and b else ""
    spread = f"ours {fmt_ms(min(ours))}–{fmt_ms(max(ours))}"
    if theirs:
        spread += f", MLflow {fmt_ms(min(theirs))}–{fmt_ms(max(theirs))}"
    return f"| {work} | {fmt_ms(a)} | {fmt_ms(b)} | {ratio} | {target} | {note}; {spread} |\n"


def issue6_rows(args: argparse.Namespace, out: dict) -> str:
    ours_tables, ours_charts, caption = out["ours"]
    theirs_tables, theirs_charts, theirs_full = out.get("mlflow") or ([], [], [])
    text = row(
        f"runs table of an experiment with {args.runs:,} runs",
        ours_tables,
        theirs_tables,
        "≤ 500 ms",
        "ours: click → first page (100 rows); MLflow: route change → runs grid rows",
    ) + row(
        f"chart of a {args.points:,}-point metric",
        ours_charts,
        theirs_charts,
        "≤ 500 ms",
        f'ours: `mlws:open-run` → uPlot chart holding data ("{caption}"); MLflow: route change → its '
        "metric page's Plotly line drawn (from its 320-point sampled request)",
    )
    if theirs_full:
        text += (
            f"| the same metric, whole history loaded | | {fmt_ms(median(theirs_full))} | | | "
            "MLflow: route change → the page's Min/Max table filled from the whole history "
            "(fetched alongside the chart, 25,000 points a request); "
            f"{fmt_ms(min(theirs_full))}–{fmt_ms(max(theirs_full))} |\n"
        )
    return text


def charts_rows(args: argparse.Namespace, out: dict) -> tuple[str, str]:
    ours, theirs = out["ours_charts"], out.get("mlflow_charts") or {"first": [], "moves": []}
    size = f"{args.chart_runs} runs × {args.chart_metrics} metrics × {args.chart_points:,} points"
    text = row(
        f"Charts view, {size}: first full render",
        ours["first"],
        theirs["first"],
        "≤ 1 s",
        "ours: `mlws:experiment-charts` → all charts with a canvas and every run's line at the view's "
        f"final bins (lines first drawn at {fmt_ms(median(ours['drawn']))}, before the bins follow the "
        "measured width); MLflow: route change to its chart view (`compareRunsMode=CHART`, all runs "
        "visible) → a Plotly chart per metric with every run's line drawn",
    ) + row(
        "the same, one smoothing move",
        ours["frame"],
        theirs["moves"],
        "≤ 50 ms",
        "ours: slider `input` → every chart in view (the viewport shows "
        f"{'/'.join(map(str, sorted(set(ours['in_view']))))} of the {args.chart_metrics}) redrawn "
        "(draw hook) "
        "with the new weight, then the next animation frame (drawing alone: median "
        f"{fmt_ms(median(ours['work']))}, max {fmt_ms(max(ours['work']))}; the other charts draw the last "
        f"weight when scrolled to, checked: {ours['caught_up']} were out of view and did); MLflow: its "
        '"Line smoothing" box '
        "(Configure charts) → the first frame with every chart's line redrawn (it draws only the cards "
        f"in view); ours max {fmt_ms(max(ours['frame']))}",
    )
    b = ours["breakdown"]
    requests = ours["requests"]
    histories = [[r for r in rs if r[0] == "histories"] for rs in requests]
    first_answer = [h[0][2] - h[0][1] for h in histories if h]
    first_end = [h[0][3] for h in histories if h]
    last_end = [h[-1][3] for h in histories if h]
    counts = sorted({len(h) for h in histories})
    note = (
        f"Where our first render's time goes (medians of the timed opens): {'/'.join(map(str, counts))} "
        f"`/metrics/histories` request(s) an open; the first answered "
        f"{fmt_ms(median(first_answer))} after it "
        f"was sent and done at {fmt_ms(median(first_end))}; every run's line drawn at "
        f"{fmt_ms(median(ours['drawn']))}; the last request done at {fmt_ms(median(last_end))}, the final "
        f"render at {fmt_ms(median(ours['first']))}. Measured again in the open view: the histories request "
        f"{fmt_ms(b['answer'])} to the answer's headers, {fmt_ms(b['download'])} to read "
        f"{b['bytes'] / 1e6:.1f} MB of JSON, `JSON.parse` {fmt_ms(b['parse'])}; uPlot's redraw of the "
        f"{b['charts']} charts' data (`setData`) {fmt_ms(b['redraw'])}, ChartView's update from the lines "
        f"(aligning, smoothing, `setData`) {fmt_ms(b['update'])}."
    )
    return text, note


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--only",
        choices=("issue6", "charts"),
        help="issue6: the runs table and the long chart; charts: the Charts view (issue 21)",
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--chart-runs", type=int, default=100)
    parser.add_argument("--chart-metrics", type=int, default=10)
    parser.add_argument("--chart-points", type=int, default=10_000)
    parser.add_argument("--slider-moves", type=int, default=20, help="timed smoothing moves of ours")
    parser.add_argument("--mlflow-slider-moves", type=int, default=5, help="timed smoothing moves of MLflow")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--mlflow-chart-repeat",
        type=int,
        default=3,
        help="tries of MLflow's metric page and chart view (each in a fresh page)",
    )
    parser.add_argument(
        "--mlflow-python", default="", help="a Python with the full mlflow (default: .venv-mlflow)"
    )
    parser.add_argument("--no-mlflow", action="store_true", help="ours alone")
    parser.add_argument("--no-write", action="store_true", help="print only; do not append to RESULTS.md")
    parser.add_argument("--make-mlflow", help=argparse.SUPPRESS)  # internal: the MLflow side's data
    parser.add_argument("folder", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_mlflow:
        import mlflow

        started = time.perf_counter()
        ids = make_mlflow(
            f"sqlite:///{args.folder}/mlflow.db",
            Path(args.folder) / "mlartifacts",
            json.loads(args.make_mlflow),
        )
        print(json.dumps({**ids, "version": mlflow.__version__, "seconds": time.perf_counter() - started}))
        return
    if chromium_missing_reason():
        sys.exit(chromium_missing_reason())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlws-bench-ui-") as tmp:
        out = asyncio.run(run(args, Path(tmp)))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mlflow_text = f", MLflow {out['mlflow_version']}" if "mlflow_version" in out else ""
    table = (
        f"\n## UI in Chromium — {when}\n\n"
        f"Machine: {platform.system()} {platform.release()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}{mlflow_text}, Chromium {out['chromium']} "
        f"(headless); median of {args.repeat}; total {time.perf_counter() - started:.0f} s.\n\n"
        "| work | jupyter_mlws | MLflow | ratio | target | note |\n"
        "|---|---|---|---|---|---|\n"
    )
    breakdown = ""
    if "ours" in out:
        table += issue6_rows(args, out)
    if "ours_charts" in out:
        rows, breakdown = charts_rows(args, out)
        table += rows
    notes = []
    if "mlflow" in out:
        notes.append(
            f"MLflow's metric page: median of {args.mlflow_chart_repeat}, each in a fresh page "
            "(its Redux store keeps fetched histories) that waited for the whole history before closing."
        )
    if "mlflow_charts" in out:
        notes.append(
            f"MLflow's chart view: median of {args.mlflow_chart_repeat} in fresh pages, "
            f"{args.mlflow_slider_moves} smoothing moves; the Charts views in a 1400×{CHART_VIEWPORT_HEIGHT} "
            f"viewport, ours with {args.slider_moves} smoothing moves."
        )
    notes.append(
        "Both stores were written before the servers started, MLflow's in bulk through its own SQLAlchemy "
        "models by the Python that serves it (its client would take many minutes for this much data)."
        if "mlflow_version" in out
        else "MLflow was not run (not installed, or `--no-mlflow`)."
    )
    table += (
        "\n(Timed inside the page with `performance.now()` from the action to the first animation frame "
        "on which the result is in the DOM, in a page that had already loaded each app, after one untimed "
        f"warm-up; ranges are min–max. Setup: ours {out['setup_ours']:.0f} s"
        + (f", MLflow {out['setup_mlflow']:.0f} s" if "setup_mlflow" in out else "")
        + f". {' '.join(notes)})\n"
    )
    if breakdown:
        table += f"\n({breakdown})\n"
    print(table)
    if not args.no_write:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as out_file:
            out_file.write(table)


if __name__ == "__main__":
    main()
