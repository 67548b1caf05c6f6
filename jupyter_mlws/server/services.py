"""The long-lived services of one running server extension.

`MLWorkspaceApp` builds one `WorkspaceServices` when the server starts,
starts it from the async start hook (the event loop is running by then) and
stops it from `stop_extension`. Everything long-lived hangs off this object:
the metadata store, the artifact store, the pool that runs their blocking
calls off the event loop, and every background task (through `spawn()`, so
that `stop()` can cancel it: nothing outlives the server).

Handlers reach the stores only through `await services.run(fn, *args)`, which
runs `fn` on a small thread pool: store and file work never blocks the
tornado loop (STYLE.md rule 7).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import MLWSError, Unavailable
from ..location import ARTIFACT_URL_ENV, STORE_URL_ENV, WORKSPACE_ENV, WorkspaceLocation, resolve_location

if TYPE_CHECKING:
    from ..store.artifacts import ArtifactStore
    from ..store.base import MetadataStore

T = TypeVar("T")

#: Threads for store and file work; SQLite serialises writers anyway, and
#: PostgreSQL's pool is sized to match.
DEFAULT_WORKERS = 8


class WorkspaceServices:
    """The workspace as seen by the server: its stores, worker pool and background tasks."""

    def __init__(
        self, location: WorkspaceLocation, log: logging.Logger | None = None, workers: int = DEFAULT_WORKERS
    ) -> None:
        self.location = location
        self.log = log or logging.getLogger("jupyter_mlws")
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._store: MetadataStore | None = None
        self._artifacts: ArtifactStore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._exported_env = False
        #: More variables for the kernels this server starts (set by the app before `start()`).
        self.kernel_env: dict[str, str] = {}
        self._saved_env: dict[str, str | None] = {}
        self._ready: asyncio.Future[None] | None = None
        self.start_error: str | None = None
        self.started = False
        #: Set by the app once its clusters, job dispatcher and endpoint manager run.
        self._extension_ready: asyncio.Event | None = None

    # ----- lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Open the stores (off the loop) and export the workspace to kernels.

        Requests that arrive while this runs wait for it (`wait_ready`): jupyter_server
        answers `/api/status` before extensions finish starting.
        """
        self._ready = asyncio.get_running_loop().create_future()
        try:
            await self._start()
        except BaseException as err:
            self.start_error = (
                f"{type(err).__name__}: {err}" if not isinstance(err, MLWSError) else err.message
            )
            self._ready.set_exception(err)
            self._ready.exception()  # retrieved: waiting handlers re-raise it
            raise
        self._ready.set_result(None)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until `start()` has finished; Unavailable if it failed or never began."""
        if self.started:
            return
        if self._ready is None:
            raise Unavailable(self._why_unavailable("metadata store"))
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except MLWSError:
            raise
        except Exception as err:
            raise Unavailable(f"The ML workspace could not start: {err}") from err

    def extension_starting(self) -> None:
        """The app begins starting what runs beside the stores (clusters, jobs, endpoints)."""
        self._extension_ready = asyncio.Event()

    def extension_started(self) -> None:
        """All of it has started (or failed, and said so in the log): waiting requests go on."""
        if self._extension_ready is not None:
            self._extension_ready.set()

    async def wait_extension(self, timeout: float = 120.0) -> None:
        """Wait until the app has started its clusters, job dispatcher and endpoint manager.

        jupyter_server answers requests while the extension still starts them; a route that
        uses them waits here rather than answering 503 for a server that is about to have them.
        """
        await self.wait_ready(timeout)
        ready = self._extension_ready
        if ready is None or ready.is_set():
            return
        try:
            await asyncio.wait_for(ready.wait(), timeout)
        except asyncio.TimeoutError:
            raise Unavailable(
                f"The ML workspace's clusters, jobs and endpoints did not start within {timeout:.0f} s."
            ) from None

    async def _start(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="mlws-store")
        # Kernels inherit the server's environment: exporting the workspace connects every kernel
        # this server starts to the same workspace. First, before any await: the server takes
        # requests while this runs, and a kernel started meanwhile must not miss it.
        self._export_workspace()
        if self.location.is_local:
            await self.run(Path(self.location.workspace).mkdir, parents=True, exist_ok=True)
        if self.location.store_kind != "rest":
            self._store = await self.run(self._open_store)
            self._artifacts = await self.run(self._open_artifacts)
            sweep = getattr(self._artifacts, "sweep_orphans", None)
            if sweep is not None:  # uploads a killed process left half-written (RELIABILITY C7)
                self.spawn(self._sweep_orphans(sweep), "artifact-sweep")
        self.started = True
        self.log.info("ML workspace at %s (%s store)", self.location.workspace, self.location.store_kind)

    async def _sweep_orphans(self, sweep: Any) -> None:
        removed = await self.run(sweep)
        if removed:
            self.log.info("mlws: removed %d temp file(s) of uploads that never finished", removed)

    def _export_workspace(self) -> None:
        """Export the workspace and `kernel_env` to the kernels this server starts."""
        if not os.environ.get(WORKSPACE_ENV):
            os.environ[WORKSPACE_ENV] = self.location.workspace
            self._exported_env = True
            if self.location.store_kind != "rest":
                # A team workspace (PostgreSQL, S3): kernels write to the same stores as the server.
                default = resolve_location(self.location.workspace)
                if self.location.store_url != default.store_url:
                    self.kernel_env.setdefault(STORE_URL_ENV, self.location.store_url)
                if self.location.artifact_url != default.artifact_url:
                    self.kernel_env.setdefault(ARTIFACT_URL_ENV, self.location.artifact_url)
        self._export_kernel_env()

    def _export_kernel_env(self) -> None:
        """Put `kernel_env` into this process's environment (kernels inherit it); `stop()` undoes it.

        A `$PYTHONSTARTUP` of the user's is not replaced but handed on: the startup file we
        install runs it after loading the extension (`notebook/kernel_startup.py`).
        """
        for name, value in self.kernel_env.items():
            previous = os.environ.get(name)
            self._saved_env.setdefault(name, previous)
            if name == "PYTHONSTARTUP" and previous and previous != value:
                self._saved_env.setdefault(
                    "MLWS_USER_PYTHONSTARTUP", os.environ.get("MLWS_USER_PYTHONSTARTUP")
                )
                os.environ["MLWS_USER_PYTHONSTARTUP"] = previous
            os.environ[name] = value

    def _open_store(self) -> MetadataStore:
        from ..store.factory import open_store

        return open_store(self.location.store_url)

    def _open_artifacts(self) -> ArtifactStore:
        from ..store.artifacts import open_artifact_store

        return open_artifact_store(self.location.artifact_url)

    async def stop(self) -> None:
        """Cancel every background task, close the stores, undo what `start()` changed."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._store is not None:
            store, self._store = self._store, None
            await self.run(store.close)
        self._artifacts = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        if self._exported_env and os.environ.get(WORKSPACE_ENV) == self.location.workspace:
            del os.environ[WORKSPACE_ENV]
            self._exported_env = False
        self.started = False

    # ----- what handlers use -------------------------------------------------
    @property
    def store(self) -> MetadataStore:
        """The metadata store; `Unavailable` (503) before start or for a remote workspace."""
        if self._store is None:
            raise Unavailable(self._why_unavailable("metadata store"))
        return self._store

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store; `Unavailable` (503) before start or for a remote workspace."""
        if self._artifacts is None:
            raise Unavailable(self._why_unavailable("artifact store"))
        return self._artifacts

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a blocking call on the store pool and await its result."""
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        if self._pool is None:
            return await loop.run_in_executor(None, call)
        return await loop.run_in_executor(self._pool, call)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `coro` as a background task that `stop()` will cancel."""
        task = asyncio.get_running_loop().create_task(coro, name=f"mlws:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def task_names(self) -> list[str]:
        return sorted(task.get_name() for task in self._tasks)

    def _why_unavailable(self, what: str) -> str:
        if self.location.store_kind == "rest":
            return (
                f"This server's workspace is the remote {self.location.workspace}; "
                f"its {what} is served there, not here."
            )
        return f"The workspace's {what} is not open yet (the server is starting or stopping)."
