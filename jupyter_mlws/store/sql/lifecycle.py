"""MLflow's soft delete in the SQL store (schema v10): the `lifecycle_stage` of experiments and runs.

`SqlLifecycleMixin` is a base of `SqlStore`; the MLflow REST layer calls it for delete and restore.
`in_view` is the one place a `view` ("active", "deleted", "all") becomes a WHERE clause: the
experiment listing, run search and logged-model search use it, so by default deleted things are
hidden everywhere (the panel, `ws.runs`) while reads by id still return them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, true, update
from sqlalchemy.sql.elements import ColumnElement

from ...entities import Experiment, RunInfo
from ...errors import NotFound
from ...mlflow_entities import check_stage, check_view
from ...validation import validate_experiment_id
from ..base import now_ms
from .changes import record_change
from .experiment_tags import read_experiments
from .rows import RUN_COLUMNS, run_info_from_row
from .schema import RUN_UPDATED, experiments, runs

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def in_view(column: Any, view: str) -> ColumnElement[bool]:
    """The condition on a `lifecycle_stage` column that `view` asks for (InvalidParameter)."""
    view = check_view(view)
    if view == "all":
        return true()
    condition: ColumnElement[bool] = column == view
    return condition


class SqlLifecycleMixin:
    """`set_experiment_lifecycle` and `set_run_lifecycle` for SQL databases."""

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def run_pk(self, run_id: str, conn: Connection | None = None) -> int:  # provided by SqlStore
        raise NotImplementedError

    def set_experiment_lifecycle(self, experiment_id: int, stage: str) -> Experiment:
        experiment_id = validate_experiment_id(experiment_id)
        stage = check_stage(stage)
        where = experiments.c.experiment_id == experiment_id

        def work(conn: Connection) -> Experiment:
            changes = {"lifecycle_stage": stage, "last_update_time": now_ms()}
            if conn.execute(update(experiments).where(where).values(**changes)).rowcount == 0:
                raise NotFound(f"Experiment {experiment_id!r} does not exist.")
            return read_experiments(conn, where)[0]

        changed: Experiment = self.write(work, "set_experiment_lifecycle")
        return changed

    def set_run_lifecycle(self, run_id: str, stage: str) -> RunInfo:
        stage = check_stage(stage)
        pk = self.run_pk(run_id)

        def work(conn: Connection) -> RunInfo:
            if conn.execute(update(runs).where(runs.c.id == pk).values(lifecycle_stage=stage)).rowcount == 0:
                raise NotFound(f"Run {run_id!r} does not exist.")
            # The browser hears of it like any other change of the run.
            record_change(conn, pk, RUN_UPDATED)
            return run_info_from_row(conn.execute(select(*RUN_COLUMNS).where(runs.c.id == pk)).one())

        changed: RunInfo = self.write(work, "set_run_lifecycle")
        return changed
