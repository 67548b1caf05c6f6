"""Compute instance definitions and the kernelspecs that make them kernel choices.

Who calls this: `ws.compute` (client/compute.py), the server's REST handlers and
its ComputeManager (kernelspec sync at start), and `jupyter mlws compute`.

Decisions:
- Instance `X` is kernelspec `mlws-X` (DESIGN.md §5), written into the user's
  Jupyter data dir (`jupyter_data_dir()/kernels`, which honours
  `$JUPYTER_DATA_DIR`), the place `jupyter kernelspec install --user` uses. So the
  instance is a kernel choice for every Jupyter client of this user: JupyterLab's
  Launcher and kernel picker, nbclient, papermill, `jupyter console`.
- The workspace store is the source of truth; a kernelspec is a projection of it,
  rewritten when the instance changes and re-synced when the server starts. The
  whole definition travels in the kernelspec's provisioner config, so starting a
  kernel never opens the store (kernel start stays within DESIGN.md §6's budget).
- The kernelspec names the workspace; `sync_kernelspecs` removes only `mlws-*`
  folders that name *this* workspace, never another workspace's.
- Sizes are checked when defined: more CPUs than this machine lets us use is
  refused then (a definition is for this machine); GPUs are checked at launch,
  against the GPUs detected there.
- Memory sizes: "512MiB", "2GiB", "1.5GiB" (binary) and "2G"/"2GB" (read as
  binary too, as Azure ML and Kubernetes users mean them), or a number of bytes.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..entities import KERNELSPEC_PREFIX, ComputeInstance
from ..errors import InvalidParameter
from ..validation import NAME_PATTERN

PROVISIONER_NAME = "mlws-instance"
MIN_MEMORY = 64 * 1024**2
MAX_IDLE_MINUTES = 7 * 24 * 60
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
#: Set by the provisioner itself; an instance may not override them.
RESERVED_ENV = frozenset(
    {"MLWS_WORKSPACE", "MLWS_COMPUTE_TARGET", "MLWS_MEMORY_LIMIT", "MLWS_INSTANCE_CPUS", "JPY_SESSION_NAME"}
)
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_memory(value: str | int | float | None) -> int | None:
    """Bytes from "2GiB", "512MiB", "2G", "2GB", "1.5GiB" or a number of bytes; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidParameter(f"memory must be a size such as '2GiB', not {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value <= 0:
            raise InvalidParameter(f"memory must be a positive size, not {value!r}")
        return int(value)
    if not isinstance(value, str):
        raise InvalidParameter(f"memory must be a size such as '2GiB', not {type(value).__name__}")
    match = _SIZE.match(value)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise InvalidParameter(
            f"memory {value!r} is not a size: use e.g. '512MiB', '2GiB' or a number of bytes"
        )
    size = int(float(match.group(1)) * _UNITS[unit])
    if size <= 0:
        raise InvalidParameter(f"memory must be a positive size, not {value!r}")
    return size


def format_bytes(size: int | float | None) -> str:
    """'2 GiB', '512 MiB', '1.5 GiB'; '' for None."""
    if size is None:
        return ""
    value, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.0f} {unit}" if unit == "B" or value == int(value) else f"{value:.1f} {unit}"


def available_cpus() -> int:
    """CPUs this process may run on (its affinity set, which containers narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def validate_instance(
    name: str,
    *,
    cpus: int | None = None,
    memory: str | int | None = None,
    gpus: int | None = 0,
    idle_shutdown_minutes: float | None = None,
    env: Mapping[str, Any] | None = None,
    python: str | None = None,
    description: str | None = "",
    created_time: int = 0,
    updated_time: int = 0,
) -> ComputeInstance:
    """A checked `ComputeInstance`, or `InvalidParameter` naming what is wrong."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidParameter(
            f"instance name {name!r} is not valid: use 1-63 lowercase letters, digits and '-', "
            "starting with a letter or digit"
        )
    return ComputeInstance(
        name=name,
        cpus=_cpus(cpus),
        memory_bytes=_memory(memory),
        gpus=_gpus(gpus),
        idle_shutdown_minutes=_idle(idle_shutdown_minutes),
        env=_env(env),
        python=_python(python),
        description=_description(description),
        created_time=created_time,
        updated_time=updated_time,
    )


