"""The job queue in the SQL store (issue 15): jobs, their live output, the dispatchers' heartbeats.

`SqlJobMixin` is a base of `SqlStore`. Who calls it: `ws.jobs` (submit, list, cancel), the
dispatchers of `jobs/dispatcher.py` (take, requeue, end) and the node runner of `jobs/node.py`
(claim, log, end) — directly on this machine, through the REST store from elsewhere.

`update_job(..., expect={"state": "queued"})` is a compare-and-set: the change happens only when
the row still has the expected values, else `Conflict`. That is how a node claims a job exactly
once (Dask may run a task again after a worker died) and how two dispatchers never both take one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...entities import JOB_KINDS, JOB_STATES, Job, JobLogChunk
from ...errors import AlreadyExists, Conflict, InvalidParameter, NotFound
from ..base import now_ms
from .schema import job_dispatchers, job_logs, jobs

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_FIXED = ("job_id", "kind", "submitted_ns", "submitted_time", "experiment_id")
_COLUMNS = tuple(c for c in Job.__dataclass_fields__ if c != "spec")
#: The most log chunks one read returns.
MAX_LOG_CHUNKS = 5000


def _job(row: Any) -> Job:
    values = {name: getattr(row, name) for name in _COLUMNS}
    values["cancel_requested"] = bool(values["cancel_requested"])
    return Job(spec=json.loads(row.spec), **values)


def _values(job: Job) -> dict[str, Any]:
    values = {name: getattr(job, name) for name in _COLUMNS}
    values["spec"] = json.dumps(job.spec, sort_keys=True)
    return values


def _check_expect(expect: Mapping[str, Any] | None) -> None:
    unknown = set(expect or {}) - set(_COLUMNS)
    if unknown:
        raise InvalidParameter(f"cannot compare {', '.join(sorted(unknown))} of a job")


def _check_changes(changes: Mapping[str, Any]) -> None:
    fixed = set(changes) & set(_FIXED)
    unknown = set(changes) - set(Job.__dataclass_fields__)
    if fixed or unknown:
        raise InvalidParameter(f"cannot change {', '.join(sorted(fixed | unknown))} of a job")
    if "state" in changes and changes["state"] not in JOB_STATES:
        raise InvalidParameter(f"A job's state is one of {', '.join(JOB_STATES)}, not {changes['state']!r}.")


class SqlJobMixin:
    """The job part of `MetadataStore` for SQL databases."""

    reader: Engine

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def create_job(self, job: Job) -> Job:
        if job.kind not in JOB_KINDS:
            raise InvalidParameter(f"A job's kind is one of {', '.join(JOB_KINDS)}, not {job.kind!r}.")
        stored = replace(job, submitted_ns=time.time_ns(), submitted_time=now_ms())
        try:
            self.write(lambda conn: conn.execute(insert(jobs).values(**_values(stored))), "create_job")
        except IntegrityError as err:
            raise AlreadyExists(f"job {job.job_id!r} already exists") from err
        return stored

    def get_job(self, job_id: str) -> Job:
        with self.reader.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
        if row is None:
            raise NotFound(f"job {job_id!r} not found")
        return _job(row)

    def list_jobs(
        self, states: Sequence[str] | None = None, target: str | None = None, limit: int = 500
    ) -> list[Job]:
        query = select(jobs)
        if states:
            query = query.where(jobs.c.state.in_(list(states)))
        if target:
            query = query.where(jobs.c.target == target)
        query = query.order_by(jobs.c.submitted_ns.desc()).limit(max(1, min(int(limit), 10_000)))
        with self.reader.connect() as conn:
            return [_job(row) for row in conn.execute(query)]

    def update_job(self, job_id: str, expect: Mapping[str, Any] | None = None, **changes: Any) -> Job:
        _check_changes(changes)
        _check_expect(expect)
        values = dict(changes)
        if "spec" in values:
            values["spec"] = json.dumps(values["spec"], sort_keys=True)

        def work(conn: Any) -> Job:
            conditions = [jobs.c.job_id == job_id]
            for name, wanted in (expect or {}).items():
                column = jobs.c[name]
                conditions.append(column.is_(None) if wanted is None else column == wanted)
            done = conn.execute(update(jobs).where(and_(*conditions)).values(**values)).rowcount
            row = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
            if row is None:
                raise NotFound(f"job {job_id!r} not found")
            if not done:
                found = _job(row)
                differs = {k: getattr(found, k) for k in (expect or {})}
                raise Conflict(
                    f"job {job_id!r} changed meanwhile: expected {dict(expect or {})}, found {differs}"
                )
            return _job(row)

        updated: Job = self.write(work, "update_job")
        return updated

    def append_job_logs(self, job_id: str, chunks: Sequence[Sequence[Any]]) -> int:
        rows = [
            {"job_id": job_id, "attempt": int(a), "stream": str(s)[:8], "text": str(t), "time_ms": int(ms)}
            for a, s, t, ms in chunks
        ]
        if not rows:
            return 0

        def work(conn: Any) -> int:
            conn.execute(insert(job_logs), rows)
            return len(rows)

        written: int = self.write(work, "append_job_logs")
        return written

    def job_logs(self, job_id: str, since: int = 0, limit: int = MAX_LOG_CHUNKS) -> list[JobLogChunk]:
        query = (
            select(job_logs.c.id, job_logs.c.attempt, job_logs.c.stream, job_logs.c.text, job_logs.c.time_ms)
            .where(job_logs.c.job_id == job_id, job_logs.c.id > int(since))
            .order_by(job_logs.c.id)
            .limit(max(1, min(int(limit), MAX_LOG_CHUNKS)))
        )
        with self.reader.connect() as conn:
            return [JobLogChunk(*row) for row in conn.execute(query)]

    def beat_job_dispatcher(self, dispatcher_id: str, kind: str) -> None:
        def work(conn: Any) -> None:
            now = now_ms()
            done = conn.execute(
                update(job_dispatchers).where(job_dispatchers.c.id == dispatcher_id).values(heartbeat=now)
            ).rowcount
            if not done:
                conn.execute(insert(job_dispatchers).values(id=dispatcher_id, kind=kind, heartbeat=now))

        self.write(work, "beat_job_dispatcher")

    def job_dispatchers(self, max_age_ms: int | None = None) -> list[tuple[str, str, int]]:
        query = select(job_dispatchers.c.id, job_dispatchers.c.kind, job_dispatchers.c.heartbeat)
        if max_age_ms is not None:
            query = query.where(job_dispatchers.c.heartbeat >= now_ms() - int(max_age_ms))
        with self.reader.connect() as conn:
            return [(r[0], r[1], int(r[2])) for r in conn.execute(query)]

    def drop_job_dispatcher(self, dispatcher_id: str) -> None:
        self.write(
            lambda conn: conn.execute(delete(job_dispatchers).where(job_dispatchers.c.id == dispatcher_id)),
            "drop_job_dispatcher",
        )
