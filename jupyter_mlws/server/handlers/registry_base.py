"""What the model and endpoint handlers share: their server-side service, and the live event.

`RegistryHandler` is the base of every handler in handlers/models.py (which reach the
`Registry`, server/registry.py) and handlers/endpoints.py (the `EndpointService`,
server/endpoints.py); each sets `auth_resource` and `change_action` (the live registry
event it sends). Every write goes through `change`, so none forgets to tell the other tabs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from ..registry_events import emit_change
from .base import MLWSHandler

R = TypeVar("R")


class RegistryHandler(MLWSHandler):
    """A handler of the registry's routes."""

    #: The action of the live registry event `change()` sends ("model_changed", "endpoint_changed").
    change_action: Literal["model_changed", "endpoint_changed"] = "model_changed"

    async def change(self, method: Callable[..., R], name: str, /, *args: Any, **kwargs: Any) -> R:
        """`method(name, ...)` off the event loop, then the live event saying that `name` changed."""
        done = await self.services.run(method, name, *args, **kwargs)
        emit_change(self.settings, self.change_action, name)
        return done