def _cpus(cpus: Any) -> int | None:
    if cpus is None:
        return None
    if isinstance(cpus, bool) or not isinstance(cpus, int):
        raise InvalidParameter(f"cpus must be a whole number, not {cpus!r}")
    have = available_cpus()
    if cpus < 1:
        raise InvalidParameter(f"cpus must be at least 1, not {cpus}")
    if cpus > have:
        raise InvalidParameter(f"cpus={cpus} but this machine lets the workspace use {have} CPU(s)")
    return cpus


def _memory(memory: Any) -> int | None:
    size = parse_memory(memory)
    if size is not None and size < MIN_MEMORY:
        raise InvalidParameter(f"memory {format_bytes(size)} is too small: a kernel needs at least 64 MiB")
    return size


def _gpus(gpus: Any) -> int:
    if gpus is None:
        return 0
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0 or gpus > 64:
        raise InvalidParameter(f"gpus must be a whole number from 0 to 64, not {gpus!r}")
    return gpus


def _idle(minutes: Any) -> float | None:
    if minutes is None or minutes == 0:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not math.isfinite(minutes):
        raise InvalidParameter(f"idle_shutdown_minutes must be a number of minutes, not {minutes!r}")
    if minutes < 0 or minutes > MAX_IDLE_MINUTES:
        raise InvalidParameter(
            f"idle_shutdown_minutes must be from 0 (never) to {MAX_IDLE_MINUTES}, not {minutes}"
        )
    return float(minutes)


def _env(env: Any) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, Mapping):
        raise InvalidParameter("env must be a mapping of variable names to strings")
    checked: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise InvalidParameter(f"env: {key!r} is not a valid environment variable name")
        if key in RESERVED_ENV:
            raise InvalidParameter(f"env: {key} is set by the workspace and cannot be overridden")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise InvalidParameter(f"env: the value of {key} must be a string")
        text = str(value)
        if "\x00" in text or len(text) > 32_768:
            raise InvalidParameter(f"env: the value of {key} is not a valid environment value")
        checked[key] = text
    if len(checked) > 256:
        raise InvalidParameter("env: at most 256 variables")
    return checked


def _python(python: Any) -> str | None:
    if python is None or python == "":
        return None
    if not isinstance(python, str):
        raise InvalidParameter("python must be the path of a Python interpreter")
    path = Path(python).expanduser()
    if not path.is_absolute():
        found = shutil.which(python)
        if found is None:
            raise InvalidParameter(f"python {python!r} is not an absolute path and is not on PATH")
        path = Path(found)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise InvalidParameter(f"python {str(path)!r} is not an executable file")
    return str(path)


def _description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str) or len(description) > 5000:
        raise InvalidParameter("description must be a string of at most 5000 characters")
    return description


