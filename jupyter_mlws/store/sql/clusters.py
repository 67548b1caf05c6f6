"""Training clusters and attached clusters in the SQL store (issue 15).

`SqlClusterMixin` is a base of `SqlStore`. Clusters live in `compute_targets` beside the compute
instances (kind "cluster" or "attached", the definition as one JSON document), so a name is taken
once across instances and clusters (the table's unique constraint). `compute.clusters.validate_cluster`
checks a definition before it reaches a store.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ...entities import CLUSTER_KINDS, ComputeCluster
from ...errors import AlreadyExists, InvalidParameter, NotFound
from ..base import now_ms
from .compute import check_target_name
from .schema import compute_targets

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_FIXED = ("name", "kind", "created_time", "updated_time")


def _clusters() -> Any:
    return select(compute_targets).where(compute_targets.c.kind.in_(CLUSTER_KINDS))


def _cluster(row: Any) -> ComputeCluster:
    config = json.loads(row.config)
    return ComputeCluster.from_dict(
        {
            **config,
            "name": row.name,
            "kind": row.kind,
            "created_time": row.created_time,
            "updated_time": row.updated_time,
        }
    )


def _config(cluster: ComputeCluster) -> str:
    data = cluster.to_dict()
    return json.dumps({k: v for k, v in data.items() if k not in _FIXED}, sort_keys=True)


class SqlClusterMixin:
    """The cluster part of `MetadataStore` for SQL databases."""

    reader: Engine

    def write(self, work: Any, what: str = "write") -> Any:  # provided by SqlStore
        raise NotImplementedError

    def create_cluster(self, cluster: ComputeCluster) -> ComputeCluster:
        check_target_name(cluster.name)
        if cluster.kind not in CLUSTER_KINDS:
            raise InvalidParameter(
                f"A cluster's kind is one of {', '.join(CLUSTER_KINDS)}, not {cluster.kind!r}."
            )
        now = now_ms()
        stored = replace(cluster, created_time=now, updated_time=now)
        values = {
            "name": stored.name,
            "kind": stored.kind,
            "config": _config(stored),
            "created_time": now,
            "updated_time": now,
        }
        try:
            self.write(lambda conn: conn.execute(insert(compute_targets).values(**values)), "create_cluster")
        except IntegrityError as err:
            raise AlreadyExists(
                f"compute target {cluster.name!r} already exists (instance and cluster names are shared)"
            ) from err
        return stored

    def get_cluster(self, name: str) -> ComputeCluster:
        with self.reader.connect() as conn:
            row = conn.execute(_clusters().where(compute_targets.c.name == name)).first()
        if row is None:
            raise NotFound(f"cluster {name!r} not found")
        return _cluster(row)

    def list_clusters(self) -> list[ComputeCluster]:
        with self.reader.connect() as conn:
            rows = conn.execute(_clusters().order_by(compute_targets.c.name)).fetchall()
        return [_cluster(row) for row in rows]

    def update_cluster(self, name: str, **changes: Any) -> ComputeCluster:
        fixed = set(changes) & set(_FIXED)
        unknown = set(changes) - set(ComputeCluster.__dataclass_fields__)
        if fixed or unknown:
            raise InvalidParameter(f"cannot change {', '.join(sorted(fixed | unknown))} of a cluster")

        def work(conn: Any) -> ComputeCluster:
            row = conn.execute(_clusters().where(compute_targets.c.name == name)).first()
            if row is None:
                raise NotFound(f"cluster {name!r} not found")
            changed = replace(_cluster(row), **changes, updated_time=max(now_ms(), row.updated_time))
            conn.execute(
                update(compute_targets)
                .where(compute_targets.c.id == row.id)
                .values(config=_config(changed), updated_time=changed.updated_time)
            )
            return changed

        changed: ComputeCluster = self.write(work, "update_cluster")
        return changed

    def delete_cluster(self, name: str) -> None:
        def work(conn: Any) -> int:
            gone = delete(compute_targets).where(
                compute_targets.c.name == name, compute_targets.c.kind.in_(CLUSTER_KINDS)
            )
            return int(conn.execute(gone).rowcount)

        if not self.write(work, "delete_cluster"):
            raise NotFound(f"cluster {name!r} not found")
