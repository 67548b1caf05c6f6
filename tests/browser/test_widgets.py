"""The notebook widgets in a real JupyterLab: a live MetricChart and RunDetails while a cell logs.

Real JupyterLab + a real kernel + Debian's Chromium (Playwright). One cell
starts a run, shows `MetricChart(run, ["loss"])` and `RunDetails(run)`, then
logs 200 steps over about 3 s and ends the run; the chart's point count (the
`data-points` attribute the widget keeps on its root) must grow while the
cell still runs, and RunDetails' status must go from running to completed.
A second cell shows the run as its last expression: that is a RunDetails too.

Saves `widgets.png` into $MLWS_SCREENSHOT_DIR (default build/screenshots);
`make screenshots` points it at docs/images for the README.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.async_api import expect

from .checks import expect_legible_axes, use_theme
from .conftest import SCREENSHOTS, LabServer, chromium, needs_widget_bundles, run_cell, write_notebook

pytestmark = [needs_widget_bundles, pytest.mark.timeout(120)]


LIVE_CELL = """\
import time
from jupyter_mlws import Workspace
from jupyter_mlws.widgets import MetricChart, RunDetails
ws = Workspace(".mlws")
run = ws.start_run(experiment="widgets", name="live-widgets")
run.log_params({"lr": 0.01, "optimizer": "adam"})
display(MetricChart(run, ["loss"]))
display(RunDetails(run))
for step in range(200):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
    time.sleep(0.015)
