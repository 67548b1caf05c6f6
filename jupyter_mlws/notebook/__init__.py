"""The IPython extension: `%load_ext jupyter_mlws` registers the magics.

Loaded lazily from `jupyter_mlws.load_ipython_extension`, so a kernel that
only imports the package pays nothing for IPython machinery.
"""

from __future__ import annotations

from typing import Any

from .magics import WorkspaceMagics


def load_ipython_extension(ipython: Any) -> None:
    """Register `%mlws` (and, as they land, `%%mlrun` and friends)."""
    ipython.register_magics(WorkspaceMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics registered by `load_ipython_extension`."""
    for kind in ("line", "cell"):
        table = ipython.magics_manager.magics[kind]
        for name, func in list(table.items()):
            owner = getattr(func, "__self__", None)
            if isinstance(owner, WorkspaceMagics):
                del table[name]
