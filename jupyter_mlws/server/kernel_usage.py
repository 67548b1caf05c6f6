"""CPU and memory of a kernel's process tree, for `GET /compute/kernels` (issue 7).

`ComputeManager.kernel_usages` (server/compute.py) fills one row per instance kernel with
what the kernel manager knows, then runs `ProcessTreeMeter.measure` on the store pool
(psutil reads /proc: never on the event loop). Decisions: the tree is the provisioner's pid
and all its descendants (a kernel's subprocesses and multiprocessing workers count toward
its use); `cpu_percent` is of one CPU (100 = one busy CPU) and measures since the previous
sample of the same process, so the `psutil.Process` objects are kept between calls (the
first sample of a process reads 0); a vanished or unreadable process is skipped.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class ProcessTreeMeter:
    """Samples process trees; keeps the psutil objects between samples (thread-safe)."""

    def __init__(self) -> None:
        self._procs: dict[int, Any] = {}  # pid -> psutil.Process (cpu_percent needs the same object)
        self._lock = threading.Lock()

    def measure(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add `started` (ms), `uptime_s`, `cpu_percent` and `rss_bytes` to rows that have a `pid`."""
        import psutil

        now = time.time()
        with self._lock:
            for row in rows:
                cpu, rss, started = 0.0, 0, None
                pid = row["pid"]
                if pid:
                    try:
                        root = self._process(psutil, pid)
                        started = root.create_time()
                        tree = [root, *root.children(recursive=True)]
                    except psutil.Error:
                        tree = []
                    for proc in tree:
                        try:
                            proc = self._process(psutil, proc.pid)
                            cpu += proc.cpu_percent(None)
                            rss += proc.memory_info().rss
                        except psutil.Error:
                            continue
                row["started"] = int(started * 1000) if started else None
                row["uptime_s"] = round(max(0.0, now - started), 3) if started else 0.0
                row["cpu_percent"] = round(cpu, 1)
                row["rss_bytes"] = rss
            for pid in [p for p, proc in self._procs.items() if not proc.is_running()]:
                self._procs.pop(pid, None)
        return rows

    def _process(self, psutil: Any, pid: int) -> Any:
        proc = self._procs.get(pid)
        if proc is None or not proc.is_running():  # is_running also notices a reused pid
            proc = self._procs[pid] = psutil.Process(pid)
        return proc
