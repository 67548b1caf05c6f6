"""Experiments and runs beyond their names: ids, artifact locations, owners, recorded cell executions.

Who calls it: the SQL and REST stores before they write, and the server's experiment and
execution handlers (`validate_artifact_location`, `MAX_BATCH_EXECUTIONS`).
"""

from __future__ import annotations

import numbers
from typing import Any

from ..errors import InvalidParameter
from .values import STEP_MAX, TS_MAX, TS_MIN


def validate_experiment_id(value: object) -> int:
    """An experiment id: an integer from 1 to 2**63-1 (ids past that cannot exist)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < int(value) <= STEP_MAX:
        raise InvalidParameter(f"An experiment id is an integer from 1 to {STEP_MAX}, not {value!r:.40}.")
    return int(value)


def validate_artifact_location(value: object) -> str | None:
    """An experiment's artifact location (RELIABILITY P3): None, or a folder *inside* the
    workspace's artifact store written as a relative path. URLs (`file:///etc`), absolute paths
    and traversal (`../../`) are refused on write, and the server re-checks stored values
    before serving them (a value that fails is served as None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"An artifact location is a relative folder path, not {type(value).__name__}.")
    from ..paths import safe_relative_path

    try:
        return safe_relative_path(value)
    except InvalidParameter as err:
        raise InvalidParameter(
            f"Artifact location {value[:80]!r} must be a relative folder inside the workspace's "
            f"artifact store: {err.message}"
        ) from None


#: Limits of one recorded cell execution (see `validate_executions`).
EXECUTION_SOURCE_MAX = 256 * 1024
EXECUTION_ERROR_MAX = 8000
MAX_BATCH_EXECUTIONS = 1000


def _optional_text(what: str, value: object, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"{what} must be a string, not {type(value).__name__}.")
    if len(value) > limit:
        raise InvalidParameter(f"{what} is {len(value)} characters long; the limit is {limit}.")
    return value


def validate_executions(executions: object) -> list[Any]:
    """Check a batch of `CellExecution`s; the first bad one raises InvalidParameter naming it.

    A source longer than `EXECUTION_SOURCE_MAX` is cut with a visible marker
    (the record is a summary of what ran; the snapshot keeps whole files).
    """
    from ..entities import EXECUTION_STATUSES, CellExecution

    if not isinstance(executions, list | tuple):
        raise InvalidParameter("Executions must be a list.")
    if len(executions) > MAX_BATCH_EXECUTIONS:
        raise InvalidParameter(
            f"A batch holds at most {MAX_BATCH_EXECUTIONS} executions, not {len(executions)}."
        )
    checked = []
    for i, e in enumerate(executions):
        where = f"Execution {i}"
        if not isinstance(e, CellExecution):
            raise InvalidParameter(f"{where} is a {type(e).__name__}, not a CellExecution.")
        if not isinstance(e.source, str):
            raise InvalidParameter(f"{where}: source must be a string.")
        source = e.source
        if len(source) > EXECUTION_SOURCE_MAX:
            keep = EXECUTION_SOURCE_MAX - 80  # room for the marker: cutting again changes nothing
            source = source[:keep] + f"\n# ... ({len(source) - keep} more characters not recorded)\n"
        if e.status not in EXECUTION_STATUSES:
            raise InvalidParameter(
                f"{where}: status {e.status!r} is not one of {', '.join(EXECUTION_STATUSES)}."
            )
        for name in ("start_time", "duration_ms"):
            value = getattr(e, name)
            if type(value) is not int or value < 0:
                raise InvalidParameter(f"{where}: {name} must be a non-negative integer (ms).")
        if not TS_MIN <= e.start_time < TS_MAX:
            raise InvalidParameter(f"{where}: start_time {e.start_time} is not milliseconds since 1970.")
        count = e.execution_count
        if count is not None and (type(count) is not int or not 0 <= count < 2**31):
            raise InvalidParameter(f"{where}: execution_count must be a non-negative integer.")
        checked.append(
            CellExecution(
                source=source,
                start_time=e.start_time,
                duration_ms=e.duration_ms,
                status=e.status,
                run_id=_optional_text(f"{where}: run_id", e.run_id, 32),
                notebook_path=_optional_text(f"{where}: notebook_path", e.notebook_path, 4096),
                cell_id=_optional_text(f"{where}: cell_id", e.cell_id, 256),
                execution_count=count,
                kernel_id=_optional_text(f"{where}: kernel_id", e.kernel_id, 64),
                error=(e.error[:EXECUTION_ERROR_MAX] if isinstance(e.error, str) else None),
            )
        )
    return checked


def validate_owner(host: object, pid: object, kernel_id: object) -> tuple[str | None, int | None, str | None]:
    """Check the owner fields of a run (host name, process id, Jupyter kernel id)."""
    host = _optional_text("Run host", host, 256)
    if pid is not None and (type(pid) is not int or not 0 < pid < 2**31):
        raise InvalidParameter(f"Run pid must be a positive integer, not {pid!r}.")
    kernel_id = _optional_text("Run kernel_id", kernel_id, 64)
    return host, pid, kernel_id
