"""`ComputeManager`: the server's side of compute instances (issue 7).

Built by `MLWorkspaceApp._start_jupyter_server_extension` for local stores
(a REST workspace's instances live with the server that owns its store),
kept in the web app settings as `mlws_compute` for the handlers
(`handlers/compute.py`), run with `services.spawn(manager.run_forever())`
and stopped from `stop_extension`.

What it does:

- **Kernelspecs.** At start every instance of the store gets its kernelspec
  `mlws-<name>` (`compute.spec.sync_kernelspecs`, which also removes the ones of
  this workspace that no instance names any more). When a `created`, `updated`
  or `deleted` event written by another process (the CLI, `ws.compute`) shows up,
  they are synced again. Handlers write and remove kernelspecs under `lock`, the
  same lock a sync holds, so a sync never removes a kernelspec written between
  its listing of the instances and its writing.
- **Usage** (`kernel_usages`, for `GET /compute/kernels`): for each kernel whose
  kernelspec starts with `mlws-`: state, last activity, when idle shutdown will
  stop it, its notebook, and the CPU percent, RSS and uptime of the provisioner's
  process tree (`kernel_usage.ProcessTreeMeter`).
- **Idle shutdown** (`idle_shutdown.py`, as `manager.idle`): warned, then shut
  down after `idle_shutdown_minutes` without activity or keepalive; this module
  finds the instance kernels and hands each to it every tick.
- **Kernel events.** `kernel_started` / `kernel_stopped` are recorded from
  jupyter_server's `kernel_actions` event bus; a kernel that vanished without a
  shutdown action (a failed restart) is recorded stopped at the next tick.
- **Live events.** Every compute event recorded in the store since the last
  tick (by this server, or by a provisioner or limit watchdog in another
  process: `limit_stopped`) goes out on the event bus (`compute_events.py`);
  `created/updated/deleted` go out as `changed`. Events this server records are
  forwarded by the same path (in the tick that records them), so each goes out once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from ..entities import KERNELSPEC_PREFIX, ComputeEvent, ComputeInstance
from ..errors import MLWSError, NotFound
from .compute_events import COMPUTE_EVENT_SCHEMA_ID, DEFINITION_KINDS, KERNEL_ACTIONS_SCHEMA, live_event
from .idle_shutdown import IdleShutdown, epoch_seconds
from .kernel_usage import ProcessTreeMeter

if TYPE_CHECKING:
    from .services import WorkspaceServices


def instance_of(kernel_name: str | None) -> str | None:
    """`mlws-X` -> `X`; None for a kernelspec that is not an instance's."""
    if (
        kernel_name
        and kernel_name.startswith(KERNELSPEC_PREFIX)
        and len(kernel_name) > len(KERNELSPEC_PREFIX)
    ):
        return kernel_name[len(KERNELSPEC_PREFIX) :]
    return None


