"""RunHistory's state without a kernel: sorting, filtering, paging, selection, compare and diff."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def history_runs(workspace):
    runs = []
    for i in range(7):
        run = workspace.start_run(experiment="sweep", name=f"run-{i}")
        run.log_params({"lr": f"0.{i}", "batch": "32", "opt": "adam" if i % 2 else "sgd"})
        for step in range(5):
            run.log_metric("loss", (i + 1) / (step + 1), step=step)
        run.end()
        runs.append(run)
    other = workspace.start_run(experiment="other", name="elsewhere")
    other.end()
    return runs


def _names(widget) -> list[str]:
    return [r["name"] for r in widget.rows]


def test_runs_of_the_experiment_with_metric_and_param_columns(workspace, history_runs) -> None:
    from jupyter_mlws.widgets import RunHistory

    table = RunHistory("sweep", workspace=workspace)
    assert sorted(_names(table)) == [f"run-{i}" for i in range(7)], "only the experiment's runs"
    assert table.columns == ["metrics.loss", "params.batch", "params.lr", "params.opt"]
    row = next(r for r in table.rows if r["name"] == "run-3")
    assert row["status"] == "completed"
    assert row["values"]["metrics.loss"] == pytest.approx(4 / 5)
    assert row["values"]["params.lr"] == "0.3"
    assert row["duration_ms"] is not None and row["duration_ms"] >= 0
    assert table.error == ""


def test_sorting_by_a_column(workspace, history_runs) -> None:
    from jupyter_mlws.widgets import RunHistory

    table = RunHistory("sweep", workspace=workspace)
    table.order_by = ["metrics.loss asc"]  # what a header click sends
    assert _names(table) == [f"run-{i}" for i in range(7)]
    table.order_by = ["metrics.loss desc"]
    assert _names(table) == [f"run-{i}" for i in reversed(range(7))]
    table.order_by = ["name asc"]
    assert _names(table)[0] == "run-0"


def test_filtering_and_a_bad_filter_shows_an_error_not_an_exception(workspace, history_runs) -> None:
    from jupyter_mlws.widgets import RunHistory

    table = RunHistory("sweep", order_by=["name asc"], workspace=workspace)
    table.filter = "params.opt = 'adam' and metrics.loss < 1"
    assert _names(table) == ["run-1", "run-3"]
    table.filter = "metrics.loss <<< 3"
    assert table.rows == []
    assert "Bad filter" in table.error
    table.filter = ""
    assert len(table.rows) == 7 and table.error == ""
    missing = RunHistory("no-such-experiment", workspace=workspace)
    assert "no experiment named 'no-such-experiment'" in missing.error


def test_paging_forward_and_back(workspace, history_runs) -> None:
    from jupyter_mlws.widgets import RunHistory

    table = RunHistory("sweep", order_by=["name asc"], page_size=3, workspace=workspace)
    assert _names(table) == ["run-0", "run-1", "run-2"] and table.has_next
    table.page = 1
    assert _names(table) == ["run-3", "run-4", "run-5"] and table.has_next
    table.page = 2
    assert _names(table) == ["run-6"] and not table.has_next
    table.page = 0
    assert _names(table) == ["run-0", "run-1", "run-2"]
    table.page = 2
    table.filter = "name != 'run-0'"  # a new query starts on page 1
    assert table.page == 0 and _names(table) == ["run-1", "run-2", "run-3"]


def test_selecting_runs_fills_the_compare_chart_and_the_param_diff(workspace, history_runs) -> None:
    from jupyter_mlws.widgets import RunHistory

    table = RunHistory("sweep", order_by=["name asc"], workspace=workspace)
    table.selected = [history_runs[1].id]
    assert table.compare_series == [] and table.param_diff == []
    table.selected = [history_runs[1].id, history_runs[2].id, history_runs[3].id]
    assert table.compare_metric == "loss"
    assert [s["run_name"] for s in table.compare_series] == ["run-1", "run-2", "run-3"]
    assert table.compare_series[2]["y"][0] == pytest.approx(4.0)
    # batch is the same everywhere: only lr and opt differ.
    assert table.param_diff == [
        {"param": "lr", "values": ["0.1", "0.2", "0.3"]},
        {"param": "opt", "values": ["adam", "sgd", "adam"]},
    ]
    table.selected = []
    assert table.compare_series == [] and table.param_diff == []
