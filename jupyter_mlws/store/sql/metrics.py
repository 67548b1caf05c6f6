"""The hot paths of the SQL store: metric batches (with params and tags) and metric history.

Called by `SqlStore.log_batch` / `get_metric_history`, which the background
metric logger and `run.metric_history` call. Validation runs before the
transaction opens, so the write lock is held only for the inserts. Metric
rows go in with the driver's `executemany` (raw DBAPI through
`exec_driver_sql`: measured about 3x faster than Core inserts with dicts),
then one upsert per key keeps `latest_metrics` at the point with the largest
(step, timestamp) — later writes win ties — and `chunks.write_chunks` appends
the points to the packed history that `metric_history` reads.
"""

from __future__ import annotations

import functools
import math
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

from ...entities import Metric, MetricSeries
from ...errors import Conflict, InvalidParameter, RunEnded
from ...validation import (
    KIND_NAN,
    KIND_NEG_ZERO,
    KIND_NUMBER,
    STEP_MAX,
    TS_MAX,
    TS_MIN,
    _key_cache,
    check_batch_size,
    validate_key,
    validate_metric_value,
    validate_param_value,
    validate_step,
    validate_tag_value,
    validate_timestamp,
)
from ..base import now_ms
from .changes import record_change
from .chunks import read_many, read_series, write_chunks
from .schema import RUN_METRICS, RUN_UPDATED

if TYPE_CHECKING:
    from .store import SqlStore

_LATEST_SQL = (
    "INSERT INTO latest_metrics (run, key, step, timestamp_ms, value, value_kind) VALUES ({p}) "
    "ON CONFLICT (run, key) DO UPDATE SET step = excluded.step, timestamp_ms = excluded.timestamp_ms, "
    "value = excluded.value, value_kind = excluded.value_kind "
    "WHERE excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step "
    "AND excluded.timestamp_ms >= latest_metrics.timestamp_ms)"
)
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_METRIC_SQL = "INSERT INTO metrics (run, key, step, timestamp_ms, value, value_kind) VALUES ({p})"
#: Rows per SQLite insert: 6 parameters each, under SQLite's limit (32766 since 3.32, 999 before).
_ROWS_PER_STATEMENT = 5000 if sqlite3.sqlite_version_info >= (3, 32) else 166


