"""SweepDetails' state (no kernel) for a real sweep on a real cluster: live while it runs, then final.

One module-scoped Jupyter server with a Dask cluster of worker processes (tests/jobs/conftest.py)
runs a grid sweep of three trials of a trivial function with a Bandit policy: "bad" reports late
and low, so it is stopped early; "good" is the best. The widget is made while the sweep runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_mlws.errors import NotFound
from jupyter_mlws.sweep import BanditPolicy, choice

from ..jobs.conftest import CLUSTER, server, until, ws  # noqa: F401  (the server and workspace fixtures)

pytestmark = pytest.mark.timeout(300)

STEPS = 12


def curve(quality: str) -> None:
    """A trial: `acc` rises to its top over 12 steps; "bad" starts late (the others report first)."""
    import time

    import jupyter_mlws as mlws

    top = {"good": 0.9, "fine": 0.85, "bad": 0.2}[quality]
    if quality == "bad":
        time.sleep(4)
    for step in range(12):
        mlws.log_metric("acc", top * (step + 1) / 12, step=step)
        time.sleep(0.4 if quality == "bad" else 0.1)


@pytest.fixture(scope="module")
def sweep(ws: Any) -> Iterator[Any]:  # noqa: F811
    started = ws.jobs.sweep(
        curve,
        search_space={"quality": choice("good", "fine", "bad")},
        objective="acc",
        goal="maximize",
        sampling="grid",
        early_termination=BanditPolicy(slack_factor=0.1, delay_evaluation=3),
        max_concurrent_trials=3,
        target=CLUSTER,
        experiment="sweep-widget",
        name="quality sweep",
    )
    try:
        yield started
    finally:
        if not started.done:
            started.cancel()


def test_the_widget_follows_a_running_sweep_and_ends_with_every_trial(ws: Any, sweep: Any) -> None:  # noqa: F811
    from jupyter_mlws.widgets import SweepDetails

    widget = SweepDetails(sweep)
    try:
        assert widget.status in ("queued", "running") and widget.live and widget.polling
        assert widget.run_id == sweep.run_id and widget.sweep_id == sweep.id
        assert widget.name == "quality sweep" and widget.experiment == "sweep-widget"
        settings = (widget.objective, widget.goal, widget.sampling, widget.max_trials)
        assert settings == ("acc", "maximize", "grid", 3)
        assert widget.space == {"quality": "choice('good', 'fine', 'bad')"}

        # Live: a trial's points reach the widget while the sweep still runs.
        def seen_running() -> bool:
            return widget.status == "running" and any(c["x"] for c in widget.curves)

        until(seen_running, 120, "a trial's points while the sweep runs", explain=lambda: repr(widget.curves))
        until(lambda: not widget.polling, 240, "the sweep's end", explain=lambda: repr(widget))
        assert widget.status == "completed" and not widget.live and widget.error == ""

        trials = widget.trials
        assert [t["params"]["quality"] for t in trials] == ["good", "fine", "bad"], trials  # best first
        good, fine, bad = trials
        assert good["value"] == pytest.approx(0.9) and fine["value"] == pytest.approx(0.85)
        assert good["status"] == fine["status"] == "completed" and not good["stopped"]
        assert bad["stopped"] and bad["status"] == "canceled"
        assert bad["reason"].startswith("early termination: bandit slack 0.1 at step "), bad
        assert widget.best_run_id == good["run_id"] == sweep.best_run.id
        assert widget.best_value == pytest.approx(0.9)

        # Every trial's curve, in trial order; the stopped one is marked and shorter.
        assert [c["trial"] for c in widget.curves] == sorted(t["trial"] for t in trials)
        by_run = {c["run_id"]: c for c in widget.curves}
        assert by_run[good["run_id"]]["x"] == list(range(STEPS))
        assert by_run[good["run_id"]]["y"][-1] == pytest.approx(0.9)
        assert by_run[bad["run_id"]]["stopped"] and 0 < len(by_run[bad["run_id"]]["x"]) < STEPS
        assert not by_run[fine["run_id"]]["stopped"]

        # Best so far by trials ended (logged once a trial ended with a value): never worse, the best last.
        best = widget.best_series
        stored = ws.store.get_metric_history(sweep.run_id, "best_acc")
        assert best["x"] == list(stored.steps) and best["y"] == list(stored.values), best
        assert best["x"][-1] == 3 and best["x"] == sorted(set(best["x"]))
        assert best["y"] == sorted(best["y"]) and best["y"][-1] == pytest.approx(0.9)

        # What a saved notebook keeps: the synced state, as JSON.
        state = json.loads(json.dumps(widget.get_state()))
        assert len(state["trials"]) == 3 and len(state["curves"]) == 3 and state["status"] == "completed"
    finally:
        widget.close()
    assert not widget.polling


def test_the_widget_takes_the_job_id_the_run_id_or_the_run(ws: Any, sweep: Any) -> None:  # noqa: F811
    from jupyter_mlws.widgets import SweepDetails

    sweep.wait(240)
    shown = [
        SweepDetails(sweep.id, workspace=ws),
        SweepDetails(sweep.run_id, workspace=ws),
        SweepDetails(ws.get_run(sweep.run_id)),
    ]
    try:
        for widget in shown:
            assert widget.sweep_id == sweep.id and widget.run_id == sweep.run_id
            assert widget.status == "completed" and not widget.live and not widget.polling
            assert len(widget.trials) == 3 and len(widget.curves) == 3
            assert widget.trials[0]["run_id"] == widget.best_run_id
    finally:
        for widget in shown:
            widget.close()
    trial = sweep.trials()["run_id"][0]
    with pytest.raises(NotFound, match="not a sweep"):
        SweepDetails(trial, workspace=ws)
