"""Experiments with their tags in the SQL store (schema v10, MLflow's set-experiment-tag).

`read_experiments` is how every experiment read of `SqlStore` (get, get by name, list) builds
`Experiment`s: two queries whatever the number of experiments, the rows and then the tags of
exactly those rows. `SqlExperimentTagMixin` (a base of `SqlStore`) sets and deletes one tag;
the MLflow REST layer calls it. Deleting an experiment deletes its tags (the foreign key cascades).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select
from sqlalchemy.sql.elements import ColumnElement

from ...entities import Experiment
from ...errors import NotFound
from ...validation import validate_experiment_id, validate_key, validate_tag_value
from .metrics import upsert
from .schema import experiment_tags, experiments

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

_EXISTS = select(experiments.c.experiment_id)


def read_experiments(conn: Connection, where: ColumnElement[bool]) -> list[Experiment]:
    """The experiments matching `where`, oldest first, each with its tags."""
    rows = conn.execute(select(experiments).where(where).order_by(experiments.c.experiment_id)).fetchall()
    if not rows:
        return []
    tags: dict[int, dict[str, str]] = {}
    for experiment_id, key, value in conn.execute(
        select(experiment_tags.c.experiment_id, experiment_tags.c.key, experiment_tags.c.value)
        .join(experiments, experiments.c.experiment_id == experiment_tags.c.experiment_id)
        .where(where)
    ):
        tags.setdefault(experiment_id, {})[key] = value
    return [
        Experiment(
            experiment_id=row.experiment_id,
            name=row.name,
            artifact_location=row.artifact_location,
            created_time=row.created_time,
            last_update_time=row.last_update_time,
            lifecycle_stage=row.lifecycle_stage,
            tags=tags.get(row.experiment_id, {}),
        )
        for row in rows
    ]


def require_experiment(conn: Connection, experiment_id: int) -> None:
    """NotFound unless the experiment exists (checked inside the caller's transaction)."""
    if conn.execute(_EXISTS.where(experiments.c.experiment_id == experiment_id)).first() is None:
        raise NotFound(f"Experiment {experiment_id!r} does not exist.")


class SqlExperimentTagMixin:
    """`set_experiment_tag` and `delete_experiment_tag` for SQL databases."""

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def set_experiment_tag(self, experiment_id: int, key: str, value: str) -> None:
        experiment_id = validate_experiment_id(experiment_id)
        key = validate_key("Tag key", key)
        value = validate_tag_value(key, value)

        def work(conn: Connection) -> None:
            require_experiment(conn, experiment_id)
            row = {"experiment_id": experiment_id, "key": key, "value": value}
            upsert(conn, experiment_tags, [row], ("experiment_id", "key"), ("value",))

        self.write(work, "set_experiment_tag")

    def delete_experiment_tag(self, experiment_id: int, key: str) -> None:
        experiment_id = validate_experiment_id(experiment_id)
        key = validate_key("Tag key", key)

        def work(conn: Connection) -> None:
            require_experiment(conn, experiment_id)
            gone = conn.execute(
                delete(experiment_tags).where(
                    experiment_tags.c.experiment_id == experiment_id, experiment_tags.c.key == key
                )
            )
            if gone.rowcount == 0:
                raise NotFound(f"Experiment {experiment_id!r} has no tag {key!r}.")

        self.write(work, "delete_experiment_tag")
