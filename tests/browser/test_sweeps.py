"""A hyperparameter sweep in real JupyterLab + Chromium: the `SweepDetails` widget and the panel (issue 18).

One lab and one sweep for the module: a grid sweep of three trials of a trivial function, started
from Python through the workspace URL on a training cluster the lab's server runs (Dask worker
processes), with a Bandit policy that stops the trial that reports late and low ("bad").

- The widget: a notebook cell shows `SweepDetails(<the sweep's run id>)`; the trials table (best
  first, the stopped trial marked), the best-so-far and per-trial charts (canvas) and the
  parallel coordinates (SVG, one line per trial) are on screen.
- The panel: the experiment's runs table shows the trials under their sweep (a group that folds),
  and the sweep's run view has a Sweep section with one row per trial whose link opens that
  trial's run.

Saves `sweep.png` (the panel) and `sweep-widget.png` into $MLWS_SCREENSHOT_DIR (default
build/screenshots); `make screenshots` points it at docs/images.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from .checks import expect_legible_axes, set_sidebar_width
from .conftest import (
    SCREENSHOTS,
    LabServer,
    chromium,
    needs_widget_bundles,
    open_sidebar,
    run_cell,
    write_notebook,
)

pytestmark = [needs_widget_bundles, pytest.mark.timeout(300)]

NAME = "quality sweep"
EXPERIMENT = "sweep-demo"


def curve(quality: str) -> None:
    """A trial: `acc` rises to its top over 12 steps; "bad" starts late (the others report first)."""
    import time

    import jupyter_mlws as mlws

    top = {"good": 0.9, "fine": 0.85, "bad": 0.2}[quality]
    if quality == "bad":
        time.sleep(4)
    for step in range(12):
        mlws.log_metric("acc", top * (step + 1) / 12, step=step)
        time.sleep(0.4 if quality == "bad" else 0.1)


@pytest.fixture(scope="module")
def sweep(lab: LabServer) -> Iterator[Any]:
    """The finished sweep (its `Sweep` handle, through the lab's URL)."""
    import jupyter_mlws as mlws
    from jupyter_mlws.sweep import BanditPolicy, choice

    ws = mlws.Workspace(lab.url, token=lab.token)
    try:
        ws.compute.create_cluster("cpu", min_nodes=0, max_nodes=2, node={"cpus": 1})
        started = ws.jobs.sweep(
            curve,
            search_space={"quality": choice("good", "fine", "bad")},
            objective="acc",
            goal="maximize",
            sampling="grid",
            early_termination=BanditPolicy(slack_factor=0.1, delay_evaluation=3),
            max_concurrent_trials=3,
            target="cpu",
            experiment=EXPERIMENT,
            name=NAME,
        )
        started.wait(240)
        table = started.trials()
        assert list(table["params.quality"]) == ["good", "fine", "bad"], table
        assert list(table["status"]) == ["completed", "completed", "canceled"], table
        yield started
    finally:
        ws.close()


async def test_the_widget_shows_the_trials_the_curves_and_the_parallel_coordinates(
    lab: LabServer, sweep: Any
) -> None:
    source = (
        "from jupyter_mlws import Workspace\n"
        "from jupyter_mlws.widgets import SweepDetails\n"
        f"SweepDetails({sweep.run_id!r}, workspace=Workspace('.mlws'))"
    )
    write_notebook(lab.root_dir / "sweep.ipynb", [("sweep", source)])
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 1100})
        await page.goto(
            f"{lab.url}/lab/workspaces/sweep/tree/sweep.ipynb?reset&token={lab.token}",
            wait_until="domcontentloaded",
        )
        await run_cell(page)
        widget = page.get_by_role("region", name=f"Sweep {NAME}")
        await expect(widget.get_by_role("status")).to_have_text("completed", timeout=30_000)
        await expect(widget.get_by_label("Sweep summary")).to_contain_text("3 of 3 trials")
        await expect(widget.get_by_label("Sweep summary")).to_contain_text("1 stopped early")
        await expect(widget.get_by_label("Sweep summary")).to_contain_text("best 0.9")

        # The trials, best first; the stopped one says so and why.
        rows = widget.get_by_role("table", name="Trials").locator("tbody tr")
        await expect(rows).to_have_count(3)
        await expect(rows.nth(0)).to_contain_text("★ best")
        await expect(rows.nth(0)).to_contain_text("good")
        await expect(rows.nth(1)).to_contain_text("fine")
        await expect(rows.nth(2)).to_contain_text("✕ stopped")
        await expect(rows.nth(2)).to_contain_text("early termination: bandit slack 0.1")

        # The charts: uPlot canvases (the stopped curve counted apart), the parallel coordinates' SVG.
        curves = widget.get_by_role("figure", name="Objective by step")
        await expect(curves.locator("canvas")).to_be_visible()
        await expect(curves).to_have_attribute("data-series", "3")
        await expect(curves).to_have_attribute("data-stopped", "1")
        await expect(curves.locator(".u-legend")).to_contain_text("(stopped)")
        await expect_legible_axes(page, curves)
        best = widget.get_by_role("figure", name="Best so far")
        await expect(best.locator("canvas")).to_be_visible()
        parallel = widget.get_by_role("figure", name="Parallel coordinates")
        chart = parallel.get_by_role("img", name=re.compile(r"^Parallel coordinates: quality, acc$"))
        await expect(chart).to_be_visible()
        lines = chart.locator("path.jp-mlws-pc-line")
        await expect(lines).to_have_count(3)
        stopped = chart.locator('path[data-stopped="true"]')
        await expect(stopped).to_have_count(1)
        await expect(stopped).to_have_attribute("stroke-dasharray", "5 4")
        for category in ("good", "fine", "bad"):
            await expect(chart.locator("text", has_text=category)).to_have_count(1)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await widget.screenshot(path=str(SCREENSHOTS / "sweep-widget.png"))


