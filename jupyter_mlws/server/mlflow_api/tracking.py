"""MLflow's tracking calls on our store: experiments and runs (their data: `run_data.py`).

Each operation takes the workspace's store and the request's fields (`MLflowHandler.fields`) and
returns MLflow's answer as a dict; it runs on the store pool, off the loop. `OPERATIONS` maps
(HTTP method, path after `/mlflow/`) to it, as MLflow's client calls them (`service.proto`).
Translations between the two front doors are in `convert.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...entities import RunInfo, RunStatus
from ...errors import AlreadyExists, NotFound
from ...store.base import MetadataStore, now_ms
from . import convert as c
from . import run_data as data
from .base import invalid, missing
from .common import MAX_RESULTS, resolve_experiment
from .common import info_of as _info
from .common import page_offset as _offset
from .common import page_token as _token
from .common import run_id_of as _run_id

Operation = Callable[[MetadataStore, dict[str, Any]], dict[str, Any]]
#: The tag `%%mlrun` gives its runs (notebook/mlrun.py): MLflow's end_run does not end them.
CELL_TAG = "mlws.execution_count"


# ----- experiments ---------------------------------------------------------------------------
def create_experiment(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name = c.text(f, "name")
    if not name or not name.strip():
        raise invalid("Invalid experiment name: ''. Experiment names cannot be empty.")
    if f.get("artifact_location"):
        raise invalid(
            "artifact_location cannot be chosen here: the workspace keeps every run's artifacts itself "
            "(mlflow-artifacts:/<experiment id>); leave it out."
        )
    try:
        experiment = store.create_experiment(name)
    except AlreadyExists:
        raise AlreadyExists(f"Experiment(name={name}) already exists.") from None
    for key, value in c.key_values(f.get("tags"), "tags").items():
        store.set_experiment_tag(experiment.experiment_id, key, value)
    return {"experiment_id": str(experiment.experiment_id)}


def get_experiment(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    raw = c.required(f, "experiment_id")
    experiment = resolve_experiment(store, raw)
    return {"experiment": c.experiment_json(experiment)}


def get_experiment_by_name(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    name = str(c.required(f, "experiment_name"))
    experiment = store.get_experiment_by_name(name)
    if experiment is None:
        raise missing(f"Could not find experiment with name '{name}'")
    return {"experiment": c.experiment_json(experiment)}


def search_experiments(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    from .search import experiment_matcher, experiment_sorter

    limit = c.to_int(f.get("max_results"), "max_results", 1000)
    if not 1 <= limit <= MAX_RESULTS:
        raise invalid(f"Invalid value {limit} for parameter 'max_results' supplied: use 1 to {MAX_RESULTS}.")
    found = store.list_experiments(view=c.view(f, "view_type"))
    matches = experiment_matcher(c.text(f, "filter"))
    found = sorted((e for e in found if matches(e)), key=experiment_sorter(f.get("order_by")))
    start = _offset(c.text(f, "page_token"))
    page = found[start : start + limit]
    answer: dict[str, Any] = {"experiments": [c.experiment_json(e) for e in page]}
    if start + limit < len(found):
        answer["next_page_token"] = _token(start + limit)
    return answer


def update_experiment(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    experiment = resolve_experiment(store, c.required(f, "experiment_id"))
    new_name = c.text(f, "new_name")
    if new_name is not None:
        if not new_name.strip():
            raise invalid("Invalid experiment name: ''. Experiment names cannot be empty.")
        store.rename_experiment(experiment.experiment_id, new_name)
    return {}


def delete_experiment(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    experiment = resolve_experiment(store, c.required(f, "experiment_id"))
    store.set_experiment_lifecycle(experiment.experiment_id, "deleted")
    return {}


def restore_experiment(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    experiment = resolve_experiment(store, c.required(f, "experiment_id"))
    store.set_experiment_lifecycle(experiment.experiment_id, "active")
    return {}


def set_experiment_tag(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    experiment = resolve_experiment(store, c.required(f, "experiment_id"))
    store.set_experiment_tag(experiment.experiment_id, c.key(f), c.value(f))
    return {}


def delete_experiment_tag(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    experiment = resolve_experiment(store, c.required(f, "experiment_id"))
    store.delete_experiment_tag(experiment.experiment_id, str(c.required(f, "key")))
    return {}


# ----- runs ----------------------------------------------------------------------------------
def run_json(store: MetadataStore, run_id: str) -> dict[str, Any]:
    """A run as MLflow's `Run` message: info, data (latest metrics), inputs and outputs."""
    try:
        record = store.get_run(run_id)
    except NotFound:
        raise missing(f"Run with id={run_id} not found") from None
    info = record.info
    latest = store.latest_metrics(run_id) if hasattr(store, "latest_metrics") else None
    metrics = [
        {
            "key": k,
            "value": c.number(v),
            "timestamp": (latest or {}).get(k, (0, 0))[1],
            "step": (latest or {}).get(k, (0, 0))[0],
        }
        for k, v in record.data.metrics.items()
        if v is not None
    ]
    data = {
        "metrics": metrics,
        "params": c.pairs(record.data.params),
        "tags": c.pairs(c.system_tags(info, record.data.tags)),
    }
    answer: dict[str, Any] = {"info": c.run_info_json(info), "data": data}
    inputs: dict[str, list[Any]] = {"dataset_inputs": [], "model_inputs": []}
    outputs: dict[str, list[Any]] = {"model_outputs": []}
    for direction, payload in store.list_run_io(run_id):
        if direction == "input":
            inputs["model_inputs" if "model_id" in payload else "dataset_inputs"].append(payload)
        else:
            outputs["model_outputs"].append(payload)
    answer["inputs"] = inputs
    answer["outputs"] = outputs
    return answer


