"""The change feed of the SQL store: what happened to runs, in order, past a cursor.

Writers append a row to `run_changes` in the same transaction as the change
itself (run created, run updated, a batch of metrics), so a reader never sees
a change before its data. The server's event watcher calls `changes_since`
twice a second; it is an indexed range scan over what was appended since the
last call. Old rows are pruned from `prune`, which the store calls with its
periodic checkpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from ...entities import ChangeSet
from ...errors import InvalidParameter
from ..base import now_ms
from .schema import RUN_CREATED, RUN_METRICS, RUN_UPDATED, run_changes, runs

if TYPE_CHECKING:
    from .store import SqlStore

#: Changes kept for late readers; a reader further behind gets a `resync` event.
KEEP = 100_000
PAGE = 5_000
_ACTIONS = {RUN_CREATED: "created", RUN_UPDATED: "updated", RUN_METRICS: "metrics"}


# Built once: a statement with its values as parameters compiles once (SQLAlchemy's cache).
_INSERT_CHANGE = insert(run_changes)


def record_change(conn: Connection, run_pk: int, kind: int) -> None:
    """Append one change inside the caller's write transaction."""
    conn.execute(_INSERT_CHANGE, {"run": run_pk, "kind": kind, "time_ms": now_ms()})


def changes_since(store: SqlStore, cursor: int | None) -> ChangeSet:
    """Events for the changes after `cursor` (None: no events, just the current cursor).

    Several changes of one run in one page fold into one event per action, each
    at the place of its newest change (so a run's last event is its last change:
    "updated" to completed after its final metrics, never "metrics" after it),
    carrying the run's status and name as they are now.
    """
    if cursor is not None and (isinstance(cursor, bool) or not isinstance(cursor, int) or cursor < 0):
        raise InvalidParameter(f"A change cursor is an integer >= 0, not {cursor!r}.")
    with store.reader.begin() as conn:
        if cursor is None:
            return ChangeSet(events=[], cursor=int(conn.execute(select(func.max(run_changes.c.seq))).scalar() or 0))
        oldest = conn.execute(select(func.min(run_changes.c.seq))).scalar()
        rows = conn.execute(
            select(run_changes.c.seq, run_changes.c.kind, runs.c.run_id, runs.c.experiment_id, runs.c.status,
                   runs.c.name)
            .join(runs, runs.c.id == run_changes.c.run)
            .where(run_changes.c.seq > cursor)
            .order_by(run_changes.c.seq)
            .limit(PAGE)
        ).fetchall()
    events: list[dict[str, Any]] = []
    if oldest is not None and cursor + 1 < oldest:
        events.append({"action": "resync", "run_id": "", "experiment_id": 0})
    # Each (run, kind) keeps its newest change's place: walk the page backwards, keep the first seen.
    folded: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for _, kind, run_id, experiment_id, status, name in reversed(rows):
        if (run_id, kind) in seen:
            continue
        seen.add((run_id, kind))
        folded.append(
            {"action": _ACTIONS[kind], "run_id": run_id, "experiment_id": int(experiment_id), "status": status,
             "name": name}
        )
    events.extend(reversed(folded))
    return ChangeSet(events=events, cursor=int(rows[-1][0]) if rows else cursor)


def prune(conn: Connection) -> None:
    """Drop all but the newest `KEEP` changes."""
    newest = conn.execute(select(func.max(run_changes.c.seq))).scalar()
    if newest is not None and newest > KEEP:
        conn.execute(delete(run_changes).where(run_changes.c.seq <= newest - KEEP))
