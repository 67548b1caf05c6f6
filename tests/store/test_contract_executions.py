"""Store contract: run owners (host, pid, kernel id) and recorded cell executions, on every backend."""

from __future__ import annotations

import pytest

from jupyter_mlws.entities import CellExecution
from jupyter_mlws.errors import InvalidParameter, NotFound
from jupyter_mlws.validation import EXECUTION_SOURCE_MAX

T0 = 1_700_000_000_000


def _run(store, **owner):
    exp = store.get_or_create_experiment("nb")
    return store.create_run(exp.experiment_id, **owner).info.run_id


def test_run_owner_is_stored_and_read_back(store) -> None:
    run_id = _run(store, host="node-1", pid=4242, kernel_id="3f6c0a1e-kernel")
    info = store.get_run_info(run_id)
    assert (info.host, info.pid, info.kernel_id) == ("node-1", 4242, "3f6c0a1e-kernel")
    searched = store.search_runs(filter=f"run_id = '{run_id}'").runs[0]
    assert (searched.host, searched.pid, searched.kernel_id) == ("node-1", 4242, "3f6c0a1e-kernel")
    plain = store.get_run_info(_run(store))
    assert (plain.host, plain.pid, plain.kernel_id) == (None, None, None)


def test_bad_owner_is_refused(store) -> None:
    exp = store.get_or_create_experiment("nb")
    with pytest.raises(InvalidParameter, match="pid"):
        store.create_run(exp.experiment_id, pid=-3)
    assert store.search_runs().runs == []


def test_running_runs_lists_only_running(store) -> None:
    a, b = _run(store), _run(store)
    store.end_run(b, "completed")
    assert [r.run_id for r in store.running_runs()] == [a]


def test_executions_round_trip_newest_first_and_filtered(store) -> None:
    run_id = _run(store)
    batch = [
        CellExecution("x = 1", T0, 3, run_id=run_id, notebook_path="a.ipynb", cell_id="c1", execution_count=1),
        CellExecution(
            "1/0", T0 + 10, 5, status="error", error="ZeroDivisionError: division by zero",
            notebook_path="a.ipynb", cell_id="c2", execution_count=2, kernel_id="k",
        ),
        CellExecution("print(2)", T0 + 20, 1, notebook_path="b.ipynb", execution_count=1),
    ]
    assert store.record_executions(batch) == 3
    found = store.list_executions()
    assert [e.source for e in found] == ["print(2)", "1/0", "x = 1"]
    assert all(e.execution_id is not None for e in found)
    failed = found[1]
    assert (failed.status, failed.error, failed.kernel_id, failed.cell_id) == (
        "error", "ZeroDivisionError: division by zero", "k", "c2",
    )
    assert [e.source for e in store.list_executions(run_id=run_id)] == ["x = 1"]
    assert [e.source for e in store.list_executions(notebook_path="a.ipynb")] == ["1/0", "x = 1"]
    assert [e.source for e in store.list_executions(kernel_id="k")] == ["1/0"]
    assert len(store.list_executions(limit=1)) == 1


def test_a_bad_execution_stores_nothing_of_its_batch(store) -> None:
    good = CellExecution("ok", T0, 1)
    with pytest.raises(InvalidParameter, match="status"):
        store.record_executions([good, CellExecution("bad", T0, 1, status="weird")])
    with pytest.raises(InvalidParameter, match="duration_ms"):
        store.record_executions([good, CellExecution("bad", T0, -1)])
    with pytest.raises(NotFound):
        store.record_executions([good, CellExecution("bad", T0, 1, run_id="f" * 32)])
    assert store.list_executions() == []


def test_huge_source_is_cut_with_a_visible_marker(store) -> None:
    store.record_executions([CellExecution("a" * (EXECUTION_SOURCE_MAX + 10), T0, 1)])
    (found,) = store.list_executions()
    assert found.source.startswith("a" * 1000) and "90 more characters not recorded" in found.source


def test_deleting_a_run_deletes_its_executions(store) -> None:
    run_id = _run(store)
    store.record_executions([CellExecution("x", T0, 1, run_id=run_id), CellExecution("y", T0, 1)])
    store.delete_run(run_id)
    assert [e.source for e in store.list_executions()] == ["y"]


def test_a_second_ending_keeps_the_first_reason_and_end_time(store) -> None:
    run_id = _run(store)
    first = store.end_run(run_id, "killed", "kernel culled after 600 s idle")
    again = store.end_run(run_id, "killed", "kernel shut down")
    assert again.status_reason == "kernel culled after 600 s idle"
    assert again.end_time == first.end_time
    assert store.get_run_info(run_id).status_reason == "kernel culled after 600 s idle"
