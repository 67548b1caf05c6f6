"""System metrics of running runs: CPU, memory and GPU of the owner's process tree.

Started by `MLWorkspaceApp._start_jupyter_server_extension` (local stores
only) as a background task of the services; every `interval` seconds
`SystemMetricsSampler.sample_once` runs on the store pool (psutil reads
/proc, NVML is a C call; neither may block the event loop) and logs, for
each `running` run whose owner process lives on this host:

- `system/cpu_percent`: CPU use of the owner process and all its children,
  summed (100 = one core busy). psutil needs two readings of a process to
  give a rate, so `psutil.Process` objects are kept between ticks and a
  process is counted from its second tick on; a run's first sample has no
  CPU point.
- `system/memory_rss_mb`: resident memory of the tree, in MiB.
- `system/gpu_utilization_percent`, `system/gpu_memory_mb`: only where
  `pynvml` (the `gpu` extra, nvidia-ml-py) imports and `nvmlInit()` works,
  and only while a process of the tree holds a GPU context. Utilisation is
  NVML's per-process SM share summed over GPUs (100 = one GPU busy), or the
  device's utilisation where the driver has no per-process samples; memory
  is what NVML reports for the tree's pids. NVML reports host pids: inside a
  container without the host pid namespace no process matches and no GPU
  point is logged.

Steps count samples: each key continues from the run's latest stored step of
that key (read once per run, so a server restart does not reuse steps);
timestamps are the sampling time. The server's own process (whose tree holds
every kernel) is never sampled.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any

import psutil

from ..errors import NotFound

CPU = "system/cpu_percent"
RSS = "system/memory_rss_mb"
GPU_UTIL = "system/gpu_utilization_percent"
GPU_MEMORY = "system/gpu_memory_mb"
MIB = 1024 * 1024


class ProcessTree:
    """One run's owner process and its descendants, kept between ticks for CPU rates."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._processes: dict[int, psutil.Process] = {}
        self.next_step: dict[str, int] = {}

    def sample(self) -> tuple[float | None, float, set[int]] | None:
        """(cpu percent or None on the first look, rss MiB, pids), or None when the owner is gone."""
        try:
            root = self._processes.get(self.pid) or psutil.Process(self.pid)
            members = [root, *root.children(recursive=True)]
        except psutil.Error:
            return None
        current: dict[int, psutil.Process] = {}
        cpu, rss, rated = 0.0, 0, False
        for process in members:
            known = self._processes.get(process.pid)
            if known is not None and known == process:  # same pid and creation time
                process = known
            try:
                with process.oneshot():
                    percent = process.cpu_percent(None)
                    rss += process.memory_info().rss
            except psutil.Error:  # exited between the listing and the reading
                continue
            if process is known:
                cpu += percent
                rated = True
            current[process.pid] = process
        self._processes = current
        if not current:
            return None
        return (cpu if rated else None), rss / MIB, set(current)


class NvmlProbe:
    """GPU use per set of pids through NVML; `open()` is None wherever NVML does not answer."""

    def __init__(self, nvml: Any, handles: list[Any]) -> None:
        self.nvml = nvml
        self.handles = handles
        self._last_seen = [0] * len(handles)

    @classmethod
    def open(cls, log: logging.Logger) -> NvmlProbe | None:
        try:
            import pynvml
        except ImportError:
            return None
        try:
            pynvml.nvmlInit()
        except Exception as err:
            log.debug("mlws: NVML unavailable (%s); no GPU system metrics", err)
            return None
        try:
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:
            log.debug("mlws: NVML lists no GPU; no GPU system metrics", exc_info=True)
            cls._shutdown(pynvml)
            return None
        return cls(pynvml, handles) if handles else None

    def close(self) -> None:
        self._shutdown(self.nvml)

    @staticmethod
    def _shutdown(nvml: Any) -> None:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass

    def sample(self, pids: set[int]) -> tuple[float, float] | None:
        """(utilisation percent, memory MiB) of `pids`, or None when none of them uses a GPU."""
        nvml = self.nvml
        util, memory, found = 0.0, 0, False
        for index, handle in enumerate(self.handles):
            processes: list[Any] = []
            for listing in (
                nvml.nvmlDeviceGetComputeRunningProcesses,
                nvml.nvmlDeviceGetGraphicsRunningProcesses,
            ):
                try:
                    processes.extend(listing(handle))
                except Exception:
                    continue
            mine = [p for p in processes if p.pid in pids]
            if not mine:
                continue
            found = True
            memory += sum(int(p.usedGpuMemory or 0) for p in mine)
            util += self._utilisation(index, handle, pids)
        return (util, memory / MIB) if found else None

    def _utilisation(self, index: int, handle: Any, pids: set[int]) -> float:
        nvml = self.nvml
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(handle, self._last_seen[index])
        except Exception as err:
            if type(err).__name__ == "NVMLError_NotFound":  # no sample since the last look: idle
                return 0.0
            try:  # no per-process accounting: the device's share
                return float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            except Exception:
                return 0.0
        latest: dict[int, tuple[int, float]] = {}
        for s in samples:
            self._last_seen[index] = max(self._last_seen[index], int(s.timeStamp))
            if s.pid in pids and (s.pid not in latest or s.timeStamp > latest[s.pid][0]):
                latest[s.pid] = (int(s.timeStamp), float(s.smUtil))
        return sum(value for _, value in latest.values())


