"""The RSS watchdog: stops a compute instance's kernel that grows past its memory limit.

Who calls this: `compute.provisioner.InstanceProvisioner` starts one per kernel that has a
memory limit (after launch) and stops it at cleanup/terminate/kill.

Decisions:
- A daemon thread in the server process (no event loop needed, works the same under
  jupyter_server, nbclient, papermill or `jupyter console`), sampling every 0.25 s.
- What is measured is the resident memory of the kernel's whole process tree (the kernel
  and every process it started: a `subprocess` or `multiprocessing` child counts against
  the instance). `RLIMIT_AS` covers a single oversized allocation; this covers gradual growth,
  which the address-space limit cannot see (virtual size is far above resident size).
- RSS is summed over the tree, so pages a forked worker shares with its parent count twice:
  a stricter measure (PSS from smaps) costs milliseconds per process per sample, RSS costs
  microseconds; over-counting errs on the side of the machine.
- On a breach the callback runs once, in the watchdog's thread, and the watchdog ends. The
  callback (`compute.limits.stop_for_limit`) does the slow part (the store).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psutil

DEFAULT_INTERVAL = 0.25

#: `on_breach(rss_bytes, pids_of_the_tree)`
BreachCallback = Callable[[int, list[int]], None]


def tree_rss(root: psutil.Process) -> tuple[int, list[int]]:
    """Resident bytes of `root` and all its descendants, and their pids."""
    total, pids = 0, []
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, []
    for process in processes:
        try:
            total += process.memory_info().rss
            pids.append(process.pid)
        except psutil.Error:
            continue
    return total, pids


class RssWatchdog:
    """Samples the RSS of process `pid`'s tree; calls `on_breach` once when it exceeds `limit`."""

    def __init__(
        self,
        pid: int,
        limit: int,
        on_breach: BreachCallback,
        *,
        interval: float = DEFAULT_INTERVAL,
        name: str = "",
        log: logging.Logger | None = None,
    ) -> None:
        self.pid = pid
        self.limit = limit
        self.interval = interval
        self.peak = 0
        self.last_rss = 0  # the latest sample (bytes), for usage displays
        self.breached = False
        self._on_breach = on_breach
        self._log = log or logging.getLogger(__name__)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name=f"mlws-rss-watchdog-{name or pid}", daemon=True
        )

    def start(self) -> RssWatchdog:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sampling; waits for a breach being handled to finish (not when called from it)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _watch(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            if not root.is_running():
                return
            rss, pids = tree_rss(root)
            self.last_rss = rss
            self.peak = max(self.peak, rss)
            if rss > self.limit:
                self.breached = True
                try:
                    self._on_breach(rss, pids)
                except Exception:
                    self._log.exception("stopping kernel %s for its memory limit failed", self.pid)
                return
            self._stop.wait(self.interval)
