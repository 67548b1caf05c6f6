"""The sidebar's runs table (issue 21, item 3), used as a user would, in Chromium.

One lab for the module and two experiments made through the Python API (another process,
as a script would): `cols` for the saved column sets, `grid` for sorting, grouping, the
parent ▸ children fold and the selection's colours. Each test opens its experiment
afresh (a new layout), so the tests do not depend on their order.

- Saved column sets: name the shown columns (metrics, a param), save, switch, delete; a new
  page (the browser's state gone) opens with the set used last, read from the server.
- Group by a param: headers "lr = 0.01 (2)" in value order with "(none)" last, foldable.
- Sort by a param column: the numbers order as numbers once every run is loaded.
- A job's parent run folds its child runs, and a child folds its own (depth 2).
- The swatch next to a selected run's checkbox has the colour the charts give it: the
  palette in the order the runs were selected.

Saves `runs-table.png` and `runs-table-columns.png` (the Columns menu open) into
$MLWS_SCREENSHOT_DIR (default build/screenshots).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from .checks import check_layout_at_widths, set_sidebar_width
from .conftest import SCREENSHOTS, LabServer, chromium, open_sidebar

#: The first colours of labextension/src/common/runColours.ts RUN_PALETTE.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c"]


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def workspace(lab: LabServer) -> Iterator[Any]:
    """The lab's workspace with both experiments' runs, all ended."""
    from jupyter_mlws import Workspace

    ws = Workspace(lab.root_dir / ".mlws")
    for name, loss, acc in (("first", 0.5, 0.7), ("second", 0.25, 0.9)):
        run = ws.start_run(experiment="cols", name=name)
        run.log_params({"lr": "0.01" if name == "first" else "0.1", "optimizer": "adam"})
        run.log_metric("loss", loss, step=0)
        run.log_metric("acc", acc, step=0)
        run.end("completed")
    # grid: three runs with params, then a job's parent run with two children, one of which
    # has a child of its own. `batch` orders differently as text ("128" < "16" < "8").
    for name, lr, batch in (("alpha", "0.01", "16"), ("beta", "0.01", "128"), ("gamma", "0.1", "8")):
        run = ws.start_run(experiment="grid", name=name)
        run.log_params({"lr": lr, "batch": batch})
        run.log_metric("loss", float(batch) / 100, step=0)
        run.end("completed")
    parent = ws.start_run(experiment="grid", name="job-parent", source_kind="job")
    first = ws.start_run(experiment="grid", name="child-1", parent=parent)
    grandchild = ws.start_run(experiment="grid", name="grandchild", parent=first)
    grandchild.end("completed")
    first.end("completed")
    second = ws.start_run(experiment="grid", name="child-2", parent=parent)
    second.end("completed")
    parent.end("completed")
    ws.flush()
    yield ws


async def _open_experiment(page: Page, lab: LabServer, name: str, rows: int) -> Locator:
    """A fresh layout, the panel, then experiment `name`'s runs table once it shows `rows` rows."""
    panel = await open_sidebar(page, lab)
    entry = panel.get_by_label("Experiments").get_by_role("listitem").filter(has_text=name)
    await entry.get_by_role("button", name=name, exact=True).click(timeout=15_000)
    table = panel.get_by_role("table", name="Runs table")
    await expect(table.locator("tbody tr")).to_have_count(rows, timeout=15_000)
    return panel


async def _row_names(table: Locator) -> list[str]:
    """The run names in the order the table shows them (group headers left out)."""
    return [n.strip() for n in await table.locator("tr[data-run-id] th .jp-mlws-linkish").all_inner_texts()]


def _column_sets(workspace: Any, experiment: str) -> tuple[dict[str, list[str]], str]:
    """The saved sets and the last used one, as the server stored them."""
    tags = workspace.store.get_experiment_by_name(experiment).tags
    return json.loads(tags.get("mlws.ui.column_sets", "{}")), tags.get("mlws.ui.column_set", "")


