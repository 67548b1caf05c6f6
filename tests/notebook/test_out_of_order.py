"""Out-of-order warnings at `%%mlrun` time, in a real kernel, as a JupyterLab user meets them.

The kernel gets execute requests with the cell ids (and `deletedCells`) JupyterLab sends; the saved
notebook is written to the path the kernel knows as its notebook (`$JPY_SESSION_NAME`), as
JupyterLab's save does. The card's line and the run tag `mlws.out_of_order` are what is checked.
"""

from __future__ import annotations

import json
import time

from .conftest import Kernel, store_of, wait_for

TAG = "mlws.out_of_order"


def save(kernel: Kernel, cells: list[tuple[str, str]]) -> None:
    """Save the notebook with these (id, source) code cells, in this order, as JupyterLab does."""
    time.sleep(0.02)  # a save after the cells ran, on any file system clock
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "id": cid,
                "cell_type": "code",
                "metadata": {},
                "execution_count": None,
                "source": src,
                "outputs": [],
            }
            for cid, src in cells
        ],
    }
    kernel.notebook.write_text(json.dumps(notebook))


def tags_of(kernel: Kernel, run_id: str) -> dict[str, str]:
    store = store_of(kernel.folder)
    try:
        return dict(wait_for(lambda: store.get_run(run_id), what="the run").data.tags)
    finally:
        store.close()


def test_a_name_set_by_a_cell_below_is_named_on_the_card_and_the_run(kernel: Kernel) -> None:
    train = "%%mlrun -n train\nmodel = fit(lr)"
    save(kernel, [("train", train), ("setup", "lr = 0.1\nfit = lambda v: v * 2")])
    kernel.ok("lr = 0.1\nfit = lambda v: v * 2", cell_id="setup")
    reply = kernel.ok(train, cell_id="train")
    card = reply.final_card()
    assert "Out of order (as saved): reads fit from cell 2 (a cell below this one); lr from cell 2" in card
    assert (
        tags_of(kernel, reply.run_id)[TAG]
        == "fit: cell id setup (cell 2), below; lr: cell id setup (cell 2), below"
    )

    # the same cells in notebook order: no warning, no tag
    save(kernel, [("setup", "lr = 0.1\nfit = lambda v: v * 2"), ("train", train)])
    reply = kernel.ok(train, cell_id="train")
    assert "Out of order" not in reply.final_card()
    assert TAG not in tags_of(kernel, reply.run_id)


def test_a_cell_edited_or_deleted_since_it_ran(kernel: Kernel) -> None:
    kernel.ok("threshold = 0.5", cell_id="thr")
    kernel.ok("labels = ['a', 'b']", cell_id="lab")
    use = "%%mlrun -n score\nscore = (threshold, labels)"
    # since they ran: "thr" was edited (and saved), "lab" deleted (the save lacks it)
    save(kernel, [("thr", "threshold = 0.9"), ("score", use)])
    reply = kernel.ok(use, cell_id="score")
    assert (
        "labels from cell id lab (a cell since deleted); threshold from cell 1 (a cell edited since it ran)"
        in (reply.final_card())
    )
    assert (
        tags_of(kernel, reply.run_id)[TAG]
        == "labels: cell id lab, deleted; threshold: cell id thr (cell 1), edited"
    )

    # running the edited cell again makes its value current: only the deleted one is left
    kernel.ok("threshold = 0.9", cell_id="thr")
    reply = kernel.ok(use, cell_id="score")
    assert tags_of(kernel, reply.run_id)[TAG] == "labels: cell id lab, deleted"


def test_jupyterlab_deleted_cells_count_before_any_save(kernel: Kernel) -> None:
    kernel.ok("rows = 100", cell_id="rows-cell")
    save(kernel, [("rows-cell", "rows = 100"), ("use-rows", "%%mlrun\nn = rows")])
    # the user deletes "rows-cell"; JupyterLab says so with the next request, before saving
    kernel.ok("pass", cell_id="other", deleted_cells=["rows-cell"])
    reply = kernel.ok("%%mlrun\nn = rows", cell_id="use-rows")
    assert tags_of(kernel, reply.run_id)[TAG] == "rows: cell id rows-cell, deleted"


def test_what_is_not_out_of_order(kernel: Kernel) -> None:
    loop = "%%mlrun -n loop\nstep = step + 1 if 'step' in dir() else 0\nprint(len(data))"
    save(kernel, [("data-cell", "data = [1, 2]"), ("loop", loop)])
    kernel.ok("data = [1, 2]", cell_id="data-cell")
    for _ in range(2):  # reading its own earlier value (step) is iteration, not order
        reply = kernel.ok(loop, cell_id="loop")
        assert TAG not in tags_of(kernel, reply.run_id)
    # names defined inside the cell, imports, builtins and function locals are not reads
    body = "%%mlrun\nimport math\ndef f(v):\n    w = v * 2\n    return math.sqrt(w) + len(str(w))\nr = f(3)"
    reply = kernel.ok(body, cell_id="self-contained")
    assert TAG not in tags_of(kernel, reply.run_id) and "Out of order" not in reply.final_card()


def test_what_a_mlrun_cell_sets_counts_too(kernel: Kernel) -> None:
    use = "%%mlrun -n use\nscore = model * 2"
    fit = "%%mlrun -n fit\nmodel = 3"
    save(kernel, [("old-model", "model = 1"), ("use-model", use), ("fit-model", fit)])
    kernel.ok("model = 1", cell_id="old-model")
    kernel.ok(fit, cell_id="fit-model")  # the %%mlrun cell below sets it last
    reply = kernel.ok(use, cell_id="use-model")
    assert tags_of(kernel, reply.run_id)[TAG] == "model: cell id fit-model (cell 3), below"
