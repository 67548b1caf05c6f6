"""Turning `runs` rows into `RunInfo`: shared by the store class and run search.

`RUN_COLUMNS` is the one column list both select; `run_info_from_row`
drops the internal integer id (first column), which never leaves the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...entities import RunInfo, RunStatus
from .schema import runs

_STATUS = {status.value: status for status in RunStatus}

RUN_COLUMNS = (
    runs.c.id,
    runs.c.run_id,
    runs.c.experiment_id,
    runs.c.name,
    runs.c.status,
    runs.c.start_time,
    runs.c.end_time,
    runs.c.heartbeat_time,
    runs.c.source_kind,
    runs.c.compute_target,
    runs.c.notebook_path,
    runs.c.cell_id,
    runs.c.parent_run_id,
    runs.c.user_name,
    runs.c.status_reason,
    runs.c.host,
    runs.c.pid,
    runs.c.kernel_id,
    runs.c.lifecycle_stage,
)


def run_info_from_row(row: Sequence[Any]) -> RunInfo:
    """A RunInfo from a row selected with `RUN_COLUMNS` (the internal id first, dropped)."""
    return RunInfo(
        run_id=row[1],
        experiment_id=row[2],
        name=row[3],
        status=_STATUS[row[4]],
        start_time=row[5],
        end_time=row[6],
        heartbeat_time=row[7],
        source_kind=row[8],
        compute_target=row[9],
        notebook_path=row[10],
        cell_id=row[11],
        parent_run_id=row[12],
        user=row[13],
        status_reason=row[14],
        host=row[15],
        pid=row[16],
        kernel_id=row[17],
        lifecycle_stage=row[18],
    )
