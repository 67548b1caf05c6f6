"""The run view (main area), opened from a run link in a notebook output.

Real JupyterLab + a real kernel + Debian's Chromium (Playwright). A run is
created through the Python API in the lab's workspace; a notebook cell
displays the run card's link (`<a data-mlws-run=...>`, the HTML a `%%mlrun`
cell shows); clicking it (or pressing Enter on it) opens the run in a
main-area tab, and the run's end, written from Python, reaches the view live.
Runs finished by a loop in a notebook raise one toast per outcome that counts
them ("4 runs completed"), whose buttons open the newest run or compare them.

Saves `run-view.png` into $MLWS_SCREENSHOT_DIR (default build/screenshots);
`make screenshots` points it at docs/images for the README.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import expect

from .conftest import SCREENSHOTS, LabServer, chromium, open_sidebar, run_cell, write_notebook

UNKNOWN_RUN = "0123456789abcdef0123456789abcdef"


def _card_notebook(path: Path, run_id: str) -> None:
    """A notebook whose one cell displays the run card's link, as `%%mlrun` does."""
    source = (
        "from IPython.display import HTML\n"
        f'HTML(\'<div class="mlws-run-card" data-mlws-run="{run_id}"><span class="name">resnet</span> · '
        f'<a class="mlws-run-link" data-mlws-run="{run_id}" href="#">Open in ML Workspace</a></div>\')'
    )
    write_notebook(path, [("card-cell", source)])


