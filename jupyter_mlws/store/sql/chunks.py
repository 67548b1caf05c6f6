"""Packed metric history (`metric_chunks`): how a 100k-point history reads in milliseconds.

Why: reading a series row by row costs SQLite an index walk and Python a
tuple per point (about 1 µs each, so 1 s for a million points). Next to the
row-wise `metrics` table, every metric batch also appends its points, per
key, as one blob: little-endian int64 steps, int64 timestamps (ms) and
float64 values, the values as raw IEEE bits, so NaN, ±inf and -0.0 are kept
exactly. A read fetches a handful of blobs and joins them with numpy.

Who calls: `sql/metrics.log_batch` (inside the same transaction as the row
inserts, so both always agree), `sql/metrics.metric_history`, and the v2
migration's backfill. A last chunk holding fewer than `EXTEND_BELOW` points
is extended instead of followed by a new one, so a series logged one point
per flush still reads as about `n / EXTEND_BELOW` blobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from ...validation import KIND_NAN, KIND_NEG_ZERO

EXTEND_BELOW = 2048


def pack_points(points: Sequence[Sequence[Any]]) -> bytes:
    """Bytes of (step, timestamp, stored value, value kind) points, in the given order."""
    import numpy as np

    steps = np.array([p[0] for p in points], dtype="<i8")
    stamps = np.array([p[1] for p in points], dtype="<i8")
    values = np.array([p[2] for p in points], dtype="<f8")
    kinds = np.array([p[3] for p in points], dtype=np.int8)
    if kinds.any():
        values[kinds == KIND_NEG_ZERO] = -0.0
        values[kinds == KIND_NAN] = np.nan
    return steps.tobytes() + stamps.tobytes() + values.tobytes()


def unpack(data: bytes, points: int) -> tuple[Any, Any, Any]:
    """(steps, timestamps, values) numpy arrays of one chunk."""
    import numpy as np

    buffer = bytes(data) if isinstance(data, memoryview) else data
    steps = np.frombuffer(buffer, dtype="<i8", count=points)
    stamps = np.frombuffer(buffer, dtype="<i8", count=points, offset=8 * points)
    values = np.frombuffer(buffer, dtype="<f8", count=points, offset=16 * points)
    return steps, stamps, values


def _marks(conn: Connection, count: int) -> list[str]:
    return ["?" if conn.dialect.paramstyle == "qmark" else "%s"] * count


def write_chunks(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Append the points of validated metric rows (run, key, step, ts, value, kind) to their chunks."""
    import numpy as np

    groups: dict[tuple[int, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        group = groups.get((row[0], row[1]))
        if group is None:
            group = groups[(row[0], row[1])] = []
        group.append(row[2:])
    q = _marks(conn, 5)
    for (run, key), points in groups.items():
        last = conn.exec_driver_sql(
            f"SELECT chunk, points, data FROM metric_chunks WHERE run = {q[0]} AND key = {q[1]} "
            "ORDER BY chunk DESC LIMIT 1",
            (run, key),
        ).first()
        packed = pack_points(points)
        if last is not None and last[1] < EXTEND_BELOW:
            old, new = unpack(last[2], last[1]), unpack(packed, len(points))
            merged = b"".join(np.concatenate((a, b)).tobytes() for a, b in zip(old, new, strict=True))
            conn.exec_driver_sql(
                f"UPDATE metric_chunks SET points = {q[0]}, data = {q[1]} "
                f"WHERE run = {q[2]} AND key = {q[3]} AND chunk = {q[4]}",
                (last[1] + len(points), merged, run, key, last[0]),
            )
        else:
            conn.exec_driver_sql(
                f"INSERT INTO metric_chunks (run, key, chunk, points, data) VALUES ({', '.join(q)})",
                (run, key, 0 if last is None else last[0] + 1, len(points), packed),
            )


def read_series(conn: Connection, run: int, key: str, since: int = 0) -> tuple[Any, Any, Any, int]:
    """(steps, timestamps, values, total) of a series, ordered by step (stable: equal steps keep log order).

    `since` skips the first points in log order (chunks concatenate in log
    order); `total` counts every stored point, the next call's cursor.
    """
    q = _marks(conn, 2)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(
            f"SELECT points, data FROM metric_chunks WHERE run = {q[0]} AND key = {q[1]} ORDER BY chunk",
            (run, key),
        )
        parts = [unpack(data, points) for points, data in cursor.fetchall()]
    finally:
        cursor.close()
    return _joined(parts, since)


def read_many(conn: Connection, runs: Sequence[int], key: str) -> dict[int, tuple[Any, Any, Any, int]]:
    """`read_series` of one key for many runs in one query (a comparison's charts read 100 runs a
    key); a run without the key is left out."""
    if not runs:
        return {}
    q = _marks(conn, len(runs) + 1)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(
            f"SELECT run, points, data FROM metric_chunks WHERE key = {q[0]} AND run IN ({', '.join(q[1:])})"
            " ORDER BY run, chunk",
            (key, *runs),
        )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    parts: dict[int, list[tuple[Any, Any, Any]]] = {}
    for run, points, data in rows:
        parts.setdefault(run, []).append(unpack(data, points))
    return {run: _joined(chunks) for run, chunks in parts.items()}


def _joined(parts: list[tuple[Any, Any, Any]], since: int = 0) -> tuple[Any, Any, Any, int]:
    """One series from its chunks' columns (see `read_series`)."""
    import numpy as np

    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty.copy(), np.zeros(0, dtype=np.float64), 0
    # Concatenated even when there is one chunk: the chunk's arrays are read-only views of its blob.
    steps, stamps, values = (np.concatenate([p[i] for p in parts]) for i in range(3))
    total = len(steps)
    if since:
        steps, stamps, values = steps[since:], stamps[since:], values[since:]
    if len(steps) > 1 and bool((steps[1:] < steps[:-1]).any()):
        order = np.argsort(steps, kind="stable")
        steps, stamps, values = steps[order], stamps[order], values[order]
    return steps, stamps, values, total
