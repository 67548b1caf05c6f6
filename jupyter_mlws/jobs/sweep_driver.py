"""A sweep's driver: Optuna asks, trials run as jobs, their objective points decide (issue 18).

Who runs it: the dispatcher that took the sweep's job (kind "sweep"), in a thread beside it, as a
batch's driver (`jobs/batch_dispatch.py`): the Jupyter server for a workspace it serves, or the
process that submitted the sweep when no server dispatches. So a sweep outlives the kernel that
started it, and a server restart resumes it: the stopping dispatcher puts the sweep's job back in
the queue without ending its run (`JobDispatcher.stop`), the next one starts a driver, and the
driver rebuilds the Optuna study from the trials' runs (`_rebuild`): a finished trial is told to
the study again (its Optuna values from the run's tag `mlws.sweep.optuna`, its objective points,
its end) and is never run again; a trial still queued or running is watched again; a trial whose
job the restart killed is run again with the same values (it did not finish).

One round, every `POLL_S` (and at once after a trial's end):
- start trials while fewer than `max_concurrent` run and fewer than `max_trials` have started:
  `study.ask()` → the values (`sweep.suggest`) → a job and a child run of the sweep's run with the
  values as params (`sweep_trials.trial_job`), whose code snapshot, inputs and function payload are
  the sweep run's (stored once, at submit). A function trial runs on a warm process of a slot
  (`sweep_hosts.HostPool`, `trial_host`: no process start per trial) unless the sweep says
  `reuse_processes=False`; any other trial's job is queued for a node;
- read each running trial's new objective points (`since` its cursor) and report them to Optuna;
  when the policy's pruner says so, cancel the trial's job with the policy's reason in words (the
  dispatcher kills its processes and ends its run `canceled` with that reason) and tell Optuna it
  was pruned; the trial holds its place until its job has ended (so the sweep never ends, or
  starts another trial in its place, while its processes are still there);
- a trial that ended: its last objective value told to the study (`completed`); one that never
  logged the objective fails the trial with that reason (tag `mlws.sweep.failed`; its run stays as
  its job ended, `completed`, and the sweep's trials table says `failed`).
The best value so far is logged on the sweep's run as `best_<objective>` (step = trials ended), the
best trial's run id as the tag `mlws.sweep.best_run`; the trials table is written to
`outputs/sweep_trials.csv` at the end. `timeout` stops starting trials and lets running ones end;
a cancel cancels every running trial and ends the sweep `canceled`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import notice
from .sweep_hosts import Failed, HostPool, Slot
from .sweep_trials import OPTUNA_TAG, SWEEP_TAG, TRIAL_TAG, host_spec, trial_job

#: How often the driver reads the running trials' objective and state.
POLL_S = 0.2
STOPPED_TAG = "mlws.sweep.stopped"
FAILED_TAG = "mlws.sweep.failed"
BEST_TAG = "mlws.sweep.best_run"


@dataclass
class _Trial:
    number: int
    values: dict[str, Any]
    job_id: str
    run_id: str
    otrial: Any
    last_step: int = -1
    cursor: int | None = None
    value: float | None = None
    stopping: bool = False  # the policy stopped it; its job is being canceled
    done: bool = False


class Hooks:
    """What the driver asks of its dispatcher: take a trial's job (a process dispatcher takes only
    the jobs it was given), cancel a trial's job with a reason in words; and what warm trials need:
    the dispatcher's Dask client of the sweep's cluster and its id (the owner of their jobs)."""

    def __init__(
        self,
        adopt: Callable[[str], None],
        cancel: Callable[[str, str], None],
        client: Any = None,
        owner: str | None = None,
        resources: dict[str, float] | None = None,
    ) -> None:
        self.adopt = adopt
        self.cancel = cancel
        self.client = client
        self.owner = owner
        self.resources = resources  # Dask worker resources of one trial on the sweep's cluster


class SweepDriver:
    """Drives one attempt of a sweep job (the module docstring)."""

    def __init__(self, spec: dict[str, Any], workspace: Any, hooks: Hooks, task: Any) -> None:
        from ..sweep import policy_from_dict, space_from_texts

        self.spec = spec
        self.sweep = spec["sweep"]
        self.workspace = workspace
        self.store = workspace.store
        self.hooks = hooks
        self.task = task  # its `stop` event; `handing_over`: leave the sweep for the next dispatcher
        self.stop: threading.Event = task.stop
        self.space = space_from_texts(self.sweep["space"])
        self.policy = policy_from_dict(self.sweep.get("policy"))
        self.objective = self.sweep["objective"]
        self.maximize = self.sweep["goal"] == "maximize"
        self.trials: list[_Trial] = []
        self.redo: list[dict[str, Any]] = []  # Optuna values of trials a restart killed
        self.best: tuple[float, str] | None = None
        self.ended_count = 0
        self.seen = notice.count()
        self.pool: HostPool | None = None  # warm trial processes (`jobs/sweep_hosts.py`), if used
        self.wake_key = f"sweep-hosts-{spec['run_id']}"
        self.parent_info: Any = None  # the sweep run's RunInfo (its experiment and user), read once
        parent_tags = self.store.get_run(spec["run_id"]).data.tags
        self.lineage = {
            k: v for k, v in parent_tags.items() if k == "mlws.data" or k.startswith("mlws.data.")
        }

    # ----- the loop ----------------------------------------------------------------------------
    def run(self) -> tuple[str, str | None]:
        """Drive to the end; the sweep's state and reason ("handover" when the dispatcher stops)."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = self._study()
        started = self._rebuild(study)
        max_trials = int(self.sweep["max_trials"])
        timeout = self.sweep.get("timeout")
        run_info = self.store.get_run_info(self.spec["run_id"])
        deadline = (run_info.start_time / 1000 + float(timeout)) if timeout else None
        concurrent = int(self.sweep["max_concurrent"])
        if self.warm:
            self.pool = HostPool(
                self.hooks.client, host_spec(self.spec), self.hooks.resources, concurrent, self.wake_key
            )
        while True:
            if self.stop.is_set():
                if self.task.handing_over:
                    return "handover", None
                self._cancel_running("the sweep was canceled")
                return "canceled", "canceled"
            open_for_more = deadline is None or time.time() < deadline
            while open_for_more and started < max_trials and len(self._running()) < concurrent:
                slot = self.pool.idle() if self.pool is not None else None
                if self.pool is not None and slot is None:
                    break  # no warm process free yet: one is starting, or a trial ends first
                self._start(study, slot)
                started += 1
            ended = False
            for trial in self._running():
                ended = self._watch(study, trial) or ended
            if not self._running() and (started >= max_trials or not open_for_more):
                return (
                    "completed",
                    None if open_for_more or started >= max_trials else "timeout: no new trials",
                )
            if not ended:  # the next look: a trial's end (announced by the dispatcher) or POLL_S
                running = {t.job_id for t in self._running()}
                if running or self.pool is not None:
                    self.seen = notice.wait_any(running | {self.wake_key}, self.seen, POLL_S)
                else:
                    self.stop.wait(POLL_S)

    @property
    def warm(self) -> bool:
        """Function trials run in warm processes, one per slot, unless `reuse_processes=False`."""
        return (
            self.sweep["trial"]["kind"] == "function"
            and bool(self.sweep.get("reuse_processes", True))
            and self.hooks.client is not None
            and self.hooks.owner is not None
        )

    def _study(self) -> Any:
        return make_study(self.sweep, self.policy)

    def _running(self) -> list[_Trial]:
        return [t for t in self.trials if not t.done]

    # ----- rebuilding from the runs (a resumed sweep) ------------------------------------------
    def _rebuild(self, study: Any) -> int:
        """Tell the study what the trials' runs say; the number of trials that count as started."""
        import optuna

        table = self.store.search_runs(
            None, filter=f"tags.`{SWEEP_TAG}` = '{self.spec['run_id']}'", limit=10_000
        )
        latest: dict[int, Any] = {}
        tags_of: dict[str, dict[str, Any]] = {}
        for i, info in enumerate(table.runs):
            tags = {k: col[i] for k, col in table.tags.items() if col[i] is not None}
            number = int(tags.get(TRIAL_TAG, -1))
            if number < 0 or OPTUNA_TAG not in tags:
                continue
            tags_of[info.run_id] = tags
            known = latest.get(number)
            if known is None or info.start_time >= known.start_time:
                latest[number] = info
        done_points: list[dict[str, Any]] = []
        started = 0
        for number in sorted(latest):
            info = latest[number]
            tags = tags_of[info.run_id]
            internal = json.loads(tags[OPTUNA_TAG])
            job = self.store.get_job(tags["mlws.job.id"])
            if job.state == "killed":  # the restart killed it before it finished: run it again
                self.redo.append(internal)
                continue
            study.enqueue_trial(internal)
            otrial = study.ask()
            from ..sweep import suggest

            values = suggest(otrial, self.space)
            trial = _Trial(number, values, job.job_id, job.run_id, otrial)
            series = self.store.get_metric_history(job.run_id, self.objective)
            self._report(trial, series, prune=False)
            started += 1
            done_points.append(values)
            self.trials.append(trial)
            if not job.ended:
                # queued or running still: this dispatcher takes it (a process dispatcher takes only
                # the jobs it was given; one the last dispatcher released would wait forever)
                self.hooks.adopt(job.job_id)
                continue
            trial.done = True
            self.ended_count += 1
            if job.state == "completed" and trial.value is not None:
                study.tell(otrial, trial.value)
                self._better(trial)
            elif job.state == "canceled" and STOPPED_TAG in tags:
                study.tell(otrial, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(otrial, state=optuna.trial.TrialState.FAIL)
        if self.sweep["sampling"] == "grid":
            self._enqueue_grid(study, done_points)
        return started

    def _enqueue_grid(self, study: Any, done: list[dict[str, Any]]) -> None:
        """Every grid point not yet run, enqueued as a fixed trial in an order the seed fixes (a
        grid goes through ask/tell as enqueued trials: Optuna's GridSampler stops the study from
        inside `optimize`, which ask/tell cannot do)."""
        import itertools
        import random

        from ..sweep import grid_space

        grid = grid_space(self.space)
        names = list(grid)
        points = list(itertools.product(*(grid[n] for n in names)))
        random.Random(self.sweep.get("seed")).shuffle(points)
        seen = [tuple(d.get(n) for n in names) for d in done]
        for point in points:
            if point in seen:
                seen.remove(point)
                continue
            study.enqueue_trial(dict(zip(names, point, strict=True)))

    # ----- one trial ---------------------------------------------------------------------------
    def _start(self, study: Any, slot: Slot | Failed | None) -> None:
        """Ask Optuna for the next trial and start it: queued as a job, or on a warm `slot`."""
        from ..sweep import suggest

        if self.redo:
            study.enqueue_trial(self.redo.pop(0))
        otrial = study.ask()
        values = suggest(otrial, self.space)
        number = max((t.number for t in self.trials), default=-1) + 1
        host = None
        if isinstance(slot, Slot):
            host = (str(slot.address), slot.pid, str(self.hooks.owner))
        elif isinstance(slot, Failed):
            host = ("(no trial process)", None, str(self.hooks.owner))
        if self.parent_info is None:
            self.parent_info = self.store.get_run_info(self.spec["run_id"])
        job = trial_job(
            self.store, self.spec, self.lineage, number, values, dict(otrial.params), host, self.parent_info
        )
        self.trials.append(_Trial(number, values, job.job_id, job.run_id, otrial))
        if slot is None:
            self.hooks.adopt(job.job_id)
            return
        refused = slot.error if isinstance(slot, Failed) else None
        if isinstance(slot, Slot):
            order = {"n": number, "run_id": job.run_id, "job_id": job.job_id, "attempt": 1, "kwargs": values}
            refused = self.pool.run(slot, order, lambda: notice.announce(job.job_id))  # type: ignore[union-attr]
        if refused is not None:  # the trial could not start: it failed, saying why
            self._fail_unstarted(job, refused)

    def _fail_unstarted(self, job: Any, why: str) -> None:
        from ..errors import Conflict

        now = int(time.time() * 1000)
        try:
            self.store.update_run(job.run_id, status="failed", end_time=now, status_reason=why)
            self.store.update_job(
                job.job_id, expect={"state": "running"}, state="failed", state_reason=why, ended_time=now
            )
        except Conflict:
            pass
        notice.announce(job.job_id)

    def _report(self, trial: _Trial, series: Any, prune: bool) -> bool:
        """Report the new objective points to Optuna; True when the policy stopped the trial."""
        trial.cursor = getattr(series, "cursor", trial.cursor)
        for step, value in zip(list(series.steps), list(series.values), strict=True):
            trial.value = float(value)
            if int(step) <= trial.last_step:
                continue
            trial.last_step = int(step)
            trial.otrial.report(float(value), int(step))
            if prune and self.policy is not None and trial.otrial.should_prune():
                return True
        return False

    def _watch(self, study: Any, trial: _Trial) -> bool:
        """Look at one running trial; True when it ended now."""
        import optuna

        job = self.store.get_job(trial.job_id)
        if trial.stopping:  # stopped by the policy: it ends once its job ended (its processes gone)
            return self._ended(trial) if job.ended else False
        series = self.store.get_metric_history(trial.run_id, self.objective, since=trial.cursor)
        if self._report(trial, series, prune=not job.ended):
            frozen = next(x for x in study.get_trials(deepcopy=False) if x.number == trial.otrial.number)
            reason = self.policy.reason(study, frozen, trial.last_step)
            self.store.set_tags(trial.run_id, {STOPPED_TAG: reason})
            self.hooks.cancel(trial.job_id, reason)
            study.tell(trial.otrial, state=optuna.trial.TrialState.PRUNED)
            trial.stopping = True
            return False
        if not job.ended:  # (the points were read after the job: an ended one's are all there)
            return False
        if job.state == "completed" and trial.value is not None:
            study.tell(trial.otrial, trial.value)
            self._better(trial)
        else:
            study.tell(trial.otrial, state=optuna.trial.TrialState.FAIL)
            if job.state == "completed":
                why = f"the objective {self.objective!r} was never logged"
                self.store.set_tags(trial.run_id, {FAILED_TAG: why})  # (its run ended completed)
        return self._ended(trial)

    def _ended(self, trial: _Trial) -> bool:
        trial.done = True
        self.ended_count += 1
        if self.best is not None:
            self.store.log_metric(
                self.spec["run_id"], f"best_{self.objective}", self.best[0], self.ended_count
            )
        return True

    def _better(self, trial: _Trial) -> None:
        value = float(trial.value)  # type: ignore[arg-type]
        if self.best is None or (value > self.best[0] if self.maximize else value < self.best[0]):
            self.best = (value, trial.run_id)
            self.store.set_tags(self.spec["run_id"], {BEST_TAG: trial.run_id})

    def _cancel_running(self, why: str) -> None:
        for trial in self._running():
            try:
                self.hooks.cancel(trial.job_id, why)
            except Exception:
                pass
            trial.done = True
        deadline = time.monotonic() + 10
        for trial in self.trials:  # their processes are killed by the dispatcher: wait for that
            while time.monotonic() < deadline:
                try:
                    if self.store.get_job(trial.job_id).ended:
                        break
                except Exception:
                    break
                time.sleep(0.05)


def make_study(settings: dict[str, Any], policy: Any) -> Any:
    """The Optuna study of a sweep's settings: its sampler by the names users write (random and
    grid: RandomSampler — a grid's points are enqueued; bayesian / tpe: TPESampler), seeded, and
    the policy's pruner (none: NopPruner)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    seed = settings.get("seed")
    if settings["sampling"] in ("bayesian", "tpe"):
        sampler = optuna.samplers.TPESampler(seed=seed)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    pruner = policy.pruner(settings["goal"]) if policy is not None else optuna.pruners.NopPruner()
    return optuna.create_study(direction=settings["goal"], sampler=sampler, pruner=pruner)
