"""What a model's code may reach from a scoring replica (RELIABILITY S3).

Who calls it: `serving/procs.py` (`scrubbed_env`, when it starts a replica) and
`serving/replica.py` (`enter` once the replica has materialized its models and bound its port,
before any model is loaded; `leave` when it stops). What `enter` managed is in each replica's
stats (`sandbox`), and the endpoint's stats carry a warning when the network could not be cut.

What a replica gets, before the first line of a model's code runs:
- **Another user, when the server is root**: `nobody` (no supplementary groups, no new privileges,
  no capabilities left), so nothing of the server's is writable and what is hidden below cannot be
  brought back. The manager hands that user the endpoint's folder (config and stats) and makes the
  cached model files readable.
- **The server's files hidden** (a mount namespace of its own): the workspace folder, the database
  folder, Jupyter's runtime folder (the server's token, kernels' connection keys) and the usual
  credential files in the home folder (`~/.aws`, `~/.ssh`, `~/.netrc`, ...) appear empty; only the
  endpoint's folder and the models cache are mounted back at their own paths. A folder that holds
  the Python the replica runs is never hidden (the database files in it are, one by one).
- **No network.** The replica binds its port first (in the machine's network), then moves into a
  network namespace of its own: a model that opens a connection anywhere — another machine, the
  cloud metadata service, this server on 127.0.0.1 — gets "Network is unreachable", while the
  listening socket it already holds keeps answering. As root that is `unshare(CLONE_NEWNET)`;
  otherwise a user namespace is made with it (mapping only the user's own ids, so files stay
  theirs), where the kernel allows unprivileged ones. Where neither works (seccomp, a kernel
  without user namespaces), the replica serves anyway and says why its network is shared.
- **A private temporary folder** (0700, removed when the replica stops) as `TMPDIR` and as its
  working folder.
- **Limits**: no core files (a crash writes no memory image holding request data), no file larger
  than `max_file_bytes` (1 GiB by default; a write past it fails with "File too large").
- **No credentials in its environment**: variables that hold tokens, passwords, secrets or cloud
  keys are not passed on (`scrubbed_env`); a replica needs none (its keys are hashes in its config,
  its models come from the local cache).

As root all of that is `unshare(CLONE_NEWNET | CLONE_NEWNS)` and `setuid`; otherwise a user
namespace maps the user's own ids and a second one locks the mounts (they cannot be unmounted to
uncover what they hide). Where the kernel refuses, the replica serves anyway and its stats say
what could not be done (`network` / `files`: "shared: <why>"), which the endpoint's stats repeat as
warnings.

Not yet: CPU and memory limits (an endpoint has no setting for them yet). Filesystem (Unix) sockets
are outside network namespaces and stay reachable, if the replica's user may open them. Root of a
user namespace (a rootless container) has no `nobody` to become: the replica stays root there, with
its mounts locked, and the endpoint says so.
"""

from __future__ import annotations

import ctypes
import os
import re
import resource
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
DEFAULT_MAX_FILE_BYTES = 1024**3

#: Environment variables a replica is not given: credentials of the server, Jupyter or a cloud.
_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|ACCESS_KEY|SESSION_KEY"
    r"|^AWS_|^AZURE_|^GOOGLE_APPLICATION_CREDENTIALS$|^PGPASS|^MLFLOW_TRACKING_",
    re.IGNORECASE,
)


