"""What a model's code may reach from a scoring replica (RELIABILITY S3).

Who calls it: `serving/procs.py` (`scrubbed_env`, when it starts a replica) and
`serving/replica.py` (`enter` once the replica has materialized its models and bound its port,
before any model is loaded; `leave` when it stops). What `enter` managed is in each replica's
stats (`sandbox`), and the endpoint's stats carry a warning when the network could not be cut.

What a replica gets, before the first line of a model's code runs:
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

Not yet (RELIABILITY S3 names them; issue 19): running the replica as an unprivileged user when
the server runs as root, and hiding the workspace database and Jupyter's runtime files (which hold
the server's token) from it — the replica still runs as the server's user and can read what that
user can. Filesystem (Unix) sockets are outside network namespaces and stay reachable.
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


def isolate_network() -> str | None:
    """Move this process into a network namespace of its own; None when done, else why not."""
    if not hasattr(os, "getuid") or not os.path.exists("/proc/self/ns/net"):
        return "this system has no network namespaces"
    try:
        _unshare(CLONE_NEWNET)
        return None
    except OSError as err:
        first = err
    if os.geteuid() == 0:
        return f"unshare(CLONE_NEWNET) was refused ({first.strerror})"
    uid, gid = os.getuid(), os.getgid()
    try:
        _unshare(CLONE_NEWUSER | CLONE_NEWNET)
        _map_own_ids(uid, gid)
        return None
    except OSError as err:
        return (
            f"no network namespace: the server is not root and an unprivileged user namespace "
            f"was refused ({err.strerror})"
        )


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
    why_not = isolate_network()
    report: dict[str, Any] = {"network": "isolated" if why_not is None else f"shared: {why_not}"}
    report.update(limit_resources(int(config.get("max_file_bytes") or DEFAULT_MAX_FILE_BYTES)))
    report["tmp"] = private_tmp(str(config.get("endpoint") or "endpoint"))
    report["user"] = os.geteuid()
    return report


def leave(report: Mapping[str, Any]) -> None:
    """Remove the replica's private temporary folder."""
    folder = report.get("tmp")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
