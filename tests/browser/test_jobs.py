"""The panel's clusters and Jobs tab, in real JupyterLab + Chromium (issue 15, items 4 and 5).

One lab and one story, as a user lives it: a training cluster is created from Python through the
workspace URL (`ws.compute.create_cluster`) and the Compute tab lists it, stopped at 0 nodes.
Three jobs are submitted (`ws.jobs.submit`): one that sleeps, one that prints a line every 0.4 s,
and a third that has to wait, since the cluster has two one-CPU nodes at most. The cluster card
shows Dask scaling it to 2 nodes with one job queued; the Jobs tab shows the third job first in
the queue, and the printing job's log fills in while it runs (lines seen in the browser before the
job wrote its last one, stderr marked). When it ends, the queued job takes its node and completes.
Cancelling the sleeping job from its card stops it (its process is gone) and the card says
`canceled`. "Open run" opens a job's run in the run view, whose Log section shows the job's
output. The cluster card lists its node events with Dask's reasons, and links the dashboard
through the server when Dask has one.

Real processes throughout: the lab's own server starts the Dask LocalCluster and its worker
processes; each job is a process on a node. Saves `jobs-view.png` into $MLWS_SCREENSHOT_DIR
(default build/screenshots); `make screenshots` points it at docs/images.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from playwright.async_api import Page, expect

from .checks import check_layout_at_widths, set_sidebar_width, sidebar_width
from .conftest import SCREENSHOTS, LabServer, chromium, open_sidebar

pytestmark = pytest.mark.timeout(180)

CLUSTER = "cpu"
LINES = 20
PRINTER = f"""
import sys, time
print("warming up", file=sys.stderr, flush=True)
for i in range(1, {LINES + 1}):
    print(f"line {{i:02d}}", flush=True)
    time.sleep(0.4)
