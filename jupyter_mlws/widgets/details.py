"""`RunDetails(run)`: one run in the notebook — status, params, charts, log tail, artifacts, snapshot.

Everything shown is in traits (saved with the notebook's widget state). While
the run is `queued` or `running` a background thread refreshes it every 0.5 s:
new metric points (by `since` cursor), new metric keys, the status and end
time, the log's last `LOG_LINES` lines and the artifact list; it stops when
the run has ended (after one last refresh) or the widget is closed. A `Run`
shown as the last expression of a cell displays as a RunDetails.

A job's run (issue 15) shows its place in the queue as the status reason while it
waits ("queued: #2 in cpu's queue") and the job's live output as its log while it
runs, until the attempt's `logs/std_log.txt` exists.
"""

from __future__ import annotations

import time
from typing import Any

import anywidget
import traitlets as t

from ._common import ChartOptions, Poller, SeriesFeed, error_text, esm, nudge_writer, resolve_runs

LOG_LINES = 200
SLOW_EVERY = 4  # the log and the artifact list are re-read every 4th tick (2 s)


def _is_live(status: str) -> bool:
    return status in ("queued", "running")


class RunDetails(ChartOptions, anywidget.AnyWidget):
    """The details of one run (a Run or a run id), live while it runs."""

    _esm = esm("run_details")

    run_id = t.Unicode("").tag(sync=True)
    name = t.Unicode("").tag(sync=True)
    experiment = t.Unicode("").tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    status_reason = t.Unicode("").tag(sync=True)
    start_time = t.Int(0, allow_none=True).tag(sync=True)
    end_time = t.Int(None, allow_none=True).tag(sync=True)
    params = t.Dict().tag(sync=True)
    tags = t.Dict().tag(sync=True)
    metrics = t.Dict().tag(sync=True)
    series = t.List(t.Dict()).tag(sync=True)
    logs = t.Unicode("").tag(sync=True)
    artifacts = t.List(t.Dict()).tag(sync=True)
    snapshot = t.List(t.Dict()).tag(sync=True)
    live = t.Bool(False).tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        return f"<RunDetails {self.run_id} {self.name!r} {self.status}>"

    def __init__(
        self,
        run: Any,
        *,
        x: str = "step",
        max_points: int = 2000,
        live: bool = True,
        smoothing: float = 0.0,
        log_y: bool = False,
        **kwargs: Any,
    ) -> None:
        self._workspace, (self._run,) = resolve_runs([run], kwargs.pop("workspace", None))
        self._feed = SeriesFeed(self._workspace, x, max_points)
        self._ticks = 0
        self._job: dict[str, str] | None = None
        self._job_cursor = 0
        self._job_text = ""
        super().__init__(run_id=self._run.id, x=self._feed.x, smoothing=smoothing, log_y=log_y, **kwargs)
        self.observe(self._on_axis, names=["x"])
        self._workspace.flush()
        self._read_info()
        self._read_slow()
        self._read_snapshot()
        self.series = self._feed.series()
        self._poller: Poller | None = None
        if live and _is_live(self.status):
            self.live = True
            self._poller = Poller(self._tick, name="mlws-run-details", on_error=self._failed)

    def _on_axis(self, change: Any) -> None:
        """A new x axis (from Python or the chart's controls): read the series again."""
        self._workspace.flush()
        self._feed.set_axis(x=change["new"])
        self.series = self._feed.series()

    @property
    def run(self) -> Any:
        """The Run shown."""
        return self._run

    def _read_info(self) -> bool:
        """Status, times, params, tags, latest metrics and new metric keys; True when anything changed."""
        record = self._workspace.store.get_run(self._run.id)
        info, data = record.info, record.data
        if not self.experiment:
            found = self._workspace.store.get_experiment(info.experiment_id)
            self.experiment = found.name if found is not None else str(info.experiment_id)
        reason = info.status_reason or ""
        job_id = data.tags.get("mlws.job.id")
        if job_id and info.status.value == "queued":
            reason = self._queue_place(job_id) or reason
        changes = {
            "name": info.name,
            "status": info.status.value,
            "status_reason": reason,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "params": dict(data.params),
            "tags": {k: v for k, v in data.tags.items() if not k.startswith("mlws.")},
            "metrics": {
                k: (v if v == v and abs(v) != float("inf") else None) for k, v in data.metrics.items()
            },
        }
        changed = False
        with self.hold_trait_notifications():
            for name, value in changes.items():
                if getattr(self, name) != value:
                    setattr(self, name, value)
                    changed = True
        keys = sorted(k for k in data.metrics if not k.startswith("system/")) or sorted(data.metrics)
        self._feed.set_pairs([(info.run_id, info.name, k) for k in keys])
        return changed

    def _read_slow(self) -> None:
        """The log tail and the artifact list."""
        rows = self._workspace.store.list_artifacts(self._run.id)
        artifacts = [{"path": r.path, "size": int(r.size)} for r in rows]
        if artifacts != self.artifacts:
            self.artifacts = artifacts
        text = None
        if any(r.path.startswith("logs/") for r in rows):
            text = self._run.logs()
        elif "mlws.job.id" in self._job_tags():
            text = self._job_output()
        if text is not None:
            tail = "\n".join(text.splitlines()[-LOG_LINES:])
            if tail != self.logs:
                self.logs = tail

    # ----- a job's run (issue 15): its place in the queue and its output while it runs ---------------
    def _job_tags(self) -> dict[str, str]:
        if self._job is None:
            tags = self._workspace.store.get_run(self._run.id).data.tags
            self._job = {k: v for k, v in tags.items() if k.startswith("mlws.job.")}
        return self._job

    def _queue_place(self, job_id: str) -> str | None:
        """ "queued: 2nd in cpu's queue" for a job's run that waits."""
        try:
            store = self._workspace.store
            job = store.get_job(job_id)
            waiting = sorted(
                store.list_jobs(states=["queued"], target=job.target),
                key=lambda j: (-j.priority, j.submitted_ns),
            )
        except Exception:
            return None
        place = next((i for i, j in enumerate(waiting, 1) if j.job_id == job_id), None)
        return f"queued: #{place} in {job.target}'s queue" if place else f"queued on {job.target}"

    def _job_output(self) -> str:
        """What the job's current attempt printed so far (its live log, before the artifact exists)."""
        tags = self._job_tags()
        attempt = int(tags.get("mlws.job.attempt", "1") or 1)
        chunks = self._workspace.store.job_logs(tags["mlws.job.id"], since=self._job_cursor)
        if chunks:
            self._job_cursor = chunks[-1].cursor
            self._job_text += "".join(c.text for c in chunks if c.attempt == attempt)
            self._job_text = self._job_text[-200_000:]
        return self._job_text

    def _read_snapshot(self) -> None:
        try:
            frame = self._run.snapshot()
        except Exception:  # no snapshot (an API run): the section says so
            return
        self.snapshot = [
            {"path": str(p), "size": int(s)} for p, s in zip(frame["path"], frame["size"], strict=True)
        ]

    def _tick(self) -> bool:
        self._ticks += 1
        if nudge_writer(self._workspace):
            time.sleep(0.05)  # new keys appear in the run's latest metrics once written
        self._read_info()
        live = _is_live(self.status)
        changed = self._feed.poll()
        if changed or len(self._feed.series()) != len(self.series):
            self.series = self._feed.series()
        if not live or self._ticks % SLOW_EVERY == 0:
            self._read_slow()
        if not live:
            self._read_snapshot()
            self.live = False
        return live

    def refresh(self) -> None:
        """Read everything again now."""
        self._read_info()
        self._feed.poll()
        self.series = self._feed.series()
        self._read_slow()

    def _failed(self, err: BaseException) -> None:
        self.error = error_text(err)
        self.live = False

    @property
    def polling(self) -> bool:
        """True while the live thread runs."""
        return self._poller is not None and self._poller.alive

    def close(self) -> None:
        """Stop the live thread and close the widget."""
        poller = getattr(self, "_poller", None)  # None too when __init__ raised before starting it
        if poller is not None:
            poller.stop()
        super().close()
