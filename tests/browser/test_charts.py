"""The charts of the panel, set through the UI as a user does: smoothing, x axis, log y,
search, pins, system metrics, legend, zoom, PNG/CSV export, grouping, the Charts view.

Real JupyterLab + Debian's Chromium. What each chart draws is read back from its uPlot
instance (`figure.mlwsChart.currentData()`: x, then per line its drawn values, raw values and
band edges) and compared with the values logged through the Python API: the smoothed line
against a reference EMA computed here, the group line against the mean of its runs.

Saves `charts-view.png` and `charts-view-dark.png` into $MLWS_SCREENSHOT_DIR.
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from .checks import expect_legible_axes, use_theme
from .conftest import SCREENSHOTS, LabServer, chromium, open_sidebar

T0 = 1_700_000_000_000
STEPS = 120
OPTIMIZERS = {"adam-1": "adam", "adam-2": "adam", "sgd-1": "sgd", "sgd-2": "sgd"}

#: x, then per line [drawn, raw, band max, band min] (common/chartCore.ts's layout).
PLOT_DATA = "f => { const d = f.mlwsChart.currentData(); return d ? d.map(c => Array.from(c)) : null; }"
PER_LINE = 4


def _loss(i: int, step: int) -> float:
    # Noisy, so smoothing changes it; positive, so a log axis shows it all.
    return 1.0 / (1 + 0.05 * step * (i + 1)) + (0.3 if step % 7 == 0 else 0.0)


def reference_ema(values: list[float], weight: float) -> list[float]:
    """TensorBoard's debiased EMA, written out here independently of the front end."""
    out, last = [], 0.0
    for n, v in enumerate(values, start=1):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**n))
    return out


@pytest.fixture(scope="module")
def runs(lab: LabServer) -> dict[str, Any]:
    from jupyter_mlws import Workspace

    workspace = Workspace(lab.root_dir / ".mlws")
    made: dict[str, Any] = {}
    try:
        for i, (name, optimizer) in enumerate(OPTIMIZERS.items()):
            run = workspace.start_run(experiment="charts", name=name)
            run.log_params({"optimizer": optimizer, "lr": str(0.1 / (i + 1))})
            for step in range(STEPS):
                stamp = T0 + i * 3_600_000 + 1000 * step
                run.log_metric("loss", _loss(i, step), step=step, timestamp=stamp)
                run.log_metric("acc", 1 - _loss(i, step) / 2, step=step, timestamp=stamp)
                if step % 10 == 0:
                    run.log_metric("system/cpu_percent", 10.0 + i, step=step, timestamp=stamp)
            run.end("completed")
            made[name] = run
        workspace.flush()
        yield {name: workspace.get_run(run.id) for name, run in made.items()}
    finally:
        workspace.close()


async def _open_experiment(page: Page, lab: LabServer) -> Any:
    panel = await open_sidebar(page, lab)
    entry = panel.get_by_label("Experiments").get_by_role("listitem").filter(has_text="charts")
    await expect(entry).to_be_visible(timeout=15_000)
    await entry.get_by_role("button", name="charts").click()
    rows = panel.get_by_role("table", name="Runs table").locator("tbody tr")
    await expect(rows).to_have_count(len(OPTIMIZERS), timeout=15_000)
    return panel


async def _until(page: Page, figure: Any, test: str) -> None:
    """Wait until `test` (a JS function of the figure element) is true."""
    handle = await figure.element_handle()
    await page.wait_for_function(f"f => ({test})(f)", arg=handle, timeout=10_000)


async def _plot(figure: Any) -> list[list[float | None]]:
    data = await figure.evaluate(PLOT_DATA)
    assert data is not None, "the chart has no plot"
    return data


