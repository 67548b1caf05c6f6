"""What every browser test shares: a real JupyterLab, Debian's Chromium, notebooks, a cell run.

Every test under tests/browser/ is marked `browser` (`make screenshots` runs them with
`-m browser`) and is skipped, with the reason, where Debian's chromium is missing.

- `lab`: one JupyterLab with jupyter_mlws per module, on 127.0.0.1, stopped by PID. A
  module that needs server options sets `LAB_ARGS = [...]` (e.g. a short idle timeout).
- `chromium()`: Chromium through Playwright's async API.
- `write_notebook(path, cells)`: a Python 3 notebook of code cells, not yet executed.
- `open_sidebar(page, lab)`: a fresh layout with the "ML Workspace" panel open.
- `run_cell(page, index)`: Shift+Enter on a cell once the kernel is connected, again if
  the key press ran nothing (it can land before the editor has focus).
- `SCREENSHOTS`: where the README's screenshots are written (`make screenshots`).
- `needs_widget_bundles`: a mark for modules whose cells show the notebook widgets.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from ..conftest import REPO
from ..lab_server import CHROMIUM, CHROMIUM_ARGS, LabServer, chromium_missing_reason, start_lab

HERE = Path(__file__).resolve().parent
SCREENSHOTS = Path(os.environ.get("MLWS_SCREENSHOT_DIR") or REPO / "build" / "screenshots")
WIDGET_BUNDLES = REPO / "jupyter_mlws" / "widgets" / "static"

needs_widget_bundles = pytest.mark.skipif(
    not ((WIDGET_BUNDLES / "metric_chart.js").exists() and (WIDGET_BUNDLES / "run_details.js").exists()),
    reason="the widget bundles are not built (run `jlpm build`)",
)

#: The status bar's kernel button once the notebook's kernel is connected and idle.
KERNEL_IDLE = "Python 3 (ipykernel) | Idle"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark this folder's tests `browser` (before `-m` selects), and skip them without Chromium."""
    missing = chromium_missing_reason()
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(pytest.mark.skip(reason=missing))


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("lab")
    server = start_lab(base / "demo", base / "state", list(getattr(request.module, "LAB_ARGS", [])))
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium through Playwright's async API."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


def write_notebook(path: Path, cells: list[tuple[str, str]]) -> None:
    """Save a Python 3 notebook whose code cells are `(cell_id, source)` pairs, not yet executed."""
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": cell_id,
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for cell_id, source in cells
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


async def open_sidebar(page: Any, lab: LabServer, path: str = "") -> Any:
    """Open JupyterLab (on notebook `path`, if given) in a fresh layout, then the ML Workspace panel."""
    from playwright.async_api import expect

    where = f"/lab/tree/{path}" if path else "/lab"
    # `reset`: a fresh layout, whatever an earlier test left open (a click would close the panel).
    await page.goto(f"{lab.url}{where}?reset&token={lab.token}", wait_until="domcontentloaded")
    tab = page.locator('.jp-SideBar [data-id="mlws-sidebar"]')
    await expect(tab).to_be_visible(timeout=60_000)
    await expect(tab).to_have_attribute("title", "ML Workspace")
    await tab.click()
    return page.locator("#mlws-sidebar")


async def run_cell(page: Any, index: int = 0, *, kernel_button: str | None = KERNEL_IDLE) -> None:
    """Shift+Enter on cell `index`, once the kernel is connected (a cell run before that is dropped).

    A key press that lands before the editor has focus runs nothing: pressed again (three
    tries) until the cell's prompt shows it ran or is queued (`[*]`, `[n]`). Notebook 7 has
    no kernel button in a status bar: pass `kernel_button=None` and wait for its own.
    """
    from playwright.async_api import expect

    if kernel_button is not None:
        kernel = page.locator(".jp-StatusBar-Widget").get_by_role("button", name=kernel_button)
        await expect(kernel).to_be_visible(timeout=60_000)
    cell = page.locator(".jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    for attempt in range(3):
        await cell.locator(".jp-InputArea-editor").click()
        await page.keyboard.press("Shift+Enter")
        try:
            await expect(prompt).to_contain_text(re.compile(r"\[(\*|\d+)\]"), timeout=10_000)
            return
        except AssertionError:
            if attempt == 2:
                raise
