"""`/mlws/api/v1/experiments[/{experiment_id}]`: list, create, get, rename, delete.

Decisions: experiment ids are the store's integers; a name is validated and
NFC-normalised by the store (so twins collide with a 409). Deleting an
experiment that still has runs is refused with 409 — delete its runs first —
so no run is ever lost by a single request.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ...entities import Experiment
from ...errors import InvalidParameter
from ...validation import validate_artifact_location
from .base import MLWSHandler, route


class ExperimentModel(BaseModel):
    """An experiment: a named group of runs."""

    experiment_id: int
    name: str
    artifact_location: str | None = None
    created_time: int = Field(description="Milliseconds since the Unix epoch (UTC).")
    last_update_time: int = Field(description="Milliseconds since the Unix epoch (UTC).")

    @classmethod
    def of(cls, experiment: Experiment) -> ExperimentModel:
        return cls(
            experiment_id=experiment.experiment_id,
            name=experiment.name,
            artifact_location=_served_location(experiment.artifact_location),
            created_time=experiment.created_time,
            last_update_time=experiment.last_update_time,
        )


def _served_location(stored: str | None) -> str | None:
    """Store-then-serve (RELIABILITY P3): a stored location that no longer passes the rules
    (written by hand, or by an older version) is not passed on."""
    try:
        return validate_artifact_location(stored)
    except InvalidParameter:
        return None


class ExperimentList(BaseModel):
    experiments: list[ExperimentModel]


class ExperimentQuery(BaseModel):
    name: str | None = Field(None, description="Only the experiment with this name (NFC-normalised).")


class CreateExperiment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="1-256 characters; see the naming rules in the docs.")
    artifact_location: str | None = Field(
        None, description="A relative folder inside the workspace's artifact store."
    )


class UpdateExperiment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


def parse_experiment_id(raw: str) -> int:
    """A path segment as an experiment id, or a 400 that says what an id looks like."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise InvalidParameter(f"Experiment id {raw[:40]!r} is not a positive integer.")
    return int(raw)


class ExperimentsHandler(MLWSHandler):
    auth_resource = "mlws:experiments"

    @route(
        "List experiments (or find one by name)",
        query=ExperimentQuery,
        response=ExperimentList,
        errors=(400, 403),
        tags=("experiments",),
    )
    async def get(self) -> None:
        name = self.get_query_argument("name", None)
        store = self.services.store
        if name is not None:
            one = await self.services.run(store.get_experiment_by_name, name)
            found = [one] if one is not None else []
        else:
            found = await self.services.run(store.list_experiments)
        self.write_model(ExperimentList(experiments=[ExperimentModel.of(e) for e in found]))

    @route(
        "Create an experiment",
        body=CreateExperiment,
        response=ExperimentModel,
        status=201,
        errors=(400, 403, 409, 413),
        tags=("experiments",),
    )
    async def post(self) -> None:
        request = self.parse_body(CreateExperiment)
        store = self.services.store
        created = await self.services.run(store.create_experiment, request.name, request.artifact_location)
        self.set_header("Location", f"{self.request.path.rstrip('/')}/{created.experiment_id}")
        self.write_model(ExperimentModel.of(created), status=201)


class ExperimentHandler(MLWSHandler):
    auth_resource = "mlws:experiments"

    @route("Get an experiment", response=ExperimentModel, tags=("experiments",))
    async def get(self, experiment_id: str) -> None:
        found = await self.services.run(
            self.services.store.get_experiment, parse_experiment_id(experiment_id)
        )
        self.write_model(ExperimentModel.of(found))

    @route(
        "Rename an experiment",
        body=UpdateExperiment,
        response=ExperimentModel,
        errors=(400, 403, 404, 409, 413),
        tags=("experiments",),
    )
    async def patch(self, experiment_id: str) -> None:
        request = self.parse_body(UpdateExperiment)
        store = self.services.store
        renamed = await self.services.run(
            store.rename_experiment, parse_experiment_id(experiment_id), request.name
        )
        self.write_model(ExperimentModel.of(renamed))

    @route(
        "Delete an experiment that has no runs",
        status=204,
        errors=(400, 403, 404, 409),
        tags=("experiments",),
    )
    async def delete(self, experiment_id: str) -> None:
        await self.services.run(self.services.store.delete_experiment, parse_experiment_id(experiment_id))
        self.set_status(204)
        self.finish()
