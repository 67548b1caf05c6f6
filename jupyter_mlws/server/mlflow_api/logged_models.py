"""MLflow 3's logged models: what `mlflow.<flavor>.log_model` and autolog create before any file.

MLflow 3's client first creates a logged model (`POST logged-models`), uploads the model's files
to the artifact location the answer names, then finalizes it (`PATCH logged-models/{id}` with
status READY) and records it as the run's output (`runs/outputs`). Servers that lack these calls
make `log_model` raise and autolog log no model; here they are the store's logged models.

Decision: a logged model's files are artifacts of a run, under `logged_models/<model_id>/`, so
the run view lists them and one artifact path (the `mlflow-artifacts` proxy, one safe-path
helper) serves them: the run the model came from, or, for a model logged outside any run, a run
made to hold it (named `logged model <name>`). Its `artifact_location` says so:
`mlflow-artifacts:/<experiment>/<run>/artifacts/logged_models/<model_id>`.
"""

from __future__ import annotations

from typing import Any

from ...errors import NotFound
from ...store.base import MetadataStore
from . import convert as c
from .base import invalid, missing
from .common import page_offset as _offset
from .common import page_token as _token
from .common import resolve_experiment

_STATUSES = {
    "LOGGED_MODEL_PENDING": "PENDING",
    "LOGGED_MODEL_READY": "READY",
    "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
    "PENDING": "PENDING",
    "READY": "READY",
    "FAILED": "FAILED",
}
_MLFLOW_STATUS = {
    "PENDING": "LOGGED_MODEL_PENDING",
    "READY": "LOGGED_MODEL_READY",
    "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
}