async def test_run_view_smoothing_axes_log_search_pins_and_export(
    lab: LabServer, runs, tmp_path: Path
) -> None:
    run = runs["sgd-1"]
    values = [_loss(2, s) for s in range(STEPS)]
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        page = await context.new_page()
        panel = await _open_experiment(page, lab)
        await panel.get_by_role("button", name="sgd-1", exact=True).click()
        view = page.locator("#jp-main-dock-panel").get_by_role("region", name="Run sgd-1")
        charts = view.get_by_label("Metric charts")
        loss = charts.get_by_role("figure", name="Chart of loss")
        await expect(loss.locator("canvas")).to_have_count(1, timeout=15_000)
        data = await _plot(loss)
        assert data[0] == list(range(STEPS)) and data[1] == pytest.approx(values)
        assert all(v is None for v in data[2]), "no faint raw line while smoothing is 0"

        # Smoothing 0.6: the line is the EMA of the logged values; the raw line stays behind it.
        await charts.get_by_role("slider", name="Smoothing").fill("0.6")
        await expect(loss).to_have_attribute("data-smoothing", "0.6")
        data = await _plot(loss)
        assert data[1] == pytest.approx(reference_ema(values, 0.6), rel=1e-12)
        assert data[2] == pytest.approx(values)
        acc = charts.get_by_role("figure", name="Chart of acc")
        assert (await _plot(acc))[1] == pytest.approx(
            reference_ema([1 - v / 2 for v in values], 0.6), rel=1e-12
        )

        # x by relative time: seconds since the run started; by wall time: seconds since the epoch.
        await charts.get_by_role("combobox", name="X axis").select_option("relative_time")
        await expect(loss).to_have_attribute("data-x", "relative_time")
        start = run.info.start_time
        data = await _plot(loss)
        expected = [(T0 + 2 * 3_600_000 + 1000 * s - start) / 1000 for s in range(STEPS)]
        assert data[0] == pytest.approx(expected)
        await charts.get_by_role("combobox", name="X axis").select_option("wall_time")
        await expect(loss).to_have_attribute("data-x", "wall_time")
        assert (await _plot(loss))[0][0] == pytest.approx((T0 + 2 * 3_600_000) / 1000)
        await charts.get_by_role("combobox", name="X axis").select_option("step")

        # Log y: the ticks are powers of ten (and their multiples), all positive.
        await charts.get_by_role("checkbox", name="Log scale y").check()
        await expect(loss).to_have_attribute("data-log-y", "true")
        ticks = [float(t) for t in (await loss.get_attribute("data-y-ticks") or "").split("|") if t]
        assert ticks and all(t > 0 for t in ticks), ticks
        assert any(math.isclose(math.log10(t), round(math.log10(t)), abs_tol=1e-9) for t in ticks), ticks
        # One chart can go back to linear with its own "log" button.
        await acc.get_by_role("button", name="Logarithmic y axis for this chart").click()
        await expect(acc).to_have_attribute("data-log-y", "false")
        await expect(loss).to_have_attribute("data-log-y", "true")
        await charts.get_by_role("checkbox", name="Log scale y").uncheck()

        # The system metrics sit in their own folded section.
        system = charts.get_by_role("group", name="System metrics")
        await expect(system.locator("summary")).to_have_text("System metrics (1)")
        await system.locator("summary").click()
        await expect(system.get_by_role("figure", name="Chart of system/cpu_percent")).to_be_visible()

        # Search keeps the metrics whose key matches.
        search = charts.get_by_role("searchbox", name="Search metrics")
        await search.fill("acc")
        await expect(charts.get_by_role("figure", name="Chart of loss")).to_have_count(0)
        await expect(acc).to_be_visible()
        await search.fill("")

        # Pin acc: it moves to "Pinned", and stays pinned after a reload.
        await acc.get_by_role("button", name="Pin acc").click()
        pinned = charts.get_by_label("Pinned metrics")
        await expect(pinned.get_by_role("figure", name="Chart of acc")).to_be_visible()

        # Export: the PNG is an image of the chart, the CSV its raw and smoothed values.
        async with page.expect_download() as got:
            await loss.get_by_role("button", name="Download this chart as PNG").click()
        png = tmp_path / "loss.png"
        await (await got.value).save_as(png)
        assert (await got.value).suggested_filename == "loss.png"
        head = png.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(head[16:20], "big") > 200
        async with page.expect_download() as got:
            await loss.get_by_role("button", name="Download the lines of this chart as CSV").click()
        text = Path(await (await got.value).path()).read_text()
        table = list(csv.reader(io.StringIO(text)))
        assert table[0] == ["step", "loss", "loss (smoothed 0.6)"]
        assert len(table) == STEPS + 1
        assert [float(r[1]) for r in table[1:]] == pytest.approx(values)
        assert [float(r[2]) for r in table[1:]] == pytest.approx(reference_ema(values, 0.6), rel=1e-12)

        # A new page (the pins and settings live in the browser's storage, not in the page).
        panel = await _open_experiment(page, lab)
        await panel.get_by_role("button", name="sgd-1", exact=True).click()
        view = page.locator("#jp-main-dock-panel").get_by_role("region", name="Run sgd-1")
        pinned = view.get_by_label("Pinned metrics")
        await expect(pinned.get_by_role("figure", name="Chart of acc")).to_be_visible(timeout=20_000)
        # The view's settings were remembered too.
        await expect(view.get_by_role("slider", name="Smoothing")).to_have_value("0.6")
        await pinned.get_by_role("button", name="Unpin acc").click()
        await expect(view.get_by_label("Pinned metrics")).to_have_count(0)
        await view.get_by_role("slider", name="Smoothing").fill("0")
        await context.close()


