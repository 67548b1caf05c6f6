"""What a run ran on: Python, platform, host, CPU/GPU, installed packages and the git state.

Who calls it: the `%%mlrun` finalizer (`notebook/mlrun.py`) from its background thread, after the
cell ran, through `record_environment(run)`; jobs will call it the same way. It lives in `client/`
because it needs nothing from a kernel or a server, and imports nothing heavy.

Decisions:

- `capture_environment` returns plain JSON-ready data; `record_environment` stores it as the run's
  ``environment.json`` artifact and copies the few facts people filter on into tags (`mlws.python`,
  `mlws.host`, `mlws.git.commit`, `mlws.git.dirty`), only the ones that are known.
- Cost. Reading every installed package's metadata takes ~200 ms, so the package list is cached per
  process and reused while ``sys.path`` and the modification times of its site-/dist-packages
  folders (and zip/egg entries) are unchanged: installing or removing a package touches one of them.
  Other ``sys.path`` entries (the current folder, a project folder) are left out of that stamp on
  purpose: saving a notebook there would otherwise throw the cache away every time. CPU and GPU facts
  do not change while a process lives and are read once. What remains per call is git: two short
  ``git`` processes (`status --porcelain=v2 --branch`, `config --get-regexp`), a few ms.
- GPUs: NVML through ``pynvml`` when it is importable, else ``nvidia-smi --query-gpu`` when it is on
  PATH (bounded by `COMMAND_TIMEOUT`), else an empty list. A failure of either is an empty list,
  never an error: capturing the environment must not fail a run.
- Git: the repository containing `cwd` (git's own discovery). ``dirty`` means tracked files differ
  from the commit (``git status --porcelain --untracked-files=no`` is non-empty); untracked files do
  not count, as with ``git describe --dirty``. git runs with optional locks off (it never takes the
  index lock the user's own git may want) and with ``core.fsmonitor`` off (a repository's config
  cannot make us run its program). The remote URL loses any password, and a bare user name on an
  http(s) URL too (that is where access tokens go). No git, or no repository: ``git`` is None.
- Processes are started from one place here (`_run_command`), with argument lists, never a shell.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..location import redact_url

if TYPE_CHECKING:
    from .run import Run

__all__ = ["capture_environment", "environment_tags", "record_environment"]

#: Seconds any helper process (git, nvidia-smi) may take before we give up on what it would tell.
COMMAND_TIMEOUT = 5.0
#: The artifact the environment is stored as.
ENVIRONMENT_ARTIFACT = "environment.json"

_lock = threading.Lock()
_packages_cache: tuple[tuple[Any, ...], dict[str, str]] | None = None
_hardware_cache: tuple[dict[str, Any], list[dict[str, Any]]] | None = None


def capture_environment(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The environment of this process, as JSON-ready data (see the module docstring).

    Keys: ``python`` {version, implementation, executable}, ``platform`` {system, release, machine},
    ``host``, ``cpu`` {count, model}, ``gpus`` [{index, name, memory_mb}], ``packages`` {name:
    version}, ``git`` {commit, branch, dirty, remote} or None.
    """
    folder = os.fspath(cwd) if cwd is not None else os.getcwd()
    cpu, gpus = _hardware()
    uname = platform.uname()
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "platform": {"system": uname.system, "release": uname.release, "machine": uname.machine},
        "host": socket.gethostname(),
        "cpu": dict(cpu),
        "gpus": [dict(gpu) for gpu in gpus],
        "packages": dict(_packages()),
        "git": _git_state(folder),
    }


def environment_tags(env: dict[str, Any]) -> dict[str, str]:
    """The tags a run gets from its environment; only the facts that are known."""
    tags: dict[str, str] = {}
    version = (env.get("python") or {}).get("version")
    if version:
        tags["mlws.python"] = str(version)
    if env.get("host"):
        tags["mlws.host"] = str(env["host"])
    git = env.get("git") or {}
    if git.get("commit"):
        tags["mlws.git.commit"] = str(git["commit"])
    if isinstance(git.get("dirty"), bool):
        tags["mlws.git.dirty"] = "true" if git["dirty"] else "false"
    return tags