async def test_a_saved_column_set_is_on_the_server_and_opens_on_a_new_page(
    lab: LabServer, workspace: Any
) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        panel = await _open_experiment(page, lab, "cols", 2)
        table = panel.get_by_role("table", name="Runs table")
        head = table.locator("thead")
        await expect(head).to_contain_text("acc")
        # Open the Columns menu: metrics, params and tags are all offered.
        menu = panel.locator("summary", has_text="Columns")
        await menu.click()
        await expect(panel.get_by_role("group", name="Params")).to_be_visible()
        await panel.get_by_role("checkbox", name="params.lr").check()
        await panel.get_by_role("checkbox", name="metrics.acc").uncheck()
        await expect(head).to_contain_text("params.lr")
        await expect(head).not_to_contain_text("acc")
        await expect(table.locator("tbody tr").filter(has_text="second")).to_contain_text("0.1")
        # Save it as "lr view".
        await panel.get_by_role("textbox", name="Column set name").fill("lr view")
        await panel.get_by_role("button", name="Save", exact=True).click()
        await expect(menu).to_have_text("Columns: lr view")
        sets = panel.get_by_role("list", name="Saved column sets")
        await expect(sets.get_by_role("button", name="lr view", exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        # A second set, with the params only; then back to the first.
        await panel.get_by_role("checkbox", name="metrics.loss").uncheck()
        await panel.get_by_role("checkbox", name="params.optimizer").check()
        await expect(sets.get_by_role("listitem").filter(has_text="lr view")).to_contain_text("(changed)")
        await panel.get_by_role("textbox", name="Column set name").fill("params only")
        await panel.get_by_role("button", name="Save", exact=True).click()
        await expect(menu).to_have_text("Columns: params only")
        await expect(head).not_to_contain_text("loss")
        await sets.get_by_role("button", name="lr view", exact=True).click()
        await expect(menu).to_have_text("Columns: lr view")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await panel.screenshot(path=str(SCREENSHOTS / "runs-table-columns.png"))
        await expect(head).to_contain_text("loss")
        await expect(head).not_to_contain_text("optimizer")
        saved, last = _column_sets(workspace, "cols")
        assert saved == {
            "lr view": ["metrics.loss", "params.lr"],
            "params only": ["params.lr", "params.optimizer"],
        }, saved
        assert last == "lr view"

    # A new browser, so nothing of the last page's state is left: the set used last is back.
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        panel = await _open_experiment(page, lab, "cols", 2)
        head = panel.get_by_role("table", name="Runs table").locator("thead")
        menu = panel.locator("summary", has_text="Columns")
        await expect(menu).to_have_text("Columns: lr view", timeout=10_000)
        await expect(head).to_contain_text("params.lr")
        await expect(head).to_contain_text("loss")
        await expect(head).not_to_contain_text("acc")
        # Delete the other set: gone from the menu and from the server.
        await menu.click()
        await panel.get_by_role("button", name="Delete column set params only").click()
        sets = panel.get_by_role("list", name="Saved column sets")
        await expect(sets.get_by_role("listitem")).to_have_count(1)
        await expect(sets).not_to_contain_text("params only")
        saved, last = _column_sets(workspace, "cols")
        assert saved == {"lr view": ["metrics.loss", "params.lr"]} and last == "lr view"
        # An empty name is refused with a message, nothing saved.
        await panel.get_by_role("button", name="Save", exact=True).click()
        await expect(panel.get_by_role("alert")).to_contain_text("Give the column set a name")
        assert _column_sets(workspace, "cols")[0] == saved


async def test_grouping_by_a_param_shows_each_value_with_its_count(lab: LabServer, workspace: Any) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        panel = await _open_experiment(page, lab, "grid", 7)
        table = panel.get_by_role("table", name="Runs table")
        await panel.get_by_role("combobox", name="Group by").select_option("params.lr")
        headers = table.locator("tr.jp-mlws-group-row")
        # Value order, numbers as numbers, the runs without the param last.
        await expect(headers).to_have_count(3)
        await expect(headers).to_contain_text(["lr = 0.01 (2)", "lr = 0.1 (1)", "(none) (4)"])
        rows = table.locator("tbody tr[data-run-id]")
        await expect(rows).to_have_count(7)
        # The job's tree stays folded together inside "(none)", children newest first like the table.
        none_group = table.locator("tbody").filter(
            has=page.locator("tr.jp-mlws-group-row", has_text="(none)")
        )
        assert await _row_names(none_group) == ["job-parent", "child-2", "child-1", "grandchild"]
        # A group folds and unfolds.
        await table.get_by_role("button", name="Hide the 2 runs of lr = 0.01").click()
        await expect(rows).to_have_count(5)
        await expect(rows.filter(has_text="alpha")).to_have_count(0)
        await table.get_by_role("button", name="Show the 2 runs of lr = 0.01").click()
        await expect(rows).to_have_count(7)
        # Back to no groups.
        await panel.get_by_role("combobox", name="Group by").select_option("")
        await expect(headers).to_have_count(0)


async def test_sorting_by_a_param_column_orders_the_numbers_as_numbers(
    lab: LabServer, workspace: Any
) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1600, "height": 900})
        panel = await _open_experiment(page, lab, "grid", 7)
        table = panel.get_by_role("table", name="Runs table")
        await panel.locator("summary", has_text="Columns").click()
        await panel.get_by_role("checkbox", name="params.batch").check()
        await panel.locator("summary", has_text="Columns").click()
        sort = table.get_by_role("button", name="Sort by params.batch")
        await expect(sort).to_have_attribute("title", "Sort by params.batch: " + _PARAM_NOTE)
        await sort.click()
        header = table.get_by_role("columnheader", name="Sort by params.batch")
        await expect(header).to_have_attribute("aria-sort", "ascending")
        # 8 < 16 < 128 (as text the server gives "128" < "16" < "8"); the runs without it last.
        await expect(table.locator("tbody tr[data-run-id]").first).to_contain_text("gamma")
        names = await _row_names(table)
        assert names[:3] == ["gamma", "alpha", "beta"], names
        await sort.click()
        await expect(header).to_have_attribute("aria-sort", "descending")
        await expect(table.locator("tbody tr[data-run-id]").first).to_contain_text("beta")
        names = await _row_names(table)
        assert names[:3] == ["beta", "alpha", "gamma"], names
        # Duration is sortable too, over the loaded runs (it says so).
        duration = table.get_by_role("button", name="Sort by Duration (loaded runs only)")
        await duration.click()
        await expect(table.get_by_role("columnheader", name="Sort by Duration")).to_have_attribute(
            "aria-sort", "ascending"
        )
        await expect(table.locator("tbody tr[data-run-id]")).to_have_count(7)