class SystemMetricsSampler:
    """Logs `system/*` metrics for running runs owned on this host (see the module docstring)."""

    def __init__(
        self, services: Any, interval: float = 2.0, log: logging.Logger | None = None, host: str | None = None
    ) -> None:
        self.services = services
        self.interval = interval
        self.log = log or logging.getLogger("jupyter_mlws.sysmetrics")
        self.host = host or socket.gethostname()
        self._trees: dict[str, ProcessTree] = {}
        self._nvml: NvmlProbe | None = None
        self._nvml_tried = False

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    await self.services.run(self.sample_once)
                except Exception:
                    self.log.exception("mlws: sampling system metrics failed")
                await asyncio.sleep(self.interval)
        finally:
            if self._nvml is not None:
                self._nvml.close()
                self._nvml = None

    @property
    def gpu(self) -> NvmlProbe | None:
        """The NVML probe, opened on first use (None where NVML does not answer)."""
        if not self._nvml_tried:
            self._nvml_tried = True
            self._nvml = NvmlProbe.open(self.log)
        return self._nvml

    def sample_once(self) -> int:
        """One tick (blocking: runs on the store pool); returns the number of points logged."""
        store = self.services.store
        me = os.getpid()
        infos = [
            info
            for info in store.running_runs()
            if info.host == self.host and info.pid is not None and info.pid > 0 and info.pid != me
        ]
        live = {info.run_id for info in infos}
        for run_id in list(self._trees):
            if run_id not in live:
                del self._trees[run_id]
        written = 0
        for info in infos:
            tree = self._trees.get(info.run_id)
            if tree is None or tree.pid != info.pid:
                tree = self._trees[info.run_id] = ProcessTree(info.pid)  # type: ignore[arg-type]
            sampled = tree.sample()
            if sampled is None:
                continue  # the owner is gone: the supervisor ends the run
            cpu, rss, pids = sampled
            values: dict[str, float] = {RSS: rss}
            if cpu is not None:
                values[CPU] = cpu
            gpu = self.gpu.sample(pids) if self.gpu is not None else None
            if gpu is not None:
                values[GPU_UTIL], values[GPU_MEMORY] = gpu
            try:
                now = int(time.time() * 1000)
                points = [
                    (key, value, self._next_step(store, tree, info.run_id, key), now)
                    for key, value in values.items()
                ]
                store.log_batch(info.run_id, metrics=points)
            except NotFound:
                self._trees.pop(info.run_id, None)
                continue
            except Exception:
                self.log.warning("mlws: could not log system metrics of run %s", info.run_id, exc_info=True)
                continue
            written += len(points)
        return written

    @staticmethod
    def _next_step(store: Any, tree: ProcessTree, run_id: str, key: str) -> int:
        step = tree.next_step.get(key)
        if step is None:
            steps = store.get_metric_history(run_id, key).steps
            step = int(max(steps)) + 1 if len(steps) else 0
        tree.next_step[key] = step + 1
        return step
