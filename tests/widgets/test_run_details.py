"""RunDetails' state without a kernel: what a user sees of a run, and its live refresh."""

from __future__ import annotations

import pytest

from .conftest import wait_for

pytestmark = pytest.mark.timeout(60)


def test_a_finished_run_shows_status_params_metrics_logs_and_artifacts(workspace) -> None:
    from jupyter_mlws.widgets import RunDetails

    run = workspace.start_run(experiment="details", name="resnet")
    run.log_params({"lr": 0.01, "epochs": 3})
    for i in range(10):
        run.log_metrics({"loss": 1 / (i + 1), "acc": i / 10}, step=i)
    run.log_output("".join(f"line {i}\n" for i in range(500)))
    run.log_text("hello", "notes/readme.txt")
    run.end()
    details = RunDetails(run)
    try:
        assert details.name == "resnet" and details.experiment == "details"
        assert details.status == "completed"
        assert details.end_time is not None and details.end_time >= details.start_time
        assert details.params == {"lr": "0.01", "epochs": "3"}
        assert [s["key"] for s in details.series] == ["acc", "loss"]
        assert details.series[1]["x"] == list(range(10))
        assert details.metrics["loss"] == pytest.approx(0.1)
        lines = details.logs.splitlines()
        assert len(lines) == 200 and lines[-1] == "line 499" and lines[0] == "line 300"
        assert {"path": "notes/readme.txt", "size": 5} in details.artifacts
        assert not details.polling
    finally:
        details.close()


def test_a_running_run_is_followed_until_it_ends(workspace) -> None:
    from jupyter_mlws.widgets import RunDetails

    run = workspace.start_run(experiment="details", name="live")
    details = RunDetails(run.id, workspace=workspace)
    try:
        assert details.status == "running" and details.live and details.polling
        assert details.series == []
        for i in range(5):
            run.log_metric("loss", 1.0 / (i + 1), step=i)
        took = wait_for(lambda: details.series and len(details.series[0]["x"]) == 5, timeout=3)
        assert took < 1.0, f"a new metric key reached the widget after {took:.2f} s"
        run.log_output("epoch 1 done\n")
        run.end()
        wait_for(lambda: details.status == "completed", timeout=3)
        wait_for(lambda: not details.polling, timeout=3)
        assert "epoch 1 done" in details.logs
        assert not details.live
    finally:
        details.close()


def test_a_run_outside_a_kernel_displays_as_text(workspace) -> None:
    run = workspace.start_run(experiment="details", name="plain")
    run.end()
    bundle = run._repr_mimebundle_()
    assert bundle == {"text/plain": f"<Run {run.id} 'plain' completed>"}


def test_importing_the_widgets_package_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, jupyter_mlws.widgets as w; "
        "assert 'anywidget' not in sys.modules and 'ipywidgets' not in sys.modules; "
        "w.MetricChart; assert 'anywidget' in sys.modules; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_a_failing_live_refresh_is_shown_not_raised(workspace) -> None:
    from jupyter_mlws.widgets import RunDetails

    run = workspace.start_run(experiment="details", name="doomed")
    details = RunDetails(run)
    try:
        assert details.polling
        workspace.store.delete_run(run.id)  # the next refresh finds no run
        wait_for(lambda: not details.polling, timeout=3)
        assert details.error.startswith("Live updates stopped:") and run.id in details.error
        assert not details.live
    finally:
        details.close()


def test_mlws_widgets_and_models_resolve_after_a_plain_import(workspace) -> None:
    """`import jupyter_mlws as mlws; mlws.widgets.RunDetails(run)` as the docs show it (the
    package attribute is lazy like `mlws.models`, and `import jupyter_mlws` stays light)."""
    import subprocess
    import sys

    code = (
        "import sys, jupyter_mlws as mlws; assert 'anywidget' not in sys.modules; "
        "print(mlws.widgets.RunDetails.__name__, mlws.widgets.ModelRegistry.__name__, "
        "mlws.models.save_sklearn.__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["RunDetails", "ModelRegistry", "save_sklearn"], done.stderr
    import jupyter_mlws as mlws

    run = workspace.start_run(experiment="details", name="by-attribute")
    details = mlws.widgets.RunDetails(run)
    try:
        assert details.run_id == run.id
    finally:
        details.close()
        run.end()