"""
SLEEPER = "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n"


def _job(lab: LabServer, job_id: str) -> dict[str, Any]:
    return lab.api(f"/mlws/api/v1/jobs/{job_id}")


async def _tab(page: Page, name: str) -> None:
    tab = page.locator("#mlws-sidebar").get_by_role("tab", name=name)
    await tab.click()
    await expect(tab).to_have_attribute("aria-selected", "true")


async def test_jobs_view_live_log_cancel_and_cluster_card(
    lab: LabServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import jupyter_mlws as mlws

    monkeypatch.chdir(tmp_path)
    ws = mlws.Workspace(lab.url, token=lab.token)
    ws.compute.create_cluster(
        CLUSTER, min_nodes=0, max_nodes=2, node={"cpus": 1}, idle_seconds_before_scaledown=5
    )
    jobs: list[Any] = []
    try:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            panel = await open_sidebar(page, lab)
            await _tab(page, "Compute")
            clusters = panel.get_by_label("Clusters", exact=True)
            card = clusters.get_by_role("listitem", name=f"Cluster {CLUSTER}")
            await expect(card.get_by_label("Kind")).to_have_text("cluster", timeout=15_000)
            await expect(card.get_by_label("Nodes", exact=True)).to_have_text("0 nodes (min 0, max 2)")
            await expect(card.get_by_label("Queued jobs")).to_have_text("0 queued")

            def submit(name: str, source: str) -> Any:
                command = [sys.executable, "-c", source]
                return ws.jobs.submit(command=command, target=CLUSTER, experiment="jobs-ui", name=name)

            sleeper = submit("sleeper", SLEEPER)
            printer = submit("printer", PRINTER)
            waiting = submit("evaluate", "print('evaluated', flush=True)")
            jobs += [sleeper, printer, waiting]

            # Dask scales the cluster for the work; the third job waits for a free node.
            nodes = card.get_by_label("Nodes", exact=True)
            await expect(nodes).to_have_text("2 nodes (min 0, max 2)", timeout=30_000)
            await expect(card.get_by_label("Queued jobs")).to_have_text("1 queued", timeout=10_000)
            await expect(card.get_by_label("State")).to_have_text("running")

            await _tab(page, "Jobs")
            view = panel.get_by_label("Jobs", exact=True)
            queued = view.get_by_label("Queued jobs").get_by_role("listitem", name="Job evaluate")
            await expect(queued.get_by_label("Position")).to_have_text("#1 in queue")
            await expect(queued.get_by_label("Target")).to_have_text(f"on {CLUSTER}")
            running = view.get_by_label("Running jobs")
            # The printer's card moves from "Running jobs" to "Recent jobs" when it ends.
            printing = view.get_by_role("listitem", name="Job printer")
            await expect(running.get_by_role("listitem", name="Job printer")).to_be_visible(timeout=15_000)
            await expect(printing.get_by_label("State")).to_have_text("running")
            await expect(printing.get_by_label("Node")).to_contain_text("127.0.0.1")
            await expect(printing.get_by_label("Attempt")).to_have_text("attempt 1")

            # Its log, live: lines arrive while the job still runs, before it wrote the last one.
            await printing.get_by_role("button", name="Log", exact=True).click()
            log = printing.get_by_label("Log of printer")
            await expect(log).to_contain_text("line 03", timeout=15_000)
            seen = await log.inner_text()
            assert f"line {LINES}" not in seen, "the log shows lines while the job writes them"
            assert _job(lab, printer.id)["state"] == "running"
            await expect(log).to_contain_text("warming up")
            assert await log.locator(".jp-mlws-log-stderr").count() >= 1, "stderr is marked"
            await expect(log).to_contain_text("line 06")
            await expect(printing.get_by_label("Duration")).to_contain_text(re.compile(r"running \d"))

            sleeping = running.get_by_role("listitem", name="Job sleeper")
            await expect(sleeping.get_by_label("State")).to_have_text("running")
            default_width = await sidebar_width(page)
            await set_sidebar_width(page, 460)
            await page.wait_for_timeout(600)  # a log line or two more, for the screenshot
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "jobs-view.png"))
            await set_sidebar_width(page, default_width)

            # The whole output, then the final state; the queued job takes the free node.
            await expect(log).to_contain_text(f"line {LINES}", timeout=20_000)
            done = view.get_by_label("Recent jobs").get_by_role("listitem", name="Job printer")
            await expect(done.get_by_label("State")).to_have_text("completed", timeout=10_000)
            await expect(done.get_by_label("Exit code")).to_have_text("exit 0")
            await expect(done.get_by_label("Duration")).to_contain_text(re.compile(r"took \d"))
            evaluated = view.get_by_role("listitem", name="Job evaluate")
            await expect(evaluated.get_by_label("State")).to_have_text("completed", timeout=20_000)

            # Cancel from the panel: the job's process is gone and the card says so.
            pid = _job(lab, sleeper.id)["pid"]
            assert pid and psutil.pid_exists(pid), "the sleeping job runs in a process of its own"
            await sleeping.get_by_role("button", name="Cancel sleeper").click()
            canceled = view.get_by_role("listitem", name="Job sleeper")
            await expect(canceled.get_by_label("State")).to_have_text("canceled", timeout=10_000)
            await expect(canceled.get_by_role("button", name="Cancel sleeper")).to_have_count(0)
            assert _job(lab, sleeper.id)["state"] == "canceled"
            deadline = time.monotonic() + 5
            while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                assert time.monotonic() < deadline, f"the canceled job's process {pid} still runs"
                time.sleep(0.1)

            # The run of a job opens in the run view.
            run_name = lab.api(f"/mlws/api/v1/runs/{printer.record.run_id}")["name"]
            await done.get_by_role("button", name="Open run").click()
            main = page.locator("#jp-main-dock-panel")
            await expect(main.get_by_role("tab", name=f"Run {run_name}")).to_be_visible(timeout=15_000)
            await expect(main.get_by_label("Job output")).to_contain_text(f"line {LINES}", timeout=10_000)
            # The Jobs tab fits the sidebar, at its default width and a narrow one.
            await check_layout_at_widths(page, panel, "jobs", tmp_path)

            # The cluster card: node events with Dask's reasons, and the dashboard only if Dask has one.
            await _tab(page, "Compute")
            events = card.get_by_label(f"Node events of {CLUSTER}")
            await expect(events).to_contain_text("node added")
            await expect(events).to_contain_text("work waiting")
            await expect(events).to_contain_text("0 -> ")
            dashboard = card.get_by_role("link", name="Dashboard")
            if lab.api(f"/mlws/api/v1/compute/clusters/{CLUSTER}").get("dashboard"):
                href = await dashboard.get_attribute("href")
                assert href and href.endswith(f"/mlws/api/v1/compute/clusters/{CLUSTER}/dashboard/status")
                # Through the server, with the page's own session (no token in the link).
                answer = await page.request.get(href)
                assert answer.status == 200, f"{href}: {answer.status}"
            else:
                await expect(dashboard).to_have_count(0)
            await check_layout_at_widths(page, panel, "clusters", tmp_path)
    finally:
        for job in jobs:
            try:
                if _job(lab, job.id)["state"] in ("queued", "running"):
                    lab.call("POST", f"/mlws/api/v1/jobs/{job.id}/cancel", {})
            except Exception:
                pass
