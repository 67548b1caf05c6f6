"""The `jupyter mlws` command line: `main` (the `jupyter-mlws` script) and its parser.

Layout, arrows pointing down only:

- `main.py`: the top-level parser (`--workspace`) and `main`, which runs the chosen
  command and turns an `MLWSError` into `mlws: <message>` and exit status 2.
- one module per resource (`runs.py`: info, experiments, runs; `compute.py`,
  `models.py`, `endpoints.py`), each with an `add_<resource>_commands(sub)`.
- `base.py` (open the workspace `--workspace` names; a verb group whose bare use
  prints its help) and `formatting.py` (tables, times), which resource modules use.

A new resource (jobs, clusters) adds `cli/<resource>.py` with
`add_<resource>_commands(sub)`: it makes its group with `base.verb_group(sub, ...)`,
one parser per verb with `set_defaults(func=cmd_<verb>)`, and each command returns
its exit status and raises `MLWSError`s for bad input (never prints a traceback).
Then `main.build_parser` calls it after the others, so existing help keeps its order.
A resource module imports `base` and `formatting`, never `main` nor a name from this file.
"""

from __future__ import annotations

from .main import build_parser, main

__all__ = ["build_parser", "main"]