def model_json(model: Any) -> dict[str, Any]:
    info = {
        "model_id": model.model_id,
        "experiment_id": str(model.experiment_id),
        "name": model.name,
        "artifact_uri": model.artifact_location,
        "creation_timestamp_ms": model.creation_timestamp,
        "last_updated_timestamp_ms": model.last_updated_timestamp,
        "status": _MLFLOW_STATUS.get(model.status, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
        "tags": c.pairs(model.tags),
        "lifecycle_stage": model.lifecycle_stage,
    }
    if model.model_type:
        info["model_type"] = model.model_type
    if model.source_run_id:
        info["source_run_id"] = model.source_run_id
    if model.status_message:
        info["status_message"] = model.status_message
    return {"info": info, "data": {"params": c.pairs(model.params), "metrics": []}}


def _model(store: MetadataStore, model_id: str) -> Any:
    try:
        return store.get_logged_model(model_id)
    except NotFound:
        raise missing(f"Logged model with ID '{model_id}' not found.") from None


def create_logged_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    experiment = resolve_experiment(store, c.required(f, "experiment_id"))
    name = c.text(f, "name") or "model"
    run_id = c.text(f, "source_run_id") or None
    if run_id is not None:
        holder = store.get_run_info(run_id)
    else:
        holder = store.create_run(
            experiment.experiment_id, name=f"logged model {name}", source_kind="mlflow"
        ).info
    model = store.create_logged_model(
        experiment.experiment_id,
        name,
        model_type=c.text(f, "model_type"),
        source_run_id=run_id,
        params=c.key_values(f.get("params"), "params"),
        tags=c.key_values(f.get("tags"), "tags"),
    )
    location = (
        f"mlflow-artifacts:/{holder.experiment_id}/{holder.run_id}/artifacts/logged_models/{model.model_id}"
    )
    model = store.update_logged_model(model.model_id, artifact_location=location)
    return {"model": model_json(model)}


def get_logged_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    return {"model": model_json(_model(store, str(f["model_id"])))}


def finalize_logged_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    model_id = str(f["model_id"])
    _model(store, model_id)
    raw = str(c.required(f, "status")).upper()
    if raw not in _STATUSES:
        raise invalid(
            f"Invalid logged model status {raw[:40]!r}: use LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED."
        )
    model = store.update_logged_model(
        model_id, status=_STATUSES[raw], status_message=c.text(f, "status_message")
    )
    return {"model": model_json(model)}


def delete_logged_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    model_id = str(f["model_id"])
    _model(store, model_id)
    store.delete_logged_model(model_id)
    return {}


def set_logged_model_tags(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    model_id = str(f["model_id"])
    _model(store, model_id)
    tags = c.key_values(f.get("tags"), "tags")
    store.set_logged_model_tags(model_id, tags)
    return {"model": model_json(_model(store, model_id))}


def delete_logged_model_tag(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    model_id = str(f["model_id"])
    _model(store, model_id)
    store.delete_logged_model_tag(model_id, str(f["tag_key"]))
    return {}


def log_logged_model_params(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    model_id = str(f["model_id"])
    _model(store, model_id)
    params = c.key_values(f.get("params"), "params")
    store.log_logged_model_params(model_id, params)
    return {}


def search_logged_models(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    ids = f.get("experiment_ids") or []
    if isinstance(ids, str):
        ids = [ids]
    experiments = [resolve_experiment(store, i).experiment_id for i in ids] or None
    limit = c.to_int(f.get("max_results"), "max_results", 100)
    if not 1 <= limit <= 1000:
        raise invalid(f"Invalid value {limit} for parameter 'max_results': use 1 to 1000.")
    if f.get("filter"):
        return _filtered_search(store, f, experiments, limit)
    models, token = store.search_logged_models(experiments, limit=limit, page_token=c.text(f, "page_token"))
    answer: dict[str, Any] = {"models": [model_json(m) for m in models]}
    if token:
        answer["next_page_token"] = token
    return answer


def _filtered_search(store: MetadataStore, f: dict[str, Any], experiments: Any, limit: int) -> dict[str, Any]:
    """`name = '...'` / `source_run_id = '...'` filters (what the client sends), over every page."""
    wanted: dict[str, str] = {}
    for clause in str(f["filter"]).split(" AND "):
        key, sep, value = clause.partition("=")
        key, value = key.strip().removeprefix("attributes."), value.strip().strip("'\"")
        if not sep or key not in ("name", "source_run_id", "model_id", "status"):
            raise invalid(
                f"Unsupported logged model filter {clause.strip()[:80]!r}: use name, source_run_id, "
                "model_id or status with '='."
            )
        wanted[key] = value
    found, token = [], None
    while True:
        page, token = store.search_logged_models(experiments, limit=1000, page_token=token)
        for model in page:
            shown = model_json(model)["info"]
            if all(str(shown.get(k, "")) == v for k, v in wanted.items()):
                found.append(model)
        if not token:
            break
    start = _offset(c.text(f, "page_token"))
    answer: dict[str, Any] = {"models": [model_json(m) for m in found[start : start + limit]]}
    if start + limit < len(found):
        answer["next_page_token"] = _token(start + limit)
    return answer


def list_logged_model_artifacts(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    """The files under a logged model's artifact folder (one level), as MLflow's ListArtifacts."""
    model = _model(store, str(f["model_id"]))
    _, _, rest = model.artifact_location.partition("mlflow-artifacts:/")
    _, run_id, _, prefix = rest.split("/", 3)
    sub = c.text(f, "artifact_directory_path") or ""
    from .artifacts import list_folder

    files = list_folder(store, run_id, f"{prefix}/{sub}".rstrip("/"))
    return {"root_uri": model.artifact_location, "files": files}


OPERATIONS = {
    ("POST", "logged-models"): create_logged_model,
    ("POST", "logged-models/search"): search_logged_models,
}
#: Paths with the model id in them (regex with named groups, matched after the exact paths).
PATTERNS = {
    ("GET", r"logged-models/(?P<model_id>[\w-]+)"): get_logged_model,
    ("PATCH", r"logged-models/(?P<model_id>[\w-]+)"): finalize_logged_model,
    ("DELETE", r"logged-models/(?P<model_id>[\w-]+)"): delete_logged_model,
    ("PATCH", r"logged-models/(?P<model_id>[\w-]+)/tags"): set_logged_model_tags,
    ("DELETE", r"logged-models/(?P<model_id>[\w-]+)/tags/(?P<tag_key>.+)"): delete_logged_model_tag,
    ("POST", r"logged-models/(?P<model_id>[\w-]+)/params"): log_logged_model_params,
    ("GET", r"logged-models/(?P<model_id>[\w-]+)/artifacts/directories"): list_logged_model_artifacts,
}
