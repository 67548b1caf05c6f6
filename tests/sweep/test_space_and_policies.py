"""Search spaces and early termination policies (issue 18, first part): what users write is checked
at once, sampled by real Optuna studies, and the policies stop what Azure ML's would stop."""

from __future__ import annotations

import math

import optuna
import pytest

from jupyter_mlws.errors import InvalidParameter
from jupyter_mlws.sweep import (
    ASHA,
    BanditPolicy,
    MedianStoppingPolicy,
    TruncationSelectionPolicy,
    check_space,
    choice,
    grid_space,
    lognormal,
    loguniform,
    normal,
    qloguniform,
    quniform,
    randint,
    suggest,
    uniform,
)
from jupyter_mlws.sweep.space import parse

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _draws(space: dict, n: int = 300, seed: int = 0) -> list[dict]:
    checked = check_space(space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    drawn: list[dict] = []

    def objective(trial: optuna.Trial) -> float:
        drawn.append(suggest(trial, checked))
        return 0.0

    study.optimize(objective, n_trials=n)
    return drawn


def test_every_distribution_draws_within_its_definition() -> None:
    draws = _draws(
        {
            "lr": loguniform(1e-4, 1e-1),
            "n": choice(10, 100),
            "depth": randint(2, 10),
            "dropout": uniform(0, 0.5),
            "units": quniform(16, 130, 16),
            "batch": qloguniform(8, 512, 8),
            "shift": normal(3.0, 0.5),
            "scale": lognormal(0.0, 1.0),
            "upper": randint(4),
        }
    )
    assert all(1e-4 <= d["lr"] <= 1e-1 for d in draws)
    # log-uniform: about as many draws below 1e-2.5 as above (a uniform draw would put ~97% above)
    below = sum(d["lr"] < 10**-2.5 for d in draws) / len(draws)
    assert 0.35 < below < 0.65
    assert {d["n"] for d in draws} == {10, 100}
    assert {d["depth"] for d in draws} == set(range(2, 10))  # high is exclusive
    assert {d["upper"] for d in draws} == {0, 1, 2, 3}  # Azure ML's randint(upper)
    assert all(0 <= d["dropout"] <= 0.5 for d in draws)
    assert {d["units"] for d in draws} <= {16.0, 32.0, 48.0, 64.0, 80.0, 96.0, 112.0, 128.0}
    assert len({d["units"] for d in draws}) == 8
    assert all(d["batch"] % 8 == 0 and 8 <= d["batch"] <= 512 for d in draws)
    shifts = [d["shift"] for d in draws]
    mean = sum(shifts) / len(shifts)
    sd = math.sqrt(sum((x - mean) ** 2 for x in shifts) / len(shifts))
    assert abs(mean - 3.0) < 0.1 and abs(sd - 0.5) < 0.1
    logs = sorted(math.log(d["scale"]) for d in draws)
    assert (
        all(d["scale"] > 0 for d in draws) and abs(logs[len(logs) // 2]) < 0.3
    )  # median of exp(N(0,1)) is 1


def test_bad_distributions_are_refused_when_written() -> None:
    cases = [
        (lambda: choice(), "at least one"),
        (lambda: choice([]), "at least one"),
        (lambda: choice(1, 1), "repeat"),
        (lambda: choice({"a": 1}), "numbers, strings"),
        (lambda: uniform(1, 1), "low must be below high"),
        (lambda: uniform(2, 1), "low must be below high"),
        (lambda: uniform(0, math.inf), "finite"),
        (lambda: loguniform(0, 1), "above 0"),
        (lambda: loguniform(-4, -1), "exponents"),
        (lambda: randint(5, 5), "empty"),
        (lambda: randint(1.5, 3), "whole number"),
        (lambda: quniform(0, 1, 0), "q must be above 0"),
        (lambda: quniform(0.1, 0.2, 1), "no multiple"),
        (lambda: normal(0, 0), "sigma"),
        (lambda: lognormal(0, -1), "sigma"),
    ]
    for make, words in cases:
        with pytest.raises(InvalidParameter, match=words):
            make()


def test_a_space_is_checked_whole_and_written_as_text() -> None:
    with pytest.raises(InvalidParameter, match="non-empty dict"):
        check_space({})
    with pytest.raises(InvalidParameter, match="not a distribution"):
        check_space({"lr": 0.1})
    with pytest.raises(InvalidParameter, match="valid parameter name"):
        check_space({"bad name": uniform(0, 1)})
    assert check_space({"opt": ["adam", "sgd"]})["opt"] == choice("adam", "sgd")  # a list is a choice
    assert parse("loguniform(1e-4, 1e-1)") == loguniform(1e-4, 1e-1)
    assert parse("choice('adam', 'sgd')") == choice("adam", "sgd")
    for text, words in (
        ("gaussian(0, 1)", "unknown distribution 'gaussian'"),
        ("uniform(0, x)", "literal"),
        ("__import__('os')", "unknown distribution"),
        ("uniform(0)", "uniform"),
        ("1 + 2", "not a distribution"),
    ):
        with pytest.raises(InvalidParameter, match=words):
            parse(text)


def test_a_grid_walks_every_point_once_and_refuses_a_continuous_space() -> None:
    space = check_space(
        {"depth": choice(3, 5, 7), "opt": choice("adam", "sgd"), "units": quniform(10, 30, 10)}
    )
    lists = grid_space(space)
    assert lists == {"depth": [3, 5, 7], "opt": ["adam", "sgd"], "units": [10.0, 20.0, 30.0]}
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(lists, seed=0))
    seen = []
    study.optimize(lambda t: seen.append(tuple(suggest(t, space).values())) or 0.0, n_trials=18)
    assert sorted(seen) == sorted(
        {(d, o, u) for d in (3, 5, 7) for o in ("adam", "sgd") for u in (10.0, 20.0, 30.0)}
    )
    with pytest.raises(InvalidParameter, match="continuous"):
        grid_space(check_space({"lr": loguniform(1e-4, 1e-1), "depth": choice(1, 2)}))
    with pytest.raises(InvalidParameter, match="more than"):
        grid_space(check_space({f"p{i}": randint(0, 10) for i in range(6)}))


def _curve_study(
    policy: object, curves: list[list[float]], goal: str = "maximize"
) -> tuple[optuna.Study, dict[int, str]]:
    """Trials report the given curves one after another; the policy's pruner decides; reasons kept."""
    study = optuna.create_study(direction=goal, pruner=policy.pruner(goal))  # type: ignore[attr-defined]
    reasons: dict[int, str] = {}
    for curve in curves:
        trial = study.ask()
        stopped = False
        for step, value in enumerate(curve):
            trial.report(value, step)
            if trial.should_prune():
                frozen = study._storage.get_trial(trial._trial_id)
                reasons[trial.number] = policy.reason(study, frozen, step)  # type: ignore[attr-defined]
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                stopped = True
                break
        if not stopped:
            study.tell(trial, curve[-1])
    return study, reasons


def test_bandit_stops_a_trial_outside_the_slack_of_the_best_and_says_why() -> None:
    good = [0.5 + 0.04 * s for s in range(10)]  # reaches 0.86
    close = [v - 0.02 for v in good]  # within 10 % of the best: kept
    bad = [0.3 + 0.01 * s for s in range(10)]  # far below
    policy = BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=3)
    study, reasons = _curve_study(policy, [good, close, bad])
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert list(reasons) == [2]
    # stopped at the first evaluated step (delay 3), with the best of that step in the words
    assert reasons[2].startswith("early termination: bandit slack 0.1 at step 3, value 0.33, best 0.62")
    # minimize, and the slack as an amount
    down = [1.0 / (s + 1) for s in range(8)]
    study, reasons = _curve_study(
        BanditPolicy(slack_amount=0.05), [down, [v + 0.2 for v in down]], goal="minimize"
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
    assert "at step 0" in reasons[1]


def test_median_truncation_and_asha_prune_through_optunas_pruners() -> None:
    curves = [[0.1 * s + i * 0.01 for s in range(12)] for i in range(5)] + [[0.0] * 12]
    for policy in (
        MedianStoppingPolicy(delay_evaluation=2),
        TruncationSelectionPolicy(20, delay_evaluation=2),
        ASHA(1, 3),
    ):
        study, reasons = _curve_study(policy, curves)
        assert study.trials[-1].state.name == "PRUNED", policy
        assert reasons[5].startswith(f"early termination: {policy.describe()} at step "), reasons
        assert study.trials[-1].last_step is not None and study.trials[-1].last_step < 11


def test_bad_policies_are_refused_when_written() -> None:
    for make, words in (
        (lambda: BanditPolicy(), "one of slack_factor or slack_amount"),
        (lambda: BanditPolicy(slack_factor=0.1, slack_amount=0.1), "one of"),
        (lambda: BanditPolicy(slack_factor=-0.1), "above 0"),
        (lambda: BanditPolicy(slack_factor=0.1, evaluation_interval=0), "evaluation_interval"),
        (lambda: MedianStoppingPolicy(delay_evaluation=-1), "delay_evaluation"),
        (lambda: TruncationSelectionPolicy(truncation_percentage=100), "between 1 and 99"),
        (lambda: ASHA(reduction_factor=1), "reduction_factor"),
        (lambda: BanditPolicy(slack_factor=0.1).pruner("up"), "maximize"),
    ):
        with pytest.raises(InvalidParameter, match=words):
            make()