def scrubbed_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` without the variables that hold credentials."""
    return {k: v for k, v in env.items() if not _SECRET_NAME.search(k)}


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(ctypes.c_int(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _map_own_ids(uid: int, gid: int) -> None:
    """In a fresh user namespace, be the same user and group as before (files stay theirs)."""
    with open("/proc/self/setgroups", "w") as handle:
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"{gid} {gid} 1")


CLONE_NEWNS = 0x00020000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_NOSUID = 0x2
MS_NODEV = 0x4
PR_SET_NO_NEW_PRIVS = 38
#: Credential files and folders of the home folder a replica does not see.
HOME_SECRETS = (".aws", ".azure", ".config/gcloud", ".ssh", ".kube", ".docker", ".netrc", ".pgpass",
                ".git-credentials", ".jupyter")


def isolate_network() -> str | None:
    """Move this process into a network namespace of its own; None when done, else why not."""
    network, _ = _enter_namespaces(files=False)
    return network


def _enter_namespaces(files: bool) -> tuple[str | None, str | None]:
    """New network (and, with `files`, mount) namespaces: (why the network is shared, why the
    files could not be hidden), each None when done."""
    if not os.path.exists("/proc/self/ns/net"):
        return "this system has no network namespaces", "this system has no mount namespaces"
    if os.geteuid() == 0:
        wanted = [CLONE_NEWNET | CLONE_NEWNS] if files else []
        wanted.append(CLONE_NEWNET)
    else:
        wanted = [CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS] if files else []
        wanted.append(CLONE_NEWUSER | CLONE_NEWNET)
    uid, gid = os.getuid(), os.getgid()
    refused = ""
    for flags in wanted:
        try:
            _unshare(flags)
        except OSError as err:
            refused = err.strerror or str(err)
            continue
        if flags & CLONE_NEWUSER:
            _map_own_ids(uid, gid)
        return None, (None if flags & CLONE_NEWNS or not files else f"no mount namespace ({refused})")
    who = "unshare as root" if os.geteuid() == 0 else "an unprivileged user namespace"
    why = f"{who} was refused ({refused})"
    return why, why


def _mount(source: str, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    encoded = [None if v is None else v.encode() for v in (source, target, kind, data)]
    if libc.mount(encoded[0], encoded[1], encoded[2], ctypes.c_ulong(flags), encoded[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{os.strerror(err)}: mount {target}")


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _closed_ancestor(path: str) -> str | None:
    """The highest folder above `path` that other users cannot pass through, if any."""
    parts = os.path.abspath(path).split("/")[1:-1]
    current = ""
    for part in parts:
        current += "/" + part
        try:
            if not os.stat(current).st_mode & 0o001:
                return current
        except OSError:
            return None
    return None


def hide_files(hide: list[str], keep: list[str], needed: list[str], other_user: bool = False) -> None:
    """In this process's own mount namespace: each folder of `hide` appears empty (each file,
    /dev/null), except the folders of `keep`, mounted back at their own paths. A folder that holds
    one of `needed` (the Python in use) is not hidden. With `other_user` (root about to become
    `nobody`), a closed folder above one of `keep` or `needed` (`/root` 0700 holding pyenv) is
    replaced the same way by an open empty one with only those mounted back."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    targets = [p for p in dict.fromkeys([*keep, *needed]) if os.path.isdir(p)]
    closed = sorted({c for c in (_closed_ancestor(t) for t in targets) if c}) if other_user else []
    hidden = [p for p in hide if os.path.lexists(p) and not any(_under(n, p) for n in needed)]
    opened = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in targets}
    try:
        # first the closed folders above what the replica needs, with that mounted back; then the
        # hidden ones (inside what was mounted back too), with the endpoint's folders mounted back
        for covers, wanted in ((closed, targets), (hidden, keep)):
            for path in sorted(set(covers), key=len):
                if not os.path.lexists(path):  # inside a folder covered just before
                    continue
                if os.path.isdir(path) and not os.path.islink(path):
                    _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=64k")
                elif os.path.isfile(path):
                    _mount("/dev/null", path, None, MS_BIND)
            for path in sorted(wanted, key=len):
                if path in opened and any(_under(path, c) and path != c for c in covers):
                    os.makedirs(path, exist_ok=True)
                    _mount(f"/proc/self/fd/{opened[path]}", path, None, MS_BIND | MS_REC)
    finally:
        for fd in opened.values():
            os.close(fd)


def _lock_mounts() -> None:
    """When the replica stays its user: a user namespace of its own with another mount namespace
    makes the mounts above locked together (they cannot be unmounted from inside to uncover what
    they hide)."""
    uid, gid = os.getuid(), os.getgid()
    _unshare(CLONE_NEWUSER | CLONE_NEWNS)
    _map_own_ids(uid, gid)


def become(uid: int, gid: int) -> None:
    """Root only: become `uid`/`gid` for good (no groups, no new privileges, no capabilities)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def sandbox_plan(
    workspace: str, database: str | None, endpoint_folder: str, cache_root: str
) -> dict[str, Any]:
    """What a replica of this endpoint hides, keeps and becomes (for the manager's config)."""
    from jupyter_core.paths import jupyter_runtime_dir

    hide = [jupyter_runtime_dir()]
    if "://" not in workspace and os.path.isdir(workspace):
        hide.append(os.path.abspath(workspace))
    if database:
        hide.append(os.path.dirname(os.path.abspath(database)))
        hide.extend(os.path.abspath(database) + tail for tail in ("", "-wal", "-shm", ".writelock"))
    home = os.path.expanduser("~")
    hide.extend(os.path.join(home, name) for name in HOME_SECRETS)
    user = None
    if os.geteuid() == 0:
        try:
            import pwd

            found = pwd.getpwnam("nobody")
            user = [found.pw_uid, found.pw_gid]
        except (ImportError, KeyError):
            user = [65534, 65534]
        if not (_mapped(user[0], "/proc/self/uid_map") and _mapped(user[1], "/proc/self/gid_map")):
            user = None  # root of a user namespace (a rootless container) without that user
    return {"hide": hide, "keep": [endpoint_folder, cache_root], "user": user}


def _mapped(an_id: int, map_file: str) -> bool:
    """Whether `an_id` exists in this process's user namespace."""
    try:
        with open(map_file) as handle:
            ranges = [tuple(int(x) for x in line.split()) for line in handle if line.strip()]
    except (OSError, ValueError):
        return True  # no user namespaces here: every id exists
    return any(inside <= an_id < inside + count for inside, _outside, count in ranges)


def _needed() -> list[str]:
    """Folders the running Python needs (never hidden)."""
    import sys

    found = {os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p}
    found.update(os.path.abspath(p) for p in sys.path if p and os.path.isdir(p))
    found.discard(os.getcwd())  # `python -m` puts the folder it was started in first: not needed
    return sorted(found)


def limit_resources(max_file_bytes: int) -> dict[str, int]:
    """No core files; no file written past `max_file_bytes`. Returns what was set."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    limit = max_file_bytes if hard == resource.RLIM_INFINITY else min(max_file_bytes, hard)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return {"max_file_bytes": limit, "core_file_bytes": 0}


def private_tmp(endpoint: str) -> str:
    """A fresh 0700 folder for this replica, made its TMPDIR and its working folder."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", endpoint)[:40]
    folder = tempfile.mkdtemp(prefix=f"mlws-replica-{safe}-")
    for var in ("TMPDIR", "TMP", "TEMP"):
        os.environ[var] = folder
    tempfile.tempdir = folder
    os.chdir(folder)
    return folder


def enter(config: Mapping[str, Any]) -> dict[str, Any]:
    """Confine this replica (module docstring); what was done, for its stats."""
    plan = config.get("sandbox") or {}
    network, files = _enter_namespaces(files=True)
    user = plan.get("user") if os.geteuid() == 0 else None
    if files is None:
        try:
            hide_files(list(plan.get("hide") or ()), list(plan.get("keep") or ()), _needed(), bool(user))
        except OSError as err:
            files = f"could not hide the server's files ({err.strerror or err})"
    report: dict[str, Any] = {"network": "isolated" if network is None else f"shared: {network}"}
    report.update(limit_resources(int(config.get("max_file_bytes") or DEFAULT_MAX_FILE_BYTES)))
    folder = private_tmp(str(config.get("endpoint") or "endpoint"))
    report["tmp"] = folder
    became = False
    if user:
        uid, gid = int(user[0]), int(user[1])
        try:
            os.chown(folder, uid, gid)
            become(uid, gid)
            os.environ["HOME"] = folder
            became = True
        except OSError as err:
            report["user_problem"] = f"still root: could not become uid {uid} ({err.strerror or err})"
    if files is None and not became:
        try:  # nobody to become: lock the mounts so that they cannot be undone from inside
            _lock_mounts()
        except OSError as err:
            files = f"hidden but could be uncovered ({err.strerror or err})"
    report["files"] = "hidden" if files is None else f"shared: {files}"
    report["user"] = os.geteuid()
    return report


def leave(report: Mapping[str, Any]) -> None:
    """Remove the replica's private temporary folder."""
    folder = report.get("tmp")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
