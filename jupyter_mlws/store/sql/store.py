"""`SqlStore`: the metadata store on SQLite or PostgreSQL (SQLAlchemy 2 Core).

Opened by `store.factory.open_store` for `sqlite:///...` and
`postgresql://...` URLs. Experiments, runs and artifact records live here;
the hot paths (metric batches, history) are in `sql/metrics.py` and run
search in `sql/search.py`. Every write goes through `engine.run_write`
(one transaction, retried while SQLite is busy); reads use the reader pool.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ...entities import (
    ArtifactRecord,
    CellExecution,
    ChangeSet,
    Experiment,
    Metric,
    MetricSeries,
    RunData,
    RunInfo,
    RunRecord,
    RunStatus,
    RunTable,
    check_transition,
)
from ...errors import AlreadyExists, InvalidParameter, NotFound
from ...location import redact_url
from ...validation import (
    decode_value,
    validate_artifact_location,
    validate_experiment_id,
    validate_name,
    validate_owner,
    validate_tag_value,
)
from ..base import MetadataStore, now_ms
from . import artifact_records, removal
from . import executions as execution_ops
from . import metrics as metric_ops
from . import search as search_ops
from .changes import changes_since as _changes_since
from .changes import prune as _prune_changes
from .changes import record_change
from .compute import SqlComputeMixin
from .endpoints import SqlEndpointMixin
from .engine import create_engines, normalise_url, run_write, sqlite_path, wal_checkpoint
from .gate import WriteGate
from .migrate import ensure_schema
from .registry import SqlRegistryMixin
from .rows import RUN_COLUMNS as _RUN_COLUMNS
from .rows import run_info_from_row
from .schema import HEAD_REVISION, RUN_CREATED, RUN_UPDATED, experiments, latest_metrics, runs
from .schema import params as params_t
from .schema import tags as tags_t

CHECKPOINT_EVERY_WRITES = 500

# Statements built once, their values passed as parameters: SQLAlchemy compiles each once.
_EXPERIMENT_EXISTS = select(experiments.c.experiment_id).where(
    experiments.c.experiment_id == bindparam("id")
)
_INSERT_RUN = insert(runs)
CHECKPOINT_EVERY_SECONDS = 30.0


def _experiment(row: Sequence[Any]) -> Experiment:
    return Experiment(row[0], row[1], row[2], row[3], row[4])


class SqlStore(SqlComputeMixin, SqlRegistryMixin, SqlEndpointMixin, MetadataStore):
    """The SQL metadata store; see the module docstring and `MetadataStore` for the contract."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._url = normalise_url(url)
        self.dialect = self._url.get_backend_name()
        self._sqlite_file = sqlite_path(self._url) if self.dialect == "sqlite" else None
        self.writer, self.reader = create_engines(self._url)
        self.gate = WriteGate(self._sqlite_file) if self._sqlite_file is not None else None
        self._pk_cache: dict[str, int] = {}
        self._lock = threading.Lock()
        self._writes = 0
        self._last_checkpoint = time.monotonic()
        try:
            self.revision = ensure_schema(
                self.writer, self.reader, redact_url(url), self._sqlite_file, self.gate
            )
        except BaseException:
            self.writer.dispose()
            self.reader.dispose()
            if self.gate is not None:
                self.gate.close()
            raise

    # ----- plumbing -------------------------------------------------------
    def write(self, work: Any, what: str = "write") -> Any:
        """Run `work(conn)` as one write transaction (retried while busy), then maybe checkpoint."""
        result = run_write(self.writer, work, what, self.gate)
        if self._sqlite_file is not None:
            self._maybe_checkpoint()
        return result

    def _maybe_checkpoint(self) -> None:
        with self._lock:
            self._writes += 1
            due = self._writes >= CHECKPOINT_EVERY_WRITES or (
                time.monotonic() - self._last_checkpoint > CHECKPOINT_EVERY_SECONDS
            )
            if not due:
                return
            self._writes = 0
            self._last_checkpoint = time.monotonic()
        self.checkpoint()

    def checkpoint(self) -> None:
        """TRUNCATE-checkpoint the WAL (RELIABILITY C2); skipped if another writer or readers are busy.

        Also prunes the change feed, which needs the same occasional care."""
        self.write(_prune_changes, "prune_changes")
        if self._sqlite_file is not None:
            wal_checkpoint(self.writer, self.gate)

    def changes_since(self, cursor: int | None) -> ChangeSet:
        """Run changes after `cursor`, for the server's live events (see `sql/changes.py`)."""
        return _changes_since(self, cursor)

    def run_pk(self, run_id: str, conn: Connection | None = None) -> int:
        """The internal integer id of a run (cached: it never changes), or NotFound."""
        pk = self._pk_cache.get(run_id)
        if pk is not None:
            return pk
        if not isinstance(run_id, str):
            raise InvalidParameter(f"A run id is a string, not {type(run_id).__name__}.")
        query = select(runs.c.id).where(runs.c.run_id == run_id)
        if conn is None:
            with self.reader.connect() as own:
                found = own.execute(query).scalar()
        else:
            found = conn.execute(query).scalar()
        if found is None:
            raise NotFound(f"Run {run_id!r} does not exist.")
        self._pk_cache[run_id] = int(found)
        return int(found)

    def forget_run(self, run_id: str) -> None:
        """Drop a deleted run from the id cache."""
        self._pk_cache.pop(run_id, None)

    def describe(self) -> dict[str, Any]:
        """Kind, redacted URL, schema revision."""
        return {
            "head_revision": HEAD_REVISION,
            "kind": self.dialect,
            "url": redact_url(self.url),
            "schema_revision": self.revision,
            "schema_version": int(self.revision),
        }

    def close(self) -> None:
        """Checkpoint (SQLite) and dispose of both engines."""
        try:
            self.checkpoint()
        except Exception:
            pass
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()
        if self.gate is not None:
            self.gate.close()

    # ----- experiments ----------------------------------------------------
    def create_experiment(self, name: str, artifact_location: str | None = None) -> Experiment:
        name = validate_name("Experiment name", name)
        artifact_location = validate_artifact_location(artifact_location)
        stamp = now_ms()

        def work(conn: Connection) -> int:
            return int(
                conn.execute(
                    insert(experiments).values(
                        name=name,
                        artifact_location=artifact_location,
                        created_time=stamp,
                        last_update_time=stamp,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]  # set for a plain insert
            )

        try:
            new_id = self.write(work, "create_experiment")
        except IntegrityError:
            raise AlreadyExists(f"An experiment called {name!r} already exists.") from None
        return Experiment(new_id, name, artifact_location, stamp, stamp)

    def get_experiment(self, experiment_id: int) -> Experiment:
        experiment_id = validate_experiment_id(experiment_id)
        with self.reader.connect() as conn:
            row = conn.execute(
                select(experiments).where(experiments.c.experiment_id == experiment_id)
            ).first()
        if row is None:
            raise NotFound(f"Experiment {experiment_id!r} does not exist.")
        return _experiment(row)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        name = validate_name("Experiment name", name)
        with self.reader.connect() as conn:
            row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
        return None if row is None else _experiment(row)

    def list_experiments(self) -> list[Experiment]:
        with self.reader.connect() as conn:
            rows = conn.execute(select(experiments).order_by(experiments.c.experiment_id)).fetchall()
        return [_experiment(r) for r in rows]

    def rename_experiment(self, experiment_id: int, name: str) -> Experiment:
        return removal.rename_experiment(self, experiment_id, name)

    def delete_experiment(self, experiment_id: int) -> None:
        removal.delete_experiment(self, experiment_id)

    def delete_run(self, run_id: str) -> None:
        removal.delete_run(self, run_id)

    # ----- runs -----------------------------------------------------------
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
            conn.execute(
                update(runs)
                .where(runs.c.id == pk, runs.c.status.in_(["queued", "running"]))
                .values(
                    heartbeat_time=func.max(func.coalesce(runs.c.heartbeat_time, 0), stamp)
                    if self.dialect == "sqlite"
                    else func.greatest(func.coalesce(runs.c.heartbeat_time, 0), stamp)
                )
            )
            return RunStatus(conn.execute(select(runs.c.status).where(runs.c.id == pk)).scalar())

        result: RunStatus = self.write(work, "heartbeat")
        return result

    # ----- metrics, params, tags, search: see metrics.py and search.py ------
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric | tuple[str, float, int, int]] = (),
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
    ) -> bool:
        return metric_ops.log_batch(self, run_id, metrics, params, tags, batch_id)

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_points: int | None = None,
        since: int | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> MetricSeries:
        return metric_ops.metric_history(self, run_id, key, max_points, since, min_step, max_step)

    def search_runs(
        self,
        experiment_ids: Sequence[int] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 1000,
        page_token: str | None = None,
    ) -> RunTable:
        return search_ops.search_runs(self, experiment_ids, filter, order_by, limit, page_token)

    # ----- artifact records: see artifact_records.py -------------------------
    def record_artifact(self, run_id: str, artifact: ArtifactRecord) -> None:
        artifact_records.record(self, run_id, artifact)

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        return artifact_records.listing(self, run_id, prefix)

    def delete_artifact_record(self, run_id: str, path: str) -> None:
        artifact_records.delete(self, run_id, path)

    def record_executions(self, executions: Sequence[CellExecution]) -> int:
        return execution_ops.record(self, executions)

    def list_executions(
        self,
        run_id: str | None = None,
        notebook_path: str | None = None,
        kernel_id: str | None = None,
        limit: int = 100,
    ) -> list[CellExecution]:
        return execution_ops.listing(self, run_id, notebook_path, kernel_id, limit)
