"""The MLflow part of the REST store (`store/base_mlflow.py`; a base of `RestStore`).

The server's `/mlws/api/v1` API has no routes yet for soft delete, deleting an experiment or run
tag, run inputs/outputs or logged models (setting an experiment tag goes through
`PATCH /experiments/{id}`): MLflow clients reach those through the server's
MLflow API (issue 17), which writes the workspace's own store. Over this store they raise
`NotImplementedError` saying so, rather than doing something else; what the server does answer
(experiments and runs) parses with the new fields at their defaults, since the server lists only
active experiments and runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from ..entities import Experiment, LoggedModel, RunInfo
from ..http import HttpClient
from ..mlflow_entities import check_view
from ..validation import validate_experiment_id
from .base_mlflow import MlflowStore


def _not_served(what: str) -> NoReturn:
    raise NotImplementedError(
        f"The workspace server has no /mlws/api/v1 route for {what} yet; use the server's MLflow "
        "API (MLFLOW_TRACKING_URI=<server>/mlws/mlflow) or open the workspace folder or database directly."
    )


class RestMlflowMixin(MlflowStore):
    """`MlflowStore` over HTTP: only the active view, the rest refused with `NotImplementedError`."""

    http: HttpClient

    def only_active(self, view: str, what: str) -> None:
        """Refuse a `view` other than "active" (the only one the server's listings give)."""
        if check_view(view) != "active":
            _not_served(f"{what} with view={view!r}")

    def search_runs(self, *args: Any, **kwargs: Any) -> Any:  # provided by RestStore
        raise NotImplementedError

    def running_runs(self) -> list[RunInfo]:
        """The running runs the server lists (active ones): the server's own supervisor watches
        its store directly, soft-deleted running runs included."""
        found: list[RunInfo] = []
        token: str | None = None
        while True:
            page = self.search_runs(None, "status = 'running'", None, 1000, token)
            found.extend(page.runs)
            token = page.next_page_token
            if token is None:
                return found

    def set_experiment_lifecycle(self, experiment_id: int, stage: str) -> Experiment:
        _not_served("deleting or restoring an experiment")

    def set_run_lifecycle(self, run_id: str, stage: str) -> RunInfo:
        _not_served("deleting or restoring a run")

    def set_experiment_tag(self, experiment_id: int, key: str, value: str) -> None:
        """Through `PATCH /experiments/{id}` (its `tags` set the keys given, keep the others)."""
        url = f"/mlws/api/v1/experiments/{validate_experiment_id(experiment_id)}"
        self.http.json("PATCH", url, json_body={"tags": {key: value}})

    def delete_experiment_tag(self, experiment_id: int, key: str) -> None:
        _not_served("deleting an experiment tag")

    def delete_tag(self, run_id: str, key: str) -> None:
        _not_served("deleting a run tag")

    def record_run_io(self, run_id: str, direction: str, items: Sequence[Mapping[str, Any]]) -> None:
        _not_served("run inputs and outputs")

    def list_run_io(self, run_id: str) -> list[tuple[str, dict[str, Any]]]:
        _not_served("run inputs and outputs")

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
        _not_served("logged models")

    def get_logged_model(self, model_id: str) -> LoggedModel:
        _not_served("logged models")

    def update_logged_model(
        self,
        model_id: str,
        *,
        status: str | None = None,
        status_message: str | None = None,
        artifact_location: str | None = None,
    ) -> LoggedModel:
        _not_served("logged models")

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        _not_served("logged models")

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        _not_served("logged models")

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        _not_served("logged models")

    def delete_logged_model(self, model_id: str) -> None:
        _not_served("logged models")

    def search_logged_models(
        self,
        experiment_ids: Sequence[int] | None,
        limit: int = 100,
        page_token: str | None = None,
        view: str = "active",
    ) -> tuple[list[LoggedModel], str | None]:
        _not_served("logged models")
