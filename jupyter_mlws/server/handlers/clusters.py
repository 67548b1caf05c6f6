"""`/mlws/api/v1/compute/clusters/...`: training clusters and attached clusters (issue 15).

- `GET/POST /compute/clusters` — list (each with what it is doing now), create or attach
- `GET/PATCH/DELETE /compute/clusters/{name}` — one cluster; DELETE stops it (detaches an
  attached one, which keeps running)
- `PUT /compute/clusters/{name}/state` — `{"state": "running" | "stopped"}`: start or stop it now

Decisions: the rules of a definition are `compute.clusters` (shared with `ws.compute` and the CLI);
the bodies here only type the fields. A POST with `address` attaches: the scheduler is checked
before the answer (reachable within a few seconds; version differences come back as warnings),
and an attach that fails leaves nothing stored. Creating, changing and deleting record compute
events (`created`, `updated`, `deleted`) as instances do. The clusters run in this server's
`ClusterService` (`server/clusters.py`); a server without it (a REST-backed one) answers 503.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from ...compute import clusters as rules
from ...entities import ComputeCluster
from ...errors import InvalidParameter, Unavailable
from .base import MLWSHandler, route

_TAGS = ("compute",)
_MEMORY_HELP = "A size such as '2GiB', '512MiB', or bytes; null: no limit."


class NodeSize(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cpus: StrictInt | None = None
    memory: str | StrictInt | None = Field(None, description=_MEMORY_HELP)
    gpus: StrictInt | None = None


class ClusterModel(BaseModel):
    """A cluster definition and what it is doing now."""

    name: str
    kind: str = Field(
        description="cluster (started and scaled here) or attached (somebody else's scheduler)."
    )
    min_nodes: int
    max_nodes: int
    node: dict[str, Any] = Field(description="cpus, memory_bytes, gpus of one node.")
    idle_seconds_before_scaledown: float
    address: str | None = Field(
        None, description="The scheduler's address while running (or the attached one)."
    )
    factory: str = ""
    factory_kwargs: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    state: str = Field(description="running or stopped.")
    nodes: int = Field(description="Nodes (Dask workers) now.")
    busy_nodes: int = Field(description="Nodes processing tasks now.")
    dashboard: str | None = Field(
        None, description="The Dask dashboard (on the server's machine) while running."
    )
    warnings: list[str] = Field(
        default_factory=list, description="e.g. a Dask version that differs from ours."
    )
    created_time: int
    updated_time: int

    @classmethod
    def of(cls, cluster: ComputeCluster, status: dict[str, Any]) -> ClusterModel:
        return cls(
            name=cluster.name,
            kind=cluster.kind,
            min_nodes=cluster.min_nodes,
            max_nodes=cluster.max_nodes,
            node={
                "cpus": cluster.node_cpus,
                "memory_bytes": cluster.node_memory_bytes,
                "gpus": cluster.node_gpus,
            },
            idle_seconds_before_scaledown=cluster.idle_seconds_before_scaledown,
            factory=cluster.factory,
            factory_kwargs=cluster.factory_kwargs,
            description=cluster.description,
            created_time=cluster.created_time,
            updated_time=cluster.updated_time,
            **{**status, "address": status.get("address") or cluster.address},
        )


class ClusterList(BaseModel):
    clusters: list[ClusterModel]


class CreateCluster(BaseModel):
    """A cluster of `min_nodes`..`max_nodes` nodes of one size, or (with `address`) an attached one."""

    model_config = ConfigDict(extra="forbid")
    name: str
    address: str | None = Field(None, description="Attach: a running Dask scheduler, e.g. 'tcp://host:8786'.")
    min_nodes: StrictInt = 0
    max_nodes: StrictInt = 1
    node: NodeSize | None = None
    idle_seconds_before_scaledown: StrictFloat | StrictInt = 120
    factory: str = Field("", description="A Dask cluster class by dotted path; empty: LocalCluster.")
    factory_kwargs: dict[str, Any] | None = None
    description: str = ""


class UpdateCluster(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")
    min_nodes: StrictInt | None = None
    max_nodes: StrictInt | None = None
    node: NodeSize | None = None
    idle_seconds_before_scaledown: StrictFloat | StrictInt | None = None
    factory: str | None = None
    factory_kwargs: dict[str, Any] | None = None
    description: str | None = None


class ClusterState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: str = Field(description="running (start it now) or stopped (stop it now).")


def _node(size: NodeSize | None) -> dict[str, Any] | None:
    if size is None:
        return None
    return {k: v for k, v in size.model_dump().items() if v is not None}


class ClustersHandler(MLWSHandler):
    auth_resource = "mlws:compute"
    needs_extension = True

    @property
    def clusters(self) -> Any:
        service = self.settings.get("mlws_clusters")
        if service is None:
            raise Unavailable("This server runs no clusters (its workspace is another server's).")
        return service

    async def answer(self, cluster: ComputeCluster) -> ClusterModel:
        return ClusterModel.of(cluster, self.clusters.status(cluster.name))


class ClusterListHandler(ClustersHandler):
    @route("List clusters with what each is doing now", response=ClusterList, errors=(403, 503), tags=_TAGS)
    async def get(self) -> None:
        found = await self.services.run(self.services.store.list_clusters)
        self.write_model(ClusterList(clusters=[await self.answer(c) for c in found]))

    @route(
        "Create a cluster, or attach a running Dask scheduler (with address)",
        body=CreateCluster,
        response=ClusterModel,
        status=201,
        errors=(400, 403, 409, 503),
        tags=_TAGS,
    )
    async def post(self) -> None:
        body = self.parse_body(CreateCluster)
        if body.address is not None:
            extra = [
                k
                for k in ("min_nodes", "max_nodes", "node", "factory", "factory_kwargs")
                if k in body.model_fields_set
            ]
            if extra:
                raise InvalidParameter(
                    f"An attached cluster is somebody else's: {', '.join(extra)} cannot be set."
                )
            definition = rules.validate_attached(
                body.name, address=body.address, description=body.description
            )
        else:
            definition = rules.validate_cluster(
                body.name,
                min_nodes=body.min_nodes,
                max_nodes=body.max_nodes,
                node=_node(body.node),
                idle_seconds_before_scaledown=body.idle_seconds_before_scaledown,
                factory=body.factory,
                factory_kwargs=body.factory_kwargs,
                description=body.description,
            )
        created = await self.clusters.create(definition)
        self.write_model(await self.answer(created), status=201)


class ClusterHandler(ClustersHandler):
    @route("A cluster and what it is doing now", response=ClusterModel, errors=(403, 404, 503), tags=_TAGS)
    async def get(self, name: str) -> None:
        self.write_model(await self.answer(await self.services.run(self.services.store.get_cluster, name)))

    @route(
        "Change a cluster's size, idle time, backend or description (a running one follows)",
        body=UpdateCluster,
        response=ClusterModel,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def patch(self, name: str) -> None:
        changes = self.parse_changes(UpdateCluster)
        if "node" in changes:
            changes["node"] = {k: v for k, v in (changes["node"] or {}).items() if v is not None}
        updated = await self.clusters.update(name, **changes)
        self.write_model(await self.answer(updated))

    @route(
        "Delete a cluster (stopped first) or detach an attached one (it keeps running)",
        status=204,
        errors=(403, 404, 503),
        tags=_TAGS,
    )
    async def delete(self, name: str) -> None:
        await self.clusters.delete(name)
        self.write_no_content()


class ClusterStateHandler(ClustersHandler):
    @route(
        "Start or stop a cluster now",
        body=ClusterState,
        response=ClusterModel,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def put(self, name: str) -> None:
        wanted = self.parse_body(ClusterState).state
        if wanted not in ("running", "stopped"):
            raise InvalidParameter(f"A cluster's state is running or stopped, not {wanted!r:.40}.")
        cluster = await self.services.run(self.services.store.get_cluster, name)
        if wanted == "running":
            await self.clusters.ensure(name)
        else:
            await self.clusters.stop_cluster(name, "stopped on request")
        self.write_model(await self.answer(cluster))
