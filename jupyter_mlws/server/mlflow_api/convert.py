"""Our records in MLflow's JSON shapes, and MLflow's names for fields and statuses in ours.

One workspace, two front doors: an MLflow experiment is our experiment, an MLflow run our run.
What MLflow has and we keep differently is translated here and nowhere else:

- Ids: experiment ids are our integers as strings. MLflow's default experiment "0" (the fluent
  API's when no experiment is set) is the workspace's `Default` experiment, made on first use; it
  answers with its own id.
- Run status: RUNNING = running, SCHEDULED = queued, FINISHED = completed, FAILED = failed,
  KILLED = killed; our `canceled` reads as KILLED (MLflow has no canceled).
- Run names: our run name; MLflow's `mlflow.runName`, `mlflow.user` and `mlflow.parentRunId` tags
  are answered from the run's own fields when the client did not set them itself.
- Artifact URIs: `mlflow-artifacts:/<experiment id>/<run id>/artifacts`, served by this server's
  `mlflow-artifacts` proxy from the run's own artifacts (`artifacts.py`).
- Filters: MLflow's `attributes.run_name`, `attributes.status = 'FINISHED'` and the like become
  our filter grammar's attribute names and statuses (`store/filter.py` does the parsing).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from ...entities import Experiment, RunInfo, RunStatus
from .base import invalid

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT = "Default"

TO_MLFLOW_STATUS = {
    RunStatus.QUEUED: "SCHEDULED",
    RunStatus.RUNNING: "RUNNING",
    RunStatus.COMPLETED: "FINISHED",
    RunStatus.FAILED: "FAILED",
    RunStatus.KILLED: "KILLED",
    RunStatus.CANCELED: "KILLED",
}
FROM_MLFLOW_STATUS = {
    "SCHEDULED": RunStatus.QUEUED,
    "RUNNING": RunStatus.RUNNING,
    "FINISHED": RunStatus.COMPLETED,
    "FAILED": RunStatus.FAILED,
    "KILLED": RunStatus.KILLED,
}
VIEW_TYPES = {
    "ACTIVE_ONLY": "active",
    "DELETED_ONLY": "deleted",
    "ALL": "all",
    "1": "active",
    "2": "deleted",
    "3": "all",
}
#: MLflow's run attributes (after `attributes.`, `attribute.`, `attr.` or `run.`) as ours.
_ATTRIBUTES = {
    "run_name": "name",
    "run_id": "run_id",
    "run_uuid": "run_id",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "user_id": "user",
    "experiment_id": "experiment_id",
}
_QUOTED = re.compile(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
_ATTRIBUTE = re.compile(r"\b(?:attributes|attribute|attr|run)\.(`?)(\w+)\1", re.IGNORECASE)
_BARE_ATTRIBUTE = re.compile(r"(?<![\w.`])(run_name|run_id|user_id)(?![\w.`])")


def experiment_id(value: Any) -> str:
    """An experiment id as MLflow sends it, checked (a string of digits)."""
    text = str(value).strip() if value is not None else ""
    if not text.isdigit() or len(text) > 18:
        raise invalid(f"Invalid experiment id {str(value)[:40]!r}: experiment ids are numbers.")
    return text


def experiment_json(experiment: Experiment, shown_id: str | None = None) -> dict[str, Any]:
    return {
        "experiment_id": shown_id or str(experiment.experiment_id),
        "name": experiment.name,
        "artifact_location": f"mlflow-artifacts:/{experiment.experiment_id}",
        "lifecycle_stage": getattr(experiment, "lifecycle_stage", "active"),
        "creation_time": experiment.created_time,
        "last_update_time": experiment.last_update_time,
        "tags": pairs(getattr(experiment, "tags", {}) or {}),
    }


def artifact_uri(info: RunInfo) -> str:
    return f"mlflow-artifacts:/{info.experiment_id}/{info.run_id}/artifacts"


def run_info_json(info: RunInfo) -> dict[str, Any]:
    answer = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.name,
        "experiment_id": str(info.experiment_id),
        "user_id": info.user or "",
        "status": TO_MLFLOW_STATUS[RunStatus.parse(info.status)],
        "start_time": info.start_time or 0,
        "artifact_uri": artifact_uri(info),
        "lifecycle_stage": getattr(info, "lifecycle_stage", "active"),
    }
    if info.end_time is not None:
        answer["end_time"] = info.end_time
    return answer


def system_tags(info: RunInfo, tags: dict[str, str]) -> dict[str, str]:
    """The run's tags with MLflow's own tags answered from the run's fields where not set."""
    merged = dict(tags)
    merged.setdefault("mlflow.runName", info.name)
    if info.user:
        merged.setdefault("mlflow.user", info.user)
    if info.parent_run_id:
        merged.setdefault("mlflow.parentRunId", info.parent_run_id)
    return merged


