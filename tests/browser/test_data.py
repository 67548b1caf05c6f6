"""The panel's Data tab and data lineage in the run view, in real JupyterLab + Chromium (issue 16, item 1).

One lab and one story, as a user lives it: a folder of CSV files is registered from Python through
the workspace URL (`ws.data.register`) as `batch-data` version 1, then again with one file changed
and one added (version 2). A job on a training cluster reads version 1 (`inputs={"rows":
"data:batch-data:1"}`). The Data tab lists the asset with its newest version; opening it shows both
versions (file count, size, sha256, source); opening version 1 shows its files and, under "Read
by", the job's run, which version 2 does not list. The run opens in the run view, whose Data
section says `rows → batch-data:1` (the lineage tags stay out of its Tags table), and that link
brings the version back in the Data tab.

Real processes throughout: the lab's own server starts the Dask cluster; the job is a process on a
node. Saves `data-assets.png` into $MLWS_SCREENSHOT_DIR (default build/screenshots); `make
screenshots` points it at docs/images.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from .checks import check_layout_at_widths, set_sidebar_width
from .conftest import SCREENSHOTS, LabServer, chromium, open_sidebar

pytestmark = pytest.mark.timeout(120)

ASSET = "batch-data"


def _seed(lab: LabServer) -> dict[str, Any]:
    """Two versions of the asset from the folder `rows/` (here), and a finished job that read version 1."""
    import jupyter_mlws as mlws

    folder = Path("rows")
    folder.mkdir()
    (folder / "part-0.csv").write_text("x,y\n1,2\n3,4\n")
    (folder / "part-1.csv").write_text("x,y\n5,6\n")
    ws = mlws.Workspace(lab.url, token=lab.token)
    try:
        v1 = ws.data.register(ASSET, path="rows/", description="Rows to score, one CSV per batch")
        (folder / "part-1.csv").write_text("x,y\n5,6\n7,8\n")
        (folder / "part-2.csv").write_text("x,y\n9,10\n")
        v2 = ws.data.register(ASSET, path="rows/")
        assert (v1.version, v2.version) == (1, 2)

        ws.compute.create_cluster("cpu", min_nodes=0, max_nodes=1, node={"cpus": 1})
        job = ws.jobs.submit(
            command=[sys.executable, "-c", "print(1)"],
            target="cpu",
            experiment="scoring",
            name="score-rows",
            inputs={"rows": f"data:{ASSET}:1"},
        ).wait(60)
    finally:
        ws.close()
    assert job.record.state == "completed", job.record.state_reason
    run = lab.api(f"/mlws/api/v1/runs/{job.record.run_id}")
    assert run["tags"]["mlws.data.rows"] == f"{ASSET}:1"
    return {"v1": v1, "v2": v2, "run": run}


async def _data_tab(page: Page, panel: Any) -> None:
    tab = panel.get_by_role("tab", name="Data")
    await tab.click()
    await expect(tab).to_have_attribute("aria-selected", "true")


async def test_data_tab_versions_files_readers_and_run_lineage(
    lab: LabServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    seeded = _seed(lab)
    v1, v2, run = seeded["v1"], seeded["v2"], seeded["run"]
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        panel = await open_sidebar(page, lab)
        await _data_tab(page, panel)

        section = panel.get_by_label("Data assets")
        asset = section.get_by_role("listitem", name=f"Data asset {ASSET}")
        head = asset.get_by_role("button", name=f"{ASSET} latest v2")
        await expect(head).to_have_attribute("aria-expanded", "false", timeout=15_000)
        await expect(asset).to_contain_text("Rows to score, one CSV per batch")
        await head.click()
        versions = asset.get_by_role("list", name=f"Versions of {ASSET}")
        # Newest first, each with its file count, size, digest and source.
        await expect(versions.locator(":scope > li")).to_have_count(2)
        await expect(versions.locator(":scope > li").first).to_have_attribute("data-version", "2")
        newest = versions.get_by_role("listitem", name="Version 2")
        oldest = versions.get_by_role("listitem", name="Version 1")
        open_v1 = oldest.get_by_role("button", name=re.compile(r"^v1 "))
        open_v2 = newest.get_by_role("button", name=re.compile(r"^v2 "))
        await expect(open_v1).to_have_text(re.compile(r"v1\s*2 files · 20 B"))
        await expect(open_v2).to_have_text(re.compile(r"v2\s*3 files · 33 B"))
        for item, version in ((newest, v2), (oldest, v1)):
            await expect(item.get_by_label("sha256")).to_have_text(version.sha256[:12])
            await expect(item.get_by_label("Source")).to_have_text("rows/")

        # Version 1: its files, and the job's run under "Read by"; version 2 was read by no run.
        await open_v1.click()
        files = oldest.get_by_role("table", name=f"Files of {ASSET}:1")
        await expect(files.get_by_role("row")).to_have_count(2)
        await expect(files.get_by_role("row", name="part-0.csv")).to_contain_text("12 B")
        await expect(files.get_by_role("row", name="part-1.csv")).to_contain_text("8 B")
        readers = oldest.get_by_role("list", name=f"Runs that read {ASSET}:1")
        reader = readers.get_by_role("listitem", name=f"Run {run['name']}")
        await expect(reader).to_contain_text("completed", timeout=15_000)
        await expect(reader).to_contain_text("scoring")
        await open_v2.click()
        files_v2 = newest.get_by_role("table", name=f"Files of {ASSET}:2")
        await expect(files_v2.get_by_role("row")).to_have_count(3)
        await expect(newest).to_contain_text("No run has read this version yet.")
        # The open asset and versions fit the sidebar, at its default width and a narrow one.
        await check_layout_at_widths(page, panel, "data", tmp_path)

        # The run opens in the run view; its Data section names the input and the version it read.
        await reader.get_by_role("button", name=f"Open run {run['name']}").click()
        main = page.locator("#jp-main-dock-panel")
        await expect(main.get_by_role("tab", name=f"Run {run['name']}")).to_be_visible(timeout=15_000)
        view = main.get_by_role("region", name=f"Run {run['name']}")
        inputs = view.get_by_role("region", name="Data", exact=True).get_by_role("list", name="Data inputs")
        await expect(inputs).to_have_text(f"rows → {ASSET}:1")
        tags = view.get_by_role("table", name="Tags")
        await expect(tags).to_contain_text("mlws.job.id")
        await expect(tags).not_to_contain_text("mlws.data")

        await set_sidebar_width(page, 420)
        await page.wait_for_timeout(300)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "data-assets.png"))

        # Back from the run to the data: the link reopens the asset at version 1 with its readers.
        await head.click()
        await expect(versions).to_have_count(0)
        await inputs.get_by_role("button", name=f"{ASSET}:1").click()
        await expect(panel.get_by_role("tab", name="Data")).to_have_attribute("aria-selected", "true")
        await expect(open_v1).to_have_attribute("aria-expanded", "true")
        await expect(reader).to_be_visible()
