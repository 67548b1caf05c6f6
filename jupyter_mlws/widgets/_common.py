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

import traitlets as t

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


#: The x axes of the charts; "time" (the name before wall_time existed) means wall_time.
X_AXES = ("step", "wall_time", "relative_time")


def check_x(x: str) -> str:
    """A chart's x axis, or a ValueError naming the choices."""
    if x == "time":
        return "wall_time"
    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(map(repr, X_AXES))}, not {x!r}.")
    return x


def check_group_by(key: str | None) -> str | None:
    """A group-by key, "params.<name>" or "tags.<name>" (None or "" for none), or a ValueError."""
    if not key:
        return None
    kind, dot, name = str(key).partition(".")
    if kind not in ("params", "tags") or not dot or not name:
        raise ValueError(f"group_by must be 'params.<name>' or 'tags.<name>', not {key!r}.")
    return str(key)


class ChartOptions(t.HasTraits):
    """The chart options every chart widget has, as widget state (a saved notebook keeps them).

    `x`: "step", "wall_time" or "relative_time" (seconds since the run started); `smoothing`:
    the EMA weight 0-0.99 (TensorBoard's); `log_y`; `group_by`: "params.<name>" or
    "tags.<name>", one line per value (the mean of its runs, with the min-max band);
    `group_keys`: the keys the front end offers. The drawing is the panel's
    (labextension/src/common/chartCore.ts), bundled into the widgets.
    """

    x = t.Unicode("step").tag(sync=True)
    smoothing = t.Float(0.0).tag(sync=True)
    log_y = t.Bool(False).tag(sync=True)
    group_by = t.Unicode(None, allow_none=True).tag(sync=True)
    group_keys = t.List(t.Unicode()).tag(sync=True)

    @t.validate("x")
    def _valid_x(self, proposal: Any) -> str:
        return check_x(proposal["value"])

    @t.validate("smoothing")
    def _valid_smoothing(self, proposal: Any) -> float:
        value = float(proposal["value"])
        if not 0.0 <= value <= 0.99:
            raise ValueError(f"smoothing must be from 0 to 0.99 (TensorBoard's range), not {value}.")
        return value

    @t.validate("group_by")
    def _valid_group_by(self, proposal: Any) -> str | None:
        return check_group_by(proposal["value"])


def group_keys_of(records: Iterable[Any]) -> list[str]:
    """"params.<name>" and "tags.<name>" (user tags) of run records, sorted: what can group them."""
    keys: set[str] = set()
    for record in records:
        keys.update(f"params.{k}" for k in record.data.params)
        keys.update(f"tags.{k}" for k in record.data.tags if not k.startswith(("mlws.", "mlflow.")))
    return sorted(keys)


class SeriesFeed:
    """Histories of (run, key) pairs as chart series, read incrementally (see the module docstring)."""

    def __init__(
        self, workspace: Workspace, x: str = "step", max_points: int = 2000, group_by: str | None = None
    ) -> None:
        if max_points < 2:
            raise ValueError("max_points must be at least 2.")
        self.workspace = workspace
        self.x = check_x(x)
        self.group_by = check_group_by(group_by)
        self.max_points = int(max_points)
        self._series: dict[tuple[str, str], dict[str, Any]] = {}
        self._cursors: dict[tuple[str, str], int | None] = {}
        self._order: list[tuple[str, str]] = []
        self._records: dict[str, Any] = {}

    def _record(self, run_id: str) -> Any:
        if run_id not in self._records:
            self._records[run_id] = self.workspace.store.get_run(run_id)
        return self._records[run_id]

    def _xs(self, series: Any, run_id: str) -> list[float]:
        if self.x == "step":
            return [int(s) for s in series.steps]
        if self.x == "wall_time":
            return [int(t) / 1000.0 for t in series.timestamps]
        start = self._record(run_id).info.start_time
        origin = start if start is not None else (int(series.timestamps[0]) if len(series.timestamps) else 0)
        return [(int(t) - origin) / 1000.0 for t in series.timestamps]

    def group_of(self, run_id: str) -> str | None:
        """The run's group label for `group_by` ("lr = 0.01", "(none)"), None when not grouping."""
        if not self.group_by:
            return None
        kind, _, name = self.group_by.partition(".")
        data = self._record(run_id).data
        value = (data.params if kind == "params" else data.tags).get(name)
        return "(none)" if value is None else f"{name} = {value}"

    def _read_full(self, run_id: str, key: str, name: str) -> dict[str, Any]:
        got = self.workspace.store.get_metric_history(run_id, key, self.max_points)
        self._cursors[(run_id, key)] = got.cursor
        return {
            "run": run_id,
            "run_name": name,
            "key": key,
            "x": self._xs(got, run_id),
            "y": finite(got.values),
            "total": int(got.total_points),
            "group": self.group_of(run_id),
        }

    def set_axis(self, x: str | None = None, group_by: str | bool | None = False) -> None:
        """A new x axis and/or group-by key (False: keep it): every series is read again."""
        if x is not None:
            self.x = check_x(x)
        if group_by is not False:
            self.group_by = check_group_by(group_by)  # type: ignore[arg-type]
            self._records.clear()
        names = {pair: self._series[pair]["run_name"] for pair in self._order if pair in self._series}
        for pair in self._order:
            run_id, key = pair
            self._series[pair] = self._read_full(run_id, key, names.get(pair, run_id))

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
            points = sorted(zip(self._xs(got, run_id), finite(got.values), strict=True), key=lambda p: p[0])
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
            xs = np.asarray(self._xs(got, run_id), dtype=np.float64)
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
                    "group": self.group_of(run_id),
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