async def test_a_run_link_in_an_output_opens_the_run_live(lab: LabServer) -> None:
    from jupyter_mlws import Workspace

    workspace = Workspace(lab.root_dir / ".mlws")
    run = workspace.start_run(
        experiment="cards",
        name="resnet-baseline",
        tags={"team": "vision", "note": "<i>not markup</i>"},
        source_kind="notebook",
        notebook_path="card.ipynb",
        cell_id="card-cell",
    )
    try:
        run.log_params({"learning_rate": "0.01", "epochs": 3})
        run.log_metric("loss", 0.25, step=1)
        # Azure ML's loggers: an image from an array, and a table a row at a time.
        run.log_image("confusion", [[0.0, 1.0], [1.0, 0.0]])
        run.log_row("per_class", label="cat", f1=0.91)
        run.log_row("per_class", label="dog", f1=0.87)
        workspace.flush()
        _card_notebook(lab.root_dir / "card.ipynb", run.id)

        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1280, "height": 720})
            await page.goto(f"{lab.url}/lab/tree/card.ipynb?token={lab.token}", wait_until="domcontentloaded")
            await run_cell(page)

            # Executed output is trusted: the data attribute survives rendering.
            link = page.locator(f'.jp-OutputArea a[data-mlws-run="{run.id}"]')
            await expect(link).to_be_visible(timeout=30_000)
            await expect(link).to_have_text("Open in ML Workspace")
            # The card's text is no link: clicking it opens nothing.
            await page.locator(".jp-OutputArea .mlws-run-card .name").click()
            await expect(page.locator("#mlws-sidebar")).to_be_hidden()
            tabs = page.locator("#jp-main-dock-panel .lm-TabBar-tab")
            tabs_before = await tabs.count()
            # A mark on the page: a navigation or reload would lose it.
            await page.evaluate("window.__mlwsStay = true")

            await link.click()
            main = page.locator("#jp-main-dock-panel")
            view = main.get_by_role("region", name="Run resnet-baseline")
            await expect(view.get_by_role("heading", name="resnet-baseline")).to_be_visible(timeout=15_000)
            status = view.get_by_role("status")
            await expect(status).to_have_text("running")
            details = view.get_by_label("Run details")
            for shown in ("cards", "notebook", "card.ipynb", "card-cell", run.id):
                await expect(details).to_contain_text(shown)
            params = view.get_by_role("table", name="Parameters")
            await expect(params.get_by_role("row", name="learning_rate")).to_contain_text("0.01")
            await expect(params.get_by_role("row", name="epochs")).to_contain_text("3")
            await expect(view.get_by_role("table", name="Latest metrics")).to_contain_text("loss")
            tags = view.get_by_role("table", name="Tags")
            await expect(tags).to_contain_text("vision")
            await expect(tags).to_contain_text("<i>not markup</i>")
            assert await view.locator("i").count() == 0, "user input is shown as text, never as HTML"
            # log_image's PNG shows as an image, log_row's table as a table.
            artifacts = view.get_by_role("region", name="Artifacts")
            await artifacts.get_by_role("button", name="images/confusion.png").click()
            image = view.get_by_role("region", name="Preview of images/confusion.png").get_by_role("img")
            await expect(image).to_be_visible(timeout=15_000)
            await page.wait_for_function(
                "img => img.complete && img.naturalWidth > 0", arg=await image.element_handle()
            )
            await artifacts.get_by_role("button", name="tables/per_class.json").click()
            table = view.get_by_role("region", name="Preview of tables/per_class.json").get_by_role("table")
            await expect(table.get_by_role("row").first).to_contain_text("label")
            await expect(table.get_by_role("row").first).to_contain_text("f1")
            await expect(table.get_by_role("row", name="dog")).to_contain_text("0.87")
            await expect(table.get_by_role("row")).to_have_count(3)
            # The click opened the run's tab, nothing else, and navigated nowhere.
            assert await tabs.count() == tabs_before + 1
            await expect(main.get_by_role("tab", name="Run resnet-baseline")).to_be_visible()
            # (JupyterLab's router shows /lab while a non-document tab is in front.)
            assert await page.evaluate("window.__mlwsStay === true")
            assert "#" not in page.url

            # The end of the run, written by another process, reaches the panel without a reload.
            run.end("completed")
            await expect(status).to_have_text("completed", timeout=15_000)
            await expect(details).not_to_contain_text("so far")

            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "run-view.png"))

            # Back to the notebook, then open the run again from the keyboard: the
            # run's tab comes back to the front, no second tab is opened.
            await main.get_by_role("tab", name="card.ipynb").click()
            await expect(view).to_be_hidden()
            await link.focus()
            await page.keyboard.press("Enter")
            await expect(view.get_by_role("status")).to_have_text("completed", timeout=15_000)
            assert await tabs.count() == tabs_before + 1
    finally:
        if run.status == "running":
            run.end("killed", "test cleanup")
        workspace.close()


async def test_open_run_with_an_unknown_id_says_so(lab: LabServer) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        # `reset`: a fresh layout, not the notebook the other test left open.
        await page.goto(f"{lab.url}/lab?reset&token={lab.token}", wait_until="domcontentloaded")
        await expect(page.locator('.jp-SideBar [data-id="mlws-sidebar"]')).to_be_visible(timeout=60_000)
        await expect(page.locator(".jp-Launcher")).to_be_visible(timeout=30_000)
        # The command from the palette asks for the run id.
        await page.keyboard.press("Control+Shift+C")
        palette = page.locator(".lm-CommandPalette-input")
        await palette.fill("Open Run in ML Workspace")
        await expect(page.locator(".lm-CommandPalette-item.lm-mod-active")).to_contain_text(
            "Open Run in ML Workspace"
        )
        await palette.press("Enter")
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("Run id", timeout=10_000)
        await dialog.locator("input").fill(UNKNOWN_RUN)
        await dialog.locator("input").press("Enter")
        alert = page.locator("#jp-main-dock-panel").get_by_role("alert")
        await expect(alert).to_contain_text(f"The run {UNKNOWN_RUN} could not be shown", timeout=15_000)
        await expect(alert).to_contain_text(f"Run '{UNKNOWN_RUN}' does not exist.")


