"""A run's inputs and outputs in the SQL store (schema v10, MLflow's log-inputs and log-outputs).

`SqlRunIoMixin` is a base of `SqlStore`; the MLflow REST layer calls it with MLflow's dataset
inputs and model outputs as JSON objects, which this layer stores without reading them. Each item
is kept as canonical JSON (sorted keys) with its sha256: the unique constraint on (run, direction,
digest) makes recording the same item twice store it once, also when two writers race. The rows go
with the run when it is deleted (the foreign key cascades).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

from ...errors import InvalidParameter
from ..base import now_ms
from .schema import run_io

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

DIRECTIONS = ("input", "output")
#: The most items one call records, and the longest item (its JSON, in characters).
MAX_ITEMS = 1000
MAX_ITEM_CHARS = 1024 * 1024

_INSERT = text(
    "INSERT INTO run_io (run, direction, digest, payload, created_time) "
    "VALUES (:run, :direction, :digest, :payload, :created_time) "
    "ON CONFLICT (run, direction, digest) DO NOTHING"
)


def _canonical(index: int, item: object) -> str:
    """An item as canonical JSON, or InvalidParameter naming the item."""
    if not isinstance(item, Mapping):
        raise InvalidParameter(f"Run input/output item {index} is a JSON object, not {type(item).__name__}.")
    try:
        payload = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise InvalidParameter(f"Run input/output item {index} is not JSON: {err}.") from None
    if len(payload) > MAX_ITEM_CHARS:
        raise InvalidParameter(
            f"Run input/output item {index} is {len(payload)} characters of JSON; "
            f"the limit is {MAX_ITEM_CHARS}."
        )
    return payload


class SqlRunIoMixin:
    """`record_run_io` and `list_run_io` for SQL databases."""

    reader: Engine

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def run_pk(self, run_id: str, conn: Connection | None = None) -> int:  # provided by SqlStore
        raise NotImplementedError

    def record_run_io(self, run_id: str, direction: str, items: Sequence[Mapping[str, Any]]) -> None:
        if direction not in DIRECTIONS:
            raise InvalidParameter(
                f"A run input/output direction is 'input' or 'output', not {direction!r:.40}."
            )
        if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
            raise InvalidParameter("Run inputs/outputs are given as a list of JSON objects.")
        if len(items) > MAX_ITEMS:
            raise InvalidParameter(f"{len(items)} run inputs/outputs in one call; the limit is {MAX_ITEMS}.")
        payloads = [_canonical(i, item) for i, item in enumerate(items)]
        pk = self.run_pk(run_id)
        if not payloads:
            return
        stamp = now_ms()
        rows = [
            {
                "run": pk,
                "direction": direction,
                "digest": hashlib.sha256(payload.encode()).hexdigest(),
                "payload": payload,
                "created_time": stamp,
            }
            for payload in payloads
        ]

        def work(conn: Connection) -> None:
            conn.execute(_INSERT, rows)

        self.write(work, "record_run_io")

    def list_run_io(self, run_id: str) -> list[tuple[str, dict[str, Any]]]:
        pk = self.run_pk(run_id)
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(run_io.c.direction, run_io.c.payload).where(run_io.c.run == pk).order_by(run_io.c.id)
            ).fetchall()
        return [(direction, json.loads(payload)) for direction, payload in rows]