def insert_metric_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert validated metric rows. On SQLite, as few multi-row statements as its parameter limit
    allows rather than `executemany`: the driver releases the GIL around every statement step, and
    while another thread of the process runs Python (a server's reads) each release costs up to the
    interpreter's 5 ms switch interval to get back. Measured with one reader thread busy: 200 points
    a batch, 3 batches/s with one step per row, hundreds with one step per statement."""
    if conn.dialect.paramstyle != "qmark":
        conn.exec_driver_sql(_METRIC_SQL.format(p=_placeholders(conn, 6)), rows)
        return
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        part = rows[start : start + _ROWS_PER_STATEMENT]
        conn.exec_driver_sql(_multi_row_metric_sql(len(part)), tuple(chain.from_iterable(part)))


@functools.lru_cache(maxsize=64)
def _multi_row_metric_sql(count: int) -> str:
    return _METRIC_SQL.format(p="), (".join(["?, ?, ?, ?, ?, ?"] * count))


def _placeholders(conn: Connection, count: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * count)


def prepare_metric_rows(
    pk: int, metrics: Iterable[Metric | tuple[str, float, int, int]]
) -> list[tuple[Any, ...]]:
    """Validated rows (run, key, step, timestamp, value, kind); InvalidParameter on the first bad point."""
    rows: list[tuple[Any, ...]] = []
    append = rows.append
    cache_get = _key_cache.get
    copysign = math.copysign
    for point in metrics:
        try:
            key, value, step, stamp = point
        except (TypeError, ValueError):
            raise InvalidParameter(f"A metric is (key, value, step, timestamp), not {point!r:.60}.") from None
        name = cache_get(key) if type(key) is str else None
        if name is None:
            name = validate_key("Metric key", key)
        if type(value) is not float:
            value = validate_metric_value(name, value)
        if type(step) is not int or step < 0 or step > STEP_MAX:
            step = validate_step(name, step)
        if type(stamp) is not int or stamp < TS_MIN or stamp >= TS_MAX:
            stamp = validate_timestamp(name, stamp)
        if value != value:
            append((pk, name, step, stamp, None, KIND_NAN))
        elif value == 0.0 and copysign(1.0, value) < 0:
            append((pk, name, step, stamp, 0.0, KIND_NEG_ZERO))
        else:
            append((pk, name, step, stamp, value, KIND_NUMBER))
    return rows


def _latest_rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    best: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        old = best.get(row[1])
        if old is None or (row[2], row[3]) >= (old[2], old[3]):
            best[row[1]] = row
    return list(best.values())


def _normalise(kind: str, items: Mapping[str, Any] | None, check_value: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if not items:
        return out
    if not isinstance(items, Mapping):
        raise InvalidParameter(f"{kind}s must be given as a mapping of key to value.")
    for raw_key, raw_value in items.items():
        key = validate_key(f"{kind} key", raw_key)
        value = check_value(key, raw_value)
        if key in out and out[key] != value:
            raise InvalidParameter(f"{kind} key {key!r} appears twice (after Unicode NFC normalisation).")
        out[key] = value
    return out


def normalise_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """Validated tags {NFC key: str value}."""
    return _normalise("Tag", tags, validate_tag_value)


def normalise_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Validated params {NFC key: str value}."""
    return _normalise("Param", params, validate_param_value)


def upsert(
    conn: Connection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str], update: Sequence[str]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET update-columns (same SQL on SQLite and PostgreSQL)."""
    if not rows:
        return
    cols = list(rows[0])
    sets = ", ".join(f"{c} = excluded.{c}" for c in update)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    )
    conn.execute(text(sql), rows)


def log_batch(
    store: SqlStore,
    run_id: str,
    metrics: Sequence[Metric | tuple[str, float, int, int]],
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
    batch_id: str | None = None,
    taken_ms: int | None = None,
    renew_lease: bool = False,
) -> bool:
    """Validate everything, then write metrics, latest metrics, params and tags in one transaction
    (with `renew_lease`, the run's heartbeat too).

    With a `batch_id`, the id is recorded in the same transaction; a batch id
    the run already has makes the call write nothing and return False.
    """
    check_batch_size(len(metrics), len(params or ()), len(tags or ()))
    if batch_id is not None and not _BATCH_ID.fullmatch(str(batch_id)):
        raise InvalidParameter(f"A batch id has 1 to 64 letters, digits, '-' or '_', not {batch_id!r:.80}.")
    pk = store.run_pk(run_id)
    rows = prepare_metric_rows(pk, metrics)
    param_rows = normalise_params(params)
    tag_rows = normalise_tags(tags)
    latest = _latest_rows(rows)
    if taken_ms is None:
        taken_ms = max(r[3] for r in rows) if rows else now_ms()

    def work(conn: Connection) -> bool:
        refuse_if_ended(conn, pk, run_id, taken_ms)
        if batch_id is not None:
            marks = _placeholders(conn, 3)
            claimed = conn.exec_driver_sql(
                f"INSERT INTO applied_batches (run, batch_id, created_time) VALUES ({marks}) "
                "ON CONFLICT (run, batch_id) DO NOTHING",
                (pk, batch_id, now_ms()),
            )
            if claimed.rowcount == 0:
                return False
        if param_rows:
            _insert_params(conn, pk, param_rows)
        if rows:
            insert_metric_rows(conn, rows)
            conn.exec_driver_sql(_LATEST_SQL.format(p=_placeholders(conn, 6)), latest)
            write_chunks(conn, rows)
            record_change(conn, pk, RUN_METRICS)
        elif param_rows or tag_rows:
            record_change(conn, pk, RUN_UPDATED)
        if renew_lease:
            renew_heartbeat(conn, store.dialect, pk, now_ms())
        if tag_rows:
            upsert(
                conn,
                _table("tags"),
                [{"run": pk, "key": k, "value": v} for k, v in tag_rows.items()],
                ("run", "key"),
                ("value",),
            )
        return True

    if rows or param_rows or tag_rows or batch_id is not None or renew_lease:
        applied: bool = store.write(work, "log_batch")
        return applied
    return True


def refuse_if_ended(conn: Connection, pk: int, run_id: str, taken_ms: int) -> None:
    """RunEnded (409) for data taken after someone else ended the run (RELIABILITY K5).

    A run the server ended `killed` (its kernel died, its heartbeat lease lapsed) or that was
    `canceled` takes no data its client produced after that end: the client is told, once, that
    its run is over. What was taken before the end still lands, however late it arrives: a dying
    kernel's last flush, or a spool replayed after an outage (`taken_ms` is when the client
    accepted the data: the newest point's timestamp, or the batch's own stamp). Runs the client
    ended itself (completed, failed) accept late data, as MLflow's do.
    """
    row = conn.exec_driver_sql(
        f"SELECT status, end_time, status_reason FROM runs WHERE id = {_placeholders(conn, 1)}", (pk,)
    ).first()
    if row is None or row[0] not in ("killed", "canceled"):
        return
    if row[1] is not None and taken_ms <= row[1]:
        return
    raise RunEnded(run_ended_message(run_id, row[0], row[2]))


def run_ended_message(run_id: str, status: str, reason: str | None) -> str:
    """What a client is told when it logs to, or beats for, a run that was ended for it."""
    why = f": {reason}" if reason else ""
    return f"Run {run_id} was ended {status}{why}; it takes no more data (start a new run)."


def _table(name: str) -> Table:
    from .schema import metadata

    return metadata.tables[name]


def _insert_params(conn: Connection, pk: int, param_rows: dict[str, str]) -> None:
    params = _table("params")
    existing = dict(
        conn.execute(
            params.select()
            .with_only_columns(params.c.key, params.c.value)
            .where(params.c.run == pk, params.c.key.in_(list(param_rows)))
        ).fetchall()
    )
    for key, value in param_rows.items():
        if key in existing and existing[key] != value:
            raise Conflict(
                f"Param {key!r} is already {existing[key]!r} and params cannot change "
                f"(tried {value!r}); log the new value under another key or in a new run."
            )
    new = [{"run": pk, "key": k, "value": v} for k, v in param_rows.items() if k not in existing]
    if new:
        conn.execute(params.insert(), new)


def metric_history(
    store: SqlStore,
    run_id: str,
    key: str,
    max_points: int | None,
    since: int | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
) -> MetricSeries:
    """All points of `key` by step (numpy columns), or at most `max_points` picked by min/max buckets."""
    name = validate_key("Metric key", key)
    if max_points is not None and (
        isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2
    ):
        raise InvalidParameter(f"max_points must be an integer >= 2 or None, not {max_points!r}.")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int) or since < 0):
        raise InvalidParameter(
            f"since must be a cursor from an earlier answer (an integer >= 0), not {since!r}."
        )
    for what, bound in (("min_step", min_step), ("max_step", max_step)):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
            raise InvalidParameter(f"{what} must be an integer step or None, not {bound!r}.")
    pk = store.run_pk(run_id)
    with store.reader.connect() as conn:
        steps, stamps, values, total = read_series(conn, pk, name, since or 0)
    if min_step is not None or max_step is not None:
        import numpy as np

        inside = np.ones(len(steps), dtype=bool)
        if min_step is not None:
            inside &= steps >= min_step
        if max_step is not None:
            inside &= steps <= max_step
        steps, stamps, values = steps[inside], stamps[inside], values[inside]
    if max_points is not None and len(steps) > max_points:
        from ..downsample import minmax_indices

        picked = minmax_indices(values, max_points)
        steps, stamps, values = steps[picked], stamps[picked], values[picked]
    return MetricSeries(name, steps, stamps, values, total, cursor=total)


def metric_histories(store: SqlStore, run_ids: Sequence[str], key: str) -> dict[str, MetricSeries]:
    """`metric_history` of one key for many runs, read in one query (see `Store.get_metric_histories`)."""
    name = validate_key("Metric key", key)
    with store.reader.connect() as conn:
        pks = {run_id: store.run_pk(run_id, conn) for run_id in run_ids}
        found = read_many(conn, list(dict.fromkeys(pks.values())), name)
    out = {}
    for run_id, pk in pks.items():  # in the order asked
        if pk in found:
            steps, stamps, values, total = found[pk]
            out[run_id] = MetricSeries(name, steps, stamps, values, total, cursor=total)
    return out


def renew_heartbeat(conn: Connection, dialect: str, pk: int, stamp: int) -> None:
    """Move a queued or running run's heartbeat forward to `stamp` (never back)."""
    from sqlalchemy import func, update

    from .schema import runs

    greatest = func.max if dialect == "sqlite" else func.greatest
    conn.execute(
        update(runs)
        .where(runs.c.id == pk, runs.c.status.in_(["queued", "running"]))
        .values(heartbeat_time=greatest(func.coalesce(runs.c.heartbeat_time, 0), stamp))
    )
