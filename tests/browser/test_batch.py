"""The run view of a batch-scoring job, in real JupyterLab + Chromium (issue 16, item 2).

One lab and one story: ten CSV files are scored from Python through the workspace URL
(`ws.jobs.batch_score`, the folder registered as a data asset and uploaded) by an entry script
that takes a second per mini-batch of one file and refuses one file ("visits-5.csv"), on a
training cluster of one node. While the job runs, the Jobs tab opens its run in the run view,
whose Batch section shows the progress from the run's metrics and follows it live (a count seen
in the browser before the last mini-batch was done). When the job ends, the section says 9 of 10
mini-batches done and 1 failed, and lists the failed item from `outputs/failures.csv`: the file,
its mini-batch and the script's error.

Real processes throughout: the lab's own server starts the Dask cluster and runs the batch
driver beside its dispatcher; the mini-batches run in the cluster's worker process. Saves
`batch-run.png` into $MLWS_SCREENSHOT_DIR (default build/screenshots); `make screenshots` points it
at docs/images.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from .conftest import SCREENSHOTS, LabServer, chromium, open_sidebar

pytestmark = pytest.mark.timeout(180)

FILES = 10
BAD = "visits-5.csv"
SCRIPT = f"""
import os, time

import pandas as pd


def run(mini_batch):
    time.sleep(1.0)
    rows = []
    for path in mini_batch:
        if os.path.basename(path) == {BAD!r}:
            raise ValueError("visits-5.csv is from another clinic")
        rows.append({{"file": os.path.basename(path), "rows": len(pd.read_csv(path))}})
    return rows
"""


def _submit(lab: LabServer) -> tuple[Any, Any]:
    """The files and the script here (the test's folder), the cluster and the queued batch job."""
    import jupyter_mlws as mlws

    folder = Path("visits")
    folder.mkdir()
    for i in range(FILES):
        (folder / f"visits-{i}.csv").write_text("age,bmi\n" + "".join(f"{i},{j}\n" for j in range(3)))
    Path("score.py").write_text(SCRIPT)
    ws = mlws.Workspace(lab.url, token=lab.token)
    ws.compute.create_cluster("cpu", min_nodes=0, max_nodes=1, node={"cpus": 1})
    job = ws.jobs.batch_score(
        None, "visits/", target="cpu", mini_batch_size=1, max_retries=0, entry_script="score.py",
        experiment="scoring", name="score visits", input_name="visits",
    )  # fmt: skip
    return ws, job


async def test_the_run_view_of_a_batch_job_shows_its_progress_live_and_the_failed_item(
    lab: LabServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ws, job = _submit(lab)
    try:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            panel = await open_sidebar(page, lab)
            tab = panel.get_by_role("tab", name="Jobs")
            await tab.click()
            card = panel.get_by_label("Running jobs").get_by_role("listitem", name="Job score visits")
            await expect(card).to_be_visible(timeout=60_000)
            await card.get_by_role("button", name="Open run").click()

            main = page.locator("#jp-main-dock-panel")
            view = main.get_by_role("region", name="Run score visits")
            batch = view.get_by_role("region", name="Batch", exact=True)
            progress = batch.get_by_role("table", name="Batch progress")
            mini_batches = progress.get_by_role("row", name=re.compile("^Mini-batches"))
            # Live: a count below the total, seen while the job still runs.
            running = re.compile(rf"(?<!\d)[1-8] of {FILES} done")
            await expect(mini_batches).to_contain_text(running, timeout=60_000)
            seen = await mini_batches.inner_text()
            assert lab.api(f"/mlws/api/v1/jobs/{job.id}")["state"] == "running", seen

            # The end: the last counts, and the failed item from outputs/failures.csv.
            await expect(view.get_by_role("status")).to_have_text("completed", timeout=60_000)
            final = f"{FILES - 1} of {FILES} done · 1 failed"
            await expect(mini_batches).to_contain_text(final, timeout=10_000)
            rows = progress.get_by_role("row", name=re.compile("^Rows"))
            # the script returns one row a file
            await expect(rows).to_contain_text(re.compile(rf"^Rows\s*{FILES - 1} · [\d.]+ rows/s$"))
            await expect(progress.get_by_role("row", name=re.compile("^Failed items"))).to_have_text(
                re.compile(r"^Failed items\s*1$")
            )
            failed = batch.get_by_role("list", name="Failed items").get_by_role("listitem")
            await expect(failed).to_have_count(1, timeout=10_000)
            item = batch.get_by_role("listitem", name=f"Failed item {BAD}")
            await expect(item).to_contain_text("mini-batch 5")
            await expect(item).to_contain_text("ValueError: visits-5.csv is from another clinic")
            ended = panel.get_by_label("Recent jobs").get_by_role("listitem", name="Job score visits")
            await expect(ended.get_by_label("State")).to_have_text("completed", timeout=10_000)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "batch-run.png"))
    finally:
        if lab.api(f"/mlws/api/v1/jobs/{job.id}")["state"] in ("queued", "running"):
            lab.call("POST", f"/mlws/api/v1/jobs/{job.id}/cancel", {})
        ws.close()
