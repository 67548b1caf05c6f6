"""Turn store results into pandas DataFrames (the shapes of DESIGN.md §5).

Called by `Workspace.runs`, `mlws.search_runs` and `Run.metric_history`. The
store hands over columns, so a frame is built without a Python loop per run.
Times become timezone-aware UTC timestamps, `duration` is seconds (float;
NaN while a run has no end).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..entities import MetricSeries, RunTable

RUN_COLUMNS = ["run_id", "experiment", "name", "status", "start_time", "end_time", "duration"]


def _times(values: list[int | None]) -> pd.Series:
    array = np.array([np.nan if v is None else v for v in values], dtype="float64")
    return pd.to_datetime(array, unit="ms", utc=True)


def runs_frame(table: RunTable) -> pd.DataFrame:
    """One row per run: run_id, experiment, name, status, times, then params./metrics./tags. columns."""
    infos = table.runs
    starts = [i.start_time for i in infos]
    ends = [i.end_time for i in infos]
    duration = np.array(
        [np.nan if s is None or e is None else (e - s) / 1000.0 for s, e in zip(starts, ends, strict=False)],
        dtype="float64",
    )
    columns: dict[str, Any] = {
        "run_id": [i.run_id for i in infos],
        "experiment": table.experiment_names,
        "name": [i.name for i in infos],
        "status": [i.status.value for i in infos],
        "start_time": _times(starts),
        "end_time": _times(ends),
        "duration": duration,
    }
    for prefix, group in (("params", table.params), ("metrics", table.metrics), ("tags", table.tags)):
        for key in sorted(group):
            values = group[key]
            if prefix == "metrics":
                columns[f"{prefix}.{key}"] = np.array(
                    [np.nan if v is None else v for v in values], dtype="float64"
                )
            else:
                columns[f"{prefix}.{key}"] = values
    frame = pd.DataFrame(columns)
    frame.attrs["next_page_token"] = table.next_page_token
    return frame


def history_frame(series: MetricSeries) -> pd.DataFrame:
    """DataFrame(step, timestamp, value); `attrs['total_points']` is the stored length."""
    frame = pd.DataFrame(
        {
            "step": np.asarray(series.steps, dtype="int64"),
            "timestamp": pd.to_datetime(np.asarray(series.timestamps, dtype="int64"), unit="ms", utc=True),
            "value": np.asarray(series.values, dtype="float64"),
        }
    )
    frame.attrs["total_points"] = series.total_points
    frame.attrs["key"] = series.key
    return frame
