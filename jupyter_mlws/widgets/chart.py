"""`MetricChart(runs, metrics)`: metrics across runs, drawn by uPlot in the notebook.

The series live in the `series` trait (a list of
`{run, run_name, key, x, y, total, group}`; `x` is the step, the wall time in
seconds or the seconds since the run started, `y` None where a value is not
finite), so a notebook saved with widget state keeps the chart. The chart
options (`x`, `smoothing`, `log_y`, `group_by`, see `ChartOptions`) are widget
state too, set from Python or from the chart's own controls. Histories come
downsampled from the store (`max_points`).
With `live=True`, while any shown run is `queued` or `running`, a background
thread reads the points logged since the last read every 0.5 s and appends
them; it stops when every run has ended or the widget is closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import traitlets as t

from ._common import ChartOptions, Poller, SeriesFeed, error_text, esm, group_keys_of, resolve_runs


def _is_live(status: Any) -> bool:
    return getattr(status, "value", status) in ("queued", "running")


class MetricChart(ChartOptions, anywidget.AnyWidget):
    """One chart of `metrics` (a key or a list) for `runs` (Run objects or ids).

    `x="step" | "wall_time" | "relative_time"`, `smoothing=0.6` (EMA weight, 0-0.99),
    `log_y=True`, `group_by="params.optimizer"` (one mean line per value with its
    min-max band)."""

    _esm = esm("metric_chart")

    series = t.List(t.Dict()).tag(sync=True)
    metrics = t.List(t.Unicode()).tag(sync=True)
    max_points = t.Int(2000).tag(sync=True)
    live = t.Bool(False).tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    window = t.Dict(allow_none=True, default_value=None).tag(sync=True)

    def __repr__(self) -> str:
        points = sum(len(s["x"]) for s in self.series)
        return f"<MetricChart {', '.join(self.metrics)}: {len(self._runs)} runs, {points} points>"

    def __init__(
        self,
        runs: Any,
        metrics: str | Sequence[str],
        x: str = "step",
        max_points: int = 2000,
        live: bool = True,
        *,
        smoothing: float = 0.0,
        log_y: bool = False,
        group_by: str | None = None,
        workspace: Any = None,
        title: str = "",
        **kwargs: Any,
    ) -> None:
        keys = [metrics] if isinstance(metrics, str) else list(metrics)
        if not keys:
            raise ValueError("Give at least one metric key.")
        self._workspace, self._runs = resolve_runs(runs, workspace)
        self._feed = SeriesFeed(self._workspace, x, max_points, group_by)
        self._workspace.flush()
        self._feed.set_pairs([(r.id, r.name, k) for r in self._runs for k in keys])
        store = self._workspace.store
        super().__init__(
            series=self._feed.series(),
            metrics=keys,
            x=self._feed.x,
            smoothing=smoothing,
            log_y=log_y,
            group_by=self._feed.group_by,
            group_keys=group_keys_of(store.get_run(r.id) for r in self._runs),
            max_points=int(max_points),
            title=title,
            **kwargs,
        )
        self.observe(self._on_axis, names=["x", "group_by"])
        self.on_msg(self._on_message)
        self._poller: Poller | None = None
        if live and self._any_live():
            self.live = True
            self._poller = Poller(self._tick, name="mlws-metric-chart", on_error=self._failed)

    def _on_axis(self, change: Any) -> None:
        """A new x axis or group-by key (from Python or the chart's controls): read the series again."""
        self._workspace.flush()
        if change["name"] == "x":
            self._feed.set_axis(x=change["new"])
        else:
            self._feed.set_axis(group_by=change["new"])
        self.window = None  # type: ignore[assignment]
        self.series = self._feed.series()

    @property
    def runs(self) -> list[Any]:
        """The Run handles shown."""
        return list(self._runs)

    def _any_live(self) -> bool:
        return any(_is_live(self._workspace.store.get_run_info(r.id).status) for r in self._runs)

    def _tick(self) -> bool:
        still_live = self._any_live()  # read before the points: the last points are never missed
        if self._feed.poll():
            self.series = self._feed.series()
        if not still_live:
            self.live = False
        return still_live

    def zoom(self, x0: float | None, x1: float | None = None) -> None:
        """Show the detail of x in [x0, x1] (`window` trait); `zoom(None)` goes back to the whole run.

        The front end calls this when the user drags across the chart."""
        if x0 is None or x1 is None:
            self.window = None  # type: ignore[assignment]
            return
        low, high = sorted((float(x0), float(x1)))
        self._workspace.flush()
        self.window = {"x0": low, "x1": high, "series": self._feed.window(low, high)}

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "zoom":
            try:
                self.zoom(content.get("x0"), content.get("x1"))
            except Exception as err:  # a message handler must not raise into the kernel
                self.error = f"Zoom failed: {getattr(err, 'message', None) or err}"

    def refresh(self) -> None:
        """Read the new points now (what the live thread does every 0.5 s)."""
        if self._feed.poll():
            self.series = self._feed.series()

    def _failed(self, err: BaseException) -> None:
        self.error = error_text(err)
        self.live = False

    @property
    def polling(self) -> bool:
        """True while the live thread runs."""
        return self._poller is not None and self._poller.alive

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the live thread (the chart keeps its data)."""
        if self._poller is not None:
            self._poller.stop()
            self._poller.thread.join(timeout)
        self.live = False

    def close(self) -> None:
        """Stop the live thread and close the widget."""
        poller = getattr(self, "_poller", None)  # None too when __init__ raised before starting it
        if poller is not None:
            poller.stop()
        super().close()