def record_environment(
    run: Run, cwd: str | os.PathLike[str] | None = None, env: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Store the environment as the run's ``environment.json`` and set its tags; returns it."""
    if env is None:
        env = capture_environment(cwd)
    data = json.dumps(env, indent=2, sort_keys=True, default=str).encode("utf-8")
    run.log_bytes(data, ENVIRONMENT_ARTIFACT)
    tags = environment_tags(env)
    if tags:
        run.set_tags(tags)
    return env


# ----- packages --------------------------------------------------------------------------------


def _packages() -> dict[str, str]:
    """Installed distributions {name: version}, the first found on sys.path winning (as imports do)."""
    global _packages_cache
    stamp = _path_stamp()
    with _lock:
        if _packages_cache is not None and _packages_cache[0] == stamp:
            return _packages_cache[1]
    from importlib import metadata

    found: dict[str, str] = {}
    for dist in metadata.distributions():
        try:
            name, version = dist.name, dist.version
        except Exception:  # a broken dist-info folder must not break the capture
            continue
        if name and name not in found:
            found[name] = str(version)
    packages = dict(sorted(found.items(), key=lambda item: item[0].lower()))
    with _lock:
        _packages_cache = (stamp, packages)
    return packages


def _path_stamp() -> tuple[Any, ...]:
    """What changes when a package is installed or removed: sys.path and its package folders' mtimes."""
    stamp: list[Any] = []
    for entry in sys.path:
        base = os.path.basename(entry.rstrip("/\\"))
        if base in ("site-packages", "dist-packages") or entry.endswith((".zip", ".egg")):
            try:
                stamp.append((entry, os.stat(entry).st_mtime_ns))
            except OSError:
                stamp.append((entry, None))
        else:
            stamp.append(entry)
    return tuple(stamp)


# ----- hardware --------------------------------------------------------------------------------


def _hardware() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """CPU facts and GPUs, read once per process."""
    global _hardware_cache
    with _lock:
        if _hardware_cache is not None:
            return _hardware_cache
    cpu = {"count": os.cpu_count(), "model": _cpu_model()}
    gpus = _gpus()
    with _lock:
        _hardware_cache = (cpu, gpus)
    return cpu, gpus


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def _gpus() -> list[dict[str, Any]]:
    gpus = _gpus_from_nvml()
    if gpus is None:
        gpus = _gpus_from_nvidia_smi()
    return gpus or []


def _gpus_from_nvml() -> list[dict[str, Any]] | None:
    """GPUs through NVML; None when pynvml is missing or NVML does not answer."""
    try:
        import pynvml
    except Exception:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            name = pynvml.nvmlDeviceGetName(handle)
            if isinstance(name, bytes):
                name = name.decode("utf-8", errors="replace")
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle).total // (1024 * 1024)
            gpus.append({"index": index, "name": str(name), "memory_mb": int(memory)})
        return gpus
    except Exception:
        return None
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:
            pass


def _gpus_from_nvidia_smi() -> list[dict[str, Any]]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    out = _run_command(
        [smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"], cwd=None
    )
    gpus = []
    for line in (out or "").splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) < 3:
            continue
        try:
            gpus.append({"index": int(parts[0]), "name": ",".join(parts[1:-1]), "memory_mb": int(parts[-1])})
        except ValueError:
            continue
    return gpus


# ----- git -------------------------------------------------------------------------------------


def _git_state(cwd: str) -> dict[str, Any] | None:
    """{commit, branch, dirty, remote} of the repository containing `cwd`; None outside one."""
    git = shutil.which("git")
    if git is None or not os.path.isdir(cwd):
        return None
    base = [git, "-c", "core.fsmonitor=false", "-C", cwd]
    status = _run_command([*base, "status", "--porcelain=v2", "--branch", "--untracked-files=no"], cwd)
    if status is None:
        return None  # not a repository, git refused it (ownership), or it took too long
    commit = branch = None
    dirty = False
    for line in status.splitlines():
        if line.startswith("# branch.oid "):
            oid = line[len("# branch.oid ") :].strip()
            commit = oid if oid != "(initial)" else None
        elif line.startswith("# branch.head "):
            head = line[len("# branch.head ") :].strip()
            branch = head if head != "(detached)" else None
        elif line and not line.startswith("#"):
            dirty = True
    remotes = _run_command([*base, "config", "--get-regexp", r"^remote\..*\.url$"], cwd) or ""
    urls: dict[str, str] = {}
    for line in remotes.splitlines():
        key, _, url = line.partition(" ")
        name = key[len("remote.") : -len(".url")]
        urls.setdefault(name, url.strip())
    remote = urls.get("origin") or next(iter(urls.values()), None)
    return {
        "commit": commit,
        "branch": branch,
        "dirty": dirty,
        "remote": _redact_remote(remote) if remote else None,
    }


def _redact_remote(url: str) -> str:
    """A remote URL safe to store: no password, and no bare user name on http(s) (it is often a token)."""
    url = redact_url(url)
    if "://" not in url:
        return url  # scp-like "git@host:path": a user name, no secret
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https") and parts.username and parts.password is None:
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, "***@" + host, parts.path, parts.query, parts.fragment))
    return url


# ----- processes -------------------------------------------------------------------------------


def _run_command(argv: list[str], cwd: str | None) -> str | None:
    """Run a helper program (argv list, no shell, no stdin, bounded); its stdout, or None on failure."""
    env = dict(os.environ, LC_ALL="C", GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")
    try:
        done = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", errors="replace")