async def test_the_panel_groups_the_trials_and_shows_the_sweep_in_its_run_view(
    lab: LabServer, sweep: Any
) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1500, "height": 1240})
        panel = await open_sidebar(page, lab)
        experiments = panel.get_by_label("Experiments")
        await experiments.get_by_role("button", name=EXPERIMENT).click(timeout=15_000)
        await set_sidebar_width(page, 460)

        # The runs table: the sweep's row, its three trials right under it, one level in.
        table = panel.get_by_role("table", name="Runs table")
        rows = table.locator("tbody tr")
        await expect(rows).to_have_count(4, timeout=15_000)
        fold = table.get_by_role("button", name=f"Hide the 3 trials of {NAME}")
        await expect(fold).to_have_attribute("aria-expanded", "true")
        names = await rows.locator("th").all_inner_texts()
        assert names[0].startswith(f"▾{NAME}") or names[0].startswith(f"▾ {NAME}"), names
        assert all(n.startswith(f"{NAME} trial") for n in names[1:]), names
        parent_box = await rows.nth(0).get_by_role("button", name=NAME, exact=True).bounding_box()
        child_box = await rows.nth(1).get_by_role("button").bounding_box()
        assert parent_box is not None and child_box is not None
        fold_box = await fold.bounding_box()
        assert fold_box is not None and child_box["x"] > fold_box["x"] + 12, (fold_box, child_box)
        # The group folds and unfolds.
        await fold.click()
        await expect(rows).to_have_count(1)
        unfold = table.get_by_role("button", name=f"Show the 3 trials of {NAME}")
        await expect(unfold).to_have_attribute("aria-expanded", "false")
        await unfold.click()
        await expect(rows).to_have_count(4)

        # The sweep's run view: the Sweep section, one row per trial, the charts.
        await rows.nth(0).get_by_role("button", name=NAME, exact=True).click()
        main = page.locator("#jp-main-dock-panel")
        view = main.get_by_role("region", name=f"Run {NAME}")
        section = view.get_by_role("region", name="Sweep", exact=True)
        trials = section.get_by_role("table", name="Trials").locator("tbody tr")
        await expect(trials).to_have_count(3, timeout=20_000)
        await expect(trials.nth(0)).to_contain_text("★ best")
        await expect(trials.nth(0)).to_contain_text("good")
        await expect(trials.nth(2)).to_contain_text("✕ stopped")
        await expect(section.get_by_label("Sweep summary")).to_contain_text("3 of 3 trials")
        curves = section.get_by_role("figure", name="acc of every trial by step")
        await expect(curves.locator("canvas")).to_be_visible()
        await expect(curves.locator(".jp-mlws-chart-canvas")).to_have_attribute("data-stopped", "1")
        best = section.get_by_role("figure", name="Best acc by trial")
        await expect(best.locator("canvas")).to_be_visible()
        parallel = section.get_by_role("figure", name="Parallel coordinates")
        await expect(parallel.locator("path.jp-mlws-pc-line")).to_have_count(3)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "sweep.png"))

        # A trial's link opens its own run.
        best_trial = sweep.best_run.info.name
        await trials.nth(0).get_by_role("button", name=re.compile(r"^\d+$")).click()
        opened = main.get_by_role("region", name=f"Run {best_trial}")
        await expect(opened).to_be_visible(timeout=15_000)
