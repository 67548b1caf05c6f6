"""Whole notebooks: executed by nbclient (as papermill and `jupyter execute` do), and run out of order.

A notebook with several `%%mlrun` cells records one run per cell, each with the notebook's
path, its cell's id and number; the saved outputs hold each card in its final state; a
failing cell fails the run and the execution. Running cells out of the notebook's order is
recorded as a warning on the run's snapshot.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook

import jupyter_mlws as mlws
from jupyter_mlws.client.snapshot import snapshot_files

from .conftest import Kernel


def _notebook(path: Path, cells: list[tuple[str, str]], tags: dict[str, list[str]] | None = None):
    nb = new_notebook(cells=[new_code_cell(source, id=cell_id) for cell_id, source in cells])
    for cell in nb.cells:
        cell.metadata["tags"] = (tags or {}).get(cell.id, [])
    nbformat.write(nb, path)
    return nb


def _execute(nb, folder: Path, notebook: Path) -> NotebookClient:
    env = {**os.environ, "MLWS_WORKSPACE": str(folder / "ws"), "JPY_SESSION_NAME": str(notebook)}
    env.pop("MLWS_RUN_ID", None)
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(folder)}}
    )
    client.execute(env=env)
    return client


def _runs_by_cell(folder: Path) -> dict[str, mlws.Run]:
    ws = mlws.Workspace(folder / "ws")
    frame = ws.runs()
    runs = [ws.get_run(run_id) for run_id in frame["run_id"]]
    return {run.info.cell_id: run for run in runs}


def test_an_executed_notebook_records_one_run_per_mlrun_cell(tmp_path: Path) -> None:
    notebook = tmp_path / "train.ipynb"
    nb = _notebook(
        notebook,
        [
            ("setup", "%load_ext jupyter_mlws\nimport jupyter_mlws as mlws"),
            ("prep", "data = [1, 2, 3]"),
            (
                "train",
                "%%mlrun -n train\nloss = sum(data) / 10\nmlws.log_metric('loss', loss)\nprint('trained')",
            ),
            ("evaluate", "%%mlrun -n evaluate --log-vars score\nscore = 0.75\nscore"),
            ("broken", "%%mlrun -n broken\nraise RuntimeError('nope')"),
            ("after", "print('the notebook went on')"),
        ],
        tags={"broken": ["raises-exception"]},
    )
    _execute(nb, tmp_path, notebook)

    runs = _runs_by_cell(tmp_path)
    assert set(runs) == {"train", "evaluate", "broken"}
    for cell in nb.cells:
        if cell.id not in runs:
            continue
        run = runs[cell.id]
        info = run.info
        assert info.notebook_path == str(notebook) and info.source_kind == "notebook"
        assert run.tags["mlws.execution_count"] == str(cell.execution_count)
        assert run.tags["mlws.cell_id"] == cell.id
        # the saved output holds the card in its final state, with the link to the run
        html = next(o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {}))
        assert f'data-status="{info.status.value}"' in html and f'data-mlws-run="{info.run_id}"' in html
    assert runs["train"].info.status.value == "completed" and runs["train"].metrics == {"loss": 0.6}
    assert "trained" in runs["train"].logs()
    assert runs["evaluate"].metrics == {"score": 0.75}
    evaluate_cell = next(c for c in nb.cells if c.id == "evaluate")
    assert any(o.get("data", {}).get("text/plain") == "0.75" for o in evaluate_cell.outputs)
    assert runs["broken"].info.status.value == "failed"
    assert "RuntimeError: nope" in runs["broken"].logs()
    broken_cell = next(c for c in nb.cells if c.id == "broken")
    assert any(o["output_type"] == "error" and o["ename"] == "RuntimeError" for o in broken_cell.outputs)
    # every run is in the notebook's experiment, named after the notebook
    ws = mlws.Workspace(tmp_path / "ws")
    assert set(ws.runs()["experiment"]) == {"train"}
    # the snapshot holds the saved notebook; cells ran in order: no warning
    assert "mlws.snapshot.warning" not in runs["evaluate"].tags
    assert "train.ipynb" in set(snapshot_files(runs["evaluate"])["path"])


def test_a_failing_cell_stops_the_execution_and_fails_its_run(tmp_path: Path) -> None:
    notebook = tmp_path / "fails.ipynb"
    nb = _notebook(
        notebook,
        [
            ("setup", "%load_ext jupyter_mlws"),
            ("boom", "%%mlrun -n boom\nimport sys\nprint('about to exit')\nsys.exit(3)"),
            ("never", "print('never runs')"),
        ],
    )
    with pytest.raises(CellExecutionError, match="SystemExit"):
        _execute(nb, tmp_path, notebook)
    (run,) = _runs_by_cell(tmp_path).values()
    assert run.info.status.value == "failed" and run.info.status_reason == "SystemExit: 3"
    assert "about to exit" in run.logs()
    assert nb.cells[2].outputs == []


def test_cells_run_out_of_order_are_recorded_as_a_snapshot_warning(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    _notebook(
        notebook,
        [("first", "%%mlrun -n first\nx = 1"), ("second", "%%mlrun -n second\ny = 2")],
    )
    kernel = Kernel(tmp_path)
    try:
        kernel.ok("%load_ext jupyter_mlws")
        in_order = kernel.ok("%%mlrun -n first\nx = 1", cell_id="first").run_id
        kernel.ok("%%mlrun -n second\ny = 2", cell_id="second")
        out_of_order = kernel.ok("%%mlrun -n first\nx = 1", cell_id="first").run_id
        ws_reads = "w = mlws.Workspace()\nprint(w.get_run({!r}).tags.get('mlws.snapshot.warning'))"
        kernel.ok("import jupyter_mlws as mlws")
        assert kernel.ok(ws_reads.format(in_order)).stdout.strip() == "None"
        warning = kernel.ok(ws_reads.format(out_of_order)).stdout
        assert "out of notebook order" in warning and "cell 1 (id first) ran after cell 2" in warning
        history = kernel.ok(f"print(mlws.get_run({out_of_order!r}).info.cell_id)").stdout.strip()
        assert history == "first"
    finally:
        kernel.close()
