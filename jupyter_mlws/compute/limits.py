"""What happens when a compute instance's kernel breaks its memory limit.

Who calls this: the RSS watchdog's thread (`compute.watchdog`), through the callback the
provisioner gives it (`InstanceProvisioner._on_breach` → `stop_for_limit`).

Order of the stop, and why:
1. the kernel's process group is frozen (SIGSTOP): it cannot grow further while the store
   is opened, and the run it is in cannot end itself "completed" or "failed" first (the
   first ending of a run wins);
2. the running runs of that kernel end `killed` with the reason, e.g. "memory limit
   exceeded: RSS 612 MiB > 512 MiB limit of compute instance cpu-small". A run is the
   kernel's when its process is in the kernel's process tree on this host, or when it names
   the kernel's id;
3. a `limit_stopped` compute event is recorded (the server forwards it to JupyterLab, which
   shows the reason), and a warning is logged;
4. the process group and any process of the tree outside it get SIGKILL.
The store is opened only here, never on the launch path (SQLAlchemy stays out of a kernel
start). Should recording fail (say the frozen kernel held the SQLite write lock), the kernel
is killed first and the recording tried once more; store trouble is logged and never keeps
the kernel alive.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from dataclasses import dataclass, field

from .spec import format_bytes

log = logging.getLogger(__name__)


@dataclass
class KernelLimits:
    """The kernel a watchdog guards: who it is and what it may use."""

    instance: str
    workspace: str
    kernel_id: str | None
    pid: int
    pgid: int | None
    memory_bytes: int
    stopped_reason: str | None = field(default=None)


def limit_reason(rss: int, limit: int, instance: str) -> str:
    """The one sentence users see (run reason, event, notification, server log)."""
    return (
        f"memory limit exceeded: RSS {rss / 1024**2:.0f} MiB > {format_bytes(limit)} "
        f"limit of compute instance {instance}"
    )


def stop_for_limit(
    kernel: KernelLimits, rss: int, pids: list[int], logger: logging.Logger | None = None
) -> str:
    """Stop `kernel` for its memory limit (the steps in the module docstring); returns the reason."""
    logger = logger or log
    reason = limit_reason(rss, kernel.memory_bytes, kernel.instance)
    kernel.stopped_reason = reason
    _signal_tree(kernel, pids, signal.SIGSTOP)
    ended: list[str] = []
    killed = False
    if kernel.workspace:
        try:
            ended = _record(kernel, reason, rss, pids)
        except Exception:
            # e.g. the frozen kernel held the SQLite write lock: kill it (the lock goes with
            # it) and try once more
            _signal_tree(kernel, pids, signal.SIGKILL)
            killed = True
            try:
                ended = _record(kernel, reason, rss, pids)
            except Exception:
                logger.exception("recording the memory-limit stop of kernel %s failed", kernel.kernel_id)
    logger.warning(
        "Kernel %s of compute instance %s stopped: %s (runs ended: %s)",
        kernel.kernel_id,
        kernel.instance,
        reason,
        ", ".join(ended) or "none",
    )
    if not killed:
        _signal_tree(kernel, pids, signal.SIGKILL)
    return reason


def _record(kernel: KernelLimits, reason: str, rss: int, pids: list[int]) -> list[str]:
    from ..entities import RunStatus
    from ..location import resolve_location
    from ..store.factory import open_store

    store = open_store(resolve_location(kernel.workspace).store_url)
    try:
        ended = []
        tree, host = set(pids), socket.gethostname()
        for run in store.running_runs():
            by_pid = run.pid in tree and run.host in (None, host)
            by_kernel = kernel.kernel_id is not None and run.kernel_id == kernel.kernel_id
            if by_pid or by_kernel:
                store.end_run(run.run_id, RunStatus.KILLED, reason)
                ended.append(run.run_id)
        store.record_compute_event(
            kernel.instance,
            "limit_stopped",
            kernel_id=kernel.kernel_id,
            reason=reason,
            details={
                "rss_bytes": rss,
                "memory_limit_bytes": kernel.memory_bytes,
                "pids": sorted(tree),
                "runs": ended,
            },
        )
        return ended
    finally:
        store.close()


def _signal_tree(kernel: KernelLimits, pids: list[int], signum: int) -> None:
    """`signum` to the kernel's process group, and to tree processes that left the group."""
    if kernel.pgid:
        try:
            os.killpg(kernel.pgid, signum)
        except OSError:
            pass
    for pid in pids:
        try:
            if kernel.pgid is None or os.getpgid(pid) != kernel.pgid:
                os.kill(pid, signum)
        except OSError:
            continue
