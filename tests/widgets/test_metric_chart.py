"""MetricChart's state without a kernel: series in traits, downsampling, the live thread."""

from __future__ import annotations

import math

import pytest

from .conftest import wait_for

pytestmark = pytest.mark.timeout(60)


def _finished_run(workspace, name: str, n: int, scale: float = 1.0):
    run = workspace.start_run(experiment="charts", name=name)
    for i in range(n):
        run.log_metric("loss", scale / (i + 1), step=i)
        run.log_metric("acc", i / max(n, 1), step=i)
    run.end()
    return run


def test_series_of_two_runs_and_two_metrics_are_in_the_traits(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    a = _finished_run(workspace, "a", 50)
    b = _finished_run(workspace, "b", 30, scale=2.0)
    chart = MetricChart([a, b.id], ["loss", "acc"], workspace=workspace)
    try:
        labels = [(s["run_name"], s["key"]) for s in chart.series]
        assert labels == [("a", "loss"), ("a", "acc"), ("b", "loss"), ("b", "acc")]
        loss_b = chart.series[2]
        assert loss_b["x"] == list(range(30))
        assert loss_b["y"][0] == pytest.approx(2.0) and loss_b["y"][-1] == pytest.approx(2.0 / 30)
        assert loss_b["total"] == 30
        assert chart.metrics == ["loss", "acc"]
        assert not chart.live and not chart.polling, "ended runs need no live thread"
        # The state a saved notebook keeps is plain JSON.
        state = chart.get_state()
        assert state["series"][0]["y"][:2] == [1.0, 0.5]
    finally:
        chart.close()


def test_time_axis_is_in_seconds_and_non_finite_values_are_gaps(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    run = workspace.start_run(experiment="charts", name="t")
    run.log_metric("loss", 1.0, step=0, timestamp=1_700_000_000_000)
    run.log_metric("loss", float("nan"), step=1, timestamp=1_700_000_001_500)
    run.end()
    chart = MetricChart(run, "loss", x="time", workspace=workspace)
    try:
        (series,) = chart.series
        assert series["x"] == [1_700_000_000.0, 1_700_000_001.5]
        assert series["y"][0] == 1.0 and series["y"][1] is None
    finally:
        chart.close()


def test_long_histories_are_downsampled_to_max_points(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    run = workspace.start_run(experiment="charts", name="long")
    run.workspace.store.log_batch(
        run.id, metrics=[("loss", math.sin(i / 100), i, 1_700_000_000_000 + i) for i in range(20_000)]
    )
    run.end()
    chart = MetricChart(run, ["loss"], max_points=500, workspace=workspace)
    try:
        (series,) = chart.series
        assert 2 <= len(series["x"]) <= 500
        assert series["total"] == 20_000
        assert series["x"][0] == 0 and series["x"][-1] == 19_999, "the ends are kept"
        assert series["x"] == sorted(series["x"])
    finally:
        chart.close()


def test_the_live_thread_appends_new_points_within_a_second_and_stops_at_the_end(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    run = workspace.start_run(experiment="charts", name="live")
    run.log_metric("loss", 1.0, step=0)
    chart = MetricChart(run, "loss", workspace=workspace)
    try:
        assert chart.live and chart.polling
        assert len(chart.series[0]["x"]) == 1
        for step in range(1, 6):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        took = wait_for(lambda: len(chart.series[0]["x"]) == 6, timeout=3)
        assert took < 1.0, f"new points reached the chart after {took:.2f} s"
        assert chart.series[0]["x"] == [0, 1, 2, 3, 4, 5]
        assert chart.series[0]["total"] == 6
        run.log_metric("loss", 0.01, step=6)
        run.end()
        wait_for(lambda: not chart.polling, timeout=3)
        assert not chart.live
        assert chart.series[0]["x"][-1] == 6, "the points logged just before the end are kept"
    finally:
        chart.close()


def test_closing_the_widget_stops_the_live_thread(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    run = workspace.start_run(experiment="charts", name="closed")
    run.log_metric("loss", 1.0, step=0)
    chart = MetricChart(run, "loss", workspace=workspace)
    try:
        assert chart.polling
        chart.close()
        wait_for(lambda: not chart.polling, timeout=3)
    finally:
        run.end()


def test_live_points_past_max_points_are_read_again_downsampled(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    run = workspace.start_run(experiment="charts", name="grow")
    run.log_metric("loss", 1.0, step=0)
    chart = MetricChart(run, "loss", max_points=100, workspace=workspace)
    try:
        run.workspace.store.log_batch(
            run.id, metrics=[("loss", 1.0 / i, i, 1_700_000_000_000 + i) for i in range(1, 1000)]
        )
        wait_for(lambda: chart.series[0]["total"] == 1000, timeout=3)
        assert len(chart.series[0]["x"]) <= 100
        assert chart.series[0]["x"][-1] == 999
    finally:
        run.end()
        chart.close()


def test_zooming_reads_the_detail_of_the_window(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    run = workspace.start_run(experiment="charts", name="zoom")
    for start in range(0, 100_000, 50_000):
        batch = [("loss", float(i % 997), i, 1_700_000_000_000 + i) for i in range(start, start + 50_000)]
        run.workspace.store.log_batch(run.id, metrics=batch)
    run.end()
    chart = MetricChart(run, "loss", max_points=200, workspace=workspace)
    try:
        overview = chart.series[0]["x"]
        assert sum(1 for x in overview if 1000 <= x <= 2000) < 10
        # What the front end sends after a drag across the chart.
        chart._on_message(chart, {"type": "zoom", "x0": 2000.0, "x1": 1000.0}, [])
        assert chart.window is not None and (chart.window["x0"], chart.window["x1"]) == (1000.0, 2000.0)
        (detail,) = chart.window["series"]
        inside = [x for x in detail["x"] if 1000 <= x <= 2000]
        assert 150 <= len(inside) and len(detail["x"]) <= 200
        assert detail["x"][0] <= 1000 and detail["x"][-1] >= 2000, (
            "one point past each edge keeps the line whole"
        )
        assert max(detail["y"]) == 996.0, "the window keeps its peaks"
        assert chart.series[0]["x"] == overview, "the overview is unchanged"
        chart._on_message(chart, {"type": "zoom", "x0": None, "x1": None}, [])
        assert chart.window is None
    finally:
        chart.close()
