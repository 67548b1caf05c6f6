"""`JobService`: the server's job dispatcher (issue 15), beside the cluster service.

Who calls it: `MLWorkspaceApp` starts it after the clusters and stops it in `stop_extension`
before them (running jobs are recorded as ended by the server's stop before their nodes go); the
REST handlers (`handlers/jobs.py`) wake it when a job is submitted or canceled, so a job reaches
its node without waiting for the next look at the queue.

The dispatcher (`jobs/dispatcher.py`) runs on a thread of its own and asks for clusters through
`cluster(name)`: a running one is handed over at once; a stopped one is started by the cluster
service on the server's loop (the first job of a cluster at 0 nodes starts it). Nodes reach the
workspace directly when they share this machine (its SQLite file) and through this server's URL
and token otherwise, so a job on an attached cluster elsewhere still logs into the workspace.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..jobs.dispatcher import JobDispatcher
    from .clusters import ClusterService
    from .services import WorkspaceServices

#: The longest a dispatcher waits for a cluster to start.
START_TIMEOUT = 180.0


class JobService:
    """The server's dispatcher (see the module docstring)."""

    def __init__(
        self,
        services: WorkspaceServices,
        clusters: ClusterService,
        where: dict[str, Any],
        interval: float = 0.2,
        log: logging.Logger | None = None,
    ) -> None:
        self.services = services
        self.cluster_service = clusters
        self.where = where
        self.interval = interval
        self.log = log or logging.getLogger("jupyter_mlws.jobs")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.dispatcher: JobDispatcher | None = None

    async def start(self) -> None:
        from ..jobs.dispatcher import JobDispatcher

        self.loop = asyncio.get_running_loop()
        dispatcher = JobDispatcher(
            self.services.store, self.cluster, self.where, kind="server", interval=self.interval
        )
        await self.services.run(dispatcher.start)
        self.dispatcher = dispatcher

    async def stop(self) -> None:
        dispatcher, self.dispatcher = self.dispatcher, None
        if dispatcher is not None:
            await self.services.run(dispatcher.stop, "the Jupyter server stopped")

    def wake(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()

    def cluster(self, name: str) -> Any:
        """The running cluster `name`, started through the cluster service when it is not (thread)."""
        running = self.cluster_service.running.get(name)
        if running is not None:
            return running
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(self.cluster_service.ensure(name), self.loop)
        return future.result(timeout=START_TIMEOUT)