# ----- kernelspecs -----------------------------------------------------------------------
def kernelspec_dir() -> Path:
    """Where instance kernelspecs go: the user's Jupyter data dir (`$JUPYTER_DATA_DIR` honoured)."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "kernels"


def display_name(instance: ComputeInstance) -> str:
    """'cpu-small (2 CPUs, 4 GiB)'; sizes left out when unlimited."""
    parts = []
    if instance.cpus is not None:
        parts.append(f"{instance.cpus} CPU" + ("s" if instance.cpus != 1 else ""))
    if instance.memory_bytes is not None:
        parts.append(format_bytes(instance.memory_bytes))
    if instance.gpus:
        parts.append(f"{instance.gpus} GPU" + ("s" if instance.gpus != 1 else ""))
    return f"{instance.name} ({', '.join(parts)})" if parts else instance.name


def kernelspec_json(instance: ComputeInstance, workspace: str) -> dict[str, Any]:
    """The kernel.json of instance `instance` in `workspace` (see the brief in docs/compute.md)."""
    return {
        "argv": [instance.python or sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name(instance),
        "language": "python",
        "interrupt_mode": "signal",
        "metadata": {
            "debugger": True,
            "kernel_provisioner": {
                "provisioner_name": PROVISIONER_NAME,
                "config": {"instance": instance.to_dict(), "workspace": workspace},
            },
            "mlws": {"instance": instance.name, "workspace": workspace},
        },
    }


def write_kernelspec(instance: ComputeInstance, workspace: str, kernels_dir: Path | None = None) -> Path:
    """Write (or replace) `mlws-<name>/kernel.json` atomically; returns the kernelspec folder."""
    root = Path(kernels_dir) if kernels_dir is not None else kernelspec_dir()
    folder = root / instance.kernelspec
    folder.mkdir(parents=True, exist_ok=True)
    data = json.dumps(kernelspec_json(instance, workspace), indent=1).encode()
    fd, tmp = tempfile.mkstemp(prefix=".kernel.", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, folder / "kernel.json")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return folder


def remove_kernelspec(name: str, kernels_dir: Path | None = None) -> bool:
    """Remove the kernelspec of instance `name`; False when there was none."""
    root = Path(kernels_dir) if kernels_dir is not None else kernelspec_dir()
    folder = root / (KERNELSPEC_PREFIX + name)
    if not NAME_PATTERN.match(name) or not folder.is_dir():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def kernelspec_workspace(folder: Path) -> str | None:
    """The workspace an `mlws-*` kernelspec folder names (None: not ours or unreadable)."""
    try:
        spec = json.loads((folder / "kernel.json").read_text())
        named = spec["metadata"]["mlws"]["workspace"]
        return named if isinstance(named, str) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sync_kernelspecs(
    instances: Iterable[ComputeInstance], workspace: str, kernels_dir: Path | None = None
) -> None:
    """Write every instance's kernelspec; remove this workspace's `mlws-*` kernelspecs no instance has."""
    root = Path(kernels_dir) if kernels_dir is not None else kernelspec_dir()
    names = set()
    for instance in instances:
        write_kernelspec(instance, workspace, root)
        names.add(instance.kernelspec)
    if not root.is_dir():
        return
    for folder in root.glob(KERNELSPEC_PREFIX + "*"):
        if folder.name not in names and kernelspec_workspace(folder) == workspace:
            shutil.rmtree(folder, ignore_errors=True)


_CHANGEABLE = (
    "cpus",
    "memory",
    "memory_bytes",
    "gpus",
    "idle_shutdown_minutes",
    "env",
    "python",
    "description",
)


def apply_changes(instance: ComputeInstance, **changes: Any) -> ComputeInstance:
    """`instance` with `changes` (field names, or `memory` as a size), validated as a whole."""
    unknown = set(changes) - set(_CHANGEABLE)
    if unknown:
        raise InvalidParameter(f"cannot change {', '.join(sorted(unknown))} of a compute instance")
    merged: dict[str, Any] = {
        "cpus": instance.cpus,
        "memory": instance.memory_bytes,
        "gpus": instance.gpus,
        "idle_shutdown_minutes": instance.idle_shutdown_minutes,
        "env": instance.env,
        "python": instance.python,
        "description": instance.description,
    }
    if "memory_bytes" in changes:
        changes["memory"] = changes.pop("memory_bytes")
    merged.update(changes)
    return validate_instance(
        instance.name, **merged, created_time=instance.created_time, updated_time=instance.updated_time
    )


def changed_fields(instance: ComputeInstance) -> dict[str, Any]:
    """The stored fields of `instance` (what `update_compute_target` takes)."""
    data = instance.to_dict()
    return {
        k: data[k]
        for k in ("cpus", "memory_bytes", "gpus", "idle_shutdown_minutes", "env", "python", "description")
    }
