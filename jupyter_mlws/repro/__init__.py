"""Reproducibility: what two runs did differently, and the kernel history a run can be replayed from.

- `history.py`: a run's execution history as a Python script (``snapshot/history.py``) and back.
- `cells.py`: a notebook's cells keyed by id, their outputs hashed, two notebooks compared.
- `diff.py`: `diff_runs`, the whole comparison of two runs as a `RunDiff` (one DataFrame per part).
- `html.py`: how a `RunDiff` shows in a notebook.

This package sits below the client: it reads runs through the metadata store and the artifact store
it is given, so the Python API (`ws.diff`, `mlws.diff`), the CLI and the server share it.
"""

from __future__ import annotations

from .diff import RunDiff, diff_runs

__all__ = ["RunDiff", "diff_runs"]
