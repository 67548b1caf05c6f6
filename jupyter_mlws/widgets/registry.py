"""`ModelRegistry()`: the model registry in a notebook — models, then a model's versions and aliases.

The front end (`labextension/widgets-src/registry.js`) lists `models`; opening one sets
`selected`, and this class fills `versions` (newest first: flavor, sha256, size, signature,
trust, aliases, lineage). The front end moves aliases with messages this class answers:
`{"type": "set_alias", "alias", "version"}` (set, or move to that version),
`{"type": "delete_alias", "alias"}` and `{"type": "refresh"}`. A refused change (a bad alias
name, an unknown version) sets `error`; it never raises into the kernel.

Who calls what: reads go to the workspace's store (`list_registered_models`,
`list_model_versions`), the way `RunHistory` reads runs; alias changes go through
`ws.models` (client/models.py) so the widget, REST and the CLI share one set of rules.
Everything shown is in traits, so a saved notebook reopens with the same models, the same
opened model and its versions (widget state), without a kernel.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets as t

from ..entities import ModelVersion, RegisteredModel
from ..errors import MLWSError
from ._common import esm


def _model_row(model: RegisteredModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "description": model.description,
        "tags": dict(model.tags),
        "aliases": dict(model.aliases),
        "latest_version": model.latest_version,
        "updated_time": model.updated_time,
    }


def _version_row(version: ModelVersion) -> dict[str, Any]:
    return {
        "version": version.version,
        "flavor": version.flavor,
        "sha256": version.sha256,
        "size_bytes": version.size_bytes,
        "files": len(version.files),
        "signature": version.signature,
        "trusted": version.trusted,
        "aliases": sorted(version.aliases),
        "source_run_id": version.source_run_id,
        "source_path": version.source_path,
        "description": version.description,
        "tags": dict(version.tags),
        "created_time": version.created_time,
    }


class ModelRegistry(anywidget.AnyWidget):
    """The registered models and a chosen model's versions (see the module docstring)."""

    _esm = esm("registry")

    models = t.List(t.Dict()).tag(sync=True)
    selected = t.Unicode("").tag(sync=True)
    versions = t.List(t.Dict()).tag(sync=True)
    error = t.Unicode("").tag(sync=True)

    def __repr__(self) -> str:
        opened = f", {self.selected!r} open" if self.selected else ""
        return f"<ModelRegistry: {len(self.models)} models{opened}>"

    def __init__(self, model: str | None = None, *, workspace: Any = None, **kwargs: Any) -> None:
        if workspace is None:
            from ..client.fluent import default_workspace

            workspace = default_workspace()
        self._workspace = workspace
        super().__init__(selected=model or "", **kwargs)
        self.refresh()
        self.observe(self._on_selected, names=["selected"])
        self.on_msg(self._on_message)

    def refresh(self) -> None:
        """Read the models and the opened model's versions again."""
        store = self._workspace.store
        try:
            models = [_model_row(m) for m in store.list_registered_models()]
            names = {m["name"] for m in models}
            if self.selected and self.selected not in names:
                raise MLWSError(f"There is no registered model named {self.selected!r}.")
            versions = (
                [_version_row(v) for v in store.list_model_versions(self.selected)] if self.selected else []
            )
        except MLWSError as err:
            with self.hold_trait_notifications():
                self.error = err.message
                self.versions = []
            return
        with self.hold_trait_notifications():
            self.error = ""
            self.models = models
            self.versions = versions

    def set_alias(self, alias: str, version: int) -> None:
        """Point `alias` of the opened model at `version` (set or move it); errors go to `error`."""
        self._change(lambda name: self._workspace.models.set_alias(name, alias, int(version)))

    def delete_alias(self, alias: str) -> None:
        """Remove `alias` from the opened model; errors go to `error`."""
        self._change(lambda name: self._workspace.models.delete_alias(name, alias))

    def _change(self, action: Any) -> None:
        if not self.selected:
            self.error = "Open a model first."
            return
        try:
            action(self.selected)
        except (MLWSError, ValueError) as err:
            self.error = getattr(err, "message", None) or str(err)
            return
        self.refresh()

    def _on_selected(self, _change: Any) -> None:
        self.refresh()

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "refresh":
            self.refresh()
        elif kind == "set_alias":
            given = content.get("version")
            if isinstance(given, bool) or not isinstance(given, (int, str)) or not str(given).isdigit():
                self.error = f"The version must be a whole number, not {given!r}."
                return
            self.set_alias(str(content.get("alias") or ""), int(given))
        elif kind == "delete_alias":
            self.delete_alias(str(content.get("alias") or ""))
