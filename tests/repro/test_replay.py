"""`run.replay()` on the replay corpus (tests/repro/corpus.py), in real kernels.

Each case is recorded as a user records it: a real kernel runs the cells with their cell ids (as
JupyterLab sends them), the notebook is saved with the outputs the kernel sent, and the last cell is
the `%%mlrun` cell whose run is replayed. The replay runs in a fresh kernel from the run's snapshot;
its verdict, first diverging cell and likely cause must be the case's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jupyter_mlws as mlws

from ..notebook.conftest import Kernel, store_of, wait_for
from .corpus import CASES, Case


def save(kernel: Kernel, case: Case, ran: dict[str, tuple[int | None, list]]) -> None:
    """Save the notebook with the outputs so far, as JupyterLab does (its save before a cell runs)."""
    cells = [
        {
            "id": cid,
            "cell_type": "code",
            "metadata": {},
            "source": case.edit.get(cid, src) if cid in ran else src,
            "execution_count": ran.get(cid, (None, []))[0],
            "outputs": ran.get(cid, (None, []))[1],
        }
        for cid, src in case.cells
    ]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = {"nbformat": 4, "nbformat_minor": 5, "cells": cells, "metadata": {"kernelspec": kernelspec}}
    kernel.notebook.write_text(json.dumps(notebook))


def record(folder: Path, case: Case) -> str:
    """Run the case's cells in a kernel, saving the notebook before each, as a user does; the run's id."""
    for name, text in case.files.items():
        (folder / name).write_text(text)
    sources = dict(case.cells)
    kernel = Kernel(folder)
    run_id = None
    try:
        kernel.execute("%load_ext jupyter_mlws")
        ran: dict[str, tuple[int | None, list]] = {}
        for cell_id in case.order or [c for c, _ in case.cells]:
            save(kernel, case, ran)
            reply = kernel.execute(sources[cell_id], cell_id=cell_id, timeout=120)
            ran[cell_id] = (reply.execution_count, reply.outputs)
            if sources[cell_id].startswith("%%mlrun"):
                run_id = reply.run_id
        if run_id is not None:
            # as a user keeps the kernel open: the run's background ending (log, snapshot, status)
            # has written everything before the kernel stops, not in its bounded exit drain
            store = store_of(folder)
            try:
                wait_for(lambda: store.get_run_info(run_id).status.is_terminal, 60, "the run to end")
            finally:
                store.close()
    finally:
        kernel.close(graceful=True)  # the recorder writes the executions it holds
    assert run_id is not None
    return run_id


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_replay_verdicts(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # both kernels with their own hash seeds, as two kernels started by hand have: Dask's nannies
    # pin PYTHONHASHSEED for their workers, and an environment that pins it makes set order
    # reproducible (a replay then rightly says so)
    monkeypatch.setenv("PYTHONHASHSEED", "random")
    run_id = record(tmp_path, case)
    ws = mlws.Workspace(str(tmp_path / "ws"))
    try:
        run = ws.get_run(run_id)
        result = run.replay(timeout=120)
        detail = result.summary()
        assert result.verdict == case.verdict, detail
        assert result.first_diverging_cell == case.first, detail
        if case.cause is None:
            assert result.cause is None, detail
        else:
            assert result.cause is not None and case.cause in result.cause, detail
        child = result.run
        tags = child.tags
        assert child.info.parent_run_id == run_id and child.info.source_kind == "replay"
        assert tags["mlws.replay.verdict"] == case.verdict and tags["mlws.replay.of"] == run_id
        assert child.status == "completed"
    finally:
        ws.close()