_PARAM_NOTE = "the server orders all runs as text; as numbers once every run is loaded and all are numbers"


async def test_a_job_parent_folds_its_children_two_levels_deep(lab: LabServer, workspace: Any) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        panel = await _open_experiment(page, lab, "grid", 7)
        await set_sidebar_width(page, 520)
        table = panel.get_by_role("table", name="Runs table")
        rows = table.locator("tbody tr[data-run-id]")
        names = await _row_names(table)
        at = names.index("job-parent")
        assert names[at : at + 4] == ["job-parent", "child-2", "child-1", "grandchild"], names
        fold_parent = table.get_by_role("button", name="Hide the 2 child runs of job-parent")
        fold_child = table.get_by_role("button", name="Hide the 1 child run of child-1")
        await expect(fold_parent).to_have_attribute("aria-expanded", "true")
        await expect(fold_child).to_have_attribute("aria-expanded", "true")
        # Each level one step further in.
        xs = {}
        for name in ("job-parent", "child-2", "grandchild"):
            box = await table.get_by_role("button", name=name, exact=True).bounding_box()
            assert box is not None
            xs[name] = box["x"]
        parent_fold = await fold_parent.bounding_box()
        assert parent_fold is not None
        assert parent_fold["x"] + 12 < xs["child-2"] < xs["grandchild"] - 12, (parent_fold, xs)
        await expect(rows.filter(has_text="grandchild")).to_have_attribute("data-depth", "2")
        # Fold the child: its own child goes; fold the parent: both children go.
        await fold_child.click()
        await expect(rows).to_have_count(6)
        await expect(rows.filter(has_text="grandchild")).to_have_count(0)
        await fold_parent.click()
        await expect(rows).to_have_count(4)
        await table.get_by_role("button", name="Show the 2 child runs of job-parent").click()
        await expect(rows).to_have_count(6)
        await table.get_by_role("button", name="Show the 1 child run of child-1").click()
        await expect(rows).to_have_count(7)


async def test_swatches_follow_the_order_runs_were_selected_in(
    lab: LabServer, workspace: Any, tmp_path: Any
) -> None:
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        panel = await _open_experiment(page, lab, "grid", 7)
        table = panel.get_by_role("table", name="Runs table")

        def swatch(name: str) -> Locator:
            return table.get_by_role("img", name=f"colour of {name} in charts")

        async def expect_colour(name: str, colour: str) -> None:
            await expect(swatch(name)).to_have_attribute("data-colour", colour)
            await expect(swatch(name)).to_have_css("background-color", _rgb(colour))

        await expect(table.get_by_role("img")).to_have_count(0)
        for name in ("gamma", "alpha", "beta"):
            await table.get_by_role("checkbox", name=f"Select {name}").check()
        await expect(panel.get_by_role("button", name="Compare (3)")).to_be_enabled()
        for name, colour in zip(("gamma", "alpha", "beta"), PALETTE, strict=True):
            await expect_colour(name, colour)
        # Unselect the first: the others move up one colour; select it again: it comes last.
        await table.get_by_role("checkbox", name="Select gamma").uncheck()
        await expect(swatch("gamma")).to_have_count(0)
        await expect_colour("alpha", PALETTE[0])
        await expect_colour("beta", PALETTE[1])
        await table.get_by_role("checkbox", name="Select gamma").check()
        await expect_colour("gamma", PALETTE[2])

        # The picture for the docs: groups, a folded tree, swatches, a param column.
        await panel.get_by_role("combobox", name="Group by").select_option("params.lr")
        await panel.locator("summary", has_text="Columns").click()
        await panel.get_by_role("checkbox", name="params.batch").check()
        await panel.locator("summary", has_text="Columns").click()
        await check_layout_at_widths(page, panel, "runs-table", tmp_path)
        await set_sidebar_width(page, 560)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await panel.screenshot(path=str(SCREENSHOTS / "runs-table.png"))
