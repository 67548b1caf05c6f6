"""`ws.jobs.sweep(...)`: a hyperparameter sweep whose trials are jobs on a cluster (issue 18).

```python
from jupyter_mlws.sweep import loguniform, choice, BanditPolicy
sweep = ws.jobs.sweep(train, search_space={"lr": loguniform(1e-4, 1e-1), "depth": choice(3, 5)},
                      objective="auc", goal="maximize", sampling="bayesian",
                      early_termination=BanditPolicy(slack_factor=0.1, delay_evaluation=5),
                      max_trials=20, max_concurrent_trials=2, target="cpu-cluster")
sweep.wait(); sweep.trials(); sweep.best_run
```

How it works (this part of issue 18): the sweep is a parent run (`source_kind` "sweep", the search
space and settings as its params); a driver thread in the process that called `sweep` keeps up to
`max_concurrent_trials` trials running. Optuna decides: `study.ask()` → the sampler's values
(`sweep.space.suggest`) → a job (`ws.jobs.submit(..., parent_run=<the sweep>)`, so each trial is a
child run with its values as params) → the trial's objective points, read from its run as they
arrive, reported to Optuna step by step → when the policy's pruner says so, the trial's job is
canceled (its processes killed by the job system) and its run tagged `mlws.sweep.stopped` with the
reason in words; a finished trial's last objective value is told to Optuna. A trial that ends
without logging the objective fails the trial with that reason (tag `mlws.sweep.failed`).

Trials: a function (its keyword arguments are the values), a command (`"${{search_space.lr}}"`
in an argument becomes the value) or a notebook path (the values are its parameters).

Decisions: `max_trials` defaults to 10 (grid sampling: the grid's size, at most `max_trials`; each
point is enqueued in the Optuna study as a fixed trial, in an order `seed` fixes);
`timeout` stops asking for new trials and lets running ones finish; `cancel()` cancels every
running trial and ends the sweep `canceled`. The parent run ends `completed` with the best value
as the metric `best_<objective>` and the best trial's run id in the tag `mlws.sweep.best_run`.

Not yet (issue 18 goes on): the driver lives in the submitting process (a server-side driver that
survives a restart and rebuilds the study from the runs is next), `%%mlsweep`, the widget, REST/CLI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .sweep_checks import check_sweep, enqueue_grid, fill, sampler

if TYPE_CHECKING:
    import pandas as pd

    from .jobs import JobHandle, Jobs
    from .run import Run

#: How often the driver reads the running trials' objective and state.
POLL_S = 0.2


@dataclass
class _Trial:
    number: int
    params: dict[str, Any]
    handle: Any
    optuna_trial: Any
    last_step: int = -1
    state: str = "running"
    value: float | None = None
    reason: str | None = None
    cursor: int | None = None
    done: bool = False


@dataclass
class _Settings:
    space: dict[str, Any]
    objective: str
    goal: str
    sampling: str
    policy: Any
    max_trials: int
    max_concurrent: int
    timeout: float | None
    seed: int | None
    submit: dict[str, Any] = field(default_factory=dict)


class Sweep:
    """A sweep: its parent run, its trials (child runs) and the best of them."""

    def __init__(
        self, jobs: Jobs, parent: Run, settings: _Settings, trial: Any, submit: dict[str, Any]
    ) -> None:
        self._jobs = jobs
        self.run = parent
        self._settings = settings
        self._trial = trial
        self._submit = submit
        self._trials: list[_Trial] = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._drive, daemon=True, name=f"mlws-sweep-{parent.id[:8]}")
        self._thread.start()

    def __repr__(self) -> str:
        return f"<Sweep {self.run.id} trials={len(self._trials)} {'ended' if self.done else 'running'}>"

    @property
    def id(self) -> str:
        return self.run.id

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> Sweep:
        """Wait for the sweep to end (every trial ended); TimeoutError past `timeout` seconds."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"The sweep {self.id} did not end within {timeout} s.")
        if self.error is not None:
            raise RuntimeError(f"The sweep {self.id} failed: {self.error}") from self.error
        return self

    def cancel(self, wait: float = 30.0) -> Sweep:
        """Cancel every running trial (their processes are killed) and end the sweep `canceled`."""
        self._cancel.set()
        self._finished.wait(wait)
        return self

    def trials(self) -> pd.DataFrame:
        """One row per trial: trial, run_id, status, the objective's last value, reason, the params;
        best first (by the goal), trials without a value last."""
        import pandas as pd

        with self._lock:
            rows = [
                {
                    "trial": t.number,
                    "run_id": t.handle.record.run_id,
                    "status": t.state,
                    self._settings.objective: t.value,
                    "reason": t.reason,
                    **{f"params.{k}": v for k, v in t.params.items()},
                }
                for t in self._trials
            ]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        ascending = self._settings.goal == "minimize"
        return frame.sort_values(
            self._settings.objective, ascending=ascending, na_position="last"
        ).reset_index(drop=True)

    @property
    def best_run(self) -> Run | None:
        """The completed trial with the best objective value (None before any)."""
        with self._lock:
            done = [t for t in self._trials if t.state == "completed" and t.value is not None]
        if not done:
            return None
        pick = max if self._settings.goal == "maximize" else min
        best = pick(done, key=lambda t: t.value)  # type: ignore[arg-type,return-value]
        return self._jobs.workspace.get_run(best.handle.record.run_id)

    # ----- the driver ------------------------------------------------------------------------
    def _drive(self) -> None:
        import optuna

        s = self._settings
        status, reason = "completed", None
        try:
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            grid = None
            if s.sampling == "grid":
                from ..sweep import grid_space

                grid = grid_space(s.space)
            study = optuna.create_study(
                direction=s.goal,
                sampler=sampler(s.sampling, s.seed),
                pruner=s.policy.pruner(s.goal) if s.policy is not None else optuna.pruners.NopPruner(),
            )
            if grid is not None:  # every point queued once, in an order the seed fixes
                enqueue_grid(study, grid, s.seed)
            started, deadline = 0, (time.monotonic() + s.timeout) if s.timeout else None
            while True:
                if self._cancel.is_set():
                    self._cancel_running("the sweep was canceled")
                    status, reason = "canceled", "canceled by the user"
                    break
                open_for_more = deadline is None or time.monotonic() < deadline
                while open_for_more and started < s.max_trials and len(self._running()) < s.max_concurrent:
                    self._start(study)
                    started += 1
                for t in self._running():
                    self._watch(study, t)
                if not self._running() and (started >= s.max_trials or not open_for_more):
                    break
                time.sleep(POLL_S)
        except BaseException as err:  # the driver failed: end what it started, say why on the run
            self.error = err
            self._cancel_running(f"the sweep's driver failed: {err}")
            status, reason = "failed", f"the sweep's driver failed: {err}"
        finally:
            self._end(status, reason)
            self._finished.set()

    def _running(self) -> list[_Trial]:
        with self._lock:
            return [t for t in self._trials if not t.done]

    def _start(self, study: Any) -> None:
        from ..sweep import suggest

        otrial = study.ask()
        params = suggest(otrial, self._settings.space)
        handle = self._submit_trial(params, otrial.number)
        ws = self._jobs.workspace
        logged = handle.refresh().run_id
        have = ws.store.get_run(logged).data.params
        missing = {k: v for k, v in params.items() if k not in have}
        if missing:
            ws.store.log_params(logged, missing)
        with self._lock:
            self._trials.append(_Trial(otrial.number, params, handle, otrial))

    def _submit_trial(self, params: dict[str, Any], number: int) -> JobHandle:
        options = dict(self._submit)
        options.setdefault("name", f"{self.run.info.name} trial {number}")
        options["parent_run"] = self.run.id
        tags = dict(options.pop("tags", None) or {})
        tags.update({"mlws.sweep.id": self.run.id, "mlws.sweep.trial": str(number)})
        options["tags"] = tags
        trial = self._trial
        if callable(trial):
            return self._jobs.submit(trial, **options, **params)
        if isinstance(trial, (list, tuple)):
            argv = [fill(str(a), params) for a in trial]
            return self._jobs.submit(command=argv, **options)
        return self._jobs.submit(notebook=str(trial), parameters=params, **options)

    def _watch(self, study: Any, t: _Trial) -> None:
        import optuna

        ws = self._jobs.workspace
        record = t.handle.refresh()
        series = ws.store.get_metric_history(record.run_id, self._settings.objective)
        steps, values = list(series.steps), list(series.values)
        if values:
            t.value = float(values[-1])
        for step, value in zip(steps, values, strict=True):
            if step <= t.last_step:
                continue
            t.last_step = int(step)
            t.optuna_trial.report(float(value), int(step))
            if self._settings.policy is not None and t.optuna_trial.should_prune():
                frozen = next(x for x in study.get_trials(deepcopy=False) if x.number == t.number)
                t.reason = self._settings.policy.reason(study, frozen, int(step))
                ws.store.set_tags(record.run_id, {"mlws.sweep.stopped": t.reason})
                t.handle.cancel(wait=0)
                study.tell(t.optuna_trial, state=optuna.trial.TrialState.PRUNED)
                with self._lock:
                    t.state, t.done = "canceled", True
                return
        if not record.ended:
            return
        if record.state == "completed" and t.value is not None:
            study.tell(t.optuna_trial, t.value)
            state, why = "completed", None
        else:
            study.tell(t.optuna_trial, state=optuna.trial.TrialState.FAIL)
            state = record.state if record.state != "completed" else "failed"
            why = record.state_reason
            if record.state == "completed":
                why = f"the objective {self._settings.objective!r} was never logged"
                ws.store.set_tags(record.run_id, {"mlws.sweep.failed": why})
        with self._lock:
            t.state, t.reason, t.done = state, why, True

    def _cancel_running(self, why: str) -> None:
        for t in self._running():
            try:
                t.handle.cancel(wait=0)
            except Exception:
                pass
            with self._lock:
                t.state, t.reason, t.done = "canceled", why, True

    def _end(self, status: str, reason: str | None) -> None:
        best = None
        try:
            best = self.best_run
        except Exception:
            best = None
        try:
            if best is not None:
                value = best.metrics.get(self._settings.objective)
                if value is not None:
                    self.run.log_metric(f"best_{self._settings.objective}", float(value))
                self.run.set_tags({"mlws.sweep.best_run": best.id})
            self.run.end(status, reason)
        except Exception as err:
            self.error = self.error or err