IN_VIEW = (
    "f => { const r = f.querySelector('canvas').getBoundingClientRect();"
    " return r.bottom > 0 && r.top < innerHeight; }"
)
#: What uPlot last drew (not brought up to date, unlike PLOT_DATA): the first line's values.
DRAWN = "f => Array.from(f.mlwsChart.plot.data[1])"


async def test_a_chart_out_of_view_draws_a_smoothing_move_when_scrolled_to(lab: LabServer, runs) -> None:
    values = {"loss": [_loss(2, s) for s in range(STEPS)]}
    values["acc"] = [1 - v / 2 for v in values["loss"]]
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 900, "height": 420})
        panel = await _open_experiment(page, lab)
        await panel.get_by_role("button", name="sgd-1", exact=True).click()
        view = page.locator("#jp-main-dock-panel").get_by_role("region", name="Run sgd-1")
        charts = view.get_by_label("Metric charts")
        figures = {k: charts.get_by_role("figure", name=f"Chart of {k}") for k in values}
        for figure in figures.values():
            await expect(figure.locator("canvas")).to_have_count(1, timeout=15_000)
        slider = charts.get_by_role("slider", name="Smoothing")
        await slider.scroll_into_view_if_needed()
        away = [k for k, f in figures.items() if not await f.evaluate(IN_VIEW)]
        assert away, "a chart must be out of view for this test (the viewport is too tall)"
        key = away[0]
        figure = figures[key]
        await slider.fill("0.5")
        await expect(figure).to_have_attribute("data-smoothing", "0.5")
        # Out of view it is not redrawn (the cost of a move is the charts one sees)...
        assert await figure.evaluate(DRAWN) == pytest.approx(values[key])
        # ...and once scrolled to, it draws the smoothed line.
        await figure.scroll_into_view_if_needed()
        expected = reference_ema(values[key], 0.5)
        await _until(page, figure, f"f => Math.abs(({DRAWN})(f).at(-1) - {expected[-1]!r}) < 1e-12")
        assert await figure.evaluate(DRAWN) == pytest.approx(expected, rel=1e-12)
        await slider.fill("0")


