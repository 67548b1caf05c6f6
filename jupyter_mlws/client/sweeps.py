"""`ws.jobs.sweep(...)`: a hyperparameter sweep whose trials are jobs on a cluster (issue 18).

```python
from jupyter_mlws.sweep import loguniform, choice, BanditPolicy
sweep = ws.jobs.sweep(train, search_space={"lr": loguniform(1e-4, 1e-1), "depth": choice(3, 5)},
                      objective="auc", goal="maximize", sampling="bayesian",
                      early_termination=BanditPolicy(slack_factor=0.1, delay_evaluation=5),
                      max_trials=20, max_concurrent_trials=2, target="cpu-cluster")
sweep.wait(); sweep.trials(); sweep.best_run
```

A sweep is a job of kind "sweep" (Azure ML's sweep job): everything is checked here, then its run —
the parent run, `source_kind` "sweep", with the settings and the search space as params — stores
the trial's code snapshot, inputs and (for a function) the pickled function once, and the job is
queued. Its driver (`jobs/sweep_driver.py`) runs beside the dispatcher that takes it (the Jupyter
server, or this process when no server dispatches), so a sweep outlives the kernel that started
it and resumes after a server restart. Trials: a function (its keyword arguments are the values), a
command (`"${{search_space.lr}}"` in an argument becomes the value) or a notebook path (the
values are its parameters). Each trial is a job and a child run with its values as params.

`Sweep` is the job's handle (`ws.jobs.get(id)` gives one for a sweep's job; `ws.jobs.get_sweep`
takes the sweep's run id too), reading everything from the store: `trials()` (a DataFrame, best
first), `best_run`, `wait`, `cancel` (every running trial is killed, the sweep ends `canceled`).

A function trial runs on a warm process per slot unless `reuse_processes=False` (docs/sweeps.md,
`jobs/trial_host.py`): each trial is still a job and a child run, but no process starts for it.

Decisions: `max_trials` defaults to 10 (grid sampling: the grid's size, at most `max_trials`);
`timeout` stops starting trials and lets running ones end; `max_retries` and the other `submit`
options apply to each trial. The parent run ends `completed` with the best value as the metric
`best_<objective>` (also logged after each trial's end: best-so-far by trial) and the best trial's
run id in the tag `mlws.sweep.best_run`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound
from ..jobs.child import cell_trial as cell_trial  # (`%%mlsweep`'s trial: notebook/ reaches it here)
from .jobs import JobHandle
from .sweep_checks import check_sweep

if TYPE_CHECKING:
    import pandas as pd

    from .jobs import Jobs
    from .run import Run

SWEEP_TAG = "mlws.sweep.id"


class Sweep(JobHandle):
    """A sweep's job: its parent run (`run`), its trials (child runs) and the best of them."""

    def __repr__(self) -> str:
        return f"<Sweep {self.id} {self.record.name!r} {self.record.state} on {self.record.target}>"

    @property
    def run_id(self) -> str:
        """The sweep's (parent) run."""
        return self.record.run_id

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.record.spec.get("sweep") or {})

    @property
    def objective(self) -> str:
        return str(self.settings.get("objective"))

    @property
    def done(self) -> bool:
        return self.refresh().ended

    def wait(self, timeout: float | None = None, poll: float = 0.05) -> Sweep:
        """Wait for the sweep to end; TimeoutError past `timeout` s; RuntimeError if its driver failed."""
        super().wait(timeout, poll)
        if self.record.state == "failed":
            raise RuntimeError(f"The sweep {self.id} failed: {self.record.state_reason}")
        return self

    def cancel(self, wait: float = 30.0) -> Sweep:
        """Cancel the sweep: every running trial's processes are killed; it ends `canceled`."""
        super().cancel(wait)
        return self

    def resume(self) -> Sweep:
        """Drive a sweep left waiting in the queue (its dispatcher's process ended, and no Jupyter
        server dispatches for the workspace) from this process: the driver rebuilds it from its
        trials' runs. A sweep a server dispatches is resumed by the server on its own."""
        record = self.refresh()
        if record.state == "queued" and not self._jobs.server_dispatches():
            self._jobs._dispatch(self.id)
        return self

    def trials(self) -> pd.DataFrame:
        """One row per trial run: trial, run_id, status, the objective's last value, reason, the
        params (`params.<name>`); the completed trials first, best first (by the goal), then the
        others (stopped, failed, killed) by their last value."""
        import pandas as pd

        store = self._jobs._store
        table = store.search_runs(None, filter=f"tags.`{SWEEP_TAG}` = '{self.run_id}'", limit=10_000)
        objective = self.objective
        names = list((self.settings.get("space") or {}).keys())
        stopped = table.tags.get("mlws.sweep.stopped", [None] * len(table.runs))
        failed = table.tags.get("mlws.sweep.failed", [None] * len(table.runs))
        numbers = table.tags.get("mlws.sweep.trial", [None] * len(table.runs))
        values = table.metrics.get(objective, [None] * len(table.runs))
        rows = []
        for i, info in enumerate(table.runs):
            rows.append(
                {
                    "trial": int(numbers[i]) if numbers[i] is not None else None,
                    "run_id": info.run_id,
                    "status": "failed" if failed[i] else info.status,
                    objective: values[i],
                    "reason": stopped[i] or failed[i] or info.status_reason,
                    **{
                        f"params.{n}": _value(table.params.get(n, [None] * len(table.runs))[i]) for n in names
                    },
                }
            )
        columns = ["trial", "run_id", "status", objective, "reason", *(f"params.{n}" for n in names)]
        frame = pd.DataFrame(rows, columns=columns)
        if frame.empty:
            return frame
        ascending = self.settings.get("goal") == "minimize"
        frame["_ended_well"] = frame["status"] != "completed"  # completed trials first, then the rest
        frame = frame.sort_values("trial").sort_values(
            objective, ascending=ascending, na_position="last", kind="stable"
        )
        frame = frame.sort_values("_ended_well", kind="stable").drop(columns="_ended_well")
        return frame.reset_index(drop=True)

    @property
    def best_run(self) -> Run | None:
        """The completed trial with the best objective value (None before any)."""
        best = self._jobs.workspace.store.get_run(self.run_id).data.tags.get("mlws.sweep.best_run")
        return self._jobs.workspace.get_run(best) if best else None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        """Shown as a cell's last expression: the live `SweepDetails` widget (through the display
        hook the widgets package registers, `jupyter_mlws.display`), else text."""
        import sys

        bundle: dict[str, Any] = {"text/plain": repr(self)}
        shell = sys.modules["IPython"].get_ipython() if "IPython" in sys.modules else None
        if getattr(shell, "kernel", None) is None:  # a terminal has no front end for widgets
            return bundle
        from ..display import rich_bundle

        shown = rich_bundle("sweep", self, include, exclude)
        if shown:
            bundle.update(shown)
            bundle["text/plain"] = repr(self)
        return bundle


