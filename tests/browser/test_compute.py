"""The panel's Compute tab and the idle-shutdown notifications, in real JupyterLab + Chromium.

One lab with tiny idle settings (`idle_warning_seconds`, a fast compute tick)
and one story, as a user lives it: open the Compute tab, create an instance
through the form (a bad memory value first: the server's message shows next
to the form), its kernel card appears in the Launcher, a kernel of it starts
(through the REST API, as a script or another client would) and its row shows
memory against the limit and uptime; the idle warning pops up with "Keep
running", and clicking it (or the row's button) postpones the shutdown (the
API answers a later `idle_shutdown_at`); deleting while the kernel runs shows
the server's 409; the idle shutdown stops the kernel (an info notification
says so); a limit stop recorded by the watchdog shows an error with its
reason; deleting then removes the instance and its Launcher card. An
instance created elsewhere shows up live and is edited through the form.

Saves `compute.png` into $MLWS_SCREENSHOT_DIR (default build/screenshots);
`make screenshots` points it at docs/images.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from .checks import check_layout_at_widths
from .conftest import SCREENSHOTS, LabServer, chromium, open_sidebar

#: Idle shutdown after 20 s, warned 16 s before: the warning comes ~4 s after the kernel goes quiet.
IDLE_MINUTES = 20 / 60
WARNING_SECONDS = 16


#: The module's `lab` (conftest.py) starts with these: warnings and usage samples come quickly.
LAB_ARGS = [
    f"--MLWorkspaceApp.idle_warning_seconds={WARNING_SECONDS}",
    "--MLWorkspaceApp.compute_interval=0.5",
]


def _kernel_usage(lab: LabServer, kernel_id: str) -> dict | None:
    kernels = lab.api("/mlws/api/v1/compute/kernels")["kernels"]
    return next((k for k in kernels if k["kernel_id"] == kernel_id), None)


async def _until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        await asyncio.sleep(0.2)


async def _open_compute_tab(page: Page, lab: LabServer) -> None:
    panel = await open_sidebar(page, lab)
    await expect(panel.get_by_role("tab", name="Experiments")).to_have_attribute("aria-selected", "true")
    await panel.get_by_role("tab", name="Compute").click()
    await expect(panel.get_by_role("tab", name="Compute")).to_have_attribute("aria-selected", "true")
    # The arrow keys move between the tabs too.
    await page.keyboard.press("ArrowLeft")
    await expect(panel.get_by_role("tab", name="Experiments")).to_have_attribute("aria-selected", "true")
    await expect(panel.get_by_label("Workspace information")).to_be_visible()
    await page.keyboard.press("ArrowRight")
    await expect(panel.get_by_role("tab", name="Compute")).to_have_attribute("aria-selected", "true")
    await expect(panel.get_by_role("tab", name="Compute")).to_be_focused()


@pytest.mark.catalogue("A9")
async def test_compute_tab_instances_kernels_and_idle_shutdown(lab: LabServer, tmp_path: Path) -> None:
    kernel_id = None
    try:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1400, "height": 860})
            await _open_compute_tab(page, lab)
            panel = page.locator("#mlws-sidebar")
            section = panel.get_by_label("Compute instances")
            await expect(section).to_contain_text("No compute instances yet", timeout=15_000)
            # An instance made elsewhere (the CLI, `ws.compute`, a script) shows up live.
            lab.call(
                "POST",
                "/mlws/api/v1/compute/instances",
                {
                    "name": "train",
                    "cpus": 2,
                    "memory": "8GiB",
                    "idle_shutdown_minutes": 60,
                    "description": "training jobs",
                },
            )
            train = section.get_by_role("listitem", name="Instance train")
            await expect(train).to_contain_text("2 CPUs · 8 GiB · 0 GPUs", timeout=10_000)
            await expect(train).to_contain_text("Idle shutdown after 60 min")
            # Edit: the form starts from what the instance is; the card shows the change.
            await train.get_by_role("button", name="Edit train").click()
            edit = panel.get_by_role("form", name="Edit train")
            await expect(edit.get_by_label("Memory")).to_have_value("8GiB")
            await edit.get_by_label("Memory").fill("4GiB")
            await edit.get_by_role("button", name="Save").click()
            await expect(edit).to_have_count(0)
            await expect(train).to_contain_text("2 CPUs · 4 GiB · 0 GPUs")
            assert lab.api("/mlws/api/v1/compute/instances/train")["memory_bytes"] == 4 * 1024**3
            launcher_card = page.locator(".jp-LauncherCard").filter(has_text="tiny (")

            # Create through the form; the server's refusal of a bad memory value shows next to it.
            await section.get_by_role("button", name="New instance").click()
            form = panel.get_by_role("form", name="New instance")
            await form.get_by_label("Name", exact=True).fill("tiny")
            await form.get_by_label("CPUs").fill("1")
            await form.get_by_label("Memory").fill("lots")
            await form.get_by_label("Idle shutdown (minutes)").fill(str(IDLE_MINUTES))
            await form.get_by_label("Environment (KEY=VALUE lines)").fill("MLWS_TEST_FLAVOUR=tiny")
            await form.get_by_label("Description").fill("one CPU, <b>small</b>")
            await form.get_by_role("button", name="Create").click()
            await expect(form.get_by_role("alert")).to_contain_text("memory 'lots' is not a size")
            await form.get_by_label("Memory").fill("2GiB")
            await form.get_by_role("button", name="Create").click()
            await expect(form).to_have_count(0)
            assert lab.api("/mlws/api/v1/compute/instances/tiny")["env"] == {"MLWS_TEST_FLAVOUR": "tiny"}

            card = section.get_by_role("listitem", name="Instance tiny")
            await expect(card).to_contain_text("1 CPU · 2 GiB · 0 GPUs")
            await expect(card).to_contain_text("Idle shutdown after 20 s")
            await expect(card).to_contain_text("mlws-tiny")
            await expect(card).to_contain_text("one CPU, <b>small</b>")
            assert await card.locator("b").count() == 0, "descriptions are shown as text, never as HTML"
            await expect(card).to_contain_text("No running kernels")
            # The Launcher offers the instance as a kernel at once.
            await expect(launcher_card.first).to_be_visible(timeout=10_000)
            assert lab.api("/api/kernelspecs")["kernelspecs"]["mlws-tiny"]

            # A kernel of it, from its Launcher card; its row shows usage against the limit.
            await page.locator(".jp-LauncherCard[data-category='Notebook']").filter(has_text="tiny (").click()
            row = card.get_by_role("list", name="Kernels of tiny").get_by_role("listitem")
            await expect(row).to_have_count(1, timeout=30_000)
            await expect(row).to_contain_text("Untitled.ipynb")
            kernel_id = await row.get_attribute("data-kernel-id")
            assert kernel_id and _kernel_usage(lab, kernel_id), "the row is the kernel the API lists"
            await expect(row.get_by_label("Memory")).to_contain_text(" MiB / 2 GiB", timeout=15_000)
            await expect(row.get_by_label("Uptime")).to_contain_text(re.compile(r"up \d+(\.\d)? s"))
            await expect(row.get_by_label("CPU")).to_contain_text("%")
            await expect(row).to_contain_text("idle shutdown in")
            # Two instance cards and a kernel row fit the sidebar, at its default width and a narrow one.
            await check_layout_at_widths(page, panel, "compute", tmp_path)

            # The idle warning, with a way to keep the kernel running.
            toast = page.locator(".Toastify__toast").filter(has_text="shuts down in")
            keep = toast.get_by_role("button", name="Keep running")
            await expect(toast.first).to_be_visible(timeout=30_000)
            await expect(toast.first).to_contain_text("tiny")
            await page.wait_for_timeout(800)  # the toast's slide-in, for the screenshot
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "compute.png"))
            before = (_kernel_usage(lab, kernel_id) or {})["idle_shutdown_at"]
            await keep.first.click()
            await expect(page.locator(".Toastify__toast").filter(has_text="keeps running")).to_be_visible(
                timeout=10_000
            )
            after = (_kernel_usage(lab, kernel_id) or {})["idle_shutdown_at"]
            assert after > before, f"Keep running postpones the shutdown ({before} → {after})"
            # The kernel's own "Keep running" button does the same.
            await page.wait_for_timeout(300)  # a keepalive in the same millisecond would not be "later"
            await row.get_by_role("button", name="Keep running").click()
            await _until(
                lambda: (_kernel_usage(lab, kernel_id) or {})["idle_shutdown_at"] > after, "a later shutdown"
            )

            # Deleting while the kernel runs: the server says why not.
            await card.get_by_role("button", name="Delete tiny").click()
            await page.locator(".jp-Dialog").get_by_role("button", name="Delete").click()
            await expect(card.get_by_role("alert")).to_contain_text("running kernel; shut them down first")

            # The idle shutdown stops it and says so; the row goes away.
            shutdown = page.locator(".Toastify__toast").filter(has_text="was shut down")
            await expect(shutdown).to_be_visible(timeout=45_000)
            await expect(card).to_contain_text("No running kernels", timeout=10_000)
            assert _kernel_usage(lab, kernel_id) is None
            assert kernel_id not in {k["id"] for k in lab.api("/api/kernels")}
            kernel_id = None
            events = lab.api("/mlws/api/v1/compute/events?instance=tiny")["events"]
            kinds = [e["kind"] for e in events]
            assert {"kernel_started", "idle_warning", "keep_alive", "idle_shutdown"} <= set(kinds), kinds

            # A kernel stopped by a limit: the watchdog (another process) records it in the workspace's
            # store; the server pushes it and the lab says why, until the user closes it.
            from jupyter_mlws.store.factory import open_store

            watchdog_side = open_store(f"sqlite:///{lab.root_dir / '.mlws' / 'mlws.db'}")
            try:
                watchdog_side.record_compute_event(
                    "tiny",
                    "limit_stopped",
                    kernel_id="0" * 8 + "-limit",
                    reason="memory limit of compute instance tiny (2 GiB) exceeded: RSS 2.1 GiB",
                )
            finally:
                watchdog_side.close()
            stopped = page.locator(".Toastify__toast").filter(has_text="was stopped")
            await expect(stopped).to_contain_text("RSS 2.1 GiB", timeout=10_000)

            # Now it can go, and its Launcher card with it.
            await card.get_by_role("button", name="Delete tiny").click()
            await page.locator(".jp-Dialog").get_by_role("button", name="Delete").click()
            await expect(card).to_have_count(0)
            await expect(section.get_by_role("listitem", name=re.compile("^Instance "))).to_have_count(1)
            await page.get_by_role("menuitem", name="File").click()
            await page.get_by_role("menuitem", name="New Launcher").click()
            await expect(page.locator(".jp-LauncherCard").filter(has_text="Python 3").first).to_be_visible()
            await expect(launcher_card).to_have_count(0, timeout=10_000)
            assert "mlws-tiny" not in lab.api("/api/kernelspecs")["kernelspecs"]
    finally:
        if kernel_id is not None:
            try:
                lab.call("DELETE", f"/api/kernels/{kernel_id}")
            except Exception:
                pass
