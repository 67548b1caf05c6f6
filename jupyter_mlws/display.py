"""Rich display hooks: how a layer above shows an object of a layer below in a notebook.

The client's `Run` is shown as a cell's last expression by the live
`RunDetails` widget, but the client must not know the widgets by name (the
arrows run down, docs/architecture.md). So `Run._repr_mimebundle_` asks this
module for a bundle of kind ``"run"``, and the widgets package registers the
hook that makes one:

- through the entry point group ``jupyter_mlws.display`` (pyproject.toml:
  ``run = "jupyter_mlws.widgets:run_bundle"``), read once, on the first
  display of a kind that nothing registered in-process; or
- by calling `register(kind, hook)` (a test, or another front end).

A hook takes ``(obj, include, exclude)`` and answers a MIME bundle, or None
when it cannot show the object (ipywidgets missing, no widget front end):
the object then shows as text. A hook that raises counts as None.

This module imports nothing of ours: any layer may use it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

GROUP = "jupyter_mlws.display"

Hook = Callable[[Any, Any, Any], "Mapping[str, Any] | None"]

log = logging.getLogger(__name__)

_hooks: dict[str, Hook] = {}
_read_entry_points = False


def register(kind: str, hook: Hook) -> None:
    """Show objects of `kind` with `hook` from now on (replaces an earlier one)."""
    _hooks[kind] = hook


def _hook(kind: str) -> Hook | None:
    global _read_entry_points
    if kind not in _hooks and not _read_entry_points:
        _read_entry_points = True
        from importlib.metadata import entry_points

        for point in entry_points(group=GROUP):
            if point.name in _hooks:
                continue  # registered in-process: that one wins
            try:
                _hooks[point.name] = point.load()
            except Exception:  # a broken plug-in must not break a cell's output
                log.warning("display hook %s = %s could not be loaded", point.name, point.value, exc_info=True)
    return _hooks.get(kind)


def rich_bundle(kind: str, obj: Any, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
    """The bundle the registered hook makes for `obj`, or None (no hook, or it cannot show it)."""
    hook = _hook(kind)
    if hook is None:
        return None
    try:
        bundle = hook(obj, include, exclude)
    except Exception as error:  # the cell shows the text instead of a traceback
        log.warning("display hook for %r failed (%s: %s); showing text", kind, type(error).__name__, error)
        return None
    return dict(bundle) if bundle is not None else None
