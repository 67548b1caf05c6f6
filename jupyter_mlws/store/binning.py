"""Metric histories of many runs on one shared x grid (the charts of a comparison).

`downsample.minmax_indices` keeps each run's own points, so two runs of one
chart have different x values, and drawing 100 runs means joining 100 grids.
Here the histories of one metric key are put on one grid for all runs:

- When all runs together have at most `bins` distinct x values (a short or
  sparse metric), the grid is those values and nothing is lost.
- Otherwise the x range is cut into `bins` equal bins and a run's value in a
  bin is the mean of its points there, with their min and max (the chart's
  min/max band, so a spike inside a bin still shows). The grid is the bins'
  centres. Empty bins are None (a gap the chart bridges).
- x is the step, the wall time in seconds since the epoch, or the relative
  time in seconds since the run started (each run its own start).
- Non-finite values are left out of the means (a bin of only NaN is a gap).

Used by `GET /metrics/histories` (the panel's comparison and Charts views)
and by the widgets' grouping. A few vectorised numpy passes per run: about
0.1 ms for 10,000 points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

X_AXES = ("step", "wall_time", "relative_time")


@dataclass
class BinnedSeries:
    """One run's values on the shared grid (lists with None for empty bins)."""

    mean: list[float | None]
    low: list[float | None] | None
    high: list[float | None] | None


def x_values(axis: str, steps: Any, timestamps_ms: Any, start_ms: int | None) -> Any:
    """A history's x column (float numpy array) for `axis`."""
    import numpy as np

    if axis == "step":
        return np.asarray(steps, dtype=np.float64)
    stamps = np.asarray(timestamps_ms, dtype=np.float64)
    if axis == "wall_time":
        return stamps / 1000.0
    if axis == "relative_time":
        origin = float(start_ms) if start_ms is not None else (float(stamps[0]) if len(stamps) else 0.0)
        return (stamps - origin) / 1000.0
    raise ValueError(f"x must be one of {', '.join(X_AXES)}, not {axis!r}.")


def _as_list(values: Any, filled: Any) -> list[float | None]:
    """A numpy column as a list, None where `filled` is False (few: gaps are rare)."""
    out: list[float | None] = values.tolist()
    for i in (~filled).nonzero()[0].tolist():
        out[i] = None
    return out


def bin_on_grid(
    xs: Sequence[Any], ys: Sequence[Any], bins: int, bands: bool = True
) -> tuple[list[float], bool, list[BinnedSeries]]:
    """(grid, binned, per-series values) for x/y numpy columns of several runs; see the module.

    `bands=False` leaves out each bin's min and max (a chart of many runs draws no bands)."""
    import numpy as np

    # (x, y, lowest x, highest x) per run; min/max propagate NaN, so finite ends mean a finite x
    # (the usual case: steps and timestamps), else the non-finite x values are dropped.
    pairs = []
    for x, y in zip(xs, ys, strict=True):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if not len(x):
            pairs.append((x, y, 0.0, 0.0))
            continue
        lo, hi = float(x.min()), float(x.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            keep = np.isfinite(x)
            x, y = x[keep], y[keep]
            lo, hi = (float(x.min()), float(x.max())) if len(x) else (0.0, 0.0)
        pairs.append((x, y, lo, hi))
    present = [p for p in pairs if len(p[0])]
    if not present:
        return [], False, [BinnedSeries([], None, None) for _ in pairs]
    # One run with more than `bins` distinct x values is enough to bin (its x is sorted by step, so
    # counting its changes is cheap; the first such run ends the search); only short histories
    # need the union of all x values.
    binned = any(int(np.count_nonzero(np.diff(x))) + 1 > bins for x, _, _, _ in present if len(x) > bins)
    distinct = None if binned else np.unique(np.concatenate([x for x, _, _, _ in present]))
    binned = distinct is None or len(distinct) > bins
    if binned:
        lo = min(p[2] for p in present)
        hi = max(p[3] for p in present)
        width = (hi - lo) / bins
        grid = lo + width * (np.arange(bins) + 0.5)
        size = bins
    else:
        grid = distinct
        size = len(grid)
    out: list[BinnedSeries] = []
    for x, y, _, _ in pairs:
        if binned and width > 0:
            scaled = np.subtract(x, lo)
            np.divide(scaled, width, out=scaled)
            index = scaled.astype(np.int64)
            np.minimum(index, bins - 1, out=index)
        elif binned:
            index = np.zeros(len(x), np.int64)
        else:
            index = np.searchsorted(grid, x)
        # Sums of all points first: when every bin's sum is finite, so was every value (a NaN or
        # an infinity makes its bin's sum non-finite), and nothing needs filtering.
        sums = np.bincount(index, weights=y, minlength=size)
        if not np.isfinite(sums).all():
            finite = np.isfinite(y)
            index, y = index[finite], y[finite]
            sums = np.bincount(index, weights=y, minlength=size)
        counts = np.bincount(index, minlength=size)
        filled = counts > 0
        mean = np.divide(sums, counts, out=np.zeros(size), where=filled)
        if not binned or not bands:
            out.append(BinnedSeries(_as_list(mean, filled), None, None))
            continue
        order = np.argsort(index, kind="stable") if len(index) and np.any(np.diff(index) < 0) else None
        sorted_index = index if order is None else index[order]
        sorted_y = y if order is None else y[order]
        low = np.zeros(size)
        high = np.zeros(size)
        if len(sorted_index):
            starts = np.flatnonzero(np.r_[True, np.diff(sorted_index) != 0])
            which = sorted_index[starts]
            low[which] = np.minimum.reduceat(sorted_y, starts)
            high[which] = np.maximum.reduceat(sorted_y, starts)
        out.append(BinnedSeries(_as_list(mean, filled), _as_list(low, filled), _as_list(high, filled)))
    return [float(v) for v in grid.tolist()], binned, out
