"""The long-lived services of one running server extension.

`MLWorkspaceApp` builds one `WorkspaceServices` when the server starts,
starts it from the async start hook (the event loop is running by then) and
stops it from `stop_extension`. Everything long-lived that later issues add
(the store, the run reaper, kernel supervision, clusters, endpoints) hangs off
this object, and every background task goes through `spawn()` so that
`stop()` can cancel it: nothing outlives the server.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ..location import WORKSPACE_ENV, WorkspaceLocation


class WorkspaceServices:
    """The workspace as seen by the server: its location and background tasks."""

    def __init__(self, location: WorkspaceLocation, log: logging.Logger | None = None) -> None:
        self.location = location
        self.log = log or logging.getLogger("jupyter_mlws")
        self._tasks: set[asyncio.Task[Any]] = set()
        self._exported_env = False
        self.started = False

    async def start(self) -> None:
        """Prepare the workspace and start background tasks (server's event loop)."""
        if self.location.is_local:
            await asyncio.to_thread(Path(self.location.workspace).mkdir, parents=True, exist_ok=True)
        # Kernels inherit the server's environment: exporting the workspace
        # here connects every kernel this server starts to the same workspace.
        if not os.environ.get(WORKSPACE_ENV):
            os.environ[WORKSPACE_ENV] = self.location.workspace
            self._exported_env = True
        self.started = True
        self.log.info("ML workspace at %s (%s store)", self.location.workspace, self.location.store_kind)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `coro` as a background task that `stop()` will cancel."""
        task = asyncio.get_running_loop().create_task(coro, name=f"mlws:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def task_names(self) -> list[str]:
        return sorted(task.get_name() for task in self._tasks)

    async def stop(self) -> None:
        """Cancel every background task and undo what `start()` changed."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._exported_env and os.environ.get(WORKSPACE_ENV) == self.location.workspace:
            del os.environ[WORKSPACE_ENV]
            self._exported_env = False
        self.started = False
