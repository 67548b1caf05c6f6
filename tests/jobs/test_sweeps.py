"""`ws.jobs.sweep` (issue 18): trials are jobs on a real cluster (Dask worker processes), Optuna
samples and prunes, the sweep is a parent run and each trial a child run with its values as params."""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.errors import InvalidParameter, NotFound
from jupyter_mlws.sweep import BanditPolicy, choice, loguniform

from .conftest import CLUSTER


def score(depth: int, opt: str) -> None:
    import jupyter_mlws as mlws

    mlws.log_metric("score", -abs(depth - 5) + (0.5 if opt == "adam" else 0.0), step=0)


def curve(quality: str) -> None:
    import time

    import jupyter_mlws as mlws

    top = {"good": 0.9, "fine": 0.88, "bad": 0.3}[quality]
    if quality == "bad":
        # Bandit compares with the other trials' values: let them report first (on two nodes,
        # the second may start seconds after the first)
        time.sleep(4)
    for step in range(12):
        mlws.log_metric("acc", top * (step + 1) / 12, step=step)
        time.sleep(0.4 if quality == "bad" else 0.1)


def silent(x: int) -> None:
    print("no objective here", x)


def test_a_grid_sweep_runs_every_point_as_a_child_run_and_finds_the_best(ws: Any, project: Path) -> None:
    sweep = ws.jobs.sweep(
        score,
        search_space={"depth": choice(3, 5, 7), "opt": choice("adam", "sgd")},
        objective="score",
        goal="maximize",
        sampling="grid",
        max_trials=50,  # the grid has 6 points: that many trials
        max_concurrent_trials=2,
        target=CLUSTER,
        experiment="grid-sweep",
        name="depth-and-optimizer",
    )
    sweep.wait(240)
    table = sweep.trials()
    assert len(table) == 6 and set(table["status"]) == {"completed"}, table
    assert sorted(zip(table["params.depth"], table["params.opt"], strict=True)) == sorted(
        product((3, 5, 7), ("adam", "sgd"))
    )
    assert list(table["score"]) == sorted(table["score"], reverse=True)  # best first
    best = sweep.best_run
    assert best is not None and best.params == {"depth": "5", "opt": "adam"}
    parent = ws.get_run(sweep.run_id)
    assert parent.status == "completed" and parent.info.name == "depth-and-optimizer"
    assert parent.metrics["best_score"] == 0.5 and parent.tags["mlws.sweep.best_run"] == best.id
    assert parent.params["search_space.depth"] == "choice(3, 5, 7)"
    children = [ws.get_run(r) for r in table["run_id"]]
    assert all(c.info.parent_run_id == sweep.run_id and c.status == "completed" for c in children)
    # never more than max_concurrent_trials at once
    spans = sorted((c.info.start_time, c.info.end_time) for c in children)
    for start, _ in spans:
        assert sum(1 for s, e in spans if s <= start < e) <= 2


def test_bandit_stops_a_bad_trial_and_the_good_ones_finish(ws: Any, project: Path) -> None:
    sweep = ws.jobs.sweep(
        curve,
        search_space={"quality": choice("good", "fine", "bad")},
        objective="acc",
        sampling="grid",
        early_termination=BanditPolicy(slack_factor=0.1, delay_evaluation=3),
        max_concurrent_trials=3,
        target=CLUSTER,
        experiment="bandit-sweep",
    )
    sweep.wait(240)
    table = sweep.trials().set_index("params.quality")
    assert table.loc["good", "status"] == table.loc["fine", "status"] == "completed", table
    assert table.loc["bad", "status"] == "canceled", table
    reason = table.loc["bad", "reason"]
    assert reason.startswith("early termination: bandit slack 0.1 at step "), reason
    bad = ws.get_run(table.loc["bad", "run_id"])
    assert bad.tags["mlws.sweep.stopped"] == reason
    job = ws.jobs.get(bad.tags["mlws.job.id"]).wait(60)
    assert job.status == "canceled" and bad.status == "canceled"  # its process was killed
    assert job.reason == reason and ws.get_run(bad.id).info.status_reason == reason  # in words
    history = bad.metric_history("acc")
    assert len(history) < 12, "the bad trial ran to its end"
    # ended (its process killed, its run ended) within 1 s of the point that decided it
    step = int(reason.split(" at step ")[1].split(",")[0])
    series = ws.store.get_metric_history(bad.id, "acc")
    decided = dict(zip(list(series.steps), list(series.timestamps), strict=True))[step]
    waited = ws.get_run(bad.id).info.end_time - int(decided)
    assert waited <= 1000, f"the stopped trial's run ended {waited} ms after its deciding point"
    assert sweep.best_run is not None and sweep.best_run.params == {"quality": "good"}


def test_a_trial_that_never_logs_the_objective_fails_with_that_reason(ws: Any, project: Path) -> None:
    sweep = ws.jobs.sweep(
        silent,
        search_space={"x": choice(1)},
        objective="loss",
        goal="minimize",
        max_trials=1,
        target=CLUSTER,
        experiment="silent-sweep",
    )
    sweep.wait(120)
    row = sweep.trials().iloc[0]
    assert row["status"] == "failed" and row["reason"] == "the objective 'loss' was never logged"
    assert sweep.best_run is None
    assert ws.get_run(row["run_id"]).tags["mlws.sweep.failed"] == row["reason"]


def test_bad_sweeps_are_refused_before_anything_is_created(ws: Any, project: Path) -> None:
    before = len(ws.runs())
    space = {"lr": loguniform(1e-4, 1e-1)}
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"sampling": "genetic"}, InvalidParameter, "sampling must be one of"),
        ({"sampling": "grid"}, InvalidParameter, "continuous"),
        ({"objective": ""}, InvalidParameter, "objective is the name"),
        ({"goal": "up"}, InvalidParameter, "maximize"),
        ({"max_trials": 0}, InvalidParameter, "max_trials"),
        ({"max_concurrent_trials": True}, InvalidParameter, "max_concurrent_trials"),
        ({"early_termination": "bandit"}, InvalidParameter, "a policy from jupyter_mlws.sweep"),
        ({"search_space": {"lr": 0.1}}, InvalidParameter, "not a distribution"),
        ({"search_space": {}}, InvalidParameter, "non-empty"),
        ({"timeout": "soon"}, InvalidParameter, "timeout"),
        ({"target": "nope"}, NotFound, "nope"),
        ({"trial": ["python", "train.py", "--lr", "${{search_space.rate}}"]}, InvalidParameter, "'rate'"),
        ({"trial": 42}, InvalidParameter, "trial is a function"),
    ]
    for options, error, words in cases:
        given: dict[str, Any] = {
            "trial": score,
            "search_space": space,
            "objective": "score",
            "target": CLUSTER,
            "experiment": "bad-sweeps",
            **options,
        }
        trial = given.pop("trial")
        with pytest.raises(error) as caught:
            ws.jobs.sweep(trial, **given)
        assert words in str(caught.value), (options, str(caught.value))
    assert len(ws.runs()) == before, "no run was left behind"
