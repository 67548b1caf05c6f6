"""The Python API users call from notebooks and scripts (DESIGN.md §5).

`workspace.py` (Workspace, Experiment), `run.py` (Run), `fluent.py`
(module-level functions on the active run), `logger.py` (batching metric
logger), `lifecycle.py` (active run stack, exit and SIGTERM handling),
`frames.py` (DataFrames), `artifact_formats.py` (table/figure/dict bytes).
Importing this package pulls in the store layer and SQLAlchemy, so the
top-level `jupyter_mlws` exports these names lazily.
"""

from .fluent import (
    active_run,
    diff,
    end_run,
    get_run,
    last_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_list,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_row,
    log_table,
    log_text,
    search_runs,
    set_tag,
    set_tags,
    start_run,
)
from .run import Run
from .workspace import Experiment, Workspace

__all__ = [
    "Experiment",
    "Run",
    "Workspace",
    "active_run",
    "diff",
    "end_run",
    "get_run",
    "last_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_list",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_row",
    "log_table",
    "log_text",
    "search_runs",
    "set_tag",
    "set_tags",
    "start_run",
]
