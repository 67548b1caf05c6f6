"""In-notebook widgets: `MetricChart`, `RunDetails`, `RunHistory`, `ModelRegistry` (anywidget + uPlot).

The front-end ES modules are built by `jlpm build:widgets` from
`labextension/widgets-src/` into `jupyter_mlws/widgets/static/` and ship in the
wheel: no CDN, no iframe. The classes import ipywidgets/anywidget on first use
only, so `import jupyter_mlws` stays light (STYLE.md rule 1).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MetricChart", "ModelRegistry", "RunDetails", "RunHistory"]

_WHERE = {
    "MetricChart": "chart",
    "ModelRegistry": "registry",
    "RunDetails": "details",
    "RunHistory": "history",
}


def __getattr__(name: str) -> Any:
    """Import a widget class on first access (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'jupyter_mlws.widgets' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
