"""MLflow 3 logged models in the SQL store (schema v10). `SqlLoggedModelMixin` is a base of `SqlStore`.

Who calls it: the MLflow REST layer (`server/mlflow_api/`) for MLflow's logged-model calls: create
(what `mlflow.<flavor>.log_model` and autolog do first), finalize (the status once the files are
uploaded), tags, params, search and delete. One row per model; its params and tags are JSON
objects changed by read-modify-write in one transaction, the row locked on PostgreSQL (SQLite
has one writer), so concurrent tag writes do not lose each other. Deleting is MLflow's soft delete;
deleting the experiment removes its logged models (the foreign key cascades).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ...errors import AlreadyExists, InvalidParameter, NotFound
from ...mlflow_entities import LOGGED_MODEL_STATUSES, LoggedModel
from ...validation import validate_experiment_id, validate_key, validate_name
from ..base import now_ms
from .experiment_tags import require_experiment
from .lifecycle import in_view
from .metrics import normalise_params, normalise_tags
from .schema import logged_models
from .search import _offset, _token

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
#: The largest page of a logged-model search (MLflow's own limit).
MAX_PAGE = 1000
MODEL_TYPE_MAX = 256
ARTIFACT_LOCATION_MAX = 4096
STATUS_MESSAGE_MAX = 8000

_Change = Callable[[Mapping[str, Any]], dict[str, Any]]


def _text(what: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"A logged model's {what} is a string, not {type(value).__name__}.")
    if len(value) > limit or "\x00" in value:
        raise InvalidParameter(f"A logged model's {what} is at most {limit} characters, without NUL.")
    return value


def _json(values: Mapping[str, str]) -> str:
    return json.dumps(dict(values), sort_keys=True, ensure_ascii=False)


def _model(row: Mapping[str, Any]) -> LoggedModel:
    return LoggedModel(
        model_id=row["model_id"],
        experiment_id=int(row["experiment_id"]),
        name=row["name"],
        artifact_location=row["artifact_location"],
        creation_timestamp=int(row["creation_timestamp"]),
        last_updated_timestamp=int(row["last_updated_timestamp"]),
        model_type=row["model_type"],
        source_run_id=row["source_run_id"],
        status=row["status"],
        status_message=row["status_message"],
        tags=json.loads(row["tags"]),
        params=json.loads(row["params"]),
        lifecycle_stage=row["lifecycle_stage"],
    )


def _check_id(model_id: object) -> str:
    if not isinstance(model_id, str):
        raise InvalidParameter(f"A logged model id is a string, not {type(model_id).__name__}.")
    return model_id


class SqlLoggedModelMixin:
    """The logged-model part of `MlflowStore` for SQL databases."""

    reader: Engine

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def run_pk(self, run_id: str, conn: Connection | None = None) -> int:  # provided by SqlStore
        raise NotImplementedError

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
        experiment_id = validate_experiment_id(experiment_id)
        if model_id is None:
            model_id = f"m-{uuid.uuid4().hex}"
        elif not (isinstance(model_id, str) and _MODEL_ID.fullmatch(model_id)):
            raise InvalidParameter(
                f"A logged model id is 'm-' and 32 lowercase hex characters, not {model_id!r:.60}."
            )
        if source_run_id is not None:
            self.run_pk(source_run_id)
        stamp = now_ms()
        row = {
            "model_id": model_id,
            "experiment_id": experiment_id,
            "name": validate_name("Logged model name", name),
            "artifact_location": _text("artifact location", artifact_location or "", ARTIFACT_LOCATION_MAX),
            "creation_timestamp": stamp,
            "last_updated_timestamp": stamp,
            "model_type": None if model_type is None else _text("model type", model_type, MODEL_TYPE_MAX),
            "source_run_id": source_run_id,
            "status": "PENDING",
            "status_message": None,
            "tags": _json(normalise_tags(tags)),
            "params": _json(normalise_params(params)),
            "lifecycle_stage": "active",
        }

        def work(conn: Connection) -> None:
            require_experiment(conn, experiment_id)
            conn.execute(insert(logged_models).values(**row))

        try:
            self.write(work, "create_logged_model")
        except IntegrityError:
            raise AlreadyExists(f"A logged model with id {model_id!r} already exists.") from None
        return _model(row)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        model_id = _check_id(model_id)
        with self.reader.connect() as conn:
            row = conn.execute(select(logged_models).where(logged_models.c.model_id == model_id)).first()
        if row is None:
            raise NotFound(f"Logged model {model_id!r} does not exist.")
        return _model(row._mapping)

    def _change_logged_model(self, model_id: str, what: str, change: _Change) -> LoggedModel:
        """Apply `change(row) -> new column values` to one model in one transaction, row locked."""
        model_id = _check_id(model_id)
        where = logged_models.c.model_id == model_id

        def work(conn: Connection) -> LoggedModel:
            row = conn.execute(select(logged_models).where(where).with_for_update()).first()
            if row is None:
                raise NotFound(f"Logged model {model_id!r} does not exist.")
            current = dict(row._mapping)
            values = change(current)
            if values:
                values["last_updated_timestamp"] = max(now_ms(), int(current["last_updated_timestamp"]))
                conn.execute(update(logged_models).where(where).values(**values))
            return _model({**current, **values})

        changed: LoggedModel = self.write(work, what)
        return changed

    def update_logged_model(
        self,
        model_id: str,
        *,
        status: str | None = None,
        status_message: str | None = None,
        artifact_location: str | None = None,
    ) -> LoggedModel:
        values: dict[str, Any] = {}
        if status is not None:
            if status not in LOGGED_MODEL_STATUSES:
                raise InvalidParameter(
                    f"Unknown logged model status {status!r:.40}: use {', '.join(LOGGED_MODEL_STATUSES)}."
                )
            values["status"] = status
        if status_message is not None:
            values["status_message"] = _text("status message", status_message, STATUS_MESSAGE_MAX)
        if artifact_location is not None:
            values["artifact_location"] = _text("artifact location", artifact_location, ARTIFACT_LOCATION_MAX)
        return self._change_logged_model(model_id, "update_logged_model", lambda row: dict(values))

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        given = normalise_tags(tags)

        def change(row: Mapping[str, Any]) -> dict[str, Any]:
            return {"tags": _json({**json.loads(row["tags"]), **given})} if given else {}

        self._change_logged_model(model_id, "set_logged_model_tags", change)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        key = validate_key("Tag key", key)

        def change(row: Mapping[str, Any]) -> dict[str, Any]:
            tags = json.loads(row["tags"])
            if tags.pop(key, None) is None:
                raise NotFound(f"Logged model {row['model_id']!r} has no tag {key!r}.")
            return {"tags": _json(tags)}

        self._change_logged_model(model_id, "delete_logged_model_tag", change)

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        given = normalise_params(params)

        def change(row: Mapping[str, Any]) -> dict[str, Any]:
            current = json.loads(row["params"])
            for key, value in given.items():
                if key in current and current[key] != value:
                    raise InvalidParameter(
                        f"Param {key!r} of logged model {row['model_id']!r} is already {current[key]!r} and "
                        f"params cannot change (tried {value!r})."
                    )
            added = {k: v for k, v in given.items() if k not in current}
            return {"params": _json({**current, **added})} if added else {}

        self._change_logged_model(model_id, "log_logged_model_params", change)

    def delete_logged_model(self, model_id: str) -> None:
        self._change_logged_model(model_id, "delete_logged_model", lambda row: {"lifecycle_stage": "deleted"})

    def search_logged_models(
        self,
        experiment_ids: Sequence[int] | None,
        limit: int = 100,
        page_token: str | None = None,
        view: str = "active",
    ) -> tuple[list[LoggedModel], str | None]:
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidParameter(f"limit must be an integer from 1 to {MAX_PAGE}, not {limit!r}.")
        offset = _offset(page_token)
        query = select(logged_models).where(in_view(logged_models.c.lifecycle_stage, view))
        if experiment_ids is not None:
            ids = [validate_experiment_id(i) for i in experiment_ids]
            query = query.where(logged_models.c.experiment_id.in_(ids))
        query = query.order_by(logged_models.c.creation_timestamp.desc(), logged_models.c.model_id.desc())
        with self.reader.connect() as conn:
            rows = conn.execute(query.limit(limit + 1).offset(offset)).fetchall()
        page = [_model(row._mapping) for row in rows[:limit]]
        return page, (_token(offset + limit) if len(rows) > limit else None)
