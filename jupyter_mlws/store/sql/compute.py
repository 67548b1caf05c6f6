"""Compute targets and compute events in the SQL store (schema v5).

`SqlComputeMixin` is a base of `SqlStore` (kept apart so store.py stays the run
store). The definition is kept as one JSON document per target; the store
checks names and event kinds, and `compute.spec.validate_instance` checks the
rest before anything reaches a store (the REST handlers, `ws.compute` and the
CLI all go through it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...entities import COMPUTE_EVENT_KINDS, ComputeEvent, ComputeInstance
from ...errors import AlreadyExists, InvalidParameter, NotFound
from ...validation import NAME_PATTERN
from ..base import now_ms
from .schema import compute_events, compute_targets

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_KIND = "instance"
_CONFIG_FIELDS = ("cpus", "memory_bytes", "gpus", "idle_shutdown_minutes", "env", "python", "description")
MAX_EVENTS = 10_000


def check_target_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidParameter(f"compute instance name {name!r} is not valid")
    return name


def _instances() -> Any:
    """Rows of compute instances (clusters share the table: store/sql/clusters.py)."""
    return select(compute_targets).where(compute_targets.c.kind == _KIND)


def _instance(row: Any) -> ComputeInstance:
    config = json.loads(row.config)
    return ComputeInstance.from_dict(
        {**config, "name": row.name, "created_time": row.created_time, "updated_time": row.updated_time}
    )


def _config(instance: ComputeInstance) -> str:
    data = instance.to_dict()
    return json.dumps({k: data[k] for k in _CONFIG_FIELDS}, sort_keys=True)


class SqlComputeMixin:
    """The compute part of `MetadataStore` for SQL databases."""

    reader: Engine

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def create_compute_target(self, instance: ComputeInstance) -> ComputeInstance:
        check_target_name(instance.name)
        now = now_ms()
        stored = replace(instance, created_time=now, updated_time=now)
        values = {
            "name": stored.name,
            "kind": _KIND,
            "config": _config(stored),
            "created_time": now,
            "updated_time": now,
        }
        try:
            self.write(
                lambda conn: conn.execute(insert(compute_targets).values(**values)), "create_compute_target"
            )
        except IntegrityError as err:
            raise AlreadyExists(
                f"compute target {instance.name!r} already exists (instance and cluster names are shared)"
            ) from err
        return stored

    def get_compute_target(self, name: str) -> ComputeInstance:
        with self.reader.connect() as conn:
            row = conn.execute(_instances().where(compute_targets.c.name == name)).first()
        if row is None:
            raise NotFound(f"compute instance {name!r} not found")
        return _instance(row)

    def list_compute_targets(self) -> list[ComputeInstance]:
        with self.reader.connect() as conn:
            rows = conn.execute(_instances().order_by(compute_targets.c.name)).fetchall()
        return [_instance(row) for row in rows]

    def update_compute_target(self, name: str, **changes: Any) -> ComputeInstance:
        unknown = set(changes) - set(_CONFIG_FIELDS)
        if unknown:
            raise InvalidParameter(f"cannot change {', '.join(sorted(unknown))} of a compute instance")

        def work(conn: Any) -> ComputeInstance:
            row = conn.execute(_instances().where(compute_targets.c.name == name)).first()
            if row is None:
                raise NotFound(f"compute instance {name!r} not found")
            changed = replace(_instance(row), **changes, updated_time=max(now_ms(), row.updated_time))
            conn.execute(
                update(compute_targets)
                .where(compute_targets.c.id == row.id)
                .values(config=_config(changed), updated_time=changed.updated_time)
            )
            return changed

        changed: ComputeInstance = self.write(work, "update_compute_target")
        return changed

    def delete_compute_target(self, name: str) -> None:
        def work(conn: Any) -> int:
            gone = delete(compute_targets).where(
                compute_targets.c.name == name, compute_targets.c.kind == _KIND
            )
            return int(conn.execute(gone).rowcount)

        if not self.write(work, "delete_compute_target"):
            raise NotFound(f"compute instance {name!r} not found")

    def record_compute_event(
        self,
        target: str,
        kind: str,
        *,
        kernel_id: str | None = None,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        time_ms: int | None = None,
    ) -> ComputeEvent:
        check_target_name(target)
        if kind not in COMPUTE_EVENT_KINDS:
            raise InvalidParameter(
                f"unknown compute event kind {kind!r}: one of {', '.join(COMPUTE_EVENT_KINDS)}"
            )
        if kernel_id is not None and (not isinstance(kernel_id, str) or len(kernel_id) > 64):
            raise InvalidParameter("kernel_id must be a string of at most 64 characters")
        at = now_ms() if time_ms is None else int(time_ms)
        extra = dict(details or {})
        text = None if reason is None else str(reason)[:4000]
        values: dict[str, Any] = {
            "target": target,
            "kind": kind,
            "time_ms": at,
            "kernel_id": kernel_id,
            "reason": text,
            "details": json.dumps(extra, default=str) if extra else None,
        }

        def work(conn: Any) -> int:
            return int(conn.execute(insert(compute_events).values(**values)).inserted_primary_key[0])

        event_id = self.write(work, "record_compute_event")
        return ComputeEvent(int(event_id), target, kind, at, kernel_id, text, extra)

    def list_compute_events(
        self,
        target: str | None = None,
        *,
        kernel_id: str | None = None,
        kind: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[ComputeEvent]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_EVENTS:
            raise InvalidParameter(f"limit must be from 1 to {MAX_EVENTS}")
        t = compute_events.c
        query = select(compute_events)
        if target is not None:
            query = query.where(t.target == target)
        if kernel_id is not None:
            query = query.where(t.kernel_id == kernel_id)
        if kind is not None:
            query = query.where(t.kind == kind)
        if after_id is not None:
            query = query.where(t.id > int(after_id))
        with self.reader.connect() as conn:
            rows = conn.execute(query.order_by(t.id.desc()).limit(limit)).fetchall()
        return [
            ComputeEvent(
                row.id,
                row.target,
                row.kind,
                row.time_ms,
                row.kernel_id,
                row.reason,
                json.loads(row.details) if row.details else {},
            )
            for row in rows
        ]
