"""Idle shutdown of compute-instance kernels: the idle clock, its warning, the shutdown (issue 7).

`ComputeManager` (server/compute.py) owns one `IdleShutdown` as `manager.idle` and keeps the
kernel bookkeeping; each of its ticks calls `check` for every running instance kernel, the
keepalive route (`POST /compute/kernels/{id}/keepalive`, through `ComputeManager.keepalive`)
calls `keepalive`, and `GET /compute/kernels` shows `deadline` as `idle_shutdown_at`.

- A kernel is idle from `max(last_activity, last keepalive)`; a busy or starting kernel is
  never idle (one that stays "starting" past `STARTING_GRACE` seconds without activity is:
  jupyter_server leaves a kernel no client talked to "starting" for good).
- At `idle_shutdown_minutes*60 - warning_seconds` of idleness an `idle_warning` is recorded
  (once per idle period: any activity or keepalive starts a new period).
- At the deadline the kernel's running runs end `killed` with the reason (through the run
  supervisor's `end_kernel_runs` when it runs — first ending wins, so this comes before the
  shutdown, which would otherwise end them "kernel shut down"), `idle_shutdown` is recorded,
  then the kernel is shut down.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..entities import ComputeInstance, RunStatus
from ..errors import Conflict, NotFound

if TYPE_CHECKING:
    from .compute import ComputeManager

#: Seconds a kernel may stay "starting" before idle shutdown treats it as idle.
STARTING_GRACE = 60.0


def epoch_seconds(moment: datetime | None) -> float:
    """A kernel's time (`last_activity`; naive means UTC) in epoch seconds; now when unknown."""
    if moment is None:
        return time.time()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _minutes(value: float) -> str:
    return f"{value:g}"


class IdleShutdown:
    """The idle clocks of one server's instance kernels (state kept by kernel id)."""

    def __init__(self, manager: ComputeManager, warning_seconds: float) -> None:
        self.manager = manager
        self.warning_seconds = warning_seconds
        self._keepalive: dict[str, float] = {}  # kernel id -> epoch s of the last keepalive
        self._warned: dict[str, float] = {}  # kernel id -> idle start it was warned for
        self._stopping: dict[str, str] = {}  # kernel id -> why this server shuts it down

    def is_stopping(self, kernel_id: str) -> bool:
        """Whether this server is shutting the kernel down for idleness."""
        return kernel_id in self._stopping

    def forget(self, kernel_id: str) -> str | None:
        """The kernel stopped: drop its clock; the reason this server stopped it, if it did."""
        for table in (self._keepalive, self._warned):
            table.pop(kernel_id, None)
        return self._stopping.pop(kernel_id, None)

    def deadline(
        self, kernel_id: str, kernel: Any, instance: ComputeInstance | None
    ) -> tuple[float, float] | None:
        """(idle start, shutdown time) in epoch seconds, or None when it is not shut down when idle."""
        if instance is None or not instance.idle_shutdown_minutes or instance.idle_shutdown_minutes <= 0:
            return None
        activity = epoch_seconds(getattr(kernel, "last_activity", None))
        start = max(activity, self._keepalive.get(kernel_id, 0.0))
        return start, start + instance.idle_shutdown_minutes * 60

    async def keepalive(self, kernel_id: str, kernel: Any, name: str) -> int | None:
        """Restart the idle clock of kernel `kernel_id` of instance `name`; the new shutdown time (ms)."""
        manager = self.manager
        self._keepalive[kernel_id] = time.time()
        if name not in manager.instances:
            await manager.refresh()
        deadline = self.deadline(kernel_id, kernel, manager.instances.get(name))
        shutdown_at = int(deadline[1] * 1000) if deadline else None
        await manager.record(name, "keep_alive", kernel_id, details={"shutdown_at": shutdown_at})
        return shutdown_at

    async def check(self, kernel_id: str, kernel: Any, name: str, now: float) -> None:
        """Warn or shut down kernel `kernel_id` of instance `name` if it has been idle long enough."""
        manager = self.manager
        state = getattr(kernel, "execution_state", "idle")
        if state in ("busy", "dead") or (
            state == "starting"
            and now - epoch_seconds(getattr(kernel, "last_activity", None)) < STARTING_GRACE
        ):
            return
        deadline = self.deadline(kernel_id, kernel, manager.instances.get(name))
        if deadline is None:
            return
        idle_start, shutdown_at = deadline
        if now >= shutdown_at:
            minutes = manager.instances[name].idle_shutdown_minutes or 0
            reason = f"idle shutdown: no activity for {_minutes(minutes)} min on compute instance {name}"
            self._stopping[kernel_id] = reason
            manager.services.spawn(self._shutdown(kernel_id, name, reason), f"idle-shutdown-{kernel_id[:8]}")
        elif now >= shutdown_at - self.warning_seconds and self._warned.get(kernel_id) != idle_start:
            self._warned[kernel_id] = idle_start
            left = max(0, round(shutdown_at - now))
            await manager.record(
                name,
                "idle_warning",
                kernel_id,
                reason=f"idle kernel of compute instance {name} shuts down in {left} s unless kept running",
                details={"shutdown_at": int(shutdown_at * 1000)},
            )

    async def _shutdown(self, kernel_id: str, name: str, reason: str) -> None:
        manager = self.manager
        try:
            await self.end_kernel_runs(kernel_id, reason)
            await manager.record(name, "idle_shutdown", kernel_id, reason=reason)
            await manager.forward()
            if kernel_id in manager.kernel_manager:
                await manager.kernel_manager.shutdown_kernel(kernel_id)
            manager.log.info("mlws compute: %s (kernel %s)", reason, kernel_id)
        except Exception:
            manager.log.exception("mlws compute: idle shutdown of kernel %s failed", kernel_id)
            self._stopping.pop(kernel_id, None)

    async def end_kernel_runs(self, kernel_id: str, reason: str) -> int:
        """End the kernel's running runs `killed` with `reason` (the supervisor's way when it runs)."""
        manager = self.manager
        supervisor = manager.settings.get("mlws_supervisor")
        if supervisor is not None:
            return int(await supervisor.end_kernel_runs(kernel_id, reason))
        return await manager.services.run(self._end_runs_directly, kernel_id, reason)

    def _end_runs_directly(self, kernel_id: str, reason: str) -> int:
        store, ended = self.manager.services.store, 0
        for info in store.running_runs():
            if info.kernel_id != kernel_id:
                continue
            try:
                store.end_run(info.run_id, RunStatus.KILLED, reason)
                ended += 1
            except (Conflict, NotFound):  # ended (or deleted) at the same moment
                pass
        return ended
