"""Early termination policies with Azure ML's names, carried out by Optuna's pruners.

`early_termination=BanditPolicy(slack_factor=0.1, evaluation_interval=1, delay_evaluation=5)`, and
so on. Each policy checks its arguments when it is written and gives the Optuna pruner that decides
(`pruner(goal)`); a trial reports its objective per step (`trial.report(value, step)`) and asks
`should_prune()`, and `reason(study, trial, step)` says in words why it was stopped, for the run.

- `MedianStoppingPolicy` → Optuna's `MedianPruner`: stop a trial whose best value so far is worse
  than the median of the other trials' at the same step.
- `TruncationSelectionPolicy(truncation_percentage=20)` → Optuna's `PercentilePruner`: stop a trial
  in the worst `truncation_percentage` % at a step.
- `ASHA(min_resource=1, reduction_factor=3)` → Optuna's `SuccessiveHalvingPruner` (asynchronous
  successive halving; rungs at min_resource * reduction_factor^k steps).
- `BanditPolicy` (Azure ML's own rule, which Optuna lacks) → `BanditPruner`, an Optuna pruner
  written here: at each evaluated step, stop a trial whose value is outside the slack of the best
  value the other trials had at that step (each one's latest value up to that step, since trials
  run side by side and not in step) (maximize: `value < best / (1 + slack_factor)` or
  `value < best - slack_amount`; minimize: `value > best * (1 + slack_factor)` or
  `value > best + slack_amount`).

`evaluation_interval` and `delay_evaluation` are Azure ML's: evaluate every `evaluation_interval`
steps, and not before step `delay_evaluation` (Optuna's `interval_steps` and `n_warmup_steps`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameter

GOALS = ("maximize", "minimize")


def _whole(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidParameter(f"{name} must be a whole number ≥ {low}, not {value!r}.")
    return value


def _goal(goal: str) -> str:
    if goal not in GOALS:
        raise InvalidParameter(f"goal must be 'maximize' or 'minimize', not {goal!r}.")
    return goal


class Policy:
    """An early termination policy (the classes below)."""

    evaluation_interval: int
    delay_evaluation: int

    def _check_schedule(self) -> None:
        _whole("evaluation_interval", self.evaluation_interval, 1)
        _whole("delay_evaluation", self.delay_evaluation, 0)

    def pruner(self, goal: str) -> Any:
        raise NotImplementedError

    def reason(self, study: Any, trial: Any, step: int) -> str:
        """Why the trial (an Optuna FrozenTrial) was stopped at `step`, in words, for its run."""
        best = _best_at(study, trial, step)
        value = trial.intermediate_values.get(step, math.nan)
        best_text = "none yet" if best is None else f"{best:.6g}"
        return f"early termination: {self.describe()} at step {step}, value {value:.6g}, best {best_text}"

    def describe(self) -> str:
        raise NotImplementedError


def _best_at(study: Any, trial: Any, step: int) -> float | None:
    """The best value the other trials had at `step`: each one's value at that step, or its latest
    before it when it has not got there yet (trials run side by side, not in step). None if none."""
    from optuna.trial import TrialState

    maximize = study.direction.name == "MAXIMIZE"
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    values = []
    for other in study.get_trials(deepcopy=False, states=states):
        if other.number == trial.number:
            continue
        reached = [s for s in other.intermediate_values if s <= step]
        if reached:
            value = other.intermediate_values[max(reached)]
            if math.isfinite(value):
                values.append(value)
    if not values:
        return None
    return max(values) if maximize else min(values)


@dataclass(frozen=True)
class BanditPolicy(Policy):
    """Stop trials whose value falls outside a slack of the best trial's (Azure ML's Bandit policy)."""

    slack_factor: float | None = None
    slack_amount: float | None = None
    evaluation_interval: int = 1
    delay_evaluation: int = 0

    def __post_init__(self) -> None:
        if (self.slack_factor is None) == (self.slack_amount is None):
            raise InvalidParameter("BanditPolicy takes one of slack_factor or slack_amount.")
        for name in ("slack_factor", "slack_amount"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf
            ):
                raise InvalidParameter(f"BanditPolicy {name} must be a number above 0, not {value!r}.")
        self._check_schedule()

    def describe(self) -> str:
        return f"bandit slack {self.slack_factor if self.slack_factor is not None else self.slack_amount}"

    def pruner(self, goal: str) -> Any:
        return BanditPruner(self, _goal(goal))

    def outside(self, value: float, best: float, maximize: bool) -> bool:
        """Whether `value` is outside the slack of `best`."""
        if self.slack_factor is not None:
            edge = best / (1 + self.slack_factor) if maximize else best * (1 + self.slack_factor)
        else:
            assert self.slack_amount is not None
            edge = best - self.slack_amount if maximize else best + self.slack_amount
        return value < edge if maximize else value > edge


@dataclass(frozen=True)
class MedianStoppingPolicy(Policy):
    """Stop trials worse than the median of the others at the same step."""

    evaluation_interval: int = 1
    delay_evaluation: int = 0

    def __post_init__(self) -> None:
        self._check_schedule()

    def describe(self) -> str:
        return "median stopping"

    def pruner(self, goal: str) -> Any:
        import optuna

        _goal(goal)
        return optuna.pruners.MedianPruner(
            n_startup_trials=1, n_warmup_steps=self.delay_evaluation, interval_steps=self.evaluation_interval
        )


@dataclass(frozen=True)
class TruncationSelectionPolicy(Policy):
    """Stop the worst `truncation_percentage` % of trials at each evaluated step."""

    truncation_percentage: float = 5
    evaluation_interval: int = 1
    delay_evaluation: int = 0

    def __post_init__(self) -> None:
        p = self.truncation_percentage
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 1 <= p <= 99:
            raise InvalidParameter(f"truncation_percentage must be between 1 and 99, not {p!r}.")
        self._check_schedule()

    def describe(self) -> str:
        return f"truncation {self.truncation_percentage:g}%"

    def pruner(self, goal: str) -> Any:
        import optuna

        _goal(goal)
        return optuna.pruners.PercentilePruner(
            self.truncation_percentage,
            n_startup_trials=1,
            n_warmup_steps=self.delay_evaluation,
            interval_steps=self.evaluation_interval,
        )


@dataclass(frozen=True)
class ASHA(Policy):
    """Asynchronous successive halving: promote the best 1/reduction_factor at each rung."""

    min_resource: int = 1
    reduction_factor: int = 3
    min_early_stopping_rate: int = 0
    evaluation_interval: int = 1
    delay_evaluation: int = 0

    def __post_init__(self) -> None:
        _whole("min_resource", self.min_resource, 1)
        _whole("reduction_factor", self.reduction_factor, 2)
        _whole("min_early_stopping_rate", self.min_early_stopping_rate, 0)
        self._check_schedule()

    def describe(self) -> str:
        return f"ASHA (reduction factor {self.reduction_factor})"

    def pruner(self, goal: str) -> Any:
        import optuna

        _goal(goal)
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=self.min_resource,
            reduction_factor=self.reduction_factor,
            min_early_stopping_rate=self.min_early_stopping_rate,
        )


def _pruner_base() -> type:
    import optuna

    return optuna.pruners.BasePruner  # type: ignore[no-any-return]


class BanditPruner(_pruner_base()):  # type: ignore[misc]
    """Optuna pruner for `BanditPolicy` (Optuna has no Bandit rule)."""

    def __init__(self, policy: BanditPolicy, goal: str) -> None:
        self.policy = policy
        self.goal = goal

    def prune(self, study: Any, trial: Any) -> bool:
        step = trial.last_step
        if step is None or step < self.policy.delay_evaluation or step % self.policy.evaluation_interval:
            return False
        value = trial.intermediate_values[step]
        if not math.isfinite(value):
            return True
        best = _best_at(study, trial, step)
        if best is None:
            return False
        maximize = study.direction.name == "MAXIMIZE"
        better = value > best if maximize else value < best
        return not better and self.policy.outside(value, best, maximize)


POLICIES = {c.__name__: c for c in (BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy, ASHA)}


def policy_to_dict(policy: Policy | None) -> dict[str, Any] | None:
    """The policy as JSON (a job's spec): its class name and fields."""
    if policy is None:
        return None
    from dataclasses import asdict

    return {"policy": type(policy).__name__, **asdict(policy)}  # type: ignore[call-overload]


def policy_from_dict(data: dict[str, Any] | None) -> Policy | None:
    if not data:
        return None
    fields = dict(data)
    kind = POLICIES.get(str(fields.pop("policy", "")))
    if kind is None:
        raise InvalidParameter(f"unknown early termination policy {data.get('policy')!r}.")
    return kind(**fields)  # type: ignore[no-any-return]


_POLICY_FORMS = (
    "bandit:SLACK[:DELAY], median[:DELAY], truncation:PERCENT[:DELAY] "
    "or asha[:MIN_RESOURCE[:REDUCTION_FACTOR]]"
)


def parse_policy(text: str | None) -> Policy | None:
    """A policy from its short text (`%%mlsweep --early-stop`, `jupyter mlws sweep submit`):
    `bandit:0.1:5` is BanditPolicy(slack_factor=0.1, delay_evaluation=5), and so on."""
    if not text:
        return None
    name, *numbers = str(text).split(":")
    try:
        values = [float(n) for n in numbers]
    except ValueError:
        raise InvalidParameter(f"--early-stop {text!r}: the parts after ':' must be numbers.") from None

    def whole(i: int, default: int) -> int:
        return int(values[i]) if len(values) > i else default

    try:
        if name == "bandit" and values:
            return BanditPolicy(slack_factor=values[0], delay_evaluation=whole(1, 0))
        if name == "median" and len(values) <= 1:
            return MedianStoppingPolicy(delay_evaluation=whole(0, 0))
        if name == "truncation" and values:
            return TruncationSelectionPolicy(truncation_percentage=values[0], delay_evaluation=whole(1, 0))
        if name == "asha" and len(values) <= 2:
            return ASHA(min_resource=whole(0, 1), reduction_factor=whole(1, 3))
    except InvalidParameter as err:
        raise InvalidParameter(f"--early-stop {text!r}: {err.message}") from None
    raise InvalidParameter(f"--early-stop {text!r}: one of {_POLICY_FORMS}.")
