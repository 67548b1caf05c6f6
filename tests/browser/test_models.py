"""The panel's Models and Endpoints tabs, in real JupyterLab + Chromium.

One lab and one story, as a user lives it: two versions of a small
scikit-learn model are registered from Python (`ws.models.register`, one from
a run's artifact, one from a file) with `production` on the newest; the Models
tab lists the model, and opening it shows both versions with flavor, sha256,
signature and lineage. Moving `production` to version 1 in the UI moves it
(the REST API says so); the lineage link opens the source run in the run view.
Then the Endpoints tab deploys `churn@production` through its form (the keys
are shown once), a primary key is regenerated (shown once, and never in a
GET), "Try it" with a wrong key answers 401 and with the new key answers
predictions, and the request count goes up.

A second test shows `ModelRegistry("churn")` in a notebook (a real kernel):
the versions table, an alias set from the widget, and its lineage link
opening the run view.

Saves `models.png` into $MLWS_SCREENSHOT_DIR (default build/screenshots);
`make screenshots` points it at docs/images.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from .checks import check_layout_at_widths
from .conftest import SCREENSHOTS, LabServer, chromium, run_cell, write_notebook

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def churn(lab: LabServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two versions registered through the Python API into the lab's workspace."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlws import Workspace
    from jupyter_mlws.models import save_sklearn

    files = tmp_path_factory.mktemp("models")
    frame = pd.DataFrame({"tenure": [1.0, 2.0, 30.0, 40.0], "calls": [9, 8, 1, 0]})
    labels = [1, 1, 0, 0]
    ws = Workspace(lab.root_dir / ".mlws")
    try:
        run = ws.start_run(experiment="churn-training", name="baseline-lr")
        save_sklearn(LogisticRegression().fit(frame, labels), files / "v1" / "model.skops")
        run.log_artifact(files / "v1" / "model.skops")
        run.end()
        v1 = ws.models.register("churn", run=run, artifact_path="model.skops", example=frame)
        path = save_sklearn(LogisticRegression(C=10.0).fit(frame, labels), files / "v2" / "model.skops")
        v2 = ws.models.register("churn", path=path, example=frame, description="more C")
        ws.models.set_alias("churn", "production", v2.version)
        yield {"v1": v1, "v2": v2, "run": run}
    finally:
        ws.close()


async def _open_tab(page: Page, lab: LabServer, name: str) -> None:
    await page.goto(f"{lab.url}/lab?reset&token={lab.token}", wait_until="domcontentloaded")
    tab = page.locator('.jp-SideBar [data-id="mlws-sidebar"]')
    await expect(tab).to_be_visible(timeout=60_000)
    await tab.click()
    panel = page.locator("#mlws-sidebar")
    await panel.get_by_role("tab", name=name).click()
    await expect(panel.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")


async def test_models_aliases_lineage_deploy_keys_and_try_it(
    lab: LabServer, churn: dict[str, Any], tmp_path: Path
) -> None:
    v1, v2, run = churn["v1"], churn["v2"], churn["run"]
    try:
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await _open_tab(page, lab, "Models")
            panel = page.locator("#mlws-sidebar")
            # The tab bar's arrow keys reach the new tabs too.
            await panel.get_by_role("tab", name="Models").focus()
            await page.keyboard.press("ArrowRight")
            await expect(panel.get_by_role("tab", name="Endpoints")).to_have_attribute(
                "aria-selected", "true"
            )
            await page.keyboard.press("ArrowLeft")
            await expect(panel.get_by_role("tab", name="Models")).to_have_attribute("aria-selected", "true")

            section = panel.get_by_label("Registered models")
            churn_item = section.get_by_role("listitem", name="Model churn")
            await expect(churn_item).to_contain_text("latest v2", timeout=15_000)
            await expect(churn_item.get_by_label("Aliases of churn")).to_contain_text("@production → v2")
            await churn_item.get_by_role("button", name=re.compile("churn")).first.click()
            versions = churn_item.get_by_role("list", name="Versions of churn")
            await expect(versions.get_by_role("listitem")).to_have_count(2)
            newest = versions.get_by_role("listitem", name="Version 2")
            oldest = versions.get_by_role("listitem", name="Version 1")
            for item, version in ((newest, v2), (oldest, v1)):
                await expect(item.get_by_label("Flavor")).to_have_text("sklearn")
                await expect(item.get_by_label("sha256")).to_have_text(version.sha256[:12])
                await expect(item.get_by_label("Signature")).to_have_text("tenure: double, calls: long")
            await expect(newest.get_by_label("Aliases")).to_contain_text("@production")
            await expect(newest).to_contain_text("more C")
            # The open model and its versions fit the sidebar, at its default width and a narrow one.
            await check_layout_at_widths(page, panel, "models", tmp_path)

            # Move production to version 1 in the UI; the registry says it moved.
            await oldest.get_by_label("Alias for version 1").fill("production")
            await oldest.get_by_role("button", name="Set alias").click()
            await expect(oldest.get_by_label("Aliases")).to_contain_text("@production")
            await expect(newest.get_by_label("Aliases")).not_to_contain_text("@production")
            assert lab.call("GET", "/mlws/api/v1/models/churn")["aliases"] == {"production": 1}

            # Lineage: the source run, in its experiment, opens in the run view.
            await expect(oldest).to_contain_text("in experiment churn-training")
            await oldest.get_by_role("button", name="Open source run baseline-lr").click()
            main = page.locator("#jp-main-dock-panel")
            await expect(main.get_by_role("tab", name="Run baseline-lr")).to_be_visible(timeout=15_000)
            await expect(main.get_by_label("Run details")).to_contain_text(run.id[:8])
            # A wider sidebar for the screenshot: drag the handle between it and the main area.
            handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
            box = await handle.bounding_box()
            if box is not None:
                await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                await page.mouse.down()
                await page.mouse.move(box["x"] + 220, box["y"] + box["height"] / 2, steps=5)
                await page.mouse.up()
            await page.wait_for_timeout(300)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "models.png"))
            # A bad alias name: the server's message shows next to the version.
            await newest.get_by_label("Alias for version 2").fill("Not Valid")
            await newest.get_by_role("button", name="Set alias").click()
            await expect(newest.get_by_role("alert")).to_contain_text("alias 'Not Valid' is not valid")

            # The experiment of the lineage opens in the Experiments tab, with the run in it.
            await oldest.get_by_role("button", name="churn-training").click()
            await expect(panel.get_by_role("tab", name="Experiments")).to_have_attribute(
                "aria-selected", "true"
            )
            await expect(panel.get_by_role("tabpanel")).to_contain_text("baseline-lr", timeout=10_000)

            # Deploy churn@production from the Endpoints tab: the keys are shown once.
            await panel.get_by_role("tab", name="Endpoints").click()
            endpoints = panel.get_by_label("Endpoints", exact=True)
            await expect(endpoints).to_contain_text("No endpoints yet", timeout=15_000)
            await endpoints.get_by_role("button", name="Deploy").click()
            form = panel.get_by_role("form", name="Deploy a model")
            await form.get_by_label("Endpoint name").fill("churn-api")
            await form.get_by_label("Model").fill("churn@production")
            await form.get_by_role("button", name="Deploy").click()
            await expect(form).to_have_count(0, timeout=90_000)
            card = endpoints.get_by_role("listitem", name="Endpoint churn-api")
            await expect(card.get_by_label("State")).to_have_text("running", timeout=30_000)
            await expect(card.get_by_label("Deployments of churn-api")).to_contain_text(
                "churn@production → v1"
            )
            await expect(card.get_by_label("Scoring URL")).to_contain_text(
                re.compile(r"http://127\.0\.0\.1:\d+/score")
            )
            first_keys = card.get_by_role("region", name="New keys of churn-api")
            await expect(first_keys.get_by_label("primary key")).to_have_text(re.compile(r"\S{20,}"))
            await first_keys.get_by_role("button", name="Done").click()
            await expect(first_keys).to_have_count(0)

            # Regenerate the primary key: shown once, never in a GET.
            await card.get_by_role("button", name="Regenerate primary key").click()
            shown = card.get_by_role("region", name="New keys of churn-api").get_by_label("primary key")
            await expect(shown).to_have_text(re.compile(r"\S{20,}"))
            key = (await shown.text_content() or "").strip()
            assert key not in json.dumps(lab.call("GET", "/mlws/api/v1/endpoints/churn-api"))

            # Try it: a wrong key is the endpoint's 401; the new key gets predictions.
            await card.get_by_text("Try it").click()
            box = card.get_by_role("form", name="Try churn-api")
            await box.get_by_label("Body").fill('[{"tenure": 3.0, "calls": 7}, {"tenure": 35.0, "calls": 0}]')
            await box.get_by_label("Key").fill("not-the-key")
            await box.get_by_role("button", name="Send").click()
            answer = card.get_by_role("status", name="Answer of churn-api")
            await expect(answer).to_contain_text("HTTP 401", timeout=15_000)
            assert "not-the-key" not in (await answer.text_content() or ""), "a key is never echoed"
            await box.get_by_label("Key").fill(key)
            # A new key reaches the replicas within a second (RELIABILITY A7): send again until then.
            for _ in range(10):
                await box.get_by_role("button", name="Send").click()
                await expect(box.get_by_role("button", name="Send")).to_be_enabled(timeout=15_000)
                if "HTTP 200" in (await answer.text_content() or ""):
                    break
                await page.wait_for_timeout(300)
            await expect(answer).to_contain_text("HTTP 200", timeout=15_000)
            await expect(answer).to_contain_text('"predictions"')
            body = json.loads((await answer.locator("pre").text_content()) or "{}")
            assert body["predictions"] == [1, 0] and body["version"] == 1
            # The card with its new key, key buttons and the open Try it box fits the sidebar.
            await check_layout_at_widths(page, panel, "endpoints", tmp_path)
            # The request count follows the traffic (the replicas report every ~1 s).
            await expect(card.get_by_label("Requests")).to_contain_text(
                re.compile(r"^[1-9]\d* requests?"), timeout=20_000
            )
            assert lab.call("GET", "/mlws/api/v1/endpoints/churn-api")["stats"]["requests"] >= 1

            # Logs: the replicas' last lines, read when the section opens (Azure ML's get_logs()).
            await card.get_by_text("Logs", exact=True).click()
            logs = card.get_by_label("Logs of churn-api")
            served = re.compile(r"serving churn-api: [\w-]+=churn:1 on port \d+")
            await expect(logs).to_contain_text(served, timeout=15_000)
            await expect(logs).to_contain_text(re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"))

            # Delete it from its card: the replicas stop and the endpoint is gone.
            await card.get_by_role("button", name="Delete churn-api").click()
            await page.locator(".jp-Dialog").get_by_role("button", name="Delete").click()
            await expect(card).to_have_count(0, timeout=30_000)
            await expect(endpoints).to_contain_text("No endpoints yet")
            assert lab.call("GET", "/mlws/api/v1/endpoints")["endpoints"] == []
    finally:
        try:
            lab.call("DELETE", "/mlws/api/v1/endpoints/churn-api")
        except Exception:
            pass


REGISTRY_CELL = """\
from jupyter_mlws import Workspace
from jupyter_mlws.widgets import ModelRegistry
ModelRegistry("churn", workspace=Workspace(".mlws"))
"""


async def test_model_registry_widget_in_a_notebook(lab: LabServer, churn: dict[str, Any]) -> None:
    write_notebook(lab.root_dir / "registry.ipynb", [("cell-0", REGISTRY_CELL)])
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        await page.goto(f"{lab.url}/lab/tree/registry.ipynb?token={lab.token}", wait_until="domcontentloaded")
        await run_cell(page)
        widget = page.get_by_role("region", name="Model registry")
        await expect(widget.get_by_role("table", name="Registered models")).to_contain_text(
            "churn", timeout=30_000
        )
        versions = widget.get_by_role("table", name="Versions of churn")
        await expect(versions.get_by_role("row", name=re.compile(r"^Version \d$"))).to_have_count(2)
        v2 = versions.get_by_role("row", name="Version 2")
        await expect(v2).to_contain_text("sklearn")
        await expect(v2).to_contain_text(churn["v2"].sha256[:12])
        await expect(v2).to_contain_text("tenure: double, calls: long")
        # An alias set from the widget lands in the registry.
        await v2.get_by_label("Alias for version 2").fill("staging")
        await v2.get_by_role("button", name="Set alias").click()
        await expect(v2).to_contain_text("@staging", timeout=10_000)
        assert lab.call("GET", "/mlws/api/v1/models/churn")["aliases"]["staging"] == 2
        # Lineage: the run link opens the run view.
        await versions.get_by_role("row", name="Version 1").get_by_role("link").click()
        main = page.locator("#jp-main-dock-panel")
        await expect(main.get_by_role("tab", name="Run baseline-lr")).to_be_visible(timeout=15_000)


async def test_batch_endpoints_are_listed_in_the_endpoints_tab(lab: LabServer, churn: dict[str, Any]) -> None:
    """A batch endpoint deployed from Python shows in the Endpoints tab: its model reference, its
    cluster and "no job yet"; its keys never reach the page. (Invoking one runs a job on a cluster:
    tests/jobs/test_batch_endpoints.py.)"""
    from jupyter_mlws import Workspace

    ws = Workspace(lab.root_dir / ".mlws")
    try:
        ws.compute.create_cluster("batch-cpu", min_nodes=0, max_nodes=1)
        ep = ws.endpoints.deploy_batch(
            "churn-batch", "churn@production", target="batch-cpu", mini_batch_size=5
        )
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            await _open_tab(page, lab, "Endpoints")
            panel = page.locator("#mlws-sidebar")
            batch = panel.get_by_role("region", name="Batch endpoints")
            item = batch.get_by_role("listitem", name="Batch endpoint churn-batch")
            await expect(item).to_be_visible(timeout=15_000)
            scores = item.get_by_label("Scores")
            await expect(scores).to_contain_text("churn@production on batch-cpu · 5 per mini-batch")
            await expect(item.get_by_label("Last job")).to_have_text("no job yet")
            assert ep.keys.primary not in (await panel.inner_text())
            await item.scroll_into_view_if_needed()
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await panel.screenshot(path=str(SCREENSHOTS / "batch-endpoints.png"))
            ws.endpoints.delete_batch("churn-batch")
            await expect(item).to_have_count(0, timeout=15_000)
            await expect(batch).to_contain_text("None yet")
    finally:
        try:
            ws.endpoints.delete_batch("churn-batch")
        except Exception:
            pass
        ws.compute.delete_cluster("batch-cpu")
        ws.close()