def start_sweep(
    jobs: Jobs,
    trial: Callable[..., Any] | list[str] | str | Path,
    *,
    search_space: Any,
    objective: str,
    goal: str = "maximize",
    sampling: str = "random",
    early_termination: Any = None,
    max_trials: int = 10,
    max_concurrent_trials: int = 2,
    timeout: Any = None,
    target: str | None = None,
    experiment: str | None = None,
    name: str | None = None,
    seed: int | None = None,
    **submit: Any,
) -> Sweep:
    """Check everything, create the parent run, start the driver (module docstring)."""
    from .run import Run
    from .workspace import default_experiment_name

    if isinstance(trial, Path):
        trial = str(trial)
    space, _grid, max_trials, seconds = check_sweep(
        trial,
        search_space,
        objective,
        goal,
        sampling,
        early_termination,
        max_trials,
        max_concurrent_trials,
        timeout,
    )
    jobs._cluster(target)  # an unknown target is refused before the parent run exists
    ws = jobs.workspace
    exp = experiment or default_experiment_name()
    record = ws.store.create_run(
        ws._experiment_id(exp),
        name=name or "sweep",
        source_kind="sweep",
        tags={"mlws.sweep.objective": objective, "mlws.sweep.goal": goal},
    )
    parent = Run(ws, record.info.run_id, record.info)
    ws.logger.watch(parent.id)
    settings_params = {
        "objective": objective,
        "goal": goal,
        "sampling": sampling,
        "max_trials": max_trials,
        "max_concurrent_trials": max_concurrent_trials,
        "early_termination": repr(early_termination) if early_termination is not None else "none",
        **{f"search_space.{k}": repr(v) for k, v in space.items()},
    }
    ws.store.log_params(parent.id, settings_params)
    settings = _Settings(
        space, objective, goal, sampling, early_termination, max_trials, max_concurrent_trials, seconds, seed
    )
    return Sweep(jobs, parent, settings, trial, {"target": target, "experiment": exp, **submit})
