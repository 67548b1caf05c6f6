"""The compute part of the REST store: `/mlws/api/v1/compute/...` (a base of `RestStore`).

Instances are read and written through the server, which validates them and
writes their kernelspecs on its own machine. Compute events are only read:
they are recorded by the server and the kernels it provisions, so a remote
client cannot forge "idle shutdown" or "limit stopped" history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..entities import ComputeCluster, ComputeEvent, ComputeInstance
from ..errors import Forbidden
from ..http import HttpClient, path_segment

API = "/mlws/api/v1/compute"
_BODY_FIELDS = ("cpus", "gpus", "idle_shutdown_minutes", "env", "python", "description")


def _instance(body: Mapping[str, Any]) -> ComputeInstance:
    return ComputeInstance.from_dict(dict(body))


def _body(fields: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: fields[k] for k in _BODY_FIELDS if k in fields}
    if "memory_bytes" in fields:
        body["memory"] = fields["memory_bytes"]
    return body


class RestComputeMixin:
    """`create/get/list/update/delete_compute_target` and the compute events over HTTP."""

    http: HttpClient

    def create_compute_target(self, instance: ComputeInstance) -> ComputeInstance:
        body = {"name": instance.name, **_body(instance.to_dict())}
        return _instance(self.http.json("POST", f"{API}/instances", json_body=body))

    def get_compute_target(self, name: str) -> ComputeInstance:
        return _instance(self.http.json("GET", f"{API}/instances/{path_segment(name)}"))

    def list_compute_targets(self) -> list[ComputeInstance]:
        return [_instance(i) for i in self.http.json("GET", f"{API}/instances")["instances"]]

    def update_compute_target(self, name: str, **changes: Any) -> ComputeInstance:
        answer = self.http.json("PATCH", f"{API}/instances/{path_segment(name)}", json_body=_body(changes))
        return _instance(answer)

    def delete_compute_target(self, name: str) -> None:
        self.http.request("DELETE", f"{API}/instances/{path_segment(name)}")

    def record_compute_event(self, target: str, kind: str, **_: Any) -> ComputeEvent:
        raise Forbidden(
            "record_compute_event is not available on a workspace URL: compute events are recorded "
            "by the workspace's server and the kernels it provisions, not through the REST API"
        )

    def list_compute_events(
        self,
        target: str | None = None,
        *,
        kernel_id: str | None = None,
        kind: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[ComputeEvent]:
        query = {
            "instance": target,
            "kernel_id": kernel_id,
            "kind": kind,
            "after_id": after_id,
            "limit": limit,
        }
        answer = self.http.json(
            "GET", f"{API}/events", query={k: v for k, v in query.items() if v is not None}
        )
        return [ComputeEvent(**event) for event in answer["events"]]


class RestClusterMixin:
    """`create/get/list/update/delete_cluster` over HTTP: the server checks and runs clusters."""

    http: HttpClient

    def create_cluster(self, cluster: ComputeCluster) -> ComputeCluster:
        if cluster.kind == "attached":
            body: dict[str, Any] = {
                "name": cluster.name,
                "address": cluster.address,
                "description": cluster.description,
            }
        else:
            body = {
                "name": cluster.name,
                "min_nodes": cluster.min_nodes,
                "max_nodes": cluster.max_nodes,
                "node": {
                    "cpus": cluster.node_cpus,
                    "memory": cluster.node_memory_bytes,
                    "gpus": cluster.node_gpus,
                },
                "idle_seconds_before_scaledown": cluster.idle_seconds_before_scaledown,
                "factory": cluster.factory,
                "factory_kwargs": cluster.factory_kwargs,
                "description": cluster.description,
            }
        return cluster_from_body(self.http.json("POST", f"{API}/clusters", json_body=body))

    def get_cluster(self, name: str) -> ComputeCluster:
        return cluster_from_body(self.http.json("GET", f"{API}/clusters/{path_segment(name)}"))

    def list_clusters(self) -> list[ComputeCluster]:
        return [cluster_from_body(c) for c in self.http.json("GET", f"{API}/clusters")["clusters"]]

    def update_cluster(self, name: str, **changes: Any) -> ComputeCluster:
        body = {
            k: v
            for k, v in changes.items()
            if k not in ("node_cpus", "node_memory_bytes", "node_gpus", "address")
        }
        node = {
            key: changes[field]
            for key, field in (("cpus", "node_cpus"), ("memory", "node_memory_bytes"), ("gpus", "node_gpus"))
            if field in changes
        }
        if node:
            body["node"] = node
        return cluster_from_body(
            self.http.json("PATCH", f"{API}/clusters/{path_segment(name)}", json_body=body)
        )

    def delete_cluster(self, name: str) -> None:
        self.http.request("DELETE", f"{API}/clusters/{path_segment(name)}")

    def cluster_status(self, name: str) -> dict[str, Any]:
        """What the server's cluster is doing now (state, nodes, busy_nodes, address, dashboard)."""
        return dict(self.http.json("GET", f"{API}/clusters/{path_segment(name)}"))

    def set_cluster_state(self, name: str, state: str) -> dict[str, Any]:
        """Start ("running") or stop ("stopped") the server's cluster now; its status after."""
        return dict(
            self.http.json("PUT", f"{API}/clusters/{path_segment(name)}/state", json_body={"state": state})
        )


def cluster_from_body(body: Mapping[str, Any]) -> ComputeCluster:
    node = body.get("node") or {}
    return ComputeCluster(
        name=body["name"],
        kind=body["kind"],
        min_nodes=body["min_nodes"],
        max_nodes=body["max_nodes"],
        node_cpus=node.get("cpus", 1),
        node_memory_bytes=node.get("memory_bytes"),
        node_gpus=node.get("gpus", 0),
        idle_seconds_before_scaledown=body["idle_seconds_before_scaledown"],
        address=body.get("address") if body["kind"] == "attached" else None,
        factory=body.get("factory", ""),
        factory_kwargs=dict(body.get("factory_kwargs") or {}),
        description=body.get("description", ""),
        created_time=body["created_time"],
        updated_time=body["updated_time"],
    )
