"""In a compute instance's kernel: a MemoryError says which limit it ran into.

Who calls this: `notebook/kernel_startup.py` calls `install(get_ipython())` when the kernel
starts (it does nothing outside compute instances with a memory limit).

The provisioner puts the instance's name in `$MLWS_COMPUTE_TARGET` and its limit in bytes in
`$MLWS_MEMORY_LIMIT`, and caps the kernel's address space a little above that limit
(`compute/resources.py`), so one allocation far past the limit raises MemoryError at once.
The cell then shows Python's normal traceback followed by one line naming the instance and
its limit, e.g. "MemoryError: compute instance 'cpu-small' has a memory limit of 512 MiB; ...".
(Gradual growth past the limit is stopped by the server's watchdog, not here.)

Decisions: IPython's custom-exception hook (`set_custom_exc`) is used because it sees every
cell's MemoryError, a `%%mlrun` cell's included (the magic re-raises the cell's error). It has
one slot: when something else holds it, we leave it alone. The line is built at install time:
at a MemoryError nothing is imported or formatted beyond the traceback itself.
"""

from __future__ import annotations

import os
from typing import Any

LIMIT_ENV = "MLWS_MEMORY_LIMIT"
TARGET_ENV = "MLWS_COMPUTE_TARGET"


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def limit_message(instance: str, limit: int) -> str:
    """The line shown under a MemoryError's traceback."""
    return (
        f"MemoryError: compute instance {instance!r} has a memory limit of {_size(limit)}; this "
        "allocation did not fit. Free memory (del large objects) or use an instance with more memory."
    )


def install(shell: Any) -> bool:
    """Show the limit under every MemoryError of `shell`'s cells; True when installed."""
    raw = os.environ.get(LIMIT_ENV, "")
    if shell is None or not raw.isdigit():
        return False
    if getattr(shell, "custom_exceptions", ()) not in ((), (MemoryError,)):
        return False  # another tool holds IPython's one custom-exception slot
    line = limit_message(os.environ.get(TARGET_ENV) or "(unnamed)", int(raw))

    def on_memory_error(
        self: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None
    ) -> list[str]:
        stb = list(self.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset))
        stb.append(line)
        self._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc((MemoryError,), on_memory_error)
    return True
