"""The `cell_executions` table of the SQL store: every cell the execution recorder saw.

Called by `SqlStore.record_executions / list_executions`. The recorder in a
kernel (`notebook/recorder.py`) sends executions in batches; a batch is one
transaction (all or nothing). Values are checked by `validate_executions`
(shared with the REST store and the server), so every backend refuses the
same bad input with the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from ...entities import CellExecution
from ...validation import validate_executions
from .schema import cell_executions, runs

if TYPE_CHECKING:
    from .store import SqlStore

_COLUMNS = (
    cell_executions.c.id,
    runs.c.run_id,
    cell_executions.c.kernel_id,
    cell_executions.c.notebook_path,
    cell_executions.c.cell_id,
    cell_executions.c.execution_count,
    cell_executions.c.source,
    cell_executions.c.start_time,
    cell_executions.c.duration_ms,
    cell_executions.c.status,
    cell_executions.c.error,
)


def record(store: SqlStore, executions: Sequence[CellExecution]) -> int:
    """Insert a batch of executions in one transaction; returns how many were stored."""
    items = validate_executions(executions)
    if not items:
        return 0
    pks = {e.run_id: store.run_pk(e.run_id) for e in items if e.run_id is not None}
    rows: list[dict[str, Any]] = [
        {
            "run": pks[e.run_id] if e.run_id is not None else None,
            "kernel_id": e.kernel_id,
            "notebook_path": e.notebook_path,
            "cell_id": e.cell_id,
            "execution_count": e.execution_count,
            "source": e.source,
            "start_time": e.start_time,
            "duration_ms": e.duration_ms,
            "status": e.status,
            "error": e.error,
        }
        for e in items
    ]
    store.write(lambda conn: conn.execute(insert(cell_executions), rows), "record_executions")
    return len(rows)


def listing(
    store: SqlStore,
    run_id: str | None = None,
    notebook_path: str | None = None,
    kernel_id: str | None = None,
    limit: int = 100,
) -> list[CellExecution]:
    """Executions matching every given filter, newest first."""
    query = select(*_COLUMNS).select_from(
        cell_executions.outerjoin(runs, runs.c.id == cell_executions.c.run)
    )
    if run_id is not None:
        query = query.where(cell_executions.c.run == store.run_pk(run_id))
    if notebook_path is not None:
        query = query.where(cell_executions.c.notebook_path == notebook_path)
    if kernel_id is not None:
        query = query.where(cell_executions.c.kernel_id == kernel_id)
    query = query.order_by(cell_executions.c.start_time.desc(), cell_executions.c.id.desc()).limit(limit)
    with store.reader.connect() as conn:
        found = conn.execute(query).fetchall()
    return [
        CellExecution(
            execution_id=row[0],
            run_id=row[1],
            kernel_id=row[2],
            notebook_path=row[3],
            cell_id=row[4],
            execution_count=row[5],
            source=row[6],
            start_time=row[7],
            duration_ms=row[8],
            status=row[9],
            error=row[10],
        )
        for row in found
    ]
