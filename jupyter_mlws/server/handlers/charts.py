"""Many runs' metric histories in one answer, on one x grid per metric (the panel's charts).

`GET /mlws/api/v1/metrics/histories?run_id=A&run_id=B&key=loss&key=acc&bins=400&x=step`

The comparison and the Charts view of an experiment draw up to hundreds of runs by tens of
metrics: one request per (run, metric) would be thousands, and each run's own downsampled
points would sit on a different x grid. This route reads every pair in one thread and puts
each metric's runs on one grid (`store/binning.py`): exact x values when there are few,
else `bins` equal bins with each run's mean, min and max per bin (`bands=false` leaves min and
max out: a chart of many runs draws no bands, and they are two thirds of the answer). x is `step`, `wall_time`
(seconds since the epoch) or `relative_time` (seconds since each run started). A run
without the metric is left out of that metric's list. Limits: 200 runs (a URL of 200 run ids
is 8 KB; the server refused a 12 KB query line here), 200 keys, 20,000 (run, key) pairs,
2-4,000 bins; an unknown run is a 404 naming it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ...errors import InvalidParameter
from ...store.binning import X_AXES, bin_on_grid, x_values
from ...validation import validate_key
from .base import MLWSHandler, route

MAX_RUNS = 200
MAX_KEYS = 200
MAX_PAIRS = 20_000
MAX_BINS = 4000


class BinnedRun(BaseModel):
    run_id: str
    mean: list[float | None] = Field(
        description="The run's value at each x (a bin's mean), null where it has none."
    )
    min: list[float | None] | None = Field(None, description="Each bin's lowest value (binned grids only).")
    max: list[float | None] | None = Field(None, description="Each bin's highest value (binned grids only).")
    total_points: int


class MetricGrid(BaseModel):
    key: str
    x: list[float]
    binned: bool = Field(description="True when x holds bin centres (else the exact x values logged).")
    runs: list[BinnedRun]


class MetricHistories(BaseModel):
    x_axis: str
    bins: int
    metrics: list[MetricGrid]


class MetricHistoriesQuery(BaseModel):
    run_id: list[str] = Field(description=f"Runs, repeated (at most {MAX_RUNS}).")
    key: list[str] = Field(description=f"Metric keys, repeated (at most {MAX_KEYS}).")
    bins: int = Field(400, ge=2, le=MAX_BINS)
    x: str = Field("step", description="step, wall_time or relative_time.")
    bands: bool = Field(True, description="false: leave out each bin's min and max (no bands drawn).")


def _read(
    store: Any, run_ids: list[str], keys: list[str], bins: int, axis: str, bands: bool
) -> MetricHistories:
    # A missing run is a 404 naming it (get_run_info for relative time, which needs each start;
    # else the first read of histories).
    starts = (
        {run_id: store.get_run_info(run_id).start_time for run_id in run_ids}
        if axis == "relative_time"
        else {}
    )
    metrics: list[MetricGrid] = []
    for key in keys:
        found = store.get_metric_histories(run_ids, key)
        xs = [x_values(axis, s.steps, s.timestamps, starts.get(run_id)) for run_id, s in found.items()]
        grid, binned, values = bin_on_grid(xs, [s.values for s in found.values()], bins, bands)
        # Built without validation: the lists are the binning's floats and Nones (a 100-run answer
        # holds a few hundred thousand values, which pydantic would check one by one).
        runs = [
            BinnedRun.model_construct(
                run_id=run_id, mean=v.mean, min=v.low, max=v.high, total_points=s.total_points
            )
            for (run_id, s), v in zip(found.items(), values, strict=True)
        ]
        metrics.append(MetricGrid.model_construct(key=key, x=grid, binned=binned, runs=runs))
    return MetricHistories(x_axis=axis, bins=bins, metrics=metrics)


class MetricHistoriesHandler(MLWSHandler):
    auth_resource = "mlws:runs"

    @route(
        "Metric histories of many runs, on one x grid per metric",
        query=MetricHistoriesQuery,
        response=MetricHistories,
        errors=(400, 403, 404),
        tags=("runs",),
    )
    async def get(self) -> None:
        run_ids = list(dict.fromkeys(self.get_query_arguments("run_id")))
        keys = list(dict.fromkeys(self.get_query_arguments("key")))
        if not run_ids or not keys:
            raise InvalidParameter("Give at least one run_id and one key (each may be repeated).")
        if len(run_ids) > MAX_RUNS or len(keys) > MAX_KEYS or len(run_ids) * len(keys) > MAX_PAIRS:
            raise InvalidParameter(
                f"{len(run_ids)} runs by {len(keys)} keys is too many: at most {MAX_RUNS} runs, "
                f"{MAX_KEYS} keys and {MAX_PAIRS} pairs per request."
            )
        keys = [validate_key("Metric key", k) for k in keys]
        bins = self.int_argument("bins", 2, MAX_BINS) or 400
        axis = self.get_query_argument("x", "step")
        if axis not in X_AXES:
            raise InvalidParameter(f"x must be one of {', '.join(X_AXES)}, not {axis[:40]!r}.")
        bands = self.get_query_argument("bands", "true")
        if bands not in ("true", "false"):
            raise InvalidParameter(f"bands must be true or false, not {bands[:40]!r}.")
        answer = await self.services.run(
            _read, self.services.store, run_ids, keys, bins, axis, bands == "true"
        )
        self.write_model(answer)
