"""`ws.compute`: the workspace's compute instances from Python (DESIGN.md §5).

    ws.compute.create_instance("cpu-small", cpus=1, memory="2GiB", gpus=0, idle_shutdown_minutes=60)
    ws.compute.instances()            # DataFrame; instance X is kernelspec "mlws-X"

Creating, changing or deleting an instance writes the store, records the event
and (re)writes its kernelspec in this user's Jupyter data dir, so the kernel
choice appears in JupyterLab's Launcher (after its next kernelspec refresh),
nbclient, papermill and `jupyter console` at once. Deleting an instance does
not stop kernels already running on it (the server's REST API refuses to
delete while any do; from Python the caller decides).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..compute import spec
from ..entities import ComputeCluster, ComputeInstance
from ..errors import Unavailable

if TYPE_CHECKING:
    import pandas as pd

    from ..store.base import MetadataStore
    from .workspace import Workspace

INSTANCE_COLUMNS = [
    "name",
    "kernelspec",
    "cpus",
    "memory",
    "memory_bytes",
    "gpus",
    "idle_shutdown_minutes",
    "python",
    "env",
    "description",
    "created_time",
    "updated_time",
]
EVENT_COLUMNS = ["event_id", "time", "instance", "kind", "kernel_id", "reason", "details"]
CLUSTER_COLUMNS = [
    "name",
    "kind",
    "state",
    "nodes",
    "min_nodes",
    "max_nodes",
    "busy_nodes",
    "queued_jobs",
    "running_jobs",
    "node",
    "idle_seconds_before_scaledown",
    "address",
]


class Compute:
    """Compute instances of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def _store(self) -> MetadataStore:
        return self.workspace.store

    @property
    def _where(self) -> str:
        return self.workspace.location.workspace

    @property
    def _local(self) -> bool:
        """A local store: this process writes the kernelspec and records the event. Through a
        server (REST), the server does both on its own machine."""
        return self.workspace.location.store_kind != "rest"

    def create_instance(
        self,
        name: str,
        cpus: int | None = None,
        memory: str | int | None = None,
        gpus: int = 0,
        idle_shutdown_minutes: float | None = None,
        env: dict[str, str] | None = None,
        python: str | None = None,
        description: str = "",
    ) -> ComputeInstance:
        """Define instance `name` and make `mlws-<name>` a kernel choice; `AlreadyExists` if taken."""
        instance = spec.validate_instance(
            name,
            cpus=cpus,
            memory=memory,
            gpus=gpus,
            idle_shutdown_minutes=idle_shutdown_minutes,
            env=env,
            python=python,
            description=description,
        )
        stored = self._store.create_compute_target(instance)
        if self._local:
            spec.write_kernelspec(stored, self._where)
            self._store.record_compute_event(name, "created", details=spec.changed_fields(stored))
        return stored

    def get_instance(self, name: str) -> ComputeInstance:
        """The definition of instance `name` (`NotFound`)."""
        return self._store.get_compute_target(name)

    def update_instance(self, name: str, **changes: Any) -> ComputeInstance:
        """Change an instance (`cpus=`, `memory=`, `gpus=`, `idle_shutdown_minutes=`, `env=`, ...).

        Kernels started from now on get the new size; running ones keep theirs.
        """
        current = self._store.get_compute_target(name)
        wanted = spec.apply_changes(current, **changes)
        stored = self._store.update_compute_target(name, **spec.changed_fields(wanted))
        if self._local:
            spec.write_kernelspec(stored, self._where)
            self._store.record_compute_event(name, "updated", details=spec.changed_fields(stored))
        return stored

    def delete_instance(self, name: str) -> None:
        """Forget instance `name` and remove its kernel choice (its event history stays)."""
        self._store.delete_compute_target(name)
        if self._local:
            spec.remove_kernelspec(name)
            self._store.record_compute_event(name, "deleted")

    def instances(self) -> pd.DataFrame:
        """One row per instance (columns: INSTANCE_COLUMNS)."""
        import pandas as pd

        rows = []
        for instance in self._store.list_compute_targets():
            row = instance.to_dict()
            row["kernelspec"] = instance.kernelspec
            row["memory"] = spec.format_bytes(instance.memory_bytes) or None
            rows.append(row)
        frame = pd.DataFrame(rows, columns=INSTANCE_COLUMNS)
        for column in ("created_time", "updated_time"):
            frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
        return frame

    def events(
        self, instance: str | None = None, kernel_id: str | None = None, limit: int = 100
    ) -> pd.DataFrame:
        """Recorded compute events, newest first: creations, kernel starts and stops, idle
        shutdowns, keep-alives and limit stops, each with its reason."""
        import pandas as pd

        events = self._store.list_compute_events(instance, kernel_id=kernel_id, limit=limit)
        frame = pd.DataFrame(
            [[e.event_id, e.time, e.target, e.kind, e.kernel_id, e.reason, e.details] for e in events],
            columns=EVENT_COLUMNS,
        )
        frame["time"] = pd.to_datetime(frame["time"], unit="ms", utc=True)
        return frame

    # ----- training clusters (issue 15) --------------------------------------------------------
    def create_cluster(
        self,
        name: str,
        min_nodes: int = 0,
        max_nodes: int = 1,
        node: dict[str, Any] | None = None,
        idle_seconds_before_scaledown: float = 120,
        *,
        factory: str = "",
        factory_kwargs: dict[str, Any] | None = None,
        description: str = "",
    ) -> ComputeCluster:
        """Define training cluster `name`: `min_nodes`..`max_nodes` Dask workers of one `node` size
        ({"cpus", "memory", "gpus"}), idle nodes retired after `idle_seconds_before_scaledown`;
        `factory` names another Dask cluster class (dask-jobqueue, dask-kubernetes, dask-gateway).
        The workspace's server runs it (docs/clusters-and-jobs.md)."""
        from ..compute.clusters import validate_cluster

        definition = validate_cluster(
            name,
            min_nodes=min_nodes,
            max_nodes=max_nodes,
            node=node,
            idle_seconds_before_scaledown=idle_seconds_before_scaledown,
            factory=factory,
            factory_kwargs=factory_kwargs,
            description=description,
        )
        stored = self._store.create_cluster(definition)
        if self._local:
            self._store.record_compute_event(name, "created", details={"kind": "cluster"})
        return stored

    def attach(self, name: str, address: str, description: str = "") -> ComputeCluster:
        """Use somebody else's running Dask scheduler (`tcp://host:8786`) as cluster `name`: never
        scaled or stopped by us. Through a server it is checked at once (reachable, versions)."""
        from ..compute.clusters import validate_attached

        stored = self._store.create_cluster(validate_attached(name, address=address, description=description))
        if self._local:
            self._store.record_compute_event(name, "created", details={"kind": "attached"})
        return stored

    def update_cluster(self, name: str, **changes: Any) -> ComputeCluster:
        """Change `min_nodes`, `max_nodes`, `node`, `idle_seconds_before_scaledown`, `factory`,
        `factory_kwargs` or `description`; a running cluster follows (re-adapted or restarted)."""
        from ..compute.clusters import apply_cluster_changes

        checked = apply_cluster_changes(self._store.get_cluster(name), **changes)
        fields = {
            k: v
            for k, v in checked.to_dict().items()
            if k not in ("name", "kind", "created_time", "updated_time")
        }
        stored = self._store.update_cluster(name, **fields)
        if self._local:
            self._store.record_compute_event(name, "updated", details={"changed": sorted(changes)})
        return stored

    def delete_cluster(self, name: str) -> None:
        """Stop cluster `name` and forget it (for an attached one: `detach`)."""
        self._store.delete_cluster(name)
        if self._local:
            self._store.record_compute_event(name, "deleted")

    def detach(self, name: str) -> None:
        """Stop using attached cluster `name`; the cluster itself keeps running."""
        if self._store.get_cluster(name).kind != "attached":
            from ..errors import InvalidParameter

            raise InvalidParameter(
                f"{name!r} is a cluster of this workspace, not an attached one: delete_cluster it."
            )
        self.delete_cluster(name)

    def get_cluster(self, name: str) -> ComputeCluster:
        """The definition of cluster `name` (`NotFound`)."""
        return self._store.get_cluster(name)

    def cluster_status(self, name: str) -> dict[str, Any]:
        """What cluster `name` is doing now: state, nodes, busy_nodes, address, dashboard."""
        store: Any = self._store
        if not self._local:
            answer = store.cluster_status(name)
            return {k: answer.get(k) for k in ("state", "nodes", "busy_nodes", "address", "dashboard")}
        self._store.get_cluster(name)  # NotFound first
        return cluster_status_from_events(self._store.list_compute_events(name, limit=200))

    def clusters(self) -> pd.DataFrame:
        """One row per cluster: name, kind, state, nodes (now/min/max), busy nodes, the jobs queued
        for it and running on it, node size, address."""
        import pandas as pd

        from ..compute.clusters import node_text

        jobs: dict[tuple[str, str], int] = {}
        for job in self._store.list_jobs(states=["queued", "running"], limit=10_000):
            jobs[(job.target, job.state)] = jobs.get((job.target, job.state), 0) + 1
        rows = []
        for cluster in self._store.list_clusters():
            status = self.cluster_status(cluster.name)
            rows.append(
                {
                    "name": cluster.name,
                    "kind": cluster.kind,
                    "state": status["state"],
                    "nodes": status["nodes"],
                    "min_nodes": cluster.min_nodes,
                    "max_nodes": cluster.max_nodes,
                    "busy_nodes": status["busy_nodes"],
                    "queued_jobs": jobs.get((cluster.name, "queued"), 0),
                    "running_jobs": jobs.get((cluster.name, "running"), 0),
                    "node": node_text(cluster) if cluster.kind == "cluster" else "",
                    "idle_seconds_before_scaledown": cluster.idle_seconds_before_scaledown,
                    "address": status["address"] or cluster.address,
                }
            )
        return pd.DataFrame(rows, columns=CLUSTER_COLUMNS)

    def start_cluster(self, name: str) -> dict[str, Any]:
        """Start cluster `name` now (through the workspace's server); its status after."""
        store: Any = self._store
        if self._local:
            self._store.get_cluster(name)  # NotFound first
            raise Unavailable(
                f"Cluster {name!r} is started by the workspace's Jupyter server: open the workspace by its "
                "URL (mlws.Workspace('http://host:8888/')), or start it from the panel's Compute tab."
            )
        answer = store.set_cluster_state(name, "running")
        return {k: answer.get(k) for k in ("state", "nodes", "busy_nodes", "address", "dashboard")}

    def stop_cluster(self, name: str) -> None:
        """Stop cluster `name` now (its nodes end; for an attached one, we only disconnect)."""
        store: Any = self._store
        if self._local:
            raise Unavailable(
                f"Cluster {name!r} is stopped by the workspace's Jupyter server: open it by its URL."
            )
        store.set_cluster_state(name, "stopped")

    def dask_client(self, name: str, **options: Any) -> Any:
        """A `distributed.Client` on cluster `name` (started first through a workspace URL): plain
        Dask, for `client.submit` / `map` / dataframes on the cluster's nodes."""
        from distributed import Client

        status = self.cluster_status(name)
        if status["state"] != "running" and not self._local:
            status = self.start_cluster(name)
        if status["state"] != "running" or not status["address"]:
            raise Unavailable(
                f"Cluster {name!r} is not running: start it from the panel's Compute tab, or through the "
                "workspace's URL (ws.compute.start_cluster)."
            )
        return Client(status["address"], set_as_default=False, **options)

    def __repr__(self) -> str:
        return f"<Compute of {self.workspace!r}>"


def cluster_status_from_events(events: list[Any]) -> dict[str, Any]:
    """A cluster's state as its newest compute events tell it (how a process without the server's
    live view, e.g. a kernel on a folder workspace, sees it)."""
    status: dict[str, Any] = {
        "state": "stopped",
        "nodes": 0,
        "busy_nodes": 0,
        "address": None,
        "dashboard": None,
    }
    scaled = False
    for event in events:  # newest first
        if event.kind == "cluster_stopped":
            return status
        if event.kind == "scaled" and not scaled and "nodes" in event.details:
            status["nodes"], scaled = int(event.details["nodes"]), True
        if event.kind == "cluster_started":
            status.update(
                state="running",
                address=event.details.get("address"),
                dashboard=event.details.get("dashboard"),
            )
            return status
    return status
