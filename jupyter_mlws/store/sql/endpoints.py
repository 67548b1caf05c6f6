"""Scoring endpoints in the SQL store (schema v6). `SqlEndpointMixin` is a base of `SqlStore`.

Who calls it: `ws.endpoints` (client/endpoints.py), the server's endpoint routes and the
endpoint manager (serving/manager.py), which writes state, owner heartbeat and stats
often, and the definition (`config`) rarely. Key hashes live in `config` and come back
only inside `Endpoint.key_hashes`; nothing here logs them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...entities import ENDPOINT_STATES, Endpoint
from ...errors import AlreadyExists, InvalidParameter, NotFound
from ...validation import validate_endpoint_name
from ..base import now_ms
from .schema import endpoints

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

#: Kept in the `config` JSON column; the others have their own columns.
_CONFIG_FIELDS = (
    "deployments",
    "replicas",
    "host",
    "port",
    "key_hashes",
    "timeout_seconds",
    "max_body_bytes",
    "description",
    "tags",
)
_COLUMN_FIELDS = ("state", "state_reason", "owner", "owner_heartbeat", "stats")


def _config(endpoint: Endpoint) -> str:
    data = endpoint.to_dict(with_keys=True)
    return json.dumps({k: data[k] for k in _CONFIG_FIELDS}, sort_keys=True)


def _endpoint(row: Any) -> Endpoint:
    data = json.loads(row.config)
    data.update(
        name=row.name,
        state=row.state,
        state_reason=row.state_reason,
        owner=row.owner,
        owner_heartbeat=row.owner_heartbeat,
        stats=json.loads(row.stats) if row.stats else {},
        created_time=row.created_time,
        updated_time=row.updated_time,
    )
    return Endpoint.from_dict(data)


def _check(endpoint: Endpoint) -> None:
    validate_endpoint_name(endpoint.name)
    if endpoint.state not in ENDPOINT_STATES:
        raise InvalidParameter(
            f"endpoint state {endpoint.state!r} is not one of {', '.join(ENDPOINT_STATES)}"
        )
    if isinstance(endpoint.replicas, bool) or not 1 <= int(endpoint.replicas) <= 64:
        raise InvalidParameter("replicas must be from 1 to 64")
    if endpoint.deployments and sum(d.traffic for d in endpoint.deployments) != 100:
        raise InvalidParameter("the traffic of an endpoint's deployments must add up to 100")


class SqlEndpointMixin:
    """The endpoint part of `MetadataStore` for SQL databases."""

    reader: Engine

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def create_endpoint(self, endpoint: Endpoint) -> Endpoint:
        _check(endpoint)
        now = now_ms()
        stored = replace(endpoint, created_time=now, updated_time=now)
        values = {
            "name": stored.name,
            "config": _config(stored),
            "state": stored.state,
            "state_reason": stored.state_reason,
            "owner": stored.owner,
            "owner_heartbeat": stored.owner_heartbeat,
            "stats": json.dumps(stored.stats) if stored.stats else None,
            "created_time": now,
            "updated_time": now,
        }
        try:
            self.write(lambda conn: conn.execute(insert(endpoints).values(**values)), "create_endpoint")
        except IntegrityError as err:
            raise AlreadyExists(f"endpoint {endpoint.name!r} already exists") from err
        return stored

    def get_endpoint(self, name: str) -> Endpoint:
        with self.reader.connect() as conn:
            row = conn.execute(select(endpoints).where(endpoints.c.name == name)).first()
        if row is None:
            raise NotFound(f"endpoint {name!r} not found")
        return _endpoint(row)

    def list_endpoints(self) -> list[Endpoint]:
        with self.reader.connect() as conn:
            rows = conn.execute(select(endpoints).order_by(endpoints.c.name)).fetchall()
        return [_endpoint(row) for row in rows]

    def update_endpoint(self, name: str, **changes: Any) -> Endpoint:
        """Change fields of an endpoint (Endpoint field names); one transaction."""
        unknown = set(changes) - set(_CONFIG_FIELDS) - set(_COLUMN_FIELDS)
        if unknown:
            raise InvalidParameter(f"cannot change {', '.join(sorted(unknown))} of an endpoint")

        def work(conn: Connection) -> Endpoint:
            row = conn.execute(select(endpoints).where(endpoints.c.name == name)).first()
            if row is None:
                raise NotFound(f"endpoint {name!r} not found")
            changed = replace(_endpoint(row), **changes, updated_time=max(now_ms(), row.updated_time))
            _check(changed)
            conn.execute(
                update(endpoints)
                .where(endpoints.c.id == row.id)
                .values(
                    config=_config(changed),
                    state=changed.state,
                    state_reason=changed.state_reason,
                    owner=changed.owner,
                    owner_heartbeat=changed.owner_heartbeat,
                    stats=json.dumps(changed.stats) if changed.stats else None,
                    updated_time=changed.updated_time,
                )
            )
            return changed

        result: Endpoint = self.write(work, "update_endpoint")
        return result

    def delete_endpoint(self, name: str) -> None:
        def work(conn: Connection) -> int:
            return int(conn.execute(delete(endpoints).where(endpoints.c.name == name)).rowcount)

        if not self.write(work, "delete_endpoint"):
            raise NotFound(f"endpoint {name!r} not found")