def create_run(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    experiment = resolve_experiment(store, f.get("experiment_id") or c.DEFAULT_EXPERIMENT_ID)
    tags = c.key_values(f.get("tags"), "tags")
    name = c.text(f, "run_name") or tags.get("mlflow.runName") or None
    record = store.create_run(
        experiment.experiment_id,
        name=name,
        start_time=c.to_int(f.get("start_time"), "start_time", now_ms()),
        parent_run_id=tags.get("mlflow.parentRunId") or None,
        source_kind="mlflow",
        user=c.text(f, "user_id") or tags.get("mlflow.user") or None,
        tags=tags or None,
    )
    return {"run": run_json(store, record.info.run_id)}


def get_run(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    return {"run": run_json(store, _run_id(f))}


def update_run(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(f)
    info = _info(store, run_id)
    raw = c.text(f, "status")
    status = None
    if raw is not None:
        status = c.FROM_MLFLOW_STATUS.get(raw.upper())
        if status is None:
            raise invalid(f"Invalid run status {raw[:30]!r}: use one of {', '.join(c.FROM_MLFLOW_STATUS)}.")
    name = c.text(f, "run_name") or None
    end_time = c.to_int(f.get("end_time"), "end_time", 0) or None
    if status is not None and status == RunStatus.parse(info.status):
        status = None  # MLflow's client repeats the status it has; not a transition
    if status is not None and status.is_terminal and _cell_owns(store, info):
        status = None  # a `%%mlrun` cell's run ends with its cell, whichever API the cell used
    if status is not None and status.is_terminal and end_time is None:
        end_time = now_ms()
    if status is not None or name is not None:
        info = store.update_run(run_id, status=status, end_time=end_time if status else None, name=name)
    if name is not None:
        store.set_tag(run_id, "mlflow.runName", name)
    return {"run_info": c.run_info_json(info)}


def _cell_owns(store: MetadataStore, info: RunInfo) -> bool:
    """Whether a running run is a `%%mlrun` cell's (its kernel ends it when the cell ends)."""
    if RunStatus.parse(info.status) != RunStatus.RUNNING or info.source_kind != "notebook":
        return False
    return CELL_TAG in store.get_run(info.run_id).data.tags


def delete_run(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(f)
    _info(store, run_id)
    store.set_run_lifecycle(run_id, "deleted")
    return {}


def restore_run(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(f)
    _info(store, run_id)
    store.set_run_lifecycle(run_id, "active")
    return {}


def search_runs(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    ids = f.get("experiment_ids") or []
    if isinstance(ids, str):
        ids = [ids]
    experiments = [resolve_experiment(store, i).experiment_id for i in ids]
    limit = c.to_int(f.get("max_results"), "max_results", 1000)
    if not 1 <= limit <= MAX_RESULTS:
        raise invalid(f"Invalid value {limit} for parameter 'max_results' supplied: use 1 to {MAX_RESULTS}.")
    table = store.search_runs(
        experiments,
        filter=c.run_filter(c.text(f, "filter")),
        order_by=c.order_by(f.get("order_by")),
        limit=limit,
        page_token=c.text(f, "page_token") or None,
        view=c.view(f, "run_view_type"),
    )
    runs = []
    params, metrics, tags = table.params.items(), table.metrics.items(), table.tags.items()
    for i, info in enumerate(table.runs):  # the columns are aligned with table.runs
        run_tags = {k: col[i] for k, col in tags if col[i] is not None}
        runs.append(
            {
                "info": c.run_info_json(info),
                "data": {
                    "metrics": [
                        {"key": k, "value": c.number(col[i]), "timestamp": 0, "step": 0}
                        for k, col in metrics
                        if col[i] is not None
                    ],
                    "params": [{"key": k, "value": col[i]} for k, col in params if col[i] is not None],
                    "tags": c.pairs(c.system_tags(info, run_tags)),
                },
            }
        )
    answer: dict[str, Any] = {"runs": runs}
    if table.next_page_token:
        answer["next_page_token"] = table.next_page_token
    return answer


def server_info(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    return {
        "store_type": "SqlStore",
        "artifact_serving_enabled": True,
        "workspaces_enabled": False,
        "multipart_uploads_enabled": True,  # multipart.py
        "multipart_downloads_enabled": False,
    }


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "experiments/create"): create_experiment,
    ("GET", "experiments/get"): get_experiment,
    ("GET", "experiments/get-by-name"): get_experiment_by_name,
    ("POST", "experiments/search"): search_experiments,
    ("GET", "experiments/search"): search_experiments,
    ("POST", "experiments/update"): update_experiment,
    ("POST", "experiments/delete"): delete_experiment,
    ("POST", "experiments/restore"): restore_experiment,
    ("POST", "experiments/set-experiment-tag"): set_experiment_tag,
    ("POST", "experiments/delete-experiment-tag"): delete_experiment_tag,
    ("POST", "runs/create"): create_run,
    ("GET", "runs/get"): get_run,
    ("POST", "runs/update"): update_run,
    ("POST", "runs/delete"): delete_run,
    ("POST", "runs/restore"): restore_run,
    ("POST", "runs/search"): search_runs,
    ("GET", "runs/search"): search_runs,
    ("POST", "runs/log-batch"): data.log_batch,
    ("POST", "runs/log-metric"): data.log_metric,
    ("POST", "runs/log-parameter"): data.log_param,
    ("POST", "runs/set-tag"): data.set_tag,
    ("POST", "runs/delete-tag"): data.delete_tag,
    ("POST", "runs/log-inputs"): data.log_inputs,
    ("POST", "runs/outputs"): data.log_outputs,
    ("POST", "runs/log-model"): data.log_model,
    ("GET", "metrics/get-history"): data.get_metric_history,
    ("GET", "metrics/get-history-bulk-interval"): data.get_metric_history_bulk_interval,
    ("GET", "server-info"): server_info,
}