class ComputeManager:
    """Kernelspecs, usage, idle shutdown and live events of compute instances (one per server)."""

    def __init__(
        self,
        services: WorkspaceServices,
        kernel_manager: Any,
        event_logger: Any = None,
        *,
        interval: float = 1.0,
        idle_warning_seconds: float = 60.0,
        settings: dict[str, Any] | None = None,
        session_manager: Any = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.services = services
        self.kernel_manager = kernel_manager
        self.event_logger = event_logger
        self.interval = interval
        self.settings = settings if settings is not None else {}
        self.session_manager = session_manager
        self.log = log or logging.getLogger("jupyter_mlws.compute")
        #: Held while kernelspecs are written or synced (see the module docstring).
        self.lock = asyncio.Lock()
        self.instances: dict[str, ComputeInstance] = {}
        self.cursor = 0
        #: The idle clocks, warnings and shutdowns of the instance kernels (idle_shutdown.py).
        self.idle = IdleShutdown(self, idle_warning_seconds)
        self._known: dict[str, str] = {}  # instance kernel id -> instance name
        self.meter = ProcessTreeMeter()
        self._listening = False
        self._stopped = False

    # ----- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        """Sync kernelspecs, start after the newest stored event, listen to kernel actions."""
        await self.sync_kernelspecs()
        newest = await self.services.run(self.services.store.list_compute_events, limit=1)
        self.cursor = newest[0].event_id if newest else 0
        for kernel_id in list(self.kernel_manager.list_kernel_ids()):
            name = instance_of(getattr(self._kernel(kernel_id), "kernel_name", None))
            if name is not None:
                self._known[kernel_id] = name
        if self.event_logger is not None and not self._listening:
            self.event_logger.add_listener(schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action)
            self._listening = True

    async def run_forever(self) -> None:
        """`start()`, then `tick()` every `interval` seconds (errors logged, never fatal)."""
        await self.start()
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except MLWSError as err:  # e.g. the store is busy: next tick
                self.log.warning("mlws compute: %s", err)
            except Exception:
                self.log.exception("mlws compute: a check of the instance kernels failed")

    async def stop(self) -> None:
        """The server is stopping (before it shuts its kernels down): record them stopped, unhook."""
        self._stopped = True
        for kernel_id in list(self._known):
            try:
                await self._record_stopped(kernel_id, "server shut down")
            except Exception:
                self.log.debug("mlws compute: could not record kernel %s stopped", kernel_id, exc_info=True)
        if self._listening and self.event_logger is not None:
            try:
                self.event_logger.remove_listener(
                    schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action
                )
            except Exception:
                self.log.debug("mlws compute: kernel action listener already gone", exc_info=True)
            self._listening = False

    async def tick(self) -> None:
        """One round: refresh the definitions, stop or warn idle kernels, forward new events."""
        await self.refresh()
        now = time.time()
        for kernel_id in list(self.kernel_manager.list_kernel_ids()):
            await self._check_idle(kernel_id, now)
        for kernel_id in [k for k in self._known if k not in self.kernel_manager]:
            await self._record_stopped(kernel_id, "kernel process gone")
        await self.forward()

    # ----- definitions and kernelspecs ---------------------------------------------------
    async def refresh(self) -> dict[str, ComputeInstance]:
        found = await self.services.run(self.services.store.list_compute_targets)
        self.instances = {i.name: i for i in found}
        return self.instances

    async def sync_kernelspecs(self) -> None:
        from ..compute import spec

        async with self.lock:
            await self.refresh()
            await self.services.run(
                spec.sync_kernelspecs, list(self.instances.values()), self.services.location.workspace
            )

    # ----- kernels ------------------------------------------------------------------------
    def _kernel(self, kernel_id: str) -> Any:
        try:
            return self.kernel_manager.get_kernel(kernel_id)
        except KeyError:
            raise NotFound(f"No kernel {kernel_id!r} is running on this server.") from None

    def instance_kernels(self, name: str | None = None) -> list[str]:
        """Ids of the running kernels of instance `name` (of every instance when None)."""
        ids = []
        for kernel_id in list(self.kernel_manager.list_kernel_ids()):
            found = instance_of(getattr(self.kernel_manager.get_kernel(kernel_id), "kernel_name", None))
            if found is not None and (name is None or found == name):
                ids.append(kernel_id)
        return ids

    def idle_deadline(self, kernel_id: str, kernel: Any = None) -> tuple[float, float] | None:
        """(idle start, shutdown time) in epoch seconds, or None when it is not shut down when idle."""
        kernel = kernel if kernel is not None else self._kernel(kernel_id)
        name = instance_of(getattr(kernel, "kernel_name", None))
        return self.idle.deadline(kernel_id, kernel, self.instances.get(name) if name else None)

    async def keepalive(self, kernel_id: str) -> int | None:
        """Restart the idle clock of an instance kernel; the new shutdown time (ms) or None."""
        kernel = self._kernel(kernel_id) if kernel_id in self.kernel_manager else None
        name = instance_of(getattr(kernel, "kernel_name", None)) if kernel is not None else None
        if name is None:
            raise NotFound(f"No compute instance kernel {kernel_id!r} is running on this server.")
        return await self.idle.keepalive(kernel_id, kernel, name)

    async def _check_idle(self, kernel_id: str, now: float) -> None:
        try:
            kernel = self.kernel_manager.get_kernel(kernel_id)
        except KeyError:
            return
        name = instance_of(getattr(kernel, "kernel_name", None))
        if name is None or self.idle.is_stopping(kernel_id):
            return
        if kernel_id not in self._known:  # started before the listener saw it
            self._known[kernel_id] = name
        await self.idle.check(kernel_id, kernel, name, now)

    # ----- events ----------------------------------------------------------------------------
    async def record(
        self,
        name: str,
        kind: str,
        kernel_id: str | None = None,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> ComputeEvent:
        """Store a compute event (off the loop); the next `forward` sends it to the browsers."""
        return await self.services.run(
            self.services.store.record_compute_event,
            name,
            kind,
            kernel_id=kernel_id,
            reason=reason,
            details=details,
        )

    async def _record_stopped(self, kernel_id: str, why: str = "kernel shut down") -> None:
        name = self._known.pop(kernel_id, None)
        reason = self.idle.forget(kernel_id) or why
        if name is not None:
            await self.record(name, "kernel_stopped", kernel_id, reason=reason)

    async def _on_kernel_action(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        """jupyter_events listener (keywords `logger`, `schema_id`, `data`)."""
        kernel_id = data.get("kernel_id")
        if self._stopped or data.get("status") != "success" or not kernel_id:
            return
        try:
            action = data.get("action")
            if action == "start":
                name = instance_of(data.get("kernel_name"))
                if name is not None and kernel_id not in self._known:
                    self._known[kernel_id] = name
                    kernel = self._kernel(kernel_id) if kernel_id in self.kernel_manager else None
                    pid = getattr(getattr(kernel, "provisioner", None), "pid", None)
                    await self.record(name, "kernel_started", kernel_id, details={"pid": pid})
            elif action == "shutdown" and kernel_id in self._known:
                await self._record_stopped(kernel_id)
        except Exception:
            self.log.exception("mlws compute: could not record kernel action %s", data.get("action"))

    async def forward(self) -> int:
        """Emit the compute events stored since the cursor, oldest first; returns how many."""
        found = await self.services.run(
            self.services.store.list_compute_events, after_id=self.cursor, limit=1000
        )
        sent, resync = 0, False
        for event in sorted(found, key=lambda e: e.event_id):
            self.cursor = max(self.cursor, event.event_id)
            payload = live_event(event)
            if payload is None:
                continue
            resync = resync or event.kind in DEFINITION_KINDS
            if self.event_logger is not None:
                self.event_logger.emit(schema_id=COMPUTE_EVENT_SCHEMA_ID, data=payload)
                sent += 1
        if resync:
            await self.sync_kernelspecs()
        return sent

    # ----- usage -------------------------------------------------------------------------------
    async def _notebook_paths(self) -> dict[str, str]:
        """kernel id -> the path of the notebook (session) using it."""
        paths: dict[str, str] = {}
        if self.session_manager is None:
            return paths
        try:
            for session in await self.session_manager.list_sessions():
                kernel = session.get("kernel") or {}
                if kernel.get("id") and session.get("path"):
                    paths[kernel["id"]] = session["path"]
        except Exception:
            self.log.debug("mlws compute: sessions unavailable", exc_info=True)
        return paths

    async def kernel_usages(self, kernel_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """One `KernelUsage` dict per running instance kernel (psutil work off the loop)."""
        if not self.instances:
            await self.refresh()
        rows: list[dict[str, Any]] = []
        for kernel_id in kernel_ids if kernel_ids is not None else self.instance_kernels():
            try:
                kernel = self.kernel_manager.get_kernel(kernel_id)
            except KeyError:
                continue
            name = instance_of(getattr(kernel, "kernel_name", None))
            if name is None:
                continue
            instance = self.instances.get(name)
            deadline = self.idle_deadline(kernel_id, kernel)
            rows.append(
                {
                    "kernel_id": kernel_id,
                    "instance": name,
                    "kernelspec": KERNELSPEC_PREFIX + name,
                    "pid": getattr(getattr(kernel, "provisioner", None), "pid", None),
                    "execution_state": getattr(kernel, "execution_state", "unknown"),
                    "last_activity": int(epoch_seconds(getattr(kernel, "last_activity", None)) * 1000),
                    "idle_shutdown_at": int(deadline[1] * 1000) if deadline else None,
                    "memory_limit_bytes": instance.memory_bytes if instance else None,
                    "cpus": instance.cpus if instance else None,
                }
            )
        paths = await self._notebook_paths() if rows else {}
        for row in rows:
            row["notebook_path"] = paths.get(row["kernel_id"])
        return await self.services.run(self.meter.measure, rows)
