"""The live compute event: what the browser hears about compute instances (issue 7).

`MLWorkspaceApp.initialize_settings` registers `COMPUTE_EVENT_SCHEMA` on jupyter_server's
event bus; `ComputeManager.forward` (server/compute.py) turns each compute event stored
since its cursor into one payload (`live_event`) and emits it. JupyterLab receives it on the
authenticated events websocket (labextension/src/compute/computeEvents.ts): `idle_warning` shows a
warning with a "Keep running" action (`POST /compute/kernels/{id}/keepalive`),
`limit_stopped` an error with the reason, `idle_shutdown` an info; `changed` (an instance
was created, updated or deleted) refreshes the Compute tab and the kernelspecs. The shape is
written once, as a pydantic model, like `events.RunEvent`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ..entities import ComputeEvent

COMPUTE_EVENT_SCHEMA_ID = "https://events.jupyter.org/jupyter_mlws/compute/v1"
KERNEL_ACTIONS_SCHEMA = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
#: Store events that change an instance definition (sent to the browser as `changed`).
DEFINITION_KINDS = ("created", "updated", "deleted")
_LIVE_KINDS = ("idle_warning", "idle_shutdown", "limit_stopped", "kernel_started", "kernel_stopped")


class ComputeLiveEvent(BaseModel):
    """A compute instance or one of its kernels changed (pushed on the events websocket)."""

    action: Literal[
        "idle_warning", "idle_shutdown", "limit_stopped", "kernel_started", "kernel_stopped", "changed"
    ] = Field(description="`changed`: an instance was created, updated or deleted.")
    instance: str
    kernel_id: str | None = None
    reason: str | None = None
    shutdown_at: int | None = Field(
        None, description="`idle_warning`: when the kernel will be shut down (ms since the epoch)."
    )


def _event_schema() -> dict[str, Any]:
    shape = ComputeLiveEvent.model_json_schema()
    return {
        "$id": COMPUTE_EVENT_SCHEMA_ID,
        "version": "1",
        "title": "ML workspace compute activity",
        "personal-data": False,
        "description": shape["description"],
        "type": "object",
        "required": shape["required"],
        "properties": shape["properties"],
    }


COMPUTE_EVENT_SCHEMA = _event_schema()


def live_event(event: ComputeEvent) -> dict[str, Any] | None:
    """The event-bus payload of a stored compute event (None: not shown live, e.g. keep_alive)."""
    if event.kind in DEFINITION_KINDS:
        action = "changed"
    elif event.kind in _LIVE_KINDS:
        action = event.kind
    else:
        return None
    shutdown_at = event.details.get("shutdown_at") if isinstance(event.details, dict) else None
    return ComputeLiveEvent(
        action=action,  # type: ignore[arg-type]
        instance=event.target,
        kernel_id=event.kernel_id,
        reason=event.reason,
        shutdown_at=shutdown_at if isinstance(shutdown_at, int) else None,
    ).model_dump()
