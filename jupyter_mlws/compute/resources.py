"""What a compute instance's kernel gets from this machine: CPUs, GPUs, thread counts, memory limits.

Who calls this: `compute.provisioner.InstanceProvisioner` at each kernel launch (and its
cleanup), nothing else; the tests clear the GPU cache between fake GPU setups.

Decisions:
- CPUs and GPUs are handed out by process-local ledgers (one per server process: the
  provisioners of one server share them). A kernel gets the *least used* CPUs/GPUs among
  the allowed ones, so two 1-CPU kernels land on different cores and two 1-GPU kernels on
  different GPUs while there are free ones; once all are taken, kernels share rather than
  wait (Jupyter has no queue for kernel starts). Asking for more than the machine allows is
  a launch error naming both numbers.
- Allowed CPUs are this process's affinity set (`os.sched_getaffinity(0)`), which a
  container or `taskset` narrows. Allowed GPUs are the detected ones, narrowed by the
  server's own `$CUDA_VISIBLE_DEVICES` when it names indices or UUIDs.
- GPUs are detected once per process: NVML (`pynvml`, optional) first, else the
  `nvidia-smi` found on PATH (argv list, no shell, 10 s timeout), else none.
  `clear_gpu_cache()` forgets the answer (tests swap a stand-in `nvidia-smi` in).
- Limits are applied in the kernel's child process before `exec` (`child_setup`): CPU
  affinity and `RLIMIT_AS`. Only async-signal-safe work happens there (two syscalls,
  modules imported beforehand), as `preexec_fn` runs in a forked copy of a threaded server.
- `RLIMIT_AS` is the memory limit plus `DEFAULT_AS_HEADROOM` (see there). It is never set
  for GPU kernels: CUDA reserves tens of GiB of address space at initialisation.
- cgroup v2 `memory.max` is used only where a delegated, writable cgroup v2 subtree with the
  memory controller enabled is found (`find_cgroup_v2`, which only reads). Each kernel then
  gets its own child cgroup there; the child moves itself into it before `exec`.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import MLWSError

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMEXPR_MAX_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)

#: Address space allowed beyond the memory limit (`RLIMIT_AS = limit + headroom`).
#: Measured here (2 CPUs, Python 3.11, ipykernel 7.4): a bare ipykernel maps 795 MiB of
#: virtual memory for 52 MiB resident (13 threads, each with an 8 MiB stack and a glibc
#: malloc arena reservation of up to 64 MiB); after `import numpy, pandas` 1.10 GiB for
#: 128 MiB, after `import sklearn` 1.30 GiB for 207 MiB. Machines with more cores run more
#: threads (more arenas). 2 GiB covers that gap with room for the RSS watchdog's overshoot
#: (its sampling interval times the allocation rate), so normal kernels and gradual growth
#: are governed by the watchdog and its clear message, while one allocation far past the
#: limit fails at once with a MemoryError instead of taking the machine's memory.
DEFAULT_AS_HEADROOM = 2 * 1024**3

NVIDIA_SMI_ARGS = ("--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits")


class ResourceUnavailable(MLWSError):
    """A kernel asks for more CPUs or GPUs than this machine has for it."""

    http_status = 409
    code = "resource_unavailable"


@dataclass(frozen=True)
class Gpu:
    """One detected GPU (`index` is nvidia-smi's, PCI bus order)."""

    index: int
    uuid: str
    name: str
    memory_mib: int


# --- CPUs and GPUs: ledgers ------------------------------------------------------------


class Ledger:
    """Counts how many kernels use each CPU (or GPU) of this process; thread-safe.

    Instance state only (one module-level ledger per resource kind below): a provisioner
    takes with `acquire(owner, n, allowed)` and gives back with `release(owner)`.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()
        self._use: dict[int, int] = {}
        self._held: dict[str, list[int]] = {}

    def acquire(self, owner: str, count: int, allowed: Iterable[int], *, why: str = "") -> list[int]:
        """The `count` least-used of `allowed` (ties: lowest id), recorded for `owner`."""
        choices = sorted(set(allowed))
        if count > len(choices):
            detail = f" ({why})" if why else ""
            raise ResourceUnavailable(
                f"asks for {count} {self.what}{'s' if count != 1 else ''} but this machine has "
                f"{len(choices)} available to kernels{detail}"
            )
        with self._lock:
            self._release_locked(owner)
            picked = sorted(sorted(choices, key=lambda i: (self._use.get(i, 0), i))[:count])
            for item in picked:
                self._use[item] = self._use.get(item, 0) + 1
            self._held[owner] = picked
        return picked

    def release(self, owner: str) -> None:
        """Give back what `owner` holds (nothing held: nothing happens)."""
        with self._lock:
            self._release_locked(owner)

    def _release_locked(self, owner: str) -> None:
        for item in self._held.pop(owner, []):
            left = self._use.get(item, 0) - 1
            if left > 0:
                self._use[item] = left
            else:
                self._use.pop(item, None)

    def usage(self) -> dict[int, int]:
        """How many kernels hold each id now."""
        with self._lock:
            return dict(self._use)


CPU_LEDGER = Ledger("CPU")
GPU_LEDGER = Ledger("GPU")


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on (its affinity set; all of them where there is none: macOS)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


# --- GPU detection ---------------------------------------------------------------------

_gpu_cache: list[Gpu] | None = None
_gpu_lock = threading.Lock()


def detect_gpus() -> list[Gpu]:
    """This machine's GPUs: NVML, else `nvidia-smi` on PATH, else none (cached per process)."""
    global _gpu_cache
    with _gpu_lock:
        if _gpu_cache is None:
            found = _from_nvml()
            _gpu_cache = found if found is not None else _from_nvidia_smi()
        return list(_gpu_cache)


def clear_gpu_cache() -> None:
    """Forget the detected GPUs; the next `detect_gpus()` looks again."""
    global _gpu_cache
    with _gpu_lock:
        _gpu_cache = None


def _from_nvml() -> list[Gpu] | None:
    """GPUs through NVML; None when pynvml or the driver is missing."""
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            uuid, name = pynvml.nvmlDeviceGetUUID(handle), pynvml.nvmlDeviceGetName(handle)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle).total // 1024**2
            gpus.append(Gpu(index, _text(uuid), _text(name), int(memory)))
        return gpus
    except Exception:
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _from_nvidia_smi() -> list[Gpu]:
    """GPUs listed by `nvidia-smi` on PATH; none when it is missing or fails."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        done = subprocess.run(
            [tool, *NVIDIA_SMI_ARGS], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return parse_nvidia_smi(done.stdout)


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """Rows `index, uuid, name, memory.total` (csv, noheader, nounits); bad rows are skipped."""
    gpus = []
    for line in text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 4:
            continue
        try:
            gpus.append(Gpu(int(parts[0]), parts[1], ", ".join(parts[2:-1]), int(float(parts[-1]))))
        except ValueError:
            continue
    return sorted(gpus, key=lambda gpu: gpu.index)


def allowed_gpus(gpus: list[Gpu], visible: str | None) -> list[Gpu]:
    """`gpus` narrowed by a `$CUDA_VISIBLE_DEVICES` of indices or UUIDs (unset: all of them)."""
    if visible is None:
        return gpus
    names = [item.strip() for item in visible.split(",") if item.strip()]
    if not names:
        return []
    return [gpu for gpu in gpus if str(gpu.index) in names or gpu.uuid in names]


# --- environment -----------------------------------------------------------------------


def thread_env(cpus: int | None) -> dict[str, str]:
    """Thread-count variables for `cpus` CPUs (none without a CPU count)."""
    if not cpus:
        return {}
    return {name: str(cpus) for name in THREAD_VARS}


def gpu_env(assigned: list[int] | None, detected: bool) -> dict[str, str]:
    """`CUDA_DEVICE_ORDER`/`CUDA_VISIBLE_DEVICES` for the assigned GPU indices.

    No GPUs asked for: the kernel sees none ("") where there are GPUs, and nothing is
    set where there are none.
    """
    if assigned:
        return {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": ",".join(map(str, assigned))}
    if detected:
        return {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": ""}
    return {}


# --- limits applied in the child ---------------------------------------------------------


def address_space_limit(
    memory_bytes: int | None, gpus: int, headroom: int = DEFAULT_AS_HEADROOM
) -> int | None:
    """`RLIMIT_AS` for a kernel: limit + headroom; None without a limit or with GPUs."""
    if not memory_bytes or gpus > 0:
        return None
    return memory_bytes + headroom


def child_setup(
    cpus: list[int] | None, address_space: int | None, cgroup_procs: str | None = None
) -> Callable[[], None] | None:
    """A `preexec_fn` applying affinity, `RLIMIT_AS` and the cgroup move; None if nothing to do."""
    # no affinity call on macOS: the thread-count variables still bound the kernel's CPUs
    cpu_set = frozenset(cpus or ()) if hasattr(os, "sched_setaffinity") else frozenset()
    if not cpu_set and address_space is None and cgroup_procs is None:
        return None
    setaffinity = getattr(os, "sched_setaffinity", None)
    setrlimit, limit_as = resource.setrlimit, resource.RLIMIT_AS
    open_, write, close = os.open, os.write, os.close
    wronly = os.O_WRONLY

    def apply() -> None:
        if cgroup_procs is not None:
            fd = open_(cgroup_procs, wronly)
            try:
                write(fd, b"0")
            finally:
                close(fd)
        if cpu_set and setaffinity is not None:
            setaffinity(0, cpu_set)
        if address_space is not None:
            setrlimit(limit_as, (address_space, address_space))

    return apply


# --- cgroup v2 (only where delegated to us) ----------------------------------------------

CGROUP_MOUNT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CgroupCheck:
    """Where kernel cgroups may be created (`root`), or why not (`reason`)."""

    root: Path | None
    reason: str


def find_cgroup_v2(configured: str | None = None) -> CgroupCheck:
    """A writable cgroup v2 folder with the memory controller delegated, by reading only.

    `configured` (`$MLWS_CGROUP_ROOT`) names the folder; otherwise the parent of this
    process's own cgroup is tried (a delegated service that runs in `<svc>/server` and
    puts kernels beside it in `<svc>/mlws-kernel-<id>`).
    """
    fstype = _mount_type(CGROUP_MOUNT)
    if fstype != "cgroup2":
        what = "a cgroup v1 hierarchy" if _has_cgroup_v1() else (fstype or "not mounted")
        return CgroupCheck(None, f"{CGROUP_MOUNT} is {what}, not a cgroup v2 hierarchy")
    if configured:
        candidate = Path(configured)
    else:
        own = _own_cgroup()
        if own is None:
            return CgroupCheck(None, "this process is not in a cgroup v2 group")
        candidate = (CGROUP_MOUNT / own.lstrip("/")).parent
    try:
        controllers = (candidate / "cgroup.subtree_control").read_text().split()
    except OSError as err:
        return CgroupCheck(None, f"cannot read {candidate}/cgroup.subtree_control: {err.strerror}")
    if "memory" not in controllers:
        return CgroupCheck(None, f"the memory controller is not enabled for the children of {candidate}")
    if not os.access(candidate, os.W_OK):
        return CgroupCheck(None, f"{candidate} is not writable by this user (not delegated)")
    return CgroupCheck(candidate, "")


def _mount_type(mount: Path) -> str:
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 4 and fields[4] == str(mount) and " - " in line:
                    return line.split(" - ", 1)[1].split()[0]
    except OSError:
        pass
    return ""


def _has_cgroup_v1() -> bool:
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            return any(" - cgroup " in line for line in handle)
    except OSError:
        return False


def _own_cgroup() -> str | None:
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        pass
    return None


def create_kernel_cgroup(root: Path, kernel_id: str, memory_bytes: int) -> Path:
    """`root/mlws-kernel-<id>` with `memory.max` (and no swap); only after `find_cgroup_v2` said yes."""
    group = root / f"mlws-kernel-{kernel_id}"
    group.mkdir(exist_ok=True)
    (group / "memory.max").write_text(str(memory_bytes))
    swap = group / "memory.swap.max"
    if swap.exists():
        swap.write_text("0")
    return group


def remove_kernel_cgroup(group: Path) -> bool:
    """Remove a kernel's cgroup once its processes are gone; False while it is busy."""
    try:
        group.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
