"""`SweepDetails(sweep)`: a hyperparameter sweep in the notebook — its trials, best so far, curves.

What it shows (issue 18): the trials table, best first (trial, status, the objective's
latest value, the reason a trial stopped or failed, its values); the best value so far by
trials ended (the parent run's `best_<objective>`); the objective of every trial by step, a
trial stopped early dashed grey with an ✕ at its last point; and the parallel coordinates of
the parameters and the objective. The charts are drawn by the same modules as the panel's
Sweep section (`labextension/src/runs/sweepLines.ts`, `sweepParallel.ts`), bundled into
`static/sweep_details.js`.

Everything shown is in traits, so a notebook saved with widget state keeps it. While the
sweep's job is queued or running a background thread refreshes it every `POLL_SECONDS`: the
trials (one search by the tag `mlws.sweep.id`), the new points of the trials that were live
(by `since` cursor: an ended trial is never read again) and the best-so-far line; after the
sweep ends it refreshes once more and stops, as it does when the widget is closed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets as t

from ._common import Poller, SeriesFeed, error_text, esm

if TYPE_CHECKING:
    from ..client.sweeps import Sweep

POLL_SECONDS = 0.5
MAX_TRIALS = 10_000
SWEEP_TAG = "mlws.sweep.id"


def _live(state: str) -> bool:
    return state in ("queued", "running")


def _number(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def resolve_sweep(sweep: Any, workspace: Any = None) -> Sweep:
    """A `Sweep`, a sweep's job id, its (parent) run id, or its parent `Run` -> the `Sweep`.

    Text uses `workspace`, or the default workspace (`jupyter_mlws.Workspace()`) without one."""
    from ..client.run import Run
    from ..client.sweeps import Sweep

    if isinstance(sweep, Sweep):
        return sweep
    if isinstance(sweep, Run):
        return sweep.workspace.jobs.get_sweep(sweep.id)
    if not isinstance(sweep, str) or not sweep.strip():
        raise TypeError(f"Give a Sweep, a sweep's job id or its run id, not {sweep!r}.")
    if workspace is None:
        from ..client.fluent import default_workspace

        workspace = default_workspace()
    return workspace.jobs.get_sweep(sweep.strip())


class SweepDetails(anywidget.AnyWidget):
    """One sweep (a Sweep, its job id or its run id), live while it runs (module docstring)."""

    _esm = esm("sweep_details")

    sweep_id = t.Unicode("").tag(sync=True)
    run_id = t.Unicode("").tag(sync=True)
    name = t.Unicode("").tag(sync=True)
    experiment = t.Unicode("").tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    status_reason = t.Unicode("").tag(sync=True)
    objective = t.Unicode("").tag(sync=True)
    goal = t.Unicode("maximize").tag(sync=True)
    sampling = t.Unicode("").tag(sync=True)
    max_trials = t.Int(0).tag(sync=True)
    space = t.Dict().tag(sync=True)
    trials = t.List(t.Dict()).tag(sync=True)
    best_run_id = t.Unicode("").tag(sync=True)
    best_value = t.Float(None, allow_none=True).tag(sync=True)
    best_series = t.Dict().tag(sync=True)
    curves = t.List(t.Dict()).tag(sync=True)
    live = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        return f"<SweepDetails {self.sweep_id} {self.name!r} {self.status}: {len(self.trials)} trials>"

    def __init__(self, sweep: Any, *, live: bool = True, max_points: int = 1000, **kwargs: Any) -> None:
        self._poller: Poller | None = None  # first: `close()` runs even when a bad argument stops us
        self._sweep = resolve_sweep(sweep, kwargs.pop("workspace", None))
        self._workspace = self._sweep._jobs.workspace
        self._max_points = int(max_points)
        self._feeds: dict[str, SeriesFeed] = {}
        self._seen: dict[str, str] = {}
        self._best_feed = SeriesFeed(self._workspace, "step", self._max_points)
        settings = self._sweep.settings
        record = self._sweep.refresh()
        super().__init__(
            sweep_id=self._sweep.id,
            run_id=self._sweep.run_id,
            name=record.name,
            objective=self._sweep.objective,
            goal=str(settings.get("goal") or "maximize"),
            sampling=str(settings.get("sampling") or ""),
            max_trials=int(settings.get("max_trials") or 0),
            space={str(k): str(v) for k, v in (settings.get("space") or {}).items()},
            **kwargs,
        )
        self._best_feed.set_pairs([(self.run_id, record.name, f"best_{self.objective}")])
        found = self._workspace.store.get_experiment(record.experiment_id)
        self.experiment = found.name if found is not None else str(record.experiment_id)
        self._read()
        if live and _live(self.status):
            self.live = True
            self._poller = Poller(self._tick, POLL_SECONDS, name="mlws-sweep-details", on_error=self._failed)

    @property
    def sweep(self) -> Sweep:
        """The Sweep shown."""
        return self._sweep

    # ----- reading ------------------------------------------------------------------------------
    def _read(self) -> None:
        """The sweep's state, its trials, the new points of live trials and the best-so-far line."""
        record = self._sweep.refresh()
        parent = self._workspace.store.get_run(self.run_id).data
        tags = parent.tags
        trials = self._read_trials()
        curves_changed = False
        for row in trials:
            run_id, status = row["run_id"], row["status"]
            before = self._seen.get(run_id)
            if run_id not in self._feeds:
                feed = SeriesFeed(self._workspace, "step", self._max_points)
                feed.set_pairs([(run_id, row["name"], self.objective)])
                self._feeds[run_id] = feed
                curves_changed = True
            elif before is None or _live(before) or before != status:
                curves_changed = self._feeds[run_id].poll() or curves_changed
            self._seen[run_id] = status
        best_changed = self._best_feed.poll()
        with self.hold_trait_notifications():
            changes = {
                "status": record.state,
                "status_reason": record.state_reason or "",
                "best_run_id": tags.get("mlws.sweep.best_run") or "",
                "best_value": _number(parent.metrics.get(f"best_{self.objective}")),
            }
            for name, value in changes.items():
                if getattr(self, name) != value:
                    setattr(self, name, value)
            if trials != self.trials:
                self.trials = trials
            if curves_changed or len(self.curves) != len(trials) or self._stopped_changed(trials):
                self.curves = self._curves(trials)
            if best_changed or not self.best_series:
                line = (self._best_feed.series() or [{"x": [], "y": []}])[0]
                self.best_series = {"x": line["x"], "y": line["y"]}

    def _read_trials(self) -> list[dict[str, Any]]:
        """The trial runs as rows, as `Sweep.trials()` orders them: the completed trials best first by
        the goal, then the others (running, stopped, failed) by their last value; ties by trial."""
        store = self._workspace.store
        table = store.search_runs(None, filter=f"tags.`{SWEEP_TAG}` = '{self.run_id}'", limit=MAX_TRIALS)
        count = len(table.runs)

        def column(group: dict[str, list[Any]], key: str) -> list[Any]:
            return group.get(key, [None] * count)

        stopped, failed = column(table.tags, "mlws.sweep.stopped"), column(table.tags, "mlws.sweep.failed")
        numbers, values = column(table.tags, "mlws.sweep.trial"), column(table.metrics, self.objective)
        names = list(self.space) or sorted(table.params)
        rows = []
        for i, info in enumerate(table.runs):
            params = {n: column(table.params, n)[i] for n in names if column(table.params, n)[i] is not None}
            rows.append(
                {
                    "trial": int(numbers[i]) if numbers[i] is not None else None,
                    "run_id": info.run_id,
                    "name": info.name,
                    "status": "failed" if failed[i] else info.status.value,
                    "value": _number(values[i]),
                    "reason": stopped[i] or failed[i] or info.status_reason or "",
                    "stopped": bool(stopped[i]),
                    "params": params,
                }
            )
        sign = -1.0 if self.goal != "minimize" else 1.0
        rows.sort(
            key=lambda r: (
                r["status"] != "completed",
                r["value"] is None,
                sign * r["value"] if r["value"] is not None else 0.0,
                r["trial"] if r["trial"] is not None else math.inf,
            )
        )
        return rows

    def _stopped_changed(self, trials: list[dict[str, Any]]) -> bool:
        shown = {c["run_id"]: c["stopped"] for c in self.curves}
        return any(shown.get(r["run_id"]) != r["stopped"] for r in trials)

    def _curves(self, trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each trial's objective by step, in trial order (a trial keeps its colour)."""
        out = []
        for row in sorted(trials, key=lambda r: r["trial"] if r["trial"] is not None else math.inf):
            series = self._feeds[row["run_id"]].series()
            out.append(
                {
                    "run_id": row["run_id"],
                    "trial": row["trial"],
                    "x": series[0]["x"] if series else [],
                    "y": series[0]["y"] if series else [],
                    "stopped": row["stopped"],
                    "status": row["status"],
                }
            )
        return out

    # ----- live ---------------------------------------------------------------------------------
    def _tick(self) -> bool:
        was_live = _live(self.status)
        self._read()
        if _live(self.status):
            return True
        if was_live:
            self._read()  # the trials' last points, logged before the sweep's end was recorded
        self.live = False
        return False

    def refresh(self) -> None:
        """Read everything new now (what the live thread does every `POLL_SECONDS`)."""
        self._read()

    def _failed(self, err: BaseException) -> None:
        self.error = error_text(err)
        self.live = False

    @property
    def polling(self) -> bool:
        """True while the live thread runs."""
        return self._poller is not None and self._poller.alive

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the live thread (the widget keeps what it shows)."""
        if self._poller is not None:
            self._poller.stop()
            self._poller.thread.join(timeout)
        self.live = False

    def close(self) -> None:
        """Stop the live thread and close the widget."""
        if self._poller is not None:
            self._poller.stop()
        super().close()
