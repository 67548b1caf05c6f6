"""MLflow's calls on a run's data: params, tags, metrics and their history, inputs and outputs.

Operations as in `tracking.py` (the store and the request's fields in, MLflow's answer out); the
`OPERATIONS` table there routes to them.
"""

from __future__ import annotations

import json
from typing import Any

from ...entities import Metric
from ...errors import NotFound
from ...store.base import MetadataStore, now_ms
from . import convert as c
from .base import invalid, missing
from .common import info_of as _info
from .common import page_offset as _offset
from .common import page_token as _token
from .common import run_id_of as _run_id

#: The run tag where MLflow 2 keeps the models logged in a run.
LOG_MODEL_HISTORY = "mlflow.log-model.history"
#: Most points one metric-history answer carries before it pages.
HISTORY_PAGE = 25_000


def log_batch(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(f)
    metrics = [_metric(m) for m in f.get("metrics") or []]
    params = c.key_values(f.get("params"), "params")
    tags = c.key_values(f.get("tags"), "tags")
    if len(metrics) > 1000 or len(params) > 100 or len(tags) > 100:
        raise invalid("A batch holds at most 1000 metrics, 100 params and 100 tags (MLflow's limits).")
    _log(store, run_id, metrics, params, tags)
    return {}


def _log(
    store: MetadataStore, run_id: str, metrics: list[Metric], params: dict[str, str], tags: dict[str, str]
) -> None:
    try:
        store.log_batch(run_id, metrics, params=params or None, tags=tags or None)
    except NotFound:
        raise missing(f"Run with id={run_id} not found") from None


def _metric(m: Any) -> Metric:
    if not isinstance(m, dict):
        raise invalid("Each metric must be an object with key, value, timestamp and step.")
    return Metric(
        c.key(m),
        c.to_float(m.get("value"), "metric value"),
        c.to_int(m.get("step"), "step", 0),
        c.to_int(m.get("timestamp"), "timestamp", now_ms()),
    )


def log_metric(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    _log(store, _run_id(f), [_metric(f)], {}, {})
    return {}


def log_param(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    _log(store, _run_id(f), [], {c.key(f): c.value(f)}, {})
    return {}


def set_tag(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    run_id, key = _run_id(f), c.key(f)
    value = c.value(f)
    _log(store, run_id, [], {}, {key: value})
    if key == "mlflow.runName" and value:
        store.update_run(run_id, name=value)
    return {}


def delete_tag(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(f)
    _info(store, run_id)
    store.delete_tag(run_id, str(c.required(f, "key")))
    return {}


def log_inputs(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(f)
    _info(store, run_id)
    items = [d for d in f.get("datasets") or [] if isinstance(d, dict)]
    items += [m for m in f.get("models") or [] if isinstance(m, dict)]
    if items:
        store.record_run_io(run_id, "input", items)
    return {}


def log_outputs(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    run_id = _run_id(f)
    _info(store, run_id)
    items = [m for m in f.get("models") or [] if isinstance(m, dict)]
    for item in items:
        store.get_logged_model(str(c.required(item, "model_id")))
    if items:
        store.record_run_io(run_id, "output", items)
    return {}


def log_model(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    """MLflow 2's `runs/log-model`: the model's MLmodel as JSON, kept where MLflow keeps it (the
    run's `mlflow.log-model.history` tag, a JSON list); MLflow 3 uses logged models instead."""
    run_id = _run_id(f)
    _info(store, run_id)
    raw = c.required(f, "model_json")
    try:
        model = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise invalid("model_json is not valid JSON.") from None
    if not isinstance(model, dict):
        raise invalid("model_json must be a JSON object (the model's MLmodel).")
    tags = store.get_run(run_id).data.tags
    try:
        history = json.loads(tags.get(LOG_MODEL_HISTORY) or "[]")
    except ValueError:
        history = []
    history.append(model)
    _log(store, run_id, [], {}, {LOG_MODEL_HISTORY: json.dumps(history)})
    return {}


def get_metric_history(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    run_id, key = _run_id(f), str(c.required(f, "metric_key"))
    _info(store, run_id)
    limit = c.to_int(f.get("max_results"), "max_results", HISTORY_PAGE)
    if limit < 1:
        raise invalid(f"Invalid value {limit} for parameter 'max_results': it must be at least 1.")
    start = _offset(c.text(f, "page_token"))
    series = store.get_metric_history(run_id, key)
    steps, times, values = series.steps, series.timestamps, series.values
    end = min(start + limit, len(steps))
    answer: dict[str, Any] = {
        "metrics": [
            {"key": key, "value": c.number(values[i]), "timestamp": int(times[i]), "step": int(steps[i])}
            for i in range(start, end)
        ]
    }
    if end < len(steps):
        answer["next_page_token"] = _token(end)
    return answer


def get_metric_history_bulk_interval(store: MetadataStore, f: dict[str, Any]) -> dict[str, Any]:
    ids = f.get("run_ids") or []
    if isinstance(ids, str):
        ids = [ids]
    if not ids or len(ids) > 100:
        raise invalid("run_ids must name 1 to 100 runs.")
    key = str(c.required(f, "metric_key"))
    points = c.to_int(f.get("max_results"), "max_results", 320)
    if not 1 <= points <= 1000:
        raise invalid(f"Invalid value {points} for parameter 'max_results': use 1 to 1000.")
    low = c.to_int(f.get("start_step"), "start_step", 0) if f.get("start_step") not in (None, "") else None
    high = c.to_int(f.get("end_step"), "end_step", 0) if f.get("end_step") not in (None, "") else None
    metrics = []
    for run_id in ids:
        _info(store, str(run_id))
        series = store.get_metric_history(str(run_id), key, max_points=points, min_step=low, max_step=high)
        metrics += [
            {"key": key, "value": c.number(v), "timestamp": int(t), "step": int(s), "run_id": str(run_id)}
            for s, t, v in zip(series.steps, series.timestamps, series.values, strict=False)
        ]
    return {"metrics": metrics}