async def test_compare_legend_zoom_grouping_and_the_charts_view(lab: LabServer, runs, tmp_path: Path) -> None:
    names = list(OPTIMIZERS)
    loss_of = {name: [_loss(i, s) for s in range(STEPS)] for i, name in enumerate(names)}
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        panel = await _open_experiment(page, lab)
        rows = panel.get_by_role("table", name="Runs table").locator("tbody tr")
        for name in names:  # selected in this order: the colours follow it
            await rows.filter(has_text=name).get_by_role("checkbox").check()
        await panel.get_by_role("button", name=f"Compare ({len(names)})").click()
        compare = page.locator("#jp-main-dock-panel").get_by_label("Run comparison")
        charts = compare.get_by_label("Metric charts")
        loss = charts.get_by_role("figure", name="Chart of loss")
        acc = charts.get_by_role("figure", name="Chart of acc")
        await expect(loss.locator("canvas")).to_have_count(1, timeout=15_000)
        await expect(acc.locator("canvas")).to_have_count(1)
        legend = loss.locator(".u-legend .u-series[data-line]")
        await expect(legend).to_have_text([re.compile(rf"^{n}") for n in names])
        data = await _plot(loss)
        for i, name in enumerate(names):
            assert data[1 + PER_LINE * i] == pytest.approx(loss_of[name]), name

        # A legend click hides a run in every chart of the view, and shows it again.
        index_b = 1 + PER_LINE * 1
        shown = f"f => f.mlwsChart.plot.series[{index_b}].show"
        await legend.nth(1).click()
        await _until(page, acc, f"f => ({shown})(f) === false")
        assert await loss.evaluate(shown) is False
        raw_b = f"f => f.mlwsChart.plot.series[{index_b + 1}].show"
        assert await acc.evaluate(raw_b) is False, "its raw line is hidden with it"
        await legend.nth(1).click()
        await _until(page, acc, f"f => ({shown})(f) === true")

        # Zoom: a window dragged on one chart is the window of all; "reset zoom" resets all.
        box = await loss.locator(".u-over").bounding_box()
        assert box is not None
        y = box["y"] + box["height"] / 2
        await page.mouse.move(box["x"] + box["width"] * 0.25, y)
        await page.mouse.down()
        await page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
        await page.mouse.up()
        await expect(acc).to_have_attribute("data-zoomed", "true")
        scale = "f => [f.mlwsChart.plot.scales.x.min, f.mlwsChart.plot.scales.x.max]"
        lo, hi = await loss.evaluate(scale)
        assert await acc.evaluate(scale) == pytest.approx([lo, hi])
        assert 10 < lo < hi < STEPS - 10
        await acc.get_by_role("button", name="Reset zoom (all charts of this view)").click()
        await expect(loss).to_have_attribute("data-zoomed", "false")
        assert await loss.evaluate(scale) == pytest.approx([0, STEPS - 1])

        # Grouped by optimizer: one line per value, the mean of its runs, their min-max as the band.
        await charts.get_by_role("combobox", name="Group runs by").select_option("params.optimizer")
        await expect(legend).to_have_text(
            [re.compile(r"^optimizer = adam \(2 runs\)"), re.compile(r"^optimizer = sgd \(2 runs\)")]
        )
        data = await _plot(loss)
        for g, members in enumerate((names[:2], names[2:])):
            columns = [loss_of[m] for m in members]
            base = 1 + PER_LINE * g
            assert data[base] == pytest.approx([sum(c) / 2 for c in zip(*columns, strict=True)])
            assert data[base + 2] == pytest.approx([max(c) for c in zip(*columns, strict=True)])
            assert data[base + 3] == pytest.approx([min(c) for c in zip(*columns, strict=True)])
        await charts.get_by_role("combobox", name="Group runs by").select_option("")

        # The experiment's Charts view: every metric of the selected runs; the selection drives it.
        await panel.get_by_role("button", name="Charts", exact=True).click()
        view = page.locator("#jp-main-dock-panel").get_by_label("Experiment charts")
        view_charts = view.get_by_label("Metric charts")
        await expect(view_charts).to_have_attribute("data-runs", "4", timeout=15_000)
        await expect(view_charts.get_by_role("figure", name="Chart of loss").locator("canvas")).to_have_count(
            1
        )
        await rows.filter(has_text="adam-2").get_by_role("checkbox").uncheck()
        await expect(view_charts).to_have_attribute("data-runs", "3")
        await expect(
            view_charts.get_by_role("figure", name="Chart of loss").locator(".u-legend .u-series[data-line]")
        ).to_have_count(3)
        await expect_legible_axes(page, view_charts.get_by_role("figure", name="Chart of loss"))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await view_charts.get_by_role("slider", name="Smoothing").fill("0.8")
        await page.screenshot(path=str(SCREENSHOTS / "charts-view.png"))
        await use_theme(page, "JupyterLab Dark")
        try:
            await expect_legible_axes(page, view_charts.get_by_role("figure", name="Chart of loss"))
            await page.screenshot(path=str(SCREENSHOTS / "charts-view-dark.png"))
        finally:
            await use_theme(page, "JupyterLab Light")
        await view_charts.get_by_role("slider", name="Smoothing").fill("0")
