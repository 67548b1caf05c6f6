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

__all__ = ["MLWSError", "WorkspaceLocation", "__version__", "resolve_location"]


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
