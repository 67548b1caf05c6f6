"""`ClusterService`: the server owns the training clusters it starts (issue 15), beside the endpoint
manager and the compute manager.

Who calls it: `MLWorkspaceApp` starts it (`start`) and stops it in `stop_extension`; the REST
handlers (`handlers/clusters.py`) create, change, start and delete through it. Every Dask call
runs on the services' pool (`compute/dask_clusters.py`), never on the event loop.

Decisions:
- A cluster starts on request (`PUT /compute/clusters/{name}/state {"state": "running"}`, or
  `ws.compute.dask_client(name)`), and at server start when its `min_nodes` > 0; the next issue's
  jobs start it on their first submit. It stops when deleted, when stopped on request, and with
  the server. An attached cluster is connected to, never scaled or shut down; deleting it is
  `detach` and leaves it running.
- Nodes are what Dask's scheduler lists. Every `interval` the service compares them with what it
  saw before and records `node_added` / `node_removed` compute events (with the tasks waiting or
  the idle time as the reason) and one `scaled` event per change of the node count ("2 -> 0:
  idle for 120 s (Dask adaptive scaling)"), so the panel and `events()` tell how a cluster
  breathed. `cluster_started` carries the scheduler's address and dashboard in its details, which
  is how other processes of the workspace find a running cluster.
- An attached scheduler's address is checked before every connection (`jupyter_mlws/outbound.py`,
  RELIABILITY P6): `tcp://` or `tls://` only, its host resolved once and every address checked
  against the server's outbound policy, and Dask is handed the checked address, not the name.
- A change of a running cluster's size (`min_nodes`, `max_nodes`, the idle time) re-adapts it in
  place; a change of the node shape or the backend restarts it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from ..entities import ComputeCluster
from ..errors import NotFound
from ..outbound import LOCAL_CALLER_NETWORKS, OutboundPolicy, pinned_url

if TYPE_CHECKING:
    from ..compute.dask_clusters import RunningCluster
    from .services import WorkspaceServices

#: The schedulers this server connects to for a caller (the Dask comms that reach another machine).
ATTACH_SCHEMES = ("tcp", "tls")
_RESTART_FIELDS = ("node_cpus", "node_memory_bytes", "node_gpus", "factory", "factory_kwargs")


class ClusterService:
    """The clusters this server runs (see the module docstring)."""

    def __init__(
        self,
        services: WorkspaceServices,
        interval: float = 0.5,
        log: logging.Logger | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self.services = services
        self.outbound = outbound or OutboundPolicy(LOCAL_CALLER_NETWORKS)
        self.interval = interval
        self.log = log or logging.getLogger("jupyter_mlws.clusters")
        self.running: dict[str, RunningCluster] = {}
        self._nodes: dict[str, dict[str, int]] = {}
        self._idle_since: dict[str, dict[str, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._stopping = False

    # ----- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the clusters that keep nodes (min_nodes > 0) and watch every running one."""
        for cluster in await self.services.run(self.services.store.list_clusters):
            if cluster.kind == "cluster" and cluster.min_nodes > 0:
                try:
                    await self.ensure(cluster.name)
                except Exception:
                    self.log.exception("mlws: could not start cluster %s", cluster.name)
        if self.interval > 0:
            self.services.spawn(self._watch_forever(), "cluster-watch")

    async def stop(self) -> None:
        """Stop every cluster this server started (attached ones are only disconnected)."""
        self._stopping = True
        for name in list(self.running):
            await self.stop_cluster(name, "server stopping")

    # ----- definitions -------------------------------------------------------------------------
    async def create(self, definition: ComputeCluster) -> ComputeCluster:
        """Store a checked definition; an attached cluster is connected to first (a scheduler that
        does not answer is refused and nothing stays stored); min_nodes > 0 starts it."""
        store = self.services.store
        created: ComputeCluster = await self.services.run(store.create_cluster, definition)
        if created.kind == "attached" or created.min_nodes > 0:
            try:
                await self.ensure(created.name)
            except Exception:
                await self.services.run(store.delete_cluster, created.name)
                raise
        await self._record(created.name, "created", None, {"kind": created.kind})
        return created

    async def update(self, name: str, **changes: Any) -> ComputeCluster:
        """Apply `changes` to cluster `name` (checked as a whole); a running cluster follows."""
        from ..compute.clusters import apply_cluster_changes

        store = self.services.store
        before = await self.services.run(store.get_cluster, name)
        checked = apply_cluster_changes(before, **changes)
        fields = {
            k: v
            for k, v in checked.to_dict().items()
            if k not in ("name", "kind", "created_time", "updated_time")
        }
        after: ComputeCluster = await self.services.run(lambda: store.update_cluster(name, **fields))
        await self.changed(before, after)
        await self._record(name, "updated", None, {"changed": sorted(changes)})
        return after

    async def delete(self, name: str) -> None:
        """Stop the cluster (or detach from it) and forget its definition."""
        await self.services.run(self.services.store.get_cluster, name)  # NotFound first
        await self.stop_cluster(name, "deleted")
        await self.services.run(self.services.store.delete_cluster, name)
        await self._record(name, "deleted", None, {})

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def ensure(self, name: str) -> RunningCluster:
        """The running cluster `name`, started (or attached) now if it is not."""
        async with self._lock(name):
            found = self.running.get(name)
            if found is not None:
                return found
            definition = await self.services.run(self.services.store.get_cluster, name)
            from ..compute import dask_clusters

            started = time.monotonic()
            connect_to = None
            if definition.kind == "attached" and definition.address:
                connect_to = await self.services.run(
                    pinned_url, definition.address, ATTACH_SCHEMES, self.outbound,
                    f"Attached cluster {name!r}",
                )
            running = await self.services.run(dask_clusters.start, definition, connect_to)
            self.running[name] = running
            self._nodes[name] = {}
            details = {
                "address": running.address,
                "dashboard": running.dashboard,
                "attached": running.attached,
            }
            if running.warnings:
                details["warnings"] = running.warnings
            took = f"{time.monotonic() - started:.1f} s"
            reason = f"attached to {running.address}" if running.attached else f"started in {took}"
            await self._record(name, "cluster_started", reason, details)
            for warning in running.warnings:
                self.log.warning("mlws: cluster %s: %s", name, warning)
            return running

    async def stop_cluster(self, name: str, reason: str) -> bool:
        """Stop (or disconnect from) cluster `name`; False when it was not running."""
        async with self._lock(name):
            running = self.running.pop(name, None)
            if running is None:
                return False
            await self.services.run(running.stop)
            self._nodes.pop(name, None)
            self._idle_since.pop(name, None)
            await self._record(name, "cluster_stopped", reason, {"attached": running.attached})
            return True

    async def changed(self, before: ComputeCluster, after: ComputeCluster) -> None:
        """A definition changed: re-adapt a running cluster, or restart it for a new node shape."""
        running = self.running.get(after.name)
        if running is None or running.attached:
            return
        if any(getattr(before, f) != getattr(after, f) for f in _RESTART_FIELDS):
            await self.stop_cluster(after.name, "its node size or backend changed")
            await self.ensure(after.name)
            return
        running.definition = after
        from ..compute import dask_clusters

        await self.services.run(dask_clusters.readapt, running)

    def status(self, name: str) -> dict[str, Any]:
        """What the cluster is doing now: state, nodes, busy nodes, address, dashboard."""
        running = self.running.get(name)
        if running is None:
            return {
                "state": "stopped",
                "nodes": 0,
                "busy_nodes": 0,
                "address": None,
                "dashboard": None,
                "warnings": [],
            }
        nodes = self._nodes.get(name, {})
        return {
            "state": "running",
            "nodes": len(nodes),
            "busy_nodes": sum(1 for tasks in nodes.values() if tasks),
            "address": running.address,
            "dashboard": running.dashboard,
            "warnings": list(running.warnings),
        }

    # ----- watching the nodes ------------------------------------------------------------------
    async def _watch_forever(self) -> None:
        while not self._stopping:
            for name in list(self.running):
                try:
                    await self.watch_once(name)
                except Exception:
                    self.log.exception("mlws: could not read the nodes of cluster %s", name)
            await asyncio.sleep(self.interval)

    async def watch_once(self, name: str) -> None:
        """Compare the cluster's nodes with the last look; record what changed."""
        running = self.running.get(name)
        if running is None:
            return
        now_nodes: dict[str, int] = await self.services.run(running.nodes)
        before = self._nodes.get(name, {})
        idle = self._idle_since.setdefault(name, {})
        clock = time.monotonic()
        for address, tasks in now_nodes.items():
            if tasks or address not in idle:
                idle[address] = clock if not tasks else float("inf")
            elif idle[address] == float("inf"):
                idle[address] = clock
        added = sorted(set(now_nodes) - set(before))
        removed = sorted(set(before) - set(now_nodes))
        if name not in self.running:
            return
        self._nodes[name] = now_nodes
        for address in added:
            await self._record(name, "node_added", "Dask adaptive scaling: work waiting", {"node": address})
        for address in removed:
            since = idle.pop(address, clock)
            quiet = f"idle for {clock - since:.0f} s" if since != float("inf") else "gone while busy"
            await self._record(name, "node_removed", f"{quiet} (Dask adaptive scaling)", {"node": address})
        if added or removed:
            reason = "work waiting" if len(now_nodes) > len(before) else "nodes idle"
            await self._record(
                name,
                "scaled",
                f"{len(before)} -> {len(now_nodes)} nodes: {reason} (Dask adaptive scaling)",
                {"nodes": len(now_nodes), "before": len(before)},
            )

    async def _record(self, name: str, kind: str, reason: str | None, details: dict[str, Any]) -> None:
        try:
            await self.services.run(
                self.services.store.record_compute_event, name, kind, reason=reason, details=details
            )
        except NotFound:
            pass
