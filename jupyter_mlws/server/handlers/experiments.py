"""`/mlws/api/v1/experiments[/{experiment_id}]`: list, create, get, rename, tag, delete.

Decisions: experiment ids are the store's integers; a name is validated and
NFC-normalised by the store (so twins collide with a 409). Deleting an
experiment that still has runs is refused with 409 — delete its runs first —
so no run is ever lost by a single request.

Tags: an experiment answers with its tags, and `PATCH` sets some (the keys given are
overwritten, the others kept), the way `PATCH /runs/{id}` does for a run. The runs table
keeps per-experiment UI state there (`mlws.ui.column_sets`), so it follows the workspace
rather than one browser. Keys and values are checked by the store (400); the tags of one
request are written one by one, so a bad key after a good one leaves the good one set.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...entities import Experiment
from ...errors import InvalidParameter
from ...store.base import MetadataStore
from ...validation import validate_artifact_location
from .base import MLWSHandler, route


class ExperimentModel(BaseModel):
    """An experiment: a named group of runs."""

    experiment_id: int
    name: str
    artifact_location: str | None = None
    created_time: int = Field(description="Milliseconds since the Unix epoch (UTC).")
    last_update_time: int = Field(description="Milliseconds since the Unix epoch (UTC).")
    tags: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, experiment: Experiment) -> ExperimentModel:
        return cls(
            experiment_id=experiment.experiment_id,
            name=experiment.name,
            artifact_location=_served_location(experiment.artifact_location),
            created_time=experiment.created_time,
            last_update_time=experiment.last_update_time,
            tags=dict(experiment.tags),
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


#: The most tags one PATCH sets (a UI state or two; more is a script that wants the MLflow API).
MAX_TAGS_PER_PATCH = 50


class UpdateExperiment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="A new name (the naming rules of create).")
    tags: dict[str, str] | None = Field(
        None,
        max_length=MAX_TAGS_PER_PATCH,
        description="Tags to set (existing keys are overwritten, others kept).",
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateExperiment:
        if self.name is None and not self.tags:
            raise ValueError("give a new name or some tags to set")
        return self


def _update_experiment(store: MetadataStore, experiment_id: int, request: UpdateExperiment) -> Experiment:
    """Rename, then set the tags; the experiment as stored afterwards (runs off the event loop)."""
    if request.name is not None:
        store.rename_experiment(experiment_id, request.name)
    for key, value in (request.tags or {}).items():
        store.set_experiment_tag(experiment_id, key, value)
    return store.get_experiment(experiment_id)


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
        "Rename an experiment or set some of its tags",
        body=UpdateExperiment,
        response=ExperimentModel,
        errors=(400, 403, 404, 409, 413),
        tags=("experiments",),
    )
    async def patch(self, experiment_id: str) -> None:
        request = self.parse_body(UpdateExperiment)
        updated = await self.services.run(
            _update_experiment, self.services.store, parse_experiment_id(experiment_id), request
        )
        self.write_model(ExperimentModel.of(updated))

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
