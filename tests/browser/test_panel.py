"""The "ML Workspace" sidebar panel in real JupyterLab + Chromium (Playwright).

Saves `sidebar-panel.png` into $MLWS_SCREENSHOT_DIR (default build/screenshots);
`make screenshots` points it at docs/images for the README.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from .conftest import SCREENSHOTS, LabServer, chromium, open_sidebar, start_lab


async def _open_panel(browser: Browser, server: LabServer) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 720})
    await open_sidebar(page, server)
    return page


@pytest.mark.catalogue("A9")
async def test_panel_shows_the_workspace(lab: LabServer) -> None:
    async with chromium() as browser:
        page = await _open_panel(browser, lab)
        panel = page.locator("#mlws-sidebar")
        await expect(panel.get_by_role("heading", name="ML Workspace")).to_be_visible()
        info = panel.get_by_label("Workspace information")
        await expect(info).to_contain_text(str(lab.root_dir / ".mlws"), timeout=20_000)
        await expect(info).to_contain_text("sqlite")
        await expect(info).to_contain_text(lab.api("/mlws/api/v1/info")["version"])
        await expect(panel.get_by_label("Run activity")).to_contain_text("No run activity")
        # A kernel writes the workspace's SQLite file directly; the server pushes what changed.
        from jupyter_mlws.store.factory import open_store

        kernel_side = open_store(f"sqlite:///{lab.root_dir / '.mlws' / 'mlws.db'}")
        try:
            experiment = kernel_side.create_experiment("churn")
            run = kernel_side.create_run(experiment.experiment_id, name="baseline <b>bold</b>").info
            activity = panel.get_by_label("Run activity")
            await expect(activity).to_contain_text("baseline <b>bold</b> started", timeout=10_000)
            assert await activity.locator("b").count() == 0, "names are shown as text, never as HTML"
            kernel_side.end_run(run.run_id, "completed")
            await expect(activity).to_contain_text("baseline <b>bold</b> completed", timeout=10_000)
        finally:
            kernel_side.close()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / "sidebar-panel.png"))


async def test_live_activity_says_how_each_finished_run_ended(lab: LabServer) -> None:
    """Runs finished as a notebook finishes them: params, metrics, then the end; one also
    flushes a last metrics batch after its end. Each line says completed or failed."""
    from jupyter_mlws.store.factory import open_store

    async with chromium() as browser:
        page = await _open_panel(browser, lab)
        activity = page.locator("#mlws-sidebar").get_by_label("Run activity")
        await expect(activity).to_be_visible(timeout=20_000)
        kernel_side = open_store(f"sqlite:///{lab.root_dir / '.mlws' / 'mlws.db'}")
        try:
            experiment = kernel_side.create_experiment("activity")
            ends = {"fast-ok": "completed", "diverges": "failed", "late-flush": "completed"}
            for name, status in ends.items():
                run_id = kernel_side.create_run(experiment.experiment_id, name=name).info.run_id
                kernel_side.log_params(run_id, {"lr": "0.1"})
                for step in range(3):
                    point = ("loss", 1.0 / (step + 1), step, 1_700_000_000_000 + step)
                    kernel_side.log_batch(run_id, metrics=[point])
                kernel_side.end_run(run_id, status, "diverged" if status == "failed" else None)
                if name == "late-flush":
                    kernel_side.log_batch(run_id, metrics=[("loss", 0.1, 3, 1_700_000_000_001)])
            # Events arrive in order: once a later run's line shows, the lines above are final.
            kernel_side.create_run(experiment.experiment_id, name="next-run")
            await expect(activity).to_contain_text("next-run started", timeout=15_000)
            for name, status in ends.items():
                await expect(activity.get_by_role("listitem").filter(has_text=name)).to_have_text(
                    f"{name} {status}"
                )
            await expect(activity).not_to_contain_text("logged metrics")
        finally:
            kernel_side.close()


async def test_panel_says_plainly_when_the_server_extension_is_off(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base = tmp_path_factory.mktemp("lab-off")
    server = start_lab(base / "demo", base / "state", ["--ServerApp.jpserver_extensions=jupyter_mlws=False"])
    try:
        async with chromium() as browser:
            page = await _open_panel(browser, server)
            alert = page.locator("#mlws-sidebar").get_by_role("alert")
            await expect(alert).to_contain_text("server extension is not answering", timeout=20_000)
            await expect(alert).to_contain_text("jupyter server extension list")
    finally:
        server.stop()