print("training done")
run.end()
"""


def _notebook(path: Path, sources: list[str]) -> None:
    write_notebook(path, [(f"cell-{i}", source) for i, source in enumerate(sources)])


async def test_metric_chart_and_run_details_update_live_while_the_cell_runs(lab: LabServer) -> None:
    _notebook(lab.root_dir / "widgets.ipynb", [LIVE_CELL, "run"])
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        await page.goto(f"{lab.url}/lab/tree/widgets.ipynb?token={lab.token}", wait_until="domcontentloaded")
        await run_cell(page, 0)
        # Focus moved to the second cell (`run`): queue it at once, while the first still runs.
        await page.keyboard.press("Shift+Enter")

        first = page.locator(".jp-Cell").nth(0)
        chart = first.locator(".mlws-w-chart")
        await expect(chart.locator("canvas")).to_be_visible(timeout=30_000)
        details = first.locator(".mlws-w-details")
        status = details.get_by_role("status")
        await expect(status).to_have_text("running", timeout=10_000)
        await expect(details.get_by_role("table", name="Parameters")).to_contain_text("adam")

        # Watch the chart's point count while the cell still runs.
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            points = int(await chart.get_attribute("data-points") or 0)
            if not seen or points != seen[-1]:
                seen.append(points)
            if points >= 200:
                break
            await page.wait_for_timeout(100)
        assert seen[-1] == 200, f"the chart reached {seen[-1]} points, not 200: {seen}"
        growing = [p for p in seen if 0 < p < 200]
        assert len(growing) >= 2, f"the chart did not grow while the cell ran: {seen}"
        assert growing == sorted(growing)

        await expect(status).to_have_text("completed", timeout=15_000)
        await expect(first.locator(".jp-RenderedText")).to_contain_text("training done")
        await expect(details.locator(".mlws-w-plot")).to_have_attribute("data-points", "200", timeout=10_000)
        # uPlot's legend names the series.
        await expect(chart.locator(".u-legend")).to_contain_text("loss")

        # A Run as a cell's last expression displays as RunDetails.
        second = page.locator(".jp-Cell").nth(1)
        shown = second.locator(".mlws-w-details")
        await expect(shown.get_by_role("status")).to_have_text("completed", timeout=30_000)
        await expect(shown.get_by_role("heading", name="live-widgets")).to_be_visible()

        # Dragging across the chart zooms in with the window's detail from the kernel; a double click
        # zooms back out. (After the second cell's output: it must not move the chart mid-drag.)
        plot = chart.locator(".mlws-w-plot")
        await chart.scroll_into_view_if_needed()
        box = await chart.locator(".u-over").bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        await page.mouse.move(box["x"] + box["width"] * 0.3, y)
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] * 0.45, y, steps=5)
        await page.mouse.up()
        await expect(plot).to_have_attribute("data-zoomed", "true")
        await expect(plot).to_have_attribute("data-window-points", re.compile(r"^[1-9]\d*$"), timeout=10_000)
        assert 0 < int(await plot.get_attribute("data-window-points") or 0) < 200
        await chart.locator(".u-over").dblclick()
        await expect(plot).not_to_have_attribute("data-zoomed", "true")
        # Legible tick labels on both axes, repainted when the theme changes.
        await expect_legible_axes(page, plot)
        await use_theme(page, "JupyterLab Dark")
        try:
            await expect_legible_axes(page, plot)
        finally:
            await use_theme(page, "JupyterLab Light")

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await first.scroll_into_view_if_needed()
        await page.screenshot(path=str(SCREENSHOTS / "widgets.png"))


async def test_run_history_sorts_filters_and_compares_selected_runs(lab: LabServer) -> None:
    from jupyter_mlws import Workspace

    workspace = Workspace(lab.root_dir / ".mlws")
    try:
        for i, lr in enumerate(("0.1", "0.2", "0.3")):
            run = workspace.start_run(experiment="sweep", name=f"sweep-{i}")
            run.log_params({"lr": lr, "batch": "32"})
            for step in range(20):
                run.log_metric("loss", (i + 1) / (step + 1), step=step)
            run.end()
    finally:
        workspace.close()
    source = (
        "from jupyter_mlws import Workspace\n"
        "from jupyter_mlws.widgets import RunHistory\n"
        'RunHistory("sweep", order_by=["name asc"], workspace=Workspace(".mlws"))'
    )
    _notebook(lab.root_dir / "history.ipynb", [source])
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        await page.goto(
            f"{lab.url}/lab/workspaces/history/tree/history.ipynb?reset&token={lab.token}",
            wait_until="domcontentloaded",
        )
        await run_cell(page)

        history = page.get_by_role("region", name="Run history")
        rows = history.get_by_role("table", name="Runs").locator("tbody tr")
        await expect(rows).to_have_count(3, timeout=30_000)
        await expect(rows.first).to_contain_text("sweep-0")
        await expect(rows.first).to_contain_text("completed")

        # A header click sorts (the second click reverses).
        header = history.locator("th", has_text="metrics.loss")
        await header.click()
        await expect(header).to_have_attribute("aria-sort", "ascending")
        await expect(rows.first).to_contain_text("sweep-0")
        await header.click()
        await expect(header).to_have_attribute("aria-sort", "descending")
        await expect(rows.first).to_contain_text("sweep-2")

        # The filter box: a mistake is said plainly, a good filter narrows the table.
        box = history.get_by_label("Filter runs")
        await box.fill("metrics.loss <<")
        await box.press("Enter")
        await expect(history.get_by_role("alert")).to_contain_text("Bad filter", timeout=10_000)
        await expect(rows).to_have_count(0)
        await box.fill("params.lr != '0.3'")
        await box.press("Enter")
        await expect(rows).to_have_count(2, timeout=10_000)
        await expect(history.get_by_role("alert")).to_be_hidden()

        # Ticking two runs opens the comparison: an overlaid chart and only the params that differ.
        compare = history.get_by_role("region", name="Compare runs")
        await expect(compare).to_be_hidden()
        await history.get_by_label("Select sweep-0").check()
        await history.get_by_label("Select sweep-1").check()
        await expect(compare).to_be_visible(timeout=10_000)
        await expect(compare.locator("canvas")).to_be_visible()
        await expect(compare.locator(".mlws-w-plot")).to_have_attribute("data-series", "2")
        diff = compare.get_by_role("table", name="Parameter differences")
        await expect(diff.get_by_role("row", name="lr")).to_contain_text("0.1")
        await expect(diff.get_by_role("row", name="lr")).to_contain_text("0.2")
        await expect(diff.get_by_role("row", name="batch")).to_have_count(0)

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "widgets-history.png"))


OPTIONS_CELL = """\
from jupyter_mlws import Workspace
from jupyter_mlws.widgets import MetricChart
ws = Workspace(".mlws")
runs = []
for name, optimizer, scale in (("a1", "adam", 1.0), ("a2", "adam", 3.0), ("s1", "sgd", 2.0)):
    r = ws.start_run(experiment="widget-options", name=name)
    r.log_params({"optimizer": optimizer})
    for step in range(50):
        r.log_metric("loss", scale / (step + 1) + (0.5 if step % 5 == 0 else 0.0), step=step)
    r.end()
    runs.append(r)
