"""The notebook widgets in Jupyter Notebook 7 (not only JupyterLab).

A real `jupyter notebook` (Notebook 7, `tests/lab_server.py` with
`app="notebook"`) + a real kernel + Debian's Chromium (Playwright). A run with
50 points of `loss` is made through the Python API; a notebook opened at
`/notebooks/<name>.ipynb` runs one cell that shows `MetricChart` of that run,
and the chart must be drawn: uPlot's canvas, its legend, 50 points.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from .conftest import LabServer, chromium, needs_widget_bundles, run_cell, start_lab, write_notebook

pytestmark = [needs_widget_bundles, pytest.mark.timeout(120)]
pytest.importorskip(
    "notebook", minversion="7", reason="Jupyter Notebook 7 is not installed (it is in the test extra)"
)


@pytest.fixture(scope="module")
def notebook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("notebook7")
    server = start_lab(base / "demo", base / "state", app="notebook")
    try:
        yield server
    finally:
        server.stop()


def _notebook(path: Path, source: str) -> None:
    write_notebook(path, [("chart", source)])


async def test_metric_chart_renders_in_notebook_7(notebook_server: LabServer) -> None:
    from jupyter_mlws import Workspace

    workspace = Workspace(notebook_server.root_dir / ".mlws")
    try:
        run = workspace.start_run(experiment="nb7", name="nb7-run")
        for step in range(50):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.end()
        run_id = run.id
    finally:
        workspace.close()
    _notebook(
        notebook_server.root_dir / "chart.ipynb",
        "from jupyter_mlws import Workspace\n"
        "from jupyter_mlws.widgets import MetricChart\n"
        f'MetricChart("{run_id}", ["loss"], workspace=Workspace(".mlws"))',
    )

    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1200, "height": 800})
        url = f"{notebook_server.url}/notebooks/chart.ipynb?token={notebook_server.token}"
        await page.goto(url, wait_until="domcontentloaded")
        # Notebook 7's own single-document page, not JupyterLab.
        app_name = await page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).appName"
        )
        assert app_name == "Jupyter Notebook"
        await expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_visible(
            timeout=60_000
        )
        await expect(page.get_by_role("button", name="Python 3 (ipykernel)")).to_be_visible()
        await run_cell(page, kernel_button=None)  # Notebook 7: its own kernel button, seen above

        chart = page.locator(".jp-Cell").first.get_by_role("figure", name="Chart of loss")
        await expect(chart.locator("canvas")).to_be_visible(timeout=30_000)
        await expect(chart).to_have_attribute("data-points", "50", timeout=10_000)
        await expect(chart.locator(".u-legend")).to_contain_text("loss")
        await expect(chart).to_contain_text("50 of 50 points")
