"""The chart options of the widgets (x axis, smoothing, log y, group by): widget state, validated."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(60)

T0 = 1_700_000_000_000


def _run(workspace, name: str, optimizer: str | None, start_offset_ms: int = 0):
    run = workspace.start_run(experiment="options", name=name)
    if optimizer is not None:
        run.log_params({"optimizer": optimizer, "lr": 0.01})
    for i in range(20):
        run.log_metric("loss", 1.0 / (i + 1), step=i, timestamp=T0 + start_offset_ms + 500 * i)
    run.end()
    return run


def test_metric_chart_options_are_widget_state_and_reach_the_front_end(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    a = _run(workspace, "a", "adam")
    chart = MetricChart(a, "loss", smoothing=0.6, log_y=True, x="wall_time", workspace=workspace)
    try:
        state = chart.get_state()
        # What a saved notebook keeps and a reopened one draws with.
        assert (state["x"], state["smoothing"], state["log_y"], state["group_by"]) == (
            "wall_time",
            0.6,
            True,
            None,
        )
        assert state["series"][0]["x"][:2] == [(T0) / 1000.0, (T0 + 500) / 1000.0]
        assert state["group_keys"] == ["params.lr", "params.optimizer"]
    finally:
        chart.close()


def test_changing_the_x_axis_reads_the_series_again(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    a = _run(workspace, "a", "adam")
    chart = MetricChart(a, "loss", workspace=workspace)
    try:
        assert chart.series[0]["x"][:3] == [0, 1, 2]
        chart.x = "relative_time"  # what the chart's X axis menu sets
        start = workspace.get_run(a.id).info.start_time
        xs = chart.series[0]["x"]
        assert xs[1] - xs[0] == pytest.approx(0.5)
        assert xs[0] == pytest.approx((T0 - start) / 1000.0)
        chart.x = "time"  # the older name of wall_time is still understood
        assert chart.x == "wall_time" and chart.series[0]["x"][0] == T0 / 1000.0
    finally:
        chart.close()


def test_group_by_labels_each_series_with_its_group(workspace) -> None:
    from jupyter_mlws.widgets import MetricChart

    runs = [
        _run(workspace, "a", "adam"),
        _run(workspace, "b", "adam"),
        _run(workspace, "c", "sgd"),
        _run(workspace, "d", None),
    ]
    chart = MetricChart(runs, "loss", group_by="params.optimizer", workspace=workspace)
    try:
        assert [s["group"] for s in chart.series] == [
            "optimizer = adam",
            "optimizer = adam",
            "optimizer = sgd",
            "(none)",
        ]
        chart.group_by = None
        assert {s["group"] for s in chart.series} == {None}
        chart.group_by = "tags.team"  # a tag no run has: every run in "(none)"
        assert {s["group"] for s in chart.series} == {"(none)"}
    finally:
        chart.close()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("x", "epoch", "x must be one of 'step', 'wall_time', 'relative_time', not 'epoch'"),
        ("smoothing", 1.0, "smoothing must be from 0 to 0.99"),
        ("smoothing", -0.1, "smoothing must be from 0 to 0.99"),
        ("group_by", "optimizer", "group_by must be 'params.<name>' or 'tags.<name>'"),
    ],
)
def test_bad_options_are_refused_with_the_reason(workspace, option, value, message) -> None:
    from jupyter_mlws.widgets import MetricChart

    a = _run(workspace, "a", "adam")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MetricChart(a, "loss", workspace=workspace, **{option: value})
    chart = MetricChart(a, "loss", workspace=workspace)
    try:
        before = chart.get_state()
        with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)")):
            setattr(chart, option, value)
        after = chart.get_state()
        assert {k: after[k] for k in ("x", "smoothing", "group_by", "series")} == {
            k: before[k] for k in ("x", "smoothing", "group_by", "series")
        }, "a refused option leaves the chart as it was"
    finally:
        chart.close()


def test_run_details_and_run_history_take_the_same_options(workspace) -> None:
    from jupyter_mlws.widgets import RunDetails, RunHistory

    a = _run(workspace, "a", "adam")
    b = _run(workspace, "b", "sgd")
    details = RunDetails(a, x="relative_time", smoothing=0.8, log_y=True, workspace=workspace)
    history = RunHistory(
        "options", workspace=workspace, smoothing=0.5, group_by="params.optimizer", x="wall_time"
    )
    try:
        state = details.get_state()
        assert (state["x"], state["smoothing"], state["log_y"]) == ("relative_time", 0.8, True)
        loss = next(s for s in details.series if s["key"] == "loss")
        assert loss["x"][1] - loss["x"][0] == pytest.approx(0.5)
        history.selected = [a.id, b.id]
        assert [s["group"] for s in history.compare_series] == ["optimizer = adam", "optimizer = sgd"]
        assert history.compare_series[0]["x"][0] == T0 / 1000.0
        assert "params.optimizer" in history.group_keys
        history.group_by = None
        assert [s["group"] for s in history.compare_series] == [None, None]
    finally:
        details.close()
        history.close()