chart = MetricChart(runs, "loss")
chart
"""
READ_OPTIONS_CELL = """\
groups = [s["group"] for s in chart.series]
print("options:", chart.x, chart.smoothing, chart.log_y, chart.group_by, groups)
"""
PLOT_DATA = "f => f.mlwsChart.currentData().map(c => Array.from(c))"


def _ema(values: list[float], weight: float) -> list[float]:
    out, last = [], 0.0
    for n, v in enumerate(values, start=1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**n))
    return out


async def test_chart_options_set_in_the_widget_are_drawn_and_reach_the_kernel(lab: LabServer) -> None:
    _notebook(lab.root_dir / "options.ipynb", [OPTIONS_CELL, READ_OPTIONS_CELL])
    loss = {
        scale: [scale / (step + 1) + (0.5 if step % 5 == 0 else 0.0) for step in range(50)]
        for scale in (1.0, 3.0, 2.0)
    }
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        await page.goto(f"{lab.url}/lab/tree/options.ipynb?reset&token={lab.token}", wait_until="domcontentloaded")
        await run_cell(page, 0)
        widget = page.locator(".jp-Cell").nth(0).locator(".mlws-w-chart")
        figure = widget.locator("figure.mlws-chart")
        await expect(figure).to_have_attribute("data-lines", "3", timeout=30_000)

        # Smoothing from the widget's own slider: drawn as the EMA of each run's values.
        await widget.get_by_role("slider", name="Smoothing").fill("0.5")
        await expect(figure).to_have_attribute("data-smoothing", "0.5")
        data = await figure.evaluate(PLOT_DATA)
        for i, scale in enumerate((1.0, 3.0, 2.0)):
            assert data[1 + 4 * i] == pytest.approx(_ema(loss[scale], 0.5), rel=1e-12)
            assert data[2 + 4 * i] == pytest.approx(loss[scale]), "the raw line stays behind"
        # Log y, the x axis and the grouping, each from the widget's controls.
        await widget.get_by_role("checkbox", name="Log scale y").check()
        await expect(figure).to_have_attribute("data-log-y", "true")
        await widget.get_by_role("combobox", name="X axis").select_option("relative_time")
        await expect(figure).to_have_attribute("data-x", "relative_time", timeout=10_000)
        await widget.get_by_role("combobox", name="Group runs by").select_option("params.optimizer")
        legend = figure.locator(".u-legend .u-series[data-line]")
        await expect(legend).to_have_text(
            [re.compile(r"^optimizer = adam \(2 runs\)"), re.compile(r"^optimizer = sgd \(1 run\)")],
            timeout=10_000,
        )
        # The kernel has them too (widget state, so a saved notebook keeps them).
        await run_cell(page, 1)
        output = page.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
        await expect(output).to_contain_text(
            "options: relative_time 0.5 True params.optimizer "
            "['optimizer = adam', 'optimizer = adam', 'optimizer = sgd']",
            timeout=20_000,
        )