def _value(text: str | None) -> Any:
    """A param as the trial got it (params are text): a number where it reads as one."""
    if text is None:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def get_sweep(jobs: Jobs, sweep_id: str) -> Sweep:
    """A sweep by its job id or its run id."""
    store = jobs._store
    try:
        record = store.get_job(sweep_id)
    except NotFound:
        try:
            tags = store.get_run(sweep_id).data.tags
        except NotFound:
            raise NotFound(f"No sweep {sweep_id!r}: neither a job nor a run of this workspace.") from None
        if "mlws.job.id" not in tags:
            raise NotFound(f"The run {sweep_id!r} is not a sweep's.") from None
        record = store.get_job(tags["mlws.job.id"])
    if record.kind != "sweep":
        raise NotFound(f"{sweep_id!r} is a {record.kind} job, not a sweep.")
    return Sweep(jobs, record)


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
    code: Any = None,
    inputs: dict[str, Any] | None = None,
    environment_variables: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
    priority: int = 0,
    max_retries: int = 0,
    trial_timeout: Any = None,
    tags: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
    shell: bool = False,
    reuse_processes: bool = True,
) -> Sweep:
    """Check everything, store the parent run and queue the sweep's job (module docstring)."""
    import os

    from ..jobs import submit as sub
    from ..sweep import policy_to_dict, space_to_texts
    from .job_queue import queue_job
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
    texts = space_to_texts(space)
    cluster = jobs._cluster(target)  # an unknown target is refused before anything is stored
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) >= 2**31:
        raise InvalidParameter(f"priority is an integer (higher runs first), not {priority!r}.")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 100:
        raise InvalidParameter(f"max_retries is an integer from 0 to 100, not {max_retries!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidParameter(f"seed is a whole number, not {seed!r}.")
    if not isinstance(reuse_processes, bool):
        raise InvalidParameter(f"reuse_processes is True or False, not {reuse_processes!r}.")
    submit = {
        "resources": sub.check_resources(cluster, resources),
        "timeout_seconds": sub.parse_timeout(trial_timeout),
        "environment_variables": {str(k): str(v) for k, v in (environment_variables or {}).items()},
        "priority": priority,
        "max_retries": max_retries,
        "tags": {str(k): str(v) for k, v in (tags or {}).items()},
        "name": name or "sweep",
    }
    payload = None
    if callable(trial):
        folder = sub.check_code(code)
        payload = sub.pickled(
            {"function": trial, "args": (), "kwargs": {}},
            f"The function {getattr(trial, '__name__', trial)!r}",
        )
        trial_spec: dict[str, Any] = {
            "kind": "function",
            "function_name": getattr(trial, "__qualname__", None) or getattr(trial, "__name__", "function"),
        }
    elif isinstance(trial, (list, tuple)):
        folder = sub.check_code(code)
        probe = [a.replace("${{search_space.", "").replace("}}", "") for a in map(str, trial)]
        sub.check_command(probe, shell, folder, local_nodes=cluster.kind == "cluster")
        trial_spec = {"kind": "command", "command": [str(a) for a in trial], "shell": bool(shell)}
    else:
        from ..jobs.notebooks import check_parameters

        folder = sub.check_code(code) if code is not None else None
        path = (folder / trial) if folder is not None else Path(trial).expanduser()
        if not path.is_file():
            raise InvalidParameter(f"The notebook {os.fspath(trial)!r} does not exist.")
        if folder is None:
            folder = path.resolve().parent
        trial_spec = {
            "kind": "notebook",
            "notebook": path.resolve().relative_to(folder).as_posix(),
            "parameters": check_parameters(dict(parameters or {})),
        }
    settings = {
        "space": texts,
        "objective": objective,
        "goal": goal,
        "sampling": sampling,
        "policy": policy_to_dict(early_termination),
        "max_trials": max_trials,
        "max_concurrent": max_concurrent_trials,
        "timeout": seconds,
        "seed": seed,
        "reuse_processes": reuse_processes,
        "name": name or "sweep",
        "trial": trial_spec,
        "submit": submit,
    }
    params = {
        "objective": objective,
        "goal": goal,
        "sampling": sampling,
        "max_trials": max_trials,
        "max_concurrent_trials": max_concurrent_trials,
        "early_termination": repr(early_termination) if early_termination is not None else "none",
        **{f"search_space.{k}": v for k, v in texts.items()},
    }
    record = queue_job(
        jobs.workspace,
        kind="sweep",
        name=name or "sweep",
        target=cluster.name,
        experiment=experiment or default_experiment_name(),
        spec={"sweep": settings},
        code=folder,
        inputs=jobs._pin_data(sub.check_inputs(inputs, folder)),
        params=params,
        payload=payload,
        priority=priority,
        max_retries=0,
        tags={"mlws.sweep.objective": objective, "mlws.sweep.goal": goal, **submit["tags"]},
        source_kind="sweep",
    )
    jobs._dispatch(record.job_id)
    return Sweep(jobs, record)
