"""Renaming and deleting experiments and runs in the SQL store.

Called by `SqlStore.rename_experiment / delete_experiment / delete_run`
(the server's PATCH and DELETE routes). Deletes are hard deletes in one
transaction: the foreign keys cascade from `runs` to params, tags, metrics,
latest metrics, metric chunks, applied batches and artifact records. An
experiment is deleted only once it has no runs left (a Conflict otherwise).
The artifact bytes belong to the artifact store; the caller removes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from ...entities import Experiment
from ...errors import AlreadyExists, Conflict, NotFound
from ...validation import validate_name, validate_experiment_id
from ..base import now_ms
from .schema import experiments, runs

if TYPE_CHECKING:
    from .store import SqlStore


def rename_experiment(store: SqlStore, experiment_id: int, name: str) -> Experiment:
    """New name (NFC) for an experiment; the unique constraint decides clashes."""
    experiment_id = validate_experiment_id(experiment_id)
    name = validate_name("Experiment name", name)

    def work(conn: Connection) -> None:
        done = conn.execute(
            update(experiments)
            .where(experiments.c.experiment_id == experiment_id)
            .values(name=name, last_update_time=now_ms())
        )
        if done.rowcount == 0:
            raise NotFound(f"Experiment {experiment_id!r} does not exist.")

    try:
        store.write(work, "rename_experiment")
    except IntegrityError:
        raise AlreadyExists(f"An experiment called {name!r} already exists.") from None
    return store.get_experiment(experiment_id)


def delete_experiment(store: SqlStore, experiment_id: int) -> None:
    """Delete an empty experiment; one that still has runs is a Conflict (nothing is lost by accident)."""
    experiment_id = validate_experiment_id(experiment_id)

    def work(conn: Connection) -> None:
        held = conn.execute(
            select(func.count()).select_from(runs).where(runs.c.experiment_id == experiment_id)
        ).scalar()
        if held:
            raise Conflict(f"Experiment {experiment_id!r} still has {held} runs; delete them first.")
        if (
            conn.execute(delete(experiments).where(experiments.c.experiment_id == experiment_id)).rowcount
            == 0
        ):
            raise NotFound(f"Experiment {experiment_id!r} does not exist.")

    store.write(work, "delete_experiment")


def delete_run(store: SqlStore, run_id: str) -> None:
    """Delete one run and its records."""

    def work(conn: Connection) -> None:
        if conn.execute(delete(runs).where(runs.c.run_id == run_id)).rowcount == 0:
            raise NotFound(f"Run {run_id!r} does not exist.")

    store.write(work, "delete_run")
    store.forget_run(run_id)
