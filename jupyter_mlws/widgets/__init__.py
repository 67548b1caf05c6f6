"""In-notebook widgets: `MetricChart`, `RunDetails`, `RunHistory`, `ModelRegistry`, `SweepDetails`.

They are anywidgets; the charts are drawn by uPlot.

The front-end ES modules are built by `jlpm build:widgets` from
`labextension/widgets-src/` into `jupyter_mlws/widgets/static/` and ship in the
wheel: no CDN, no iframe. The classes import ipywidgets/anywidget on first use
only, so `import jupyter_mlws` stays light (STYLE.md rule 1).

`run_bundle` is this package's display hook for a `Run` (registered in
pyproject.toml's ``jupyter_mlws.display`` entry points, read by
`jupyter_mlws.display`): a run that is a cell's last expression shows as a
live `RunDetails`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MetricChart",
    "ModelRegistry",
    "RunDetails",
    "RunHistory",
    "SweepDetails",
    "run_bundle",
    "sweep_bundle",
]

_WHERE = {
    "MetricChart": "chart",
    "ModelRegistry": "registry",
    "RunDetails": "details",
    "RunHistory": "history",
    "SweepDetails": "sweep",
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


def run_bundle(run: Any, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
    """The display hook for a run: `RunDetails(run)`'s bundle, or None without ipywidgets/anywidget."""
    try:
        from .details import RunDetails  # imports ipywidgets/anywidget only now
    except ImportError:
        return None
    shown = RunDetails(run)._repr_mimebundle_(include=include, exclude=exclude)
    data = shown[0] if isinstance(shown, tuple) else shown  # anywidget answers (data, metadata)
    return data if isinstance(data, dict) else None


def sweep_bundle(sweep: Any, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
    """The display hook for a sweep: `SweepDetails(sweep)`'s bundle, or None without anywidget."""
    try:
        from .sweep import SweepDetails
    except ImportError:
        return None
    shown = SweepDetails(sweep)._repr_mimebundle_(include=include, exclude=exclude)
    data = shown[0] if isinstance(shown, tuple) else shown
    return data if isinstance(data, dict) else None