LOOP_CELL = """\
import jupyter_mlws as mlws
for i in range(4):
    with mlws.start_run(experiment="loop", name=f"loop-{i}"):
        mlws.log_metric("loss", 1.0 / (i + 1), step=0)
for i in range(2):
    try:
        with mlws.start_run(experiment="loop", name=f"broken-{i}"):
            raise ValueError("diverged")
    except ValueError:
        pass
print("loop done")
"""


async def test_runs_finished_in_a_loop_raise_one_toast_per_outcome(lab: LabServer) -> None:
    write_notebook(lab.root_dir / "loop.ipynb", [("loop-cell", LOOP_CELL)])
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        # As slow as a busy CI machine: the toasts' updates come while the first
        # toast is still entering, which once left "Run loop-0 completed" alone.
        cdp = await page.context.new_cdp_session(page)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": 8})
        url = f"{lab.url}/lab/tree/loop.ipynb?reset&token={lab.token}"
        await page.goto(url, wait_until="domcontentloaded")
        await run_cell(page)
        await expect(page.locator(".jp-OutputArea").first).to_contain_text("loop done", timeout=120_000)
        toasts = page.locator(".Toastify__toast")
        completed = toasts.filter(has_text="completed")
        failed = toasts.filter(has_text="failed")
        # One toast per outcome, counting the runs and naming the newest last
        # (the runs' answers come in any order; the toast lists them as they started).
        named = r'^4 runs completed: "loop-1", "loop-2", "loop-3" and 1 more'
        await expect(completed).to_have_text(re.compile(named), timeout=30_000)
        await expect(failed).to_have_text(
            re.compile(r'^2 runs failed: "broken-0", "broken-1"'), timeout=30_000
        )
        await expect(toasts).to_have_count(2)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
        # Its buttons: compare the runs, or open the newest.
        await completed.get_by_role("button", name="Compare").click()
        main = page.locator("#jp-main-dock-panel")
        await expect(main.get_by_label("Run comparison")).to_contain_text("Comparing 4 runs", timeout=15_000)
        await failed.get_by_role("button", name="Open latest").click()
        view = main.get_by_role("region", name="Run broken-1")
        await expect(view.get_by_role("status")).to_have_text("failed", timeout=15_000)


