"""jupyter_mlws: an Azure-ML-style managed ML workspace inside JupyterLab.

This entry module stays thin on purpose (STYLE.md rule 1): it is imported in
every user kernel, so it declares the Jupyter entry points and the public API
and imports nothing heavy. The server extension, the IPython extension and
the widgets are imported only when Jupyter asks for them.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .errors import MLWSError
from .location import WorkspaceLocation, resolve_location

# The user API (DESIGN.md §5), imported on first attribute access: the client
# pulls in SQLAlchemy and pandas, which a plain `import jupyter_mlws` must not.
_CLIENT_API = (
    "Experiment", "Run", "Workspace", "active_run", "diff", "end_run", "get_run", "last_run", "log_artifact",
    "log_artifacts", "log_dict", "log_figure", "log_image", "log_list", "log_metric", "log_metrics",
    "log_param", "log_params", "log_row", "log_table", "log_text", "search_runs", "set_tag", "set_tags",
    "start_run",
)

__all__ = ["MLWSError", "WorkspaceLocation", "__version__", "resolve_location", *_CLIENT_API]


def __getattr__(name: str) -> Any:
    """Resolve the public API lazily (PEP 562) so importing the package stays light."""
    if name in _CLIENT_API:
        from . import client

        value = getattr(client, name)
        globals()[name] = value
        return value
    if name in ("models", "widgets"):
        # `mlws.models.save_sklearn(...)` and `mlws.widgets.RunDetails(run)` right after
        # `import jupyter_mlws as mlws` (DESIGN.md §5), without paying for them in every kernel
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'jupyter_mlws' has no attribute {name!r}")


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Called by jupyter_server to find the extension app (imports it lazily)."""
    from .server.app import MLWorkspaceApp

    return [{"module": "jupyter_mlws", "app": MLWorkspaceApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Called by JupyterLab to find the prebuilt labextension in this package."""
    return [{"src": "labextension", "dest": "jupyter-mlws"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_mlws`: registers the magics (imported lazily)."""
    from .notebook import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext jupyter_mlws`."""
    from .notebook import unload_ipython_extension as _unload

    _unload(ipython)
