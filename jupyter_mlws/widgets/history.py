"""`RunHistory(experiment, filter)`: a sortable, filterable, paged table of runs; compare on selection.

The front end edits three traits and this class answers them: `filter`
(the store's filter grammar, `store/filter.py`; a bad filter sets `error`
and empties the table, it never raises into the kernel), `order_by` (set by
clicking a column header) and `page` (store page tokens are kept per page,
so going back needs no new search). `selected` (run ids, ticked in the
table) fills `compare_series` (a chart of `compare_metric` for the selected
runs) and `param_diff` (only the params whose values differ) once two or
more runs are selected. Everything shown is in traits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import traitlets as t

from ..errors import MLWSError
from ._common import ChartOptions, SeriesFeed, esm, group_keys_of

AUTO_COLUMNS = 6  # metric and param columns picked from the page when `columns` is not given


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


class RunHistory(ChartOptions, anywidget.AnyWidget):
    """The runs of an experiment (or of every experiment) as a table (see the module docstring)."""

    _esm = esm("run_history")

    experiment = t.Unicode("").tag(sync=True)
    filter = t.Unicode("").tag(sync=True)
    order_by = t.List(t.Unicode()).tag(sync=True)
    page = t.Int(0).tag(sync=True)
    page_size = t.Int(50).tag(sync=True)
    has_next = t.Bool(False).tag(sync=True)
    columns = t.List(t.Unicode()).tag(sync=True)
    rows = t.List(t.Dict()).tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    selected = t.List(t.Unicode()).tag(sync=True)
    compare_metrics = t.List(t.Unicode()).tag(sync=True)
    compare_metric = t.Unicode("").tag(sync=True)
    compare_series = t.List(t.Dict()).tag(sync=True)
    compare_runs = t.List(t.Dict()).tag(sync=True)
    param_diff = t.List(t.Dict()).tag(sync=True)

    def __repr__(self) -> str:
        where = repr(self.experiment) if self.experiment else "all experiments"
        return f"<RunHistory {where}: {len(self.rows)} runs on page {self.page + 1}>"

    def __init__(
        self,
        experiment: str | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        page_size: int = 50,
        *,
        columns: Sequence[str] | None = None,
        workspace: Any = None,
        max_points: int = 2000,
        **kwargs: Any,
    ) -> None:
        if workspace is None:
            from ..client.fluent import default_workspace

            workspace = default_workspace()
        self._workspace = workspace
        self._fixed_columns = list(columns) if columns else None
        self._tokens: list[str | None] = [None]
        self._max_points = max_points
        super().__init__(
            experiment=experiment or "",
            filter=filter or "",
            order_by=list(order_by or []),
            page_size=int(page_size),
            **kwargs,
        )
        self._load()
        self.observe(self._on_query, names=["filter", "order_by", "experiment", "page_size"])
        self.observe(self._on_page, names=["page"])
        self.observe(self._on_selected, names=["selected", "compare_metric", "x", "group_by"])
        self.on_msg(self._on_message)

    # ----- the table ----------------------------------------------------------
    def _experiment_ids(self) -> list[int] | None:
        if not self.experiment:
            return None
        found = self._workspace.store.get_experiment_by_name(self.experiment)
        if found is None:
            raise MLWSError(f"There is no experiment named {self.experiment!r}.")
        return [found.experiment_id]

    def _load(self) -> None:
        try:
            self._workspace.flush()
            table = self._workspace.store.search_runs(
                self._experiment_ids(),
                self.filter or None,
                list(self.order_by) or None,
                self.page_size,
                self._tokens[self.page] if self.page < len(self._tokens) else None,
            )
        except MLWSError as err:
            with self.hold_trait_notifications():
                self.error = err.message
                self.rows = []
                self.has_next = False
            return
        if self._fixed_columns is not None:
            columns = self._fixed_columns
        else:
            metric_keys = sorted(k for k in table.metrics if not k.startswith("system/"))[:AUTO_COLUMNS]
            param_keys = sorted(table.params)[:AUTO_COLUMNS]
            columns = [f"metrics.{k}" for k in metric_keys] + [f"params.{k}" for k in param_keys]
        groups = {"metrics": table.metrics, "params": table.params, "tags": table.tags}
        rows = []
        for i, info in enumerate(table.runs):
            values: dict[str, Any] = {}
            for column in columns:
                prefix, _, key = column.partition(".")
                group = groups.get(prefix, {})
                values[column] = _clean(group[key][i]) if key in group else None
            duration = (
                info.end_time - info.start_time
                if info.start_time is not None and info.end_time is not None
                else None
            )
            rows.append(
                {
                    "run_id": info.run_id,
                    "name": info.name,
                    "experiment": table.experiment_names[i] if table.experiment_names else "",
                    "status": info.status.value,
                    "start_time": info.start_time,
                    "end_time": info.end_time,
                    "duration_ms": duration,
                    "values": values,
                }
            )
        del self._tokens[self.page + 1 :]
        if table.next_page_token:
            self._tokens.append(table.next_page_token)
        with self.hold_trait_notifications():
            self.error = ""
            self.columns = columns
            self.rows = rows
            self.has_next = bool(table.next_page_token)

    def _on_query(self, _change: Any) -> None:
        self._tokens = [None]
        if self.page != 0:
            self.page = 0  # _on_page loads
        else:
            self._load()

    def _on_page(self, change: Any) -> None:
        if change["new"] < 0 or change["new"] >= len(self._tokens):
            self.page = max(0, min(change["new"], len(self._tokens) - 1))
            return
        self._load()

    def refresh(self) -> None:
        """Search again (same filter, order and page) and refresh the comparison."""
        self._load()
        self._compare()

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "refresh":
            self.refresh()

    # ----- comparing ------------------------------------------------------------
    def _on_selected(self, _change: Any) -> None:
        self._compare()

    def _compare(self) -> None:
        ids = list(dict.fromkeys(self.selected))
        if len(ids) < 2:
            with self.hold_trait_notifications():
                self.compare_series = []
                self.compare_runs = []
                self.param_diff = []
                self.compare_metrics = []
            return
        try:
            records = [self._workspace.store.get_run(run_id) for run_id in ids]
        except MLWSError as err:
            self.error = err.message
            return
        keys = sorted({k for r in records for k in r.data.metrics if not k.startswith("system/")})
        metric = self.compare_metric if self.compare_metric in keys else ("loss" if "loss" in keys else "")
        if not metric and keys:
            metric = keys[0]
        feed = SeriesFeed(self._workspace, self.x, self._max_points, self.group_by)
        feed.set_pairs([(r.info.run_id, r.info.name, metric) for r in records if metric in r.data.metrics])
        params = sorted({k for r in records for k in r.data.params})
        diff = []
        for key in params:
            values = [r.data.params.get(key) for r in records]
            if len(set(values)) > 1:
                diff.append({"param": key, "values": values})
        with self.hold_trait_notifications():
            self.compare_metrics = keys
            self.compare_metric = metric
            self.compare_runs = [{"run_id": r.info.run_id, "name": r.info.name} for r in records]
            self.compare_series = feed.series()
            self.group_keys = group_keys_of(records)
            self.param_diff = diff
