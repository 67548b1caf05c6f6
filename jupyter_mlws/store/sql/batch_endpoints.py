"""Batch endpoints in the SQL store (schema v9, issue 16). `SqlBatchEndpointMixin` is a base of
`SqlStore`.

Who calls it: `ws.endpoints.deploy_batch / get_batch / list_batch / delete_batch` and a handle's
`invoke` (client/batch_endpoints.py), on a folder workspace directly and on the server for the
REST routes. The row keeps the model reference as given (resolved at each invoke), the settings
and the entry script in `defaults` (JSON: {"settings": {...}, "entry_script": {"name", "source"} |
null}) and the key hashes in `key_hashes`; nothing here logs them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...errors import AlreadyExists, InvalidParameter, NotFound
from ...model_entities import BATCH_SETTINGS, BatchEndpoint
from ...validation import parse_model_ref, validate_endpoint_name
from ..base import now_ms
from .registry import _description, _sha, _tags
from .schema import batch_endpoints

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

_CHANGEABLE = (
    "model",
    "target",
    "defaults",
    "entry_script",
    "entry_source",
    "key_hashes",
    "description",
    "tags",
    "last_job_id",
)
_SLOTS = ("primary", "secondary")
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_SCRIPT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
#: The largest entry script kept (client/batch.py refuses larger ones first).
MAX_SOURCE_CHARS = 1024 * 1024


def _check(endpoint: BatchEndpoint) -> dict[str, Any]:
    """The row's values for `endpoint` (name and times aside), or InvalidParameter."""
    validate_endpoint_name(endpoint.name)
    if endpoint.model is not None:
        parse_model_ref(endpoint.model)
        if len(endpoint.model) > 300:
            raise InvalidParameter("a batch endpoint's model reference is at most 300 characters")
    elif endpoint.entry_script is None:
        raise InvalidParameter("a batch endpoint needs a model, an entry script, or both")
    if not isinstance(endpoint.target, str) or not 0 < len(endpoint.target) <= 64:
        raise InvalidParameter(f"a batch endpoint's target is a cluster's name, not {endpoint.target!r}")
    if not isinstance(endpoint.defaults, Mapping):
        raise InvalidParameter("a batch endpoint's defaults are a mapping of setting names to values")
    unknown = set(endpoint.defaults) - set(BATCH_SETTINGS)
    if unknown:
        raise InvalidParameter(
            f"unknown batch settings {sorted(unknown)}: the settings are {', '.join(BATCH_SETTINGS)}"
        )
    for key, value in endpoint.defaults.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise InvalidParameter(f"the batch setting {key} is a number or a text, not {value!r}")
    script = None
    if endpoint.entry_script is not None or endpoint.entry_source is not None:
        name, source = endpoint.entry_script, endpoint.entry_source
        if not isinstance(name, str) or not _SCRIPT_NAME.fullmatch(name):
            raise InvalidParameter(f"an entry script's name is a plain file name, not {name!r}")
        if not isinstance(source, str) or len(source) > MAX_SOURCE_CHARS:
            raise InvalidParameter(f"the entry script {name!r} needs its source, at most 1 MiB")
        script = {"name": name, "source": source}
    if set(endpoint.key_hashes) - set(_SLOTS):
        raise InvalidParameter("a batch endpoint's keys are 'primary' and 'secondary'")
    hashes = {slot: _sha(value, f"the {slot} key's hash") for slot, value in endpoint.key_hashes.items()}
    if endpoint.last_job_id is not None and not (
        isinstance(endpoint.last_job_id, str) and _JOB_ID.fullmatch(endpoint.last_job_id)
    ):
        raise InvalidParameter(f"last_job_id is a job id, not {endpoint.last_job_id!r}")
    return {
        "model": endpoint.model,
        "target": endpoint.target,
        "defaults": json.dumps({"settings": dict(endpoint.defaults), "entry_script": script}, sort_keys=True),
        "key_hashes": json.dumps(hashes, sort_keys=True),
        "description": _description(endpoint.description),
        "tags": _tags(endpoint.tags),
        "last_job_id": endpoint.last_job_id,
    }


def _endpoint(row: Any) -> BatchEndpoint:
    defaults = json.loads(row.defaults)
    script = defaults.get("entry_script") or {}
    return BatchEndpoint(
        name=row.name,
        model=row.model,
        target=row.target,
        defaults=dict(defaults.get("settings") or {}),
        entry_script=script.get("name"),
        entry_source=script.get("source"),
        key_hashes=json.loads(row.key_hashes),
        description=row.description,
        tags=json.loads(row.tags),
        last_job_id=row.last_job_id,
        created_time=int(row.created_time),
        updated_time=int(row.updated_time),
    )


class SqlBatchEndpointMixin:
    """The batch-endpoint part of `MetadataStore` for SQL databases."""

    reader: Engine

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def create_batch_endpoint(self, endpoint: BatchEndpoint) -> BatchEndpoint:
        values = _check(endpoint)
        now = now_ms()

        def work(conn: Connection) -> None:
            conn.execute(
                insert(batch_endpoints).values(
                    name=endpoint.name, created_time=now, updated_time=now, **values
                )
            )

        try:
            self.write(work, "create_batch_endpoint")
        except IntegrityError as err:
            raise AlreadyExists(f"batch endpoint {endpoint.name!r} already exists") from err
        return self.get_batch_endpoint(endpoint.name)

    def get_batch_endpoint(self, name: str) -> BatchEndpoint:
        with self.reader.connect() as conn:
            row = conn.execute(select(batch_endpoints).where(batch_endpoints.c.name == name)).first()
        if row is None:
            raise NotFound(f"batch endpoint {name!r} not found")
        return _endpoint(row)

    def list_batch_endpoints(self) -> list[BatchEndpoint]:
        with self.reader.connect() as conn:
            rows = conn.execute(select(batch_endpoints).order_by(batch_endpoints.c.name)).fetchall()
        return [_endpoint(row) for row in rows]

    def update_batch_endpoint(self, name: str, **changes: Any) -> BatchEndpoint:
        """Change fields (see `BatchEndpointStore`); checked as a whole, in one transaction."""
        unknown = set(changes) - set(_CHANGEABLE)
        if unknown:
            raise InvalidParameter(f"cannot change {', '.join(sorted(unknown))} of a batch endpoint")

        def work(conn: Connection) -> None:
            row = conn.execute(select(batch_endpoints).where(batch_endpoints.c.name == name)).first()
            if row is None:
                raise NotFound(f"batch endpoint {name!r} not found")
            changed = replace(_endpoint(row), **changes)
            values = _check(changed)
            if set(changes) - {"last_job_id"}:
                values["updated_time"] = max(now_ms(), int(row.updated_time))
            conn.execute(update(batch_endpoints).where(batch_endpoints.c.name == name).values(**values))

        self.write(work, "update_batch_endpoint")
        return self.get_batch_endpoint(name)

    def delete_batch_endpoint(self, name: str) -> None:
        def work(conn: Connection) -> int:
            return int(conn.execute(delete(batch_endpoints).where(batch_endpoints.c.name == name)).rowcount)

        if not self.write(work, "delete_batch_endpoint"):
            raise NotFound(f"batch endpoint {name!r} not found")
