"""`RunSupervisor`: the server decides when a run whose owner went away has ended.

Started by `MLWorkspaceApp._start_jupyter_server_extension` (local stores
only; a REST workspace is supervised by the server that owns its store) and
stopped from `stop_extension`. Liveness is the server's call (RELIABILITY.md
design rules): the client's own endings only make the common cases fast.

Every run records its owner (`host`, `pid`, `kernel_id`; `client/owner.py`).
The supervisor ends a `running` run `killed`, with the reason, when:

- **Start-up sweep** (K4): before anything else, every run left `running`
  whose owner is gone, by the rules below; the reason ends in
  "(found at server start)".
- **Owner on this host** (`host == socket.gethostname()` and a pid): the pid
  is not alive (a zombie counts as gone), or is alive but belongs to a
  process created after the run started (pid reuse; `PID_REUSE_TOLERANCE_S`
  absorbs the coarse clock of /proc). Checked every `interval` seconds (K1).
- **Owner elsewhere or unknown** (another host, or no pid): a heartbeat lease
  (K5). At the sweep the stored heartbeat (or start) time must be younger
  than `lease_seconds`. Afterwards the lease counts on this server's
  monotonic clock from the last time it saw the stored heartbeat change, so
  clock skew between hosts, or a run imported with old timestamps, never
  ends a run early. A late heartbeat cannot revive an ended run: the store
  only renews the heartbeat of queued and running runs.
- **A kernel of another host** (a team workspace: servers on several machines
  share one database) is left to the server on that host, which sees its
  process; no lease applies to it here.
- **A run made through the MLflow API** (`source_kind` "mlflow") is not supervised: MLflow's
  clients send no heartbeat, and MLflow keeps a run RUNNING until its client ends it.
- **A job's run** (`source_kind` "job") is left to the job dispatcher, which sees its node in
  the Dask cluster and records "node lost" (`jobs/dispatcher.py`); so is a sweep's run
  (`source_kind` "sweep"), whose driver runs beside the dispatcher (`jobs/sweep_driver.py`).
- **Kernel events of this server** end that kernel's runs (matched by
  `RunInfo.kernel_id`) at once:
  * REST/session shutdown and restart: `MappingKernelManager.shutdown_kernel`
    and `restart_kernel` are wrapped on the instance so the runs end *before*
    the kernel is asked to stop. Otherwise the kernel's own exit hook (client
    `lifecycle.py`) would end them `completed`. Buffered metrics still land:
    a killed run accepts late points, only its status is final.
  * idle culling: `cull_kernel_if_idle` is wrapped too, so a shutdown it
    triggers is reported as "kernel culled after N s idle" (N from the
    kernel's `last_activity`).
  * death: jupyter_client's restarter callbacks (`'restart'`: it died and is
    being restarted; `'dead'`: restarting failed), registered for each kernel
    when jupyter_server's `kernel_actions` event bus announces its start.
  * server shutdown: `stop()` runs before jupyter_server shuts the kernels
    down (extensions are cleaned up first) and ends their runs.
  The kernel action events also wake the periodic check at once. The pid
  check stays the safety net for anything the hooks miss (a kernel manager
  class without these methods, a kernel killed between two polls).

A run the client ended at the same moment is left as the client ended it
(Conflict, or already not running: ignored quietly). An error while checking
one run never stops the loop; it is logged.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from ..entities import RunInfo, RunStatus
from ..errors import Conflict, NotFound

KERNEL_ACTIONS_SCHEMA = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
PID_REUSE_TOLERANCE_S = 2.0
#: A kernel hook never holds up a shutdown or restart longer than this.
KERNEL_HOOK_TIMEOUT_S = 5.0


def pid_state(pid: int, run_started_ms: int | None) -> str:
    """`alive`, `gone`, or `reused` (alive, but created after the run started). In doubt: alive."""
    import psutil

    if pid == os.getpid():
        return "alive"
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return "gone"
        created = process.create_time()
    except psutil.NoSuchProcess:  # ZombieProcess included
        return "gone"
    except psutil.Error:  # AccessDenied and friends: it exists, we just cannot look
        return "alive"
    if run_started_ms is not None and created > run_started_ms / 1000 + PID_REUSE_TOLERANCE_S:
        return "reused"
    return "alive"


class RunSupervisor:
    """Ends runs whose owner is gone (see the module docstring). One per server."""

    def __init__(
        self,
        services: Any,
        *,
        interval: float = 1.0,
        lease_seconds: float = 30.0,
        log: logging.Logger | None = None,
        host: str | None = None,
    ) -> None:
        self.services = services
        self.interval = interval
        self.lease_seconds = lease_seconds
        self.log = log or logging.getLogger("jupyter_mlws.supervisor")
        self.host = host or socket.gethostname()
        self.swept = False
        # run id -> (lease stamp last seen, monotonic time it was first seen with that value)
        self._beats: dict[str, tuple[int, float]] = {}
        self._wake: asyncio.Event | None = None
        self._kernel_manager: Any = None
        self._event_logger: Any = None
        self._wrapped: list[str] = []
        self._watched_kernels: set[str] = set()
        self._culling: set[str] = set()
        self._stopped = False

    # ----- the loop -------------------------------------------------------------
    async def run_forever(self) -> None:
        """Sweep once, then check every `interval` seconds (or at once when woken)."""
        self._wake = asyncio.Event()
        try:
            await self.sweep()
        except Exception:
            self.log.exception("mlws: the start-up sweep of running runs failed")
        self.swept = True
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.check_once()
            except Exception:
                self.log.exception("mlws: checking running runs failed")

    def wake(self) -> None:
        """Run the next check now (a kernel went away)."""
        if self._wake is not None:
            self._wake.set()

    async def sweep(self) -> int:
        """End every run left running whose owner is gone; returns how many ended."""
        return await self._check(at_start=True)

    async def check_once(self) -> int:
        """One periodic check; returns how many runs ended."""
        return await self._check(at_start=False)

    async def _check(self, at_start: bool) -> int:
        store = self.services.store
        infos = await self.services.run(store.running_runs)
        verdicts = await self.services.run(self._verdicts, infos, at_start)
        return await self._end_all(verdicts)

    # ----- verdicts (run on the store pool: psutil reads /proc) --------------------
    def _verdicts(self, infos: Iterable[RunInfo], at_start: bool) -> list[tuple[str, str]]:
        now_ms = int(time.time() * 1000)
        now = time.monotonic()
        found: list[tuple[str, str]] = []
        live: set[str] = set()
        for info in infos:
            live.add(info.run_id)
            try:
                reason = self._verdict(info, at_start, now_ms, now)
            except Exception:
                self.log.exception("mlws: could not check run %s", info.run_id)
                continue
            if reason is not None:
                found.append((info.run_id, f"{reason} (found at server start)" if at_start else reason))
        for run_id in list(self._beats):
            if run_id not in live:
                self._beats.pop(run_id, None)
        return found

    def _verdict(self, info: RunInfo, at_start: bool, now_ms: int, now: float) -> str | None:
        if info.source_kind in ("job", "sweep"):
            return None  # a job's run, a sweep's: its dispatcher sees the node or the driver (jobs/)
        if info.source_kind == "mlflow":
            # made through the MLflow API (server/mlflow_api): MLflow's clients never heartbeat and
            # a run stays RUNNING until its client ends it, as on MLflow's own server; a lease
            # would kill every MLflow run that is silent for `lease_seconds` (a long fit)
            return None
        if info.host == self.host and info.pid is not None and info.pid > 0:
            state = pid_state(info.pid, info.start_time)
            if state == "gone":
                return f"owner process {info.pid} on host {info.host} is gone"
            if state == "reused":
                return f"owner process {info.pid} on host {info.host} is gone (its pid was reused)"
            return None
        if info.kernel_id and info.host and info.host != self.host:
            return None  # another machine's kernel: its own server supervises it (team workspace)
        return self._lease_verdict(info, at_start, now_ms, now)

    def _lease_verdict(self, info: RunInfo, at_start: bool, now_ms: int, now: float) -> str | None:
        if self.lease_seconds <= 0:
            return None
        stamp = max(info.heartbeat_time or 0, info.start_time or 0)
        seen = self._beats.get(info.run_id)
        if seen is None or seen[0] != stamp:
            if at_start:
                age = (now_ms - stamp) / 1000 if stamp else float("inf")
                self._beats[info.run_id] = (stamp, now - min(max(age, 0.0), self.lease_seconds))
                if age >= self.lease_seconds:
                    return f"no heartbeat for {_seconds(age)} (lease lapsed)"
            else:
                self._beats[info.run_id] = (stamp, now)
            return None
        silent = now - seen[1]
        if silent >= self.lease_seconds:
            return f"no heartbeat for {_seconds(silent)} (lease lapsed)"
        return None

    # ----- ending runs -----------------------------------------------------------
    async def _end_all(self, verdicts: Iterable[tuple[str, str]]) -> int:
        ended = 0
        for run_id, reason in verdicts:
            try:
                if await self.services.run(self._end_if_running, run_id, reason):
                    ended += 1
                    self.log.info("mlws: run %s ended killed: %s", run_id, reason)
            except Exception:
                self.log.exception("mlws: could not end run %s", run_id)
        return ended

    def _end_if_running(self, run_id: str, reason: str) -> bool:
        store = self.services.store
        try:
            # Re-read first: ending an already killed run again would rewrite its reason.
            if store.get_run_info(run_id).status != RunStatus.RUNNING:
                return False
            store.end_run(run_id, RunStatus.KILLED, reason)
        except (Conflict, NotFound):  # the client ended (or deleted) it at the same moment
            return False
        self._beats.pop(run_id, None)
        return True

    async def end_kernel_runs(self, kernel_id: str, reason: str) -> int:
        """End the running runs of one kernel of this server `killed` with `reason`."""
        infos = await self.services.run(self.services.store.running_runs)
        return await self._end_all((i.run_id, reason) for i in infos if i.kernel_id == kernel_id)

    async def _end_kernel_runs_bounded(self, kernel_id: str, reason: str) -> None:
        try:
            await asyncio.wait_for(self.end_kernel_runs(kernel_id, reason), KERNEL_HOOK_TIMEOUT_S)
        except Exception:
            self.log.exception("mlws: could not end the runs of kernel %s (%s)", kernel_id, reason)

    # ----- kernel hooks ------------------------------------------------------------
    def install(self, kernel_manager: Any, event_logger: Any) -> None:
        """Hook into this server's kernel manager and event bus (see the module docstring)."""
        self._kernel_manager = kernel_manager
        wrappers: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
            "shutdown_kernel": self._wrap_stop(self._shutdown_reason),
            "restart_kernel": self._wrap_stop(lambda _kernel_id: "kernel restarted"),
            "cull_kernel_if_idle": self._wrap_cull,
        }
        for name, wrap in wrappers.items():
            original = getattr(kernel_manager, name, None)
            if original is None or not inspect.iscoroutinefunction(original):
                self.log.warning("mlws: the kernel manager has no async %s; the pid check covers it", name)
                continue
            setattr(kernel_manager, name, wrap(original))
            self._wrapped.append(name)
        if event_logger is not None:
            self._event_logger = event_logger
            event_logger.add_listener(schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action)
        for kernel_id in list(getattr(kernel_manager, "list_kernel_ids", list)()):
            self._watch_kernel(kernel_id)

    def _wrap_stop(
        self, reason_of: Callable[[str], str]
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(original)
            async def stop_kernel(kernel_id: str, *args: Any, **kwargs: Any) -> Any:
                if not self._stopped:
                    await self._end_kernel_runs_bounded(kernel_id, reason_of(kernel_id))
                await self._restart_settled(kernel_id)
                return await original(kernel_id, *args, **kwargs)

            return stop_kernel

        return wrap

    async def _restart_settled(self, kernel_id: str, timeout: float = 30.0) -> None:
        """Wait (bounded) for an automatic restart in flight to finish.

        While jupyter_client's restarter restarts a dead kernel, its manager's `ready`
        future is pending (a restart may replace it more than once), and `shutdown_kernel`
        then fails with InvalidStateError instead of stopping the kernel. Waiting until
        the current `ready` is done lets the stop go through.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                ready = self._kernel_manager.get_kernel(kernel_id).ready
            except Exception:  # unknown kernel: the original call reports it
                return
            left = deadline - time.monotonic()
            if ready.done() or left <= 0:
                return
            pending = ready if isinstance(ready, asyncio.Future) else asyncio.wrap_future(ready)
            try:
                await asyncio.wait_for(asyncio.shield(pending), left)
            except Exception:  # a failed or slow restart: stop the kernel anyway
                self.log.info("mlws: kernel %s still restarting; stopping it anyway", kernel_id)
                return

    def _wrap_cull(self, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        async def cull_kernel_if_idle(kernel_id: str, *args: Any, **kwargs: Any) -> Any:
            self._culling.add(kernel_id)
            try:
                return await original(kernel_id, *args, **kwargs)
            finally:
                self._culling.discard(kernel_id)

        return cull_kernel_if_idle

    def _shutdown_reason(self, kernel_id: str) -> str:
        if kernel_id not in self._culling:
            return "kernel shut down"
        try:
            kernel = self._kernel_manager.get_kernel(kernel_id)
            if getattr(kernel, "execution_state", None) == "dead":
                return "kernel process died (culled by the server)"
            last = kernel.last_activity
            if last.tzinfo is None:
                last = last.replace(tzinfo=timezone.utc)
            idle = (datetime.now(timezone.utc) - last).total_seconds()
            return f"kernel culled after {_seconds(idle)} idle"
        except Exception:
            return "kernel culled (idle)"

    async def _on_kernel_action(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        """jupyter_events listener (called with keywords `logger`, `schema_id`, `data`)."""
        kernel_id = data.get("kernel_id")
        if self._stopped or data.get("status") != "success" or not kernel_id:
            return
        action = data.get("action")
        if action == "start":
            self._watch_kernel(kernel_id)
        elif action in ("shutdown", "restart"):
            if action == "shutdown":
                self._watched_kernels.discard(kernel_id)
            self.wake()

    def _watch_kernel(self, kernel_id: str) -> None:
        if kernel_id in self._watched_kernels or self._kernel_manager is None:
            return
        try:
            for event in ("restart", "dead"):
                callback = functools.partial(self._kernel_died, kernel_id, event)
                self._kernel_manager.add_restart_callback(kernel_id, callback, event)
        except Exception:
            self.log.debug("mlws: cannot watch kernel %s for restarts", kernel_id, exc_info=True)
            return
        self._watched_kernels.add(kernel_id)

    def _kernel_died(self, kernel_id: str, event: str) -> None:
        """A restarter callback (runs on the event loop): the kernel process is gone."""
        if self._stopped:
            return
        how = "restarted automatically" if event == "restart" else "restarting failed"
        reason = f"kernel process died ({how})"
        self.services.spawn(self._end_kernel_runs_bounded(kernel_id, reason), f"kernel-died-{kernel_id[:8]}")

    # ----- stop ---------------------------------------------------------------------
    async def stop(self) -> None:
        """The server is stopping: end its kernels' runs, then unhook (idempotent)."""
        if self._stopped:
            return
        km = self._kernel_manager
        if km is not None:
            for kernel_id in list(km.list_kernel_ids()):
                await self._end_kernel_runs_bounded(kernel_id, "server shut down")
        self._stopped = True
        if km is not None:
            for name in self._wrapped:
                km.__dict__.pop(name, None)
        self._wrapped.clear()
        if self._event_logger is not None:
            try:
                self._event_logger.remove_listener(
                    schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action
                )
            except Exception:
                self.log.debug("mlws: kernel action listener already gone", exc_info=True)


def _seconds(value: float) -> str:
    return "a long time" if value == float("inf") else f"{int(value)} s"
