"""The part of the store interface MLflow's API needs (a base of `MetadataStore`, issue 17).

Kept apart from store/base.py, as the registry's and batch endpoints' parts are. Who calls it: the
MLflow REST layer (`server/mlflow_api/`), which maps MLflow's calls onto these one for one:
soft delete and restore of experiments and runs, experiment tags, deleting a run tag, a run's
inputs and outputs (log-inputs, log-outputs) and MLflow 3 logged models.

Every backend implements it (SQL: store/sql/lifecycle.py, run_io.py, logged_models.py and runs.py
for `delete_tag`; REST: store/rest_mlflow.py, which refuses what its server has no route for) and
the contract suite in tests/store/test_contract_mlflow_store.py runs against each.

Soft delete is MLflow's: `lifecycle_stage` "active" or "deleted". Listings and searches show only
active things unless asked (`view`), reads by id return deleted things with their stage, and a
deleted experiment's name stays taken. The hard deletes (`delete_experiment`, `delete_run`) are
unchanged and remove everything below, tags, inputs, outputs and logged models included.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from ..entities import Experiment, LoggedModel, RunInfo


class MlflowStore(ABC):
    """Lifecycle, experiment tags, run tag deletion, run inputs/outputs and logged models."""

    # ----- lifecycle and tags -------------------------------------------------------------------
    @abstractmethod
    def set_experiment_lifecycle(self, experiment_id: int, stage: str) -> Experiment:
        """Mark an experiment "active" or "deleted" (`InvalidParameter` for another stage,
        `NotFound` when missing); its runs keep their own stages, as in MLflow."""

    @abstractmethod
    def set_run_lifecycle(self, run_id: str, stage: str) -> RunInfo:
        """Mark a run "active" or "deleted" (`InvalidParameter`, `NotFound`); its status is untouched."""

    @abstractmethod
    def set_experiment_tag(self, experiment_id: int, key: str, value: str) -> None:
        """Set (or overwrite) one tag of an experiment (`NotFound` when it is missing)."""

    @abstractmethod
    def delete_experiment_tag(self, experiment_id: int, key: str) -> None:
        """Remove one tag of an experiment (`NotFound` when the experiment or the tag is missing)."""

    @abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag of a run (`NotFound` naming the key when the run has no such tag)."""

    # ----- run inputs and outputs ---------------------------------------------------------------
    @abstractmethod
    def record_run_io(self, run_id: str, direction: str, items: Sequence[Mapping[str, Any]]) -> None:
        """Record what a run read ("input") or made ("output"): JSON objects, one each, all or nothing.

        An item equal to one already recorded for the run and direction is not stored again, so
        a retried or repeated MLflow `log_inputs` adds nothing."""

    @abstractmethod
    def list_run_io(self, run_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Every (direction, item) recorded for a run, in the order recorded (`NotFound`)."""

    # ----- logged models (MLflow 3) -------------------------------------------------------------
    @abstractmethod
    def create_logged_model(
        self,
        experiment_id: int,
        name: str,
        *,
        model_type: str | None = None,
        source_run_id: str | None = None,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        artifact_location: str | None = None,
        model_id: str | None = None,
    ) -> LoggedModel:
        """A new PENDING logged model in the experiment, with a new "m-<uuid4 hex>" id unless
        given (`NotFound` for a missing experiment or source run, `AlreadyExists` for a known id).
        `artifact_location` defaults to "": the MLflow layer sets it once it knows the id."""

    @abstractmethod
    def get_logged_model(self, model_id: str) -> LoggedModel:
        """A logged model, deleted ones included (with their stage), or `NotFound`."""

    @abstractmethod
    def update_logged_model(
        self,
        model_id: str,
        *,
        status: str | None = None,
        status_message: str | None = None,
        artifact_location: str | None = None,
    ) -> LoggedModel:
        """Change the given fields (status: PENDING, READY or FAILED) and the update time (`NotFound`)."""

    @abstractmethod
    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        """Merge tags into a logged model's (a given key is overwritten; `NotFound`)."""

    @abstractmethod
    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        """Remove one tag of a logged model (`NotFound` when the model or the tag is missing)."""

    @abstractmethod
    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        """Merge params into a logged model's; params are write-once, as MLflow's are: the same
        value again is a no-op, another value `InvalidParameter` (`NotFound`)."""

    @abstractmethod
    def delete_logged_model(self, model_id: str) -> None:
        """Soft-delete a logged model (lifecycle "deleted"; `NotFound` when missing)."""

    @abstractmethod
    def search_logged_models(
        self,
        experiment_ids: Sequence[int] | None,
        limit: int = 100,
        page_token: str | None = None,
        view: str = "active",
    ) -> tuple[list[LoggedModel], str | None]:
        """One page of the logged models of these experiments (None: all), newest first, and the
        token of the next page (None on the last). `limit` is 1 to 1,000."""
