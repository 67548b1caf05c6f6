"""Run search for the SQL store: the filter tree compiled into Core expressions, results as columns.

Called by `SqlStore.search_runs` (and so by `ws.runs`, `mlws.search_runs`,
the CLI and the server's run list). Every user value becomes a bound
parameter; keys are bound too. One page costs four queries: the runs page,
then params, latest metrics and tags of exactly those runs. Paging is by
offset, carried in an opaque base64 token.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, false, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from ...entities import RunTable
from ...errors import InvalidParameter
from ...validation import decode_value, validate_experiment_id
from ..filter import Comparison, Node, Not, OrderKey, parse_filter, parse_order_by
from .lifecycle import in_view
from .rows import RUN_COLUMNS as _RUN_COLUMNS
from .rows import run_info_from_row
from .schema import experiments, latest_metrics, params, runs, tags

if TYPE_CHECKING:
    from .store import SqlStore

MAX_PAGE = 50_000
_CHUNK = 900  # bound ids per statement: under the 999 variables of older SQLite builds
_ATTRIBUTE_COLUMNS = {
    "run_id": runs.c.run_id,
    "name": runs.c.name,
    "status": runs.c.status,
    "experiment": experiments.c.name,
    "experiment_id": runs.c.experiment_id,
    "user": runs.c.user_name,
    "source_kind": runs.c.source_kind,
    "compute_target": runs.c.compute_target,
    "notebook_path": runs.c.notebook_path,
    "cell_id": runs.c.cell_id,
    "parent_run_id": runs.c.parent_run_id,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "heartbeat_time": runs.c.heartbeat_time,
}
_KEYED = {"metric": latest_metrics, "param": params, "tag": tags}
_KEYED_SQL = {
    "metric": "SELECT run, key, value, value_kind FROM latest_metrics WHERE run IN ({marks})",
    "param": "SELECT run, key, value FROM params WHERE run IN ({marks})",
    "tag": "SELECT run, key, value FROM tags WHERE run IN ({marks})",
}


def _compare(column: Any, op: str, value: Any) -> Any:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "like":
        return column.like(value)
    if op == "ilike":
        return column.ilike(value)
    if op == "in":
        return column.in_(list(value))
    if op == "not in":
        return column.not_in(list(value))
    raise InvalidParameter(f"Unknown comparison {op!r}.")  # pragma: no cover - the parser forbids it


def _comparison(node: Comparison) -> ColumnElement[bool]:
    if node.kind == "attribute":
        column = _ATTRIBUTE_COLUMNS[node.key]
        if node.op == "is null":
            return column.is_(None)
        if node.op == "is not null":
            return column.is_not(None)
        compared: ColumnElement[bool] = _compare(column, node.op, node.value)
        return compared
    table = _KEYED[node.kind]
    row_exists = and_(table.c.run == runs.c.id, table.c.key == node.key)
    if node.op == "is null":
        return not_(exists().where(row_exists))
    if node.op == "is not null":
        return exists().where(row_exists)
    return exists().where(row_exists, _compare(table.c.value, node.op, node.value))


def compile_filter(node: Node | None) -> ColumnElement[bool]:
    """A WHERE clause over `runs` joined with `experiments`, every literal bound."""
    if node is None:
        return true()
    if isinstance(node, Comparison):
        return _comparison(node)
    if isinstance(node, Not):
        return not_(compile_filter(node.part))
    parts = [compile_filter(p) for p in node.parts]
    return and_(*parts) if node.op == "and" else or_(false(), *parts)


def _order_clause(key: OrderKey) -> list[Any]:
    if key.kind == "attribute":
        column: Any = _ATTRIBUTE_COLUMNS[key.key]
    else:
        table = _KEYED[key.kind]
        column = (
            select(table.c.value).where(table.c.run == runs.c.id, table.c.key == key.key).scalar_subquery()
        )
    ordered = column.desc() if key.descending else column.asc()
    return [ordered.nulls_last()]


def _token(offset: int) -> str:
    """An opaque page token for `offset` (also the logged-model search's, sql/logged_models.py)."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    """The offset a page token carries (None or "": the first page), or InvalidParameter."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except Exception:
        raise InvalidParameter("The page token is not one this store handed out.") from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidParameter("The page token is not one this store handed out.")
    return offset


def search_runs(
    store: SqlStore,
    experiment_ids: Sequence[int] | None,
    filter: str | None,
    order_by: Sequence[str] | None,
    limit: int,
    page_token: str | None,
    view: str = "active",
) -> RunTable:
    """One page of matching runs in `view` with their params, latest metrics and tags as aligned columns."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidParameter(f"limit must be an integer from 1 to {MAX_PAGE}, not {limit!r}.")
    where = and_(in_view(runs.c.lifecycle_stage, view), compile_filter(parse_filter(filter)))
    order = [c for key in parse_order_by(list(order_by or ())) for c in _order_clause(key)]
    order += [runs.c.start_time.desc().nulls_last(), runs.c.id.desc()]
    offset = _offset(page_token)
    query = (
        select(*_RUN_COLUMNS, experiments.c.name)
        .join(experiments, experiments.c.experiment_id == runs.c.experiment_id)
        .where(where)
    )
    if experiment_ids is not None:
        query = query.where(runs.c.experiment_id.in_([validate_experiment_id(i) for i in experiment_ids]))
    query = query.order_by(*order).limit(limit + 1).offset(offset)
    with store.reader.begin() as conn:
        rows = conn.execute(query).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        index = {row[0]: i for i, row in enumerate(rows)}
        n = len(rows)
        columns: dict[str, dict[str, list[Any]]] = {"param": {}, "metric": {}, "tag": {}}
        ids = list(index)
        # The keyed tables are read with the driver's cursor on the same connection (same
        # snapshot): plain tuples and one prepared statement per chunk, about half the time
        # of Core selects with expanding IN parameters for a 2,000-run page.
        cursor = conn.connection.cursor()
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        try:
            for start in range(0, n, _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ", ".join([mark] * len(chunk))
                for kind, sql in _KEYED_SQL.items():
                    cursor.execute(sql.format(marks=marks), chunk)
                    target = columns[kind]
                    metric = kind == "metric"
                    for item in cursor.fetchall():
                        column = target.get(item[1])
                        if column is None:
                            column = target[item[1]] = [None] * n
                        value = item[2]
                        if metric and (item[3] or value is None):
                            value = decode_value(value, item[3])
                        column[index[item[0]]] = value
        finally:
            cursor.close()
    return RunTable(
        runs=[run_info_from_row(row) for row in rows],
        experiment_names=[row[-1] for row in rows],
        params=columns["param"],
        metrics=columns["metric"],
        tags=columns["tag"],
        next_page_token=_token(offset + n) if more else None,
    )
