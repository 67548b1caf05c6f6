"""Reproducibility: what two runs did differently, and the kernel history a run can be replayed from.

- `history.py`: a run's execution history as a Python script (``snapshot/history.py``) and back.
- `cells.py`: a notebook's cells keyed by id, their outputs hashed, two notebooks compared.
- `diff.py`: `diff_runs`, the whole comparison of two runs as a `RunDiff` (one DataFrame per part).
- `html.py`: how a `RunDiff` shows in a notebook.
- `order.py`: out-of-order reads of a `%%mlrun` cell (names last set by a cell below it, edited or
  deleted since), by static analysis of the cells the kernel ran.

This package sits below the client: it reads runs through the metadata store and the artifact store
it is given, so the Python API (`ws.diff`, `mlws.diff`), the CLI and the server share it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RunDiff", "diff_runs"]


def __getattr__(name: str) -> Any:
    """`RunDiff` and `diff_runs` on first use: the kernel imports `repro.order` and no more."""
    if name in __all__:
        from . import diff

        return getattr(diff, name)
    raise AttributeError(f"module 'jupyter_mlws.repro' has no attribute {name!r}")
