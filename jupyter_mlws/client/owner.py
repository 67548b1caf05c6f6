"""Which process owns a run: `process_owner() -> (host, pid, kernel_id)`.

Called by `Workspace.start_run` for every new run; the store records the
answer on the run, and the server's supervisor (`server/supervisor.py`) ends
the run `killed` when that process or kernel goes away.

Decisions:
- `host` is `socket.gethostname()`, the same call the supervisor compares
  with, so "is this run mine to check?" needs no DNS.
- `kernel_id` is known only inside a Jupyter kernel: when `ipykernel` is
  already imported (never imported here, to keep `import jupyter_mlws` light
  and scripts free of it), its connection file `kernel-<id>.json` names the
  kernel the way jupyter_server does. Anything unexpected gives None.
- The answer is cached per pid: a forked child computes its own pid (and
  keeps the kernel id, which is right: the kernel owns its workers).
"""

from __future__ import annotations

import os
import socket
import sys

_cache: dict[int, tuple[str, int, str | None]] = {}


def process_owner() -> tuple[str, int, str | None]:
    """(host, pid, kernel_id) of this process; kernel_id is None outside a Jupyter kernel."""
    pid = os.getpid()
    found = _cache.get(pid)
    if found is None:
        found = (_host(), pid, _kernel_id())
        _cache.clear()  # a fork inherits its parent's entry; keep only ours
        _cache[pid] = found
    return found


def _host() -> str:
    try:
        return socket.gethostname()
    except OSError:
        return "localhost"


def _kernel_id() -> str | None:
    if "ipykernel" not in sys.modules:
        return None
    try:
        from ipykernel.connect import get_connection_file

        name = os.path.basename(get_connection_file())
    except Exception:  # not a running kernel (e.g. ipykernel imported by a test tool)
        return None
    if not (name.startswith("kernel-") and name.endswith(".json")):
        return None
    kernel_id = name[len("kernel-") : -len(".json")]
    return kernel_id or None