async def test_compare_view_shows_code_cells_environment_and_outputs(lab: LabServer, tmp_path: Path) -> None:
    """Two runs of the same notebook compared in the panel: what changed in the code, the cells
    (an image side by side), the environment and the log, with the parts that did not change left out."""
    import json as json_

    from jupyter_mlws import Workspace
    from jupyter_mlws.client.environment import capture_environment, record_environment
    from jupyter_mlws.client.snapshot import take_snapshot

    from ..repro.notebooks import code_cell, notebook, png

    workspace = Workspace(lab.root_dir / ".mlws")
    project = tmp_path / "project"
    project.mkdir()
    env = capture_environment()
    try:
        for name, lr, shade, numpy in (("diff-a", "0.1", 20, "2.1.0"), ("diff-b", "0.2", 220, "2.2.0")):
            (project / "train.py").write_text(f"lr = {lr}\nepochs = 3\n")
            nb = notebook(
                [
                    code_cell("fit", f"model = fit(lr={lr})", stdout=f"trained with lr={lr}\n", count=1),
                    code_cell("plot", "plot(model)", image=png(shade, size=64), count=2),
                ]
            )
            (project / "analysis.ipynb").write_text(json_.dumps(nb))
            run = workspace.start_run(experiment="diffs", name=name)
            run.log_params({"lr": lr, "epochs": 3})
            run.log_text(f"final loss {lr}\n", "logs/output.txt")
            record_environment(run, env={**env, "packages": {"numpy": numpy}})
            take_snapshot(run, project, notebook_path=str(project / "analysis.ipynb"))
            run.end()
        workspace.flush()

        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            panel = await open_sidebar(page, lab)
            entry = panel.get_by_label("Experiments").get_by_role("listitem").filter(has_text="diffs")
            await entry.get_by_role("button", name="diffs").click()
            rows = panel.get_by_role("table", name="Runs table").locator("tbody tr")
            await expect(rows).to_have_count(2, timeout=15_000)
            await rows.filter(has_text="diff-a").get_by_role("checkbox").check()
            await rows.filter(has_text="diff-b").get_by_role("checkbox").check()
            await panel.get_by_role("button", name="Compare (2)").click()
            compare = page.locator("#jp-main-dock-panel").get_by_label("Code, environment and outputs")
            await expect(compare).to_be_visible(timeout=15_000)
            code = compare.get_by_label("Code", exact=True)
            await expect(code.locator(".jp-mlws-diff-add")).to_contain_text(["+lr = 0.2"])
            await expect(code.locator(".jp-mlws-diff-del")).to_contain_text(["-lr = 0.1"])
            cells = compare.get_by_label("Notebook cells")
            await expect(cells).to_contain_text("fit")
            await expect(cells.locator(".jp-mlws-diff-add")).to_contain_text(
                ["+model = fit(lr=0.2)", "+trained with lr=0.2"]
            )
            images = cells.locator(".jp-mlws-diff-images img")
            await expect(images).to_have_count(2)
            for image in await images.all():  # both decoded and drawn
                assert await image.evaluate("img => img.complete && img.naturalWidth > 0")
            environment = compare.get_by_label("Environment diff")
            await expect(environment).to_contain_text("package numpy")
            await expect(environment).to_contain_text("upgraded")
            outputs = compare.get_by_label("Outputs (artifacts and logs)")
            await expect(outputs).to_contain_text("logs/output.txt")
            await expect(outputs.locator(".jp-mlws-diff-add")).to_contain_text(["+final loss 0.2"])
            await expect(compare.get_by_label("Tags")).to_have_count(0)  # the tags did not change
            await compare.scroll_into_view_if_needed()
            await page.screenshot(path=str(SCREENSHOTS / "run-diff.png"))
    finally:
        workspace.close()


async def test_replay_button_and_out_of_order_note(lab: LabServer, tmp_path: Path) -> None:
    """A run's view offers Replay: pressing it starts a replay on the server, whose verdict shows
    when it ends; a run that read names out of order says so in its Code section."""
    from jupyter_mlws import Workspace
    from jupyter_mlws.client.snapshot import take_snapshot

    workspace = Workspace(lab.root_dir / ".mlws")
    tags = {"mlws.execution_count": 2, "mlws.out_of_order": "lr: cell id setup (cell 3), below"}
    try:
        with workspace.start_run("replays", "replay-me", tags=tags) as run:
            run.log_text("lr 0.1\n", "logs/output.txt")
            run.log_text("print('lr', lr)\n", "code/cell.py")
            take_snapshot(run, tmp_path, history=[(1, "lr = 0.1"), (2, "print('lr', lr)")])
        workspace.flush()
        async with chromium() as browser:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            panel = await open_sidebar(page, lab)
            await panel.get_by_label("Experiments").get_by_role("button", name="replays").click()
            await panel.get_by_role("button", name="replay-me", exact=True).click()
            view = page.locator("#jp-main-dock-panel").get_by_role("region", name="Run replay-me")
            note = view.get_by_role("note", name="Out of order")
            await expect(note).to_contain_text("lr: cell id setup (cell 3), below", timeout=15_000)
            section = view.get_by_label("Replay", exact=True)
            await section.get_by_role("button", name="Replay").click()
            replays = section.get_by_role("list", name="Replays of this run")
            await expect(replays.locator("li").first).to_have_attribute(
                "data-verdict", "reproduced", timeout=120_000
            )
            await expect(replays).to_contain_text("reproduced")
            await expect(section.get_by_role("button", name="Replay")).to_be_enabled(timeout=20_000)
    finally:
        workspace.close()
