"""The live registry event: what the browser hears when a model or an endpoint changes (issue 8).

`MLWorkspaceApp.initialize_settings` registers `REGISTRY_EVENT_SCHEMA` on jupyter_server's
event bus; the model and endpoint handlers (handlers/registry_base.py) call `emit_change`
after each change made through them, so other browser tabs refresh. Changes made from Python
or the CLI are seen on the panel's next refresh, not pushed. The event names what changed,
never its content (so no key material can ride on it). The shape is written once, as a
pydantic model, like `compute_events.ComputeLiveEvent`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

REGISTRY_EVENT_SCHEMA_ID = "https://events.jupyter.org/jupyter_mlws/registry/v1"

RegistryAction = Literal["model_changed", "endpoint_changed"]


class RegistryLiveEvent(BaseModel):
    """A model or an endpoint changed through the REST API (pushed on the events websocket)."""

    action: Literal["model_changed", "endpoint_changed"]
    name: str = Field(description="The model's or the endpoint's name.")


REGISTRY_EVENT_SCHEMA: dict[str, Any] = {
    "$id": REGISTRY_EVENT_SCHEMA_ID,
    "version": "1",
    "title": "ML workspace model registry and endpoint changes",
    "personal-data": False,
    "description": RegistryLiveEvent.__doc__,
    "type": "object",
    "required": ["action", "name"],
    "properties": RegistryLiveEvent.model_json_schema()["properties"],
}


def emit_change(settings: dict[str, Any], action: RegistryAction, name: str) -> None:
    """Tell the browsers that model/endpoint `name` changed (nothing when events are off)."""
    logger = settings.get("event_logger")
    if logger is not None:
        event = RegistryLiveEvent(action=action, name=name)
        logger.emit(schema_id=REGISTRY_EVENT_SCHEMA_ID, data=event.model_dump())
