"""What the widgets share: the front-end bundle, run resolution and the series poller.

`SeriesFeed` reads metric histories for (run, key) pairs from the store,
downsampled to `max_points`, and afterwards only the points logged since the
last read (the store's `since` cursor). A series that grows past
`max_points` is read again downsampled, so a chart never holds more.
`Poller` is the background thread of the live widgets: it calls a tick
function every `interval` seconds until the tick says stop or `stop()`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client.run import Run
    from ..client.workspace import Workspace

STATIC = Path(__file__).parent / "static"
POLL_SECONDS = 0.5


def esm(name: str) -> Path | str:
    """The built ES module `static/<name>.js`, or a module that says how to build it."""
    path = STATIC / f"{name}.js"
    if path.exists():
        return path
    message = f"jupyter_mlws: the widget bundle {name}.js is missing; run `jlpm build` in the source tree."
    return (
        "export default { render({ el }) { const p = document.createElement('pre'); "
        f"p.textContent = {message!r}; el.appendChild(p); }} }};"
    )


def resolve_runs(runs: Any, workspace: Workspace | None = None) -> tuple[Workspace, list[Run]]:
    """Run objects or run ids (one or a list) -> (workspace, [Run]); ids use `workspace` or the default."""
    from ..client.run import Run

    items = [runs] if isinstance(runs, (str, Run)) else list(runs)
    if not items:
        raise ValueError("Give at least one run (a Run or a run id).")
    if workspace is None:
        first_run = next((r for r in items if isinstance(r, Run)), None)
        if first_run is not None:
            workspace = first_run.workspace
        else:
            from ..client.fluent import default_workspace

            workspace = default_workspace()
    resolved = [r if isinstance(r, Run) else workspace.get_run(str(r)) for r in items]
    return workspace, resolved


def error_text(err: BaseException) -> str:
    """What a widget shows when its live refresh failed."""
    return f"Live updates stopped: {getattr(err, 'message', None) or err}"


def finite(values: Iterable[Any]) -> list[float | None]:
    """Floats for JSON: NaN and infinities become None (a gap in the chart)."""
    out: list[float | None] = []
    for v in values:
        f = float(v)
        out.append(f if math.isfinite(f) else None)
    return out


def nudge_writer(workspace: Workspace) -> bool:
    """Ask this process's metric writer to write its waiting points now (`MetricLogger.nudge`).

    The writer sleeps up to 1 s when idle; a live chart polls every 0.5 s and must show
    points within 1 s. Never raises; False when this workspace has logged nothing here.
    """
    logger = getattr(workspace, "_logger", None)  # not `.logger`: that would create one
    return bool(logger is not None and logger.nudge())


class SeriesFeed:
    """Histories of (run, key) pairs as chart series, read incrementally (see the module docstring)."""

    def __init__(self, workspace: Workspace, x: str = "step", max_points: int = 2000) -> None:
        if x not in ("step", "time"):
            raise ValueError("x must be 'step' or 'time'.")
        if max_points < 2:
            raise ValueError("max_points must be at least 2.")
        self.workspace = workspace
        self.x = x
        self.max_points = int(max_points)
        self._series: dict[tuple[str, str], dict[str, Any]] = {}
        self._cursors: dict[tuple[str, str], int | None] = {}
        self._order: list[tuple[str, str]] = []

    def _xs(self, series: Any) -> list[float]:
        if self.x == "step":
            return [int(s) for s in series.steps]
        return [int(t) / 1000.0 for t in series.timestamps]

    def _read_full(self, run_id: str, key: str, name: str) -> dict[str, Any]:
        got = self.workspace.store.get_metric_history(run_id, key, self.max_points)
        self._cursors[(run_id, key)] = got.cursor
        return {
            "run": run_id,
            "run_name": name,
            "key": key,
            "x": self._xs(got),
            "y": finite(got.values),
            "total": int(got.total_points),
        }

    def set_pairs(self, pairs: Sequence[tuple[str, str, str]]) -> None:
        """(run_id, run_name, key) triples to show; new ones are read in full, gone ones dropped."""
        wanted = [(r, k) for r, _, k in pairs]
        for run_id, name, key in pairs:
            if (run_id, key) not in self._series:
                self._series[(run_id, key)] = self._read_full(run_id, key, name)
        for gone in set(self._series) - set(wanted):
            self._series.pop(gone, None)
            self._cursors.pop(gone, None)
        self._order = wanted

    def poll(self) -> bool:
        """Read the points logged since the last read; True when any series changed."""
        changed = False
        if nudge_writer(self.workspace):
            time.sleep(0.05)  # the writer takes a few ms; read after it
        for pair in self._order:
            run_id, key = pair
            current = self._series[pair]
            got = self.workspace.store.get_metric_history(run_id, key, None, self._cursors.get(pair))
            if got.cursor is not None:
                self._cursors[pair] = got.cursor
            if not len(got.values):
                continue
            changed = True
            total = current["total"] + len(got.values)
            if len(current["x"]) + len(got.values) > self.max_points:
                self._series[pair] = self._read_full(run_id, key, current["run_name"])
                continue
            points = sorted(zip(self._xs(got), finite(got.values), strict=True), key=lambda p: p[0])
            xs, ys = list(current["x"]), list(current["y"])
            for x, y in points:
                if xs and x < xs[-1]:  # a late point with an earlier step: keep x sorted
                    self._series[pair] = self._read_full(run_id, key, current["run_name"])
                    break
                xs.append(x)
                ys.append(y)
            else:
                self._series[pair] = {**current, "x": xs, "y": ys, "total": total}
        return changed

    def window(self, x0: float, x1: float) -> list[dict[str, Any]]:
        """Every series' stored points with x in [x0, x1] (plus one each side), downsampled.

        What a zoomed chart shows: the overview holds `max_points` over the whole
        run, the window `max_points` over the zoomed range, read from the store
        in full (about 0.1 s for a million points) and cut with `minmax_indices`.
        """
        import numpy as np

        from ..store.downsample import minmax_indices

        out = []
        for run_id, key in self._order:
            got = self.workspace.store.get_metric_history(run_id, key, None)
            if self.x == "step":
                xs = np.asarray(got.steps, dtype=np.float64)
            else:
                xs = np.asarray(got.timestamps, dtype=np.float64) / 1000.0
            values = np.asarray(got.values, dtype=np.float64)
            order = np.argsort(xs, kind="stable")
            xs, values = xs[order], values[order]
            lo = max(int(np.searchsorted(xs, x0, "left")) - 1, 0)
            hi = min(int(np.searchsorted(xs, x1, "right")) + 1, len(xs))
            picked = minmax_indices(values[lo:hi], self.max_points) + lo if hi > lo else np.arange(0)
            x_out = xs[picked]
            out.append(
                {
                    "run": run_id,
                    "run_name": self._series[(run_id, key)]["run_name"],
                    "key": key,
                    "x": [int(v) for v in x_out] if self.x == "step" else [float(v) for v in x_out],
                    "y": finite(values[picked]),
                    "total": int(got.total_points),
                }
            )
        return out

    def series(self) -> list[dict[str, Any]]:
        """The series in display order (new list objects, so traitlets sees a change)."""
        return [dict(self._series[p]) for p in self._order if p in self._series]


class Poller:
    """A daemon thread that calls `tick()` every `interval` s until it returns False or `stop()`."""

    def __init__(
        self,
        tick: Callable[[], bool],
        interval: float = POLL_SECONDS,
        name: str = "mlws-widget",
        on_error: Callable[[BaseException], None] | None = None,
    ):
        self._tick = tick
        self._on_error = on_error
        self._interval = interval
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if not self._tick():
                    return
            except Exception as err:  # shown by the widget; never kill the kernel
                self.error = err
                if self._on_error is not None:
                    self._on_error(err)
                return

    def stop(self) -> None:
        self._stop.set()

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()
