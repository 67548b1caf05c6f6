"""The IPython extension: `%load_ext jupyter_mlws` registers the magics and the recorder.

Loaded lazily from `jupyter_mlws.load_ipython_extension`, so a kernel that
only imports the package pays nothing for IPython machinery. Loading it
imports no store code either (SQLAlchemy and pandas arrive with the first
`%%mlrun` or `%mlws` that needs them, or on the recorder's background
thread), so workspace kernels can load it at start-up for free.

Modules: `magics.py` (`%%mlrun`, `%mlws`), `mlrun.py` (a cell as a run),
`ending.py` (its background half), `capture.py` (the stdout/stderr tee),
`card.py` (the run card),
`session.py` (per-kernel state and the IPython event handlers),
`recorder.py` (the execution recorder).
"""

from __future__ import annotations

from typing import Any

from .magics import WorkspaceMagics
from .session import drop_session, session_for


def load_ipython_extension(ipython: Any) -> None:
    """Register `%%mlrun` and `%mlws` and start listening to cell executions (idempotent)."""
    session = session_for(ipython)
    ipython.register_magics(WorkspaceMagics(ipython, session=session))


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics and the event handlers registered by `load_ipython_extension`."""
    for kind in ("line", "cell"):
        table = ipython.magics_manager.magics[kind]
        for name, func in list(table.items()):
            owner = getattr(func, "__self__", None)
            if isinstance(owner, WorkspaceMagics):
                del table[name]
    drop_session(ipython)