def pairs(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": "" if v is None else str(v)} for k, v in mapping.items()]


def number(value: Any) -> float | str:
    """A metric value as MLflow's JSON carries it (non-finite numbers as strings)."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def to_float(value: Any, what: str) -> float:
    if isinstance(value, (bool, list, dict)) or value is None:
        raise invalid(f"{what} must be a number, not {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(f"{what} must be a number, not {str(value)[:40]!r}.") from None


def to_int(value: Any, what: str, default: int | None = None) -> int:
    if value is None or value == "":
        if default is None:
            raise invalid(f"Missing value for required parameter '{what}'.")
        return default
    if isinstance(value, (bool, float, list, dict)):
        raise invalid(f"{what} must be an integer, not {str(value)[:40]!r}.")
    try:
        number_ = int(str(value).strip())
    except ValueError:
        raise invalid(f"{what} must be an integer, not {str(value)[:40]!r}.") from None
    if not -(2**63) <= number_ < 2**63:
        raise invalid(f"{what} is out of range: {str(value)[:40]}.")
    return number_


def required(fields: dict[str, Any], name: str) -> Any:
    value = fields.get(name)
    if value is None or value == "":
        raise invalid(f"Missing value for required parameter '{name}'.")
    return value


def key(item: Any) -> str:
    """A param, tag or metric key: a non-empty string (not a number, list or object)."""
    found = item.get("key") if isinstance(item, dict) else None
    if not isinstance(found, str) or not found:
        raise invalid(f"Missing or invalid 'key': keys are non-empty strings, not {str(found)[:40]!r}.")
    return found


def value(item: dict[str, Any]) -> str:
    """A param or tag value: a string (MLflow's client sends strings; a number is taken as text)."""
    found = item.get("value", "")
    if found is None:
        return ""
    if isinstance(found, (dict, list)):
        raise invalid(
            f"Invalid value for '{item.get('key')}': values are strings, not {type(found).__name__}."
        )
    return str(found)


def key_values(items: Any, what: str) -> dict[str, str]:
    """MLflow's `[{"key": ..., "value": ...}]` list as a dict."""
    if items is None:
        return {}
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid(f"'{what}' must be a list of {{key, value}} objects.")
    return {key(i): value(i) for i in items}


def text(fields: dict[str, Any], name: str, default: str | None = None) -> str | None:
    value = fields.get(name, default)
    if value is None:
        return None
    if isinstance(value, list):
        raise invalid(f"Parameter '{name}' must be a single string.")
    return str(value)


def view(fields: dict[str, Any], name: str) -> str:
    raw = str(fields.get(name) or "ACTIVE_ONLY").upper()
    if raw not in VIEW_TYPES:
        raise invalid(f"Invalid {name} {raw[:30]!r}: use ACTIVE_ONLY, DELETED_ONLY or ALL.")
    return VIEW_TYPES[raw]


def run_filter(mlflow_filter: str | None) -> str | None:
    """MLflow's run filter in our grammar: attribute names and status values translated."""
    if not mlflow_filter or not mlflow_filter.strip():
        return None
    parts = _QUOTED.split(mlflow_filter)
    out: list[str] = []
    status_field = False
    for i, part in enumerate(parts):
        if i % 2 == 1:  # a quoted literal: a status after `status =` / `status in (` is translated
            if status_field and part[1:-1].upper() in FROM_MLFLOW_STATUS:
                part = f"'{FROM_MLFLOW_STATUS[part[1:-1].upper()].value}'"
            out.append(part)
            continue
        part = _ATTRIBUTE.sub(lambda m: _attribute(m.group(2)), part)
        part = _BARE_ATTRIBUTE.sub(lambda m: _ATTRIBUTES[m.group(1)], part)
        # is the next literal compared with status? (status = 'X', status IN ('X', 'Y'))
        if re.search(r"\bstatus\s*(=|==|!=|<>|\bin\s*\(|\bnot\s+in\s*\()\s*$", part, re.IGNORECASE):
            status_field = True
        elif not re.fullmatch(r"\s*,\s*", part):
            status_field = False
        out.append(part)
    return "".join(out)


def order_by(items: Any) -> list[str]:
    """MLflow's order_by list in our grammar."""
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    result = []
    for item in items:
        result.append(_ATTRIBUTE.sub(lambda m: _attribute(m.group(2)), str(item)))
    return result


def _attribute(name: str) -> str:
    found = _ATTRIBUTES.get(name.lower())
    if found is None:
        raise invalid(f"Invalid attribute key '{name}' specified. Valid keys are {sorted(_ATTRIBUTES)}.")
    return found


def one_level(items: Iterable[tuple[str, int]], prefix: str) -> list[dict[str, Any]]:
    """MLflow's FileInfos for one level under `prefix` ('' = the top) of (path, size) files: a
    folder once (`is_dir`), a file with its size, sorted by name; nothing when `prefix` is a file
    (as MLflow lists nothing there). Shared by run artifacts and registered versions' files."""
    depth = len(prefix.split("/")) if prefix else 0
    files: dict[str, dict[str, Any]] = {}
    for path, size in items:
        if prefix and not path.startswith(prefix + "/"):
            continue
        parts = path.split("/")
        name = parts[depth]
        if len(parts) > depth + 1:
            files.setdefault(name, {"path": name, "is_dir": True})
        else:
            files[name] = {"path": name, "is_dir": False, "file_size": size}
    return [files[k] for k in sorted(files)]
