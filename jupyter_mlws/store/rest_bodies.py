"""The JSON shapes of the REST API on the client side: answers into entities, entities into bodies.

Used by the REST store (`rest.py`) and the spool (`spool.py`, `durable.py`); the server's side of
the same shapes is its pydantic models (`server/handlers/`), from which the OpenAPI document is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..entities import CellExecution, Experiment, RunData, RunInfo, RunRecord, RunStatus
from ..wire import decode_float


@dataclass
class PreparedBatch:
    """A validated batch in wire form: metric columns (values encoded by `wire.encode_float`),
    params and tags as text. What `send_batch` sends, and what the spool keeps."""

    keys: list[str]
    values: list[Any]
    steps: list[int]
    timestamps: list[int]
    params: dict[str, str]
    tags: dict[str, str]


def experiment_from_body(body: dict[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=body["experiment_id"],
        name=body["name"],
        artifact_location=body.get("artifact_location"),
        created_time=body["created_time"],
        last_update_time=body["last_update_time"],
        lifecycle_stage=body.get("lifecycle_stage") or "active",
        tags=dict(body.get("tags") or {}),
    )


def run_info_from_body(body: dict[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=body["run_id"],
        experiment_id=body["experiment_id"],
        name=body["name"],
        status=RunStatus.parse(body["status"]),
        start_time=body.get("start_time"),
        end_time=body.get("end_time"),
        heartbeat_time=body.get("heartbeat_time"),
        source_kind=body["source_kind"],
        compute_target=body["compute_target"],
        notebook_path=body.get("notebook_path"),
        cell_id=body.get("cell_id"),
        parent_run_id=body.get("parent_run_id"),
        user=body.get("user"),
        status_reason=body.get("status_reason"),
        host=body.get("host"),
        pid=body.get("pid"),
        kernel_id=body.get("kernel_id"),
        lifecycle_stage=body.get("lifecycle_stage") or "active",
    )


def record_from_body(body: dict[str, Any]) -> RunRecord:
    data = RunData(
        params=dict(body.get("params", {})),
        tags=dict(body.get("tags", {})),
        metrics={k: decode_float(v) for k, v in body.get("metrics", {}).items()},
    )
    return RunRecord(info=run_info_from_body(body), data=data)


_EXECUTION_FIELDS = (
    "source",
    "start_time",
    "duration_ms",
    "status",
    "run_id",
    "notebook_path",
    "cell_id",
    "execution_count",
    "kernel_id",
    "error",
)


def execution_body(execution: CellExecution) -> dict[str, Any]:
    """The JSON object of one execution (`POST /executions` items)."""
    return {name: getattr(execution, name) for name in _EXECUTION_FIELDS}


def execution_from_body(body: dict[str, Any]) -> CellExecution:
    """A CellExecution from a `GET /executions` item."""
    return CellExecution(
        **{name: body.get(name) for name in _EXECUTION_FIELDS}, execution_id=body.get("execution_id")
    )
