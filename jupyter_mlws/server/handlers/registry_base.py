"""What the model and endpoint handlers share: the server-side registry, reached off the loop.

`RegistryHandler` is the base of every handler in handlers/models.py and handlers/endpoints.py;
each sets `auth_resource` and `change_action` (the live registry event it sends).
"""

from __future__ import annotations

from typing import Any, Literal

from ..registry import Registry, emit_change
from .base import MLWSHandler


class RegistryHandler(MLWSHandler):
    """A handler of the registry's routes."""

    #: The action of the live registry event `changed()` sends ("model_changed", "endpoint_changed").
    change_action: Literal["model_changed", "endpoint_changed"] = "model_changed"

    @property
    def registry(self) -> Registry:
        return Registry.of(self.services, self.settings)

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """A registry method, off the event loop."""
        return await self.services.run(getattr(self.registry, method), *args, **kwargs)

    def changed(self, name: str) -> None:
        """Tell browsers (the live registry event) that `name` changed."""
        emit_change(self.settings, self.change_action, name)
