"""Runs in the SQL store: create, read, update (status, name, end), heartbeat, delete a tag.

`SqlRunMixin` is a base of `SqlStore` (store.py keeps the plumbing: engines, the write path, the
run id cache). Every status change is checked by `entities.check_transition` inside the write
transaction and recorded in the change feed (`changes.record_change`) for the server's live events;
deleting a run is in removal.py, metrics, params and tags in metrics.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...entities import RunData, RunInfo, RunRecord, RunStatus, check_transition
from ...errors import AlreadyExists, InvalidParameter, NotFound, RunEnded
from ...validation import (
    decode_value,
    validate_experiment_id,
    validate_key,
    validate_name,
    validate_owner,
    validate_tag_value,
)
from ..base import now_ms
from . import metrics as metric_ops
from .changes import record_change
from .metrics import renew_heartbeat
from .rows import RUN_COLUMNS as _RUN_COLUMNS
from .rows import run_info_from_row
from .schema import RUN_CREATED, RUN_UPDATED, experiments, latest_metrics, runs
from .schema import params as params_t
from .schema import tags as tags_t

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

# Statements built once, their values passed as parameters: SQLAlchemy compiles each once.
_EXPERIMENT_EXISTS = select(experiments.c.experiment_id).where(experiments.c.experiment_id == bindparam("id"))
_INSERT_RUN = insert(runs)


class SqlRunMixin:
    """The run part of `MetadataStore` for SQL databases."""

    reader: Engine
    dialect: str
    _pk_cache: dict[str, int]

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def run_pk(self, run_id: str, conn: Connection | None = None) -> int:  # provided by SqlStore
        raise NotImplementedError

    def create_run(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        run_id: str | None = None,
        status: RunStatus | str = RunStatus.RUNNING,
        start_time: int | None = None,
        parent_run_id: str | None = None,
        source_kind: str = "api",
        compute_target: str = "local",
        notebook_path: str | None = None,
        cell_id: str | None = None,
        user: str | None = None,
        tags: Mapping[str, Any] | None = None,
        host: str | None = None,
        pid: int | None = None,
        kernel_id: str | None = None,
    ) -> RunRecord:
        status = RunStatus.parse(status)
        host, pid, kernel_id = validate_owner(host, pid, kernel_id)
        if status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            raise InvalidParameter(f"A new run starts as 'queued' or 'running', not {status.value!r}.")
        run_id = run_id or uuid.uuid4().hex
        if not (
            isinstance(run_id, str) and len(run_id) == 32 and all(c in "0123456789abcdef" for c in run_id)
        ):
            raise InvalidParameter(f"A run id is 32 lowercase hex characters, not {run_id!r}.")
        name = validate_name("Run name", name) if name is not None else run_id[:8]
        if start_time is None and status == RunStatus.RUNNING:
            start_time = now_ms()
        tag_rows = metric_ops.normalise_tags(tags)
        experiment_id = validate_experiment_id(experiment_id)
        if parent_run_id is not None:
            self.run_pk(parent_run_id)
        created = now_ms()
        values = dict(
            run_id=run_id,
            experiment_id=experiment_id,
            name=name,
            status=status.value,
            source_kind=str(source_kind)[:32],
            compute_target=str(compute_target)[:256],
            notebook_path=notebook_path,
            cell_id=cell_id,
            parent_run_id=parent_run_id,
            user_name=user,
            start_time=start_time,
            end_time=None,
            heartbeat_time=start_time,
            created_time=created,
            host=host,
            pid=pid,
            kernel_id=kernel_id,
        )

        def work(conn: Connection) -> int:
            # Checked in the write transaction itself: one connection, and no window in which
            # the experiment could be deleted between the check and the insert.
            if conn.execute(_EXPERIMENT_EXISTS, {"id": experiment_id}).first() is None:
                raise NotFound(f"Experiment {experiment_id!r} does not exist.")
            key = conn.execute(_INSERT_RUN, values).inserted_primary_key
            assert key is not None
            pk = int(key[0])
            if tag_rows:
                conn.execute(insert(tags_t), [{"run": pk, "key": k, "value": v} for k, v in tag_rows.items()])
            record_change(conn, pk, RUN_CREATED)
            return pk

        try:
            pk = self.write(work, "create_run")
        except IntegrityError:
            raise AlreadyExists(f"A run with id {run_id!r} already exists.") from None
        self._pk_cache[run_id] = pk
        info = RunInfo(
            run_id=run_id,
            experiment_id=experiment_id,
            name=name,
            status=status,
            start_time=start_time,
            end_time=None,
            heartbeat_time=start_time,
            source_kind=values["source_kind"],
            compute_target=values["compute_target"],
            notebook_path=notebook_path,
            cell_id=cell_id,
            parent_run_id=parent_run_id,
            user=user,
            host=host,
            pid=pid,
            kernel_id=kernel_id,
        )
        return RunRecord(info, RunData(tags=dict(tag_rows)))

    def get_run(self, run_id: str) -> RunRecord:
        with self.reader.begin() as conn:
            row = conn.execute(select(*_RUN_COLUMNS).where(runs.c.run_id == run_id)).first()
            if row is None:
                raise NotFound(f"Run {run_id!r} does not exist.")
            pk = row[0]
            param_rows = conn.execute(
                select(params_t.c.key, params_t.c.value).where(params_t.c.run == pk)
            ).fetchall()
            tag_rows = conn.execute(select(tags_t.c.key, tags_t.c.value).where(tags_t.c.run == pk)).fetchall()
            metric_rows = conn.execute(
                select(latest_metrics.c.key, latest_metrics.c.value, latest_metrics.c.value_kind).where(
                    latest_metrics.c.run == pk
                )
            ).fetchall()
        data = RunData(
            params=dict(param_rows),
            tags=dict(tag_rows),
            metrics={k: decode_value(v, kind) for k, v, kind in metric_rows},
        )
        return RunRecord(run_info_from_row(row), data)

    def update_run(
        self,
        run_id: str,
        *,
        status: RunStatus | str | None = None,
        end_time: int | None = None,
        name: str | None = None,
        status_reason: str | None = None,
    ) -> RunInfo:
        new_status = RunStatus.parse(status) if status is not None else None
        new_name = validate_name("Run name", name) if name is not None else None
        if status_reason is not None:
            status_reason = validate_tag_value("status_reason", status_reason)

        def work(conn: Connection) -> RunInfo:
            row = conn.execute(select(*_RUN_COLUMNS).where(runs.c.run_id == run_id)).first()
            if row is None:
                raise NotFound(f"Run {run_id!r} does not exist.")
            current = RunStatus(row[4])
            changes: dict[str, Any] = {}
            if _client_ended_first(current, new_status, end_time, row[6]):
                # The client's own ending, delivered late (spooled while the server was down),
                # happened before the server's verdict: the earlier ending is the true one.
                changes = {"status": new_status.value, "end_time": end_time, "status_reason": status_reason}
                conn.execute(update(runs).where(runs.c.id == row[0]).values(**changes))
                record_change(conn, row[0], RUN_UPDATED)
                return run_info_from_row(conn.execute(select(*_RUN_COLUMNS).where(runs.c.id == row[0])).one())
            if new_status is not None and new_status != current:
                check_transition(current, new_status)
                changes["status"] = new_status.value
                if new_status == RunStatus.RUNNING and row[5] is None:
                    changes["start_time"] = now_ms()
                if new_status.is_terminal:
                    changes["end_time"] = end_time if end_time is not None else now_ms()
            elif end_time is not None and not current.is_terminal:
                changes["end_time"] = end_time
            if new_name is not None:
                changes["name"] = new_name
            # An ended run keeps the end time and reason of its first ending: a second
            # ending (the kernel's exit hook after the server killed the run) changes nothing.
            if status_reason is not None and not current.is_terminal:
                changes["status_reason"] = status_reason
            if changes:
                conn.execute(update(runs).where(runs.c.id == row[0]).values(**changes))
                record_change(conn, row[0], RUN_UPDATED)
            return run_info_from_row(conn.execute(select(*_RUN_COLUMNS).where(runs.c.id == row[0])).one())

        result: RunInfo = self.write(work, "update_run")
        return result

    def heartbeat(self, run_id: str, time_ms: int | None = None) -> RunStatus:
        stamp = now_ms() if time_ms is None else int(time_ms)
        pk = self.run_pk(run_id)

        def work(conn: Connection) -> RunStatus:
            renew_heartbeat(conn, self.dialect, pk, stamp)
            status, reason = conn.execute(
                select(runs.c.status, runs.c.status_reason).where(runs.c.id == pk)
            ).one()
            if status in ("killed", "canceled"):
                # A late heartbeat never brings the run back (K5); its client is told why it ended.
                raise RunEnded(metric_ops.run_ended_message(run_id, status, reason))
            return RunStatus(status)

        result: RunStatus = self.write(work, "heartbeat")
        return result

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag (MLflow's delete-tag); recorded in the change feed like setting one."""
        key = validate_key("Tag key", key)
        pk = self.run_pk(run_id)

        def work(conn: Connection) -> None:
            if conn.execute(delete(tags_t).where(tags_t.c.run == pk, tags_t.c.key == key)).rowcount == 0:
                raise NotFound(f"Run {run_id!r} has no tag {key!r}.")
            record_change(conn, pk, RUN_UPDATED)

        self.write(work, "delete_tag")


def _client_ended_first(
    current: RunStatus, new: RunStatus | None, end_time: int | None, recorded_end: int | None
) -> bool:
    """Whether a terminal update replaces a `killed` the server recorded later than it."""
    return (
        current == RunStatus.KILLED
        and new is not None
        and new.is_terminal
        and new != current
        and end_time is not None
        and recorded_end is not None
        and end_time < recorded_end
    )
