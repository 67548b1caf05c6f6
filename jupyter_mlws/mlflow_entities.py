"""Domain types MLflow's API needs beyond our own: lifecycle stages and MLflow 3 logged models.

Split from `entities.py` (which re-exports every name here), as the registry's types are. The
stores (`store/base_mlflow.py`) take and return these; the MLflow REST layer
(`server/mlflow_api/`) turns them into MLflow's JSON.

Lifecycle is MLflow's soft delete: an experiment, a run or a logged model is "active" or
"deleted"; a deleted one is hidden from listings and searches by default (`view="active"`)
but can still be read by id and restored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InvalidParameter

#: The stages of MLflow's soft delete.
LIFECYCLE_STAGES = ("active", "deleted")
#: What a listing or search shows: only active things (the default), only deleted ones, or both.
VIEWS = ("active", "deleted", "all")
#: The states of a logged model: PENDING while its files upload, then READY or FAILED.
LOGGED_MODEL_STATUSES = ("PENDING", "READY", "FAILED")


def check_stage(stage: object) -> str:
    """A lifecycle stage, or InvalidParameter naming the valid ones."""
    if stage not in LIFECYCLE_STAGES:
        raise InvalidParameter(f"Unknown lifecycle stage {stage!r:.40}: use 'active' or 'deleted'.")
    return str(stage)


def check_view(view: object) -> str:
    """A listing view, or InvalidParameter naming the valid ones."""
    if view not in VIEWS:
        raise InvalidParameter(f"Unknown view {view!r:.40}: use 'active', 'deleted' or 'all'.")
    return str(view)


@dataclass(frozen=True)
class LoggedModel:
    """A model logged in an experiment (MLflow 3), with its own id, params, tags and status.

    `model_id` is "m-" and a uuid4's hex; `artifact_location` is where its files go (set by the
    MLflow layer, which knows the artifact URLs); `source_run_id` names the run that logged it,
    if any (no foreign key: deleting the run keeps the model). Times are ms since the epoch.
    """

    model_id: str
    experiment_id: int
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    model_type: str | None = None
    source_run_id: str | None = None
    status: str = "PENDING"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    lifecycle_stage: str = "active"
