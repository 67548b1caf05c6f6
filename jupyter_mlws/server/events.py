"""Live updates: run created / status changed / metrics appended, pushed to the browser.

Kernels write the workspace's SQLite file directly (the fast path), so the
server does not see those writes happen. A background task
(`RunEventWatcher`, started by the services) asks the store every
`interval` seconds what changed since its cursor (`store.changes_since`,
cheap: an indexed range scan of what was appended since) and emits its events
on jupyter_server's event bus in the store's order: one event per run and kind
of change, each at the place of its newest change, so a finished run's last
event is its end and a client may show a run's newest event as its state.
JupyterLab receives them through `app.serviceManager.events.stream` over the
server's authenticated events websocket; nothing new is exposed. A client that cannot listen polls
`GET /runs/{id}/metrics/{key}?since=<cursor>` instead.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import MLWSError

RUN_EVENT_SCHEMA_ID = "https://events.jupyter.org/jupyter_mlws/run/v1"

class RunEvent(BaseModel):
    """One live update about a run (the browser receives it on the events websocket)."""

    action: Literal["created", "updated", "metrics", "resync"] = Field(
        description="What happened; `resync`: too much changed at once, reload what you show."
    )
    run_id: str
    experiment_id: int
    status: str | None = Field(None, description="The run's status now.")
    name: str | None = None


def _event_schema() -> dict[str, Any]:
    """The jupyter_events schema, built from `RunEvent` so the shape is written once."""
    shape = RunEvent.model_json_schema()
    return {
        "$id": RUN_EVENT_SCHEMA_ID,
        "version": "1",
        "title": "ML workspace run activity",
        "personal-data": False,
        "description": shape["description"],
        "type": "object",
        "required": shape["required"],
        "properties": shape["properties"],
    }


RUN_EVENT_SCHEMA = _event_schema()


class RunEventWatcher:
    """Polls the store for changes and emits them as events (one instance per server)."""

    def __init__(self, services: Any, event_logger: Any, interval: float = 0.25) -> None:
        self.services = services
        self.event_logger = event_logger
        self.interval = interval
        self.cursor: Any = None
        self.log = logging.getLogger("jupyter_mlws.events")

    async def prime(self) -> None:
        """Start from now: changes made before the server started are not replayed."""
        self.cursor = (await self.services.run(self.services.store.changes_since, None)).cursor

    async def poll_once(self) -> int:
        """Emit the changes since the last poll; returns how many events went out."""
        changes = await self.services.run(self.services.store.changes_since, self.cursor)
        for event in changes.events:
            self.event_logger.emit(schema_id=RUN_EVENT_SCHEMA_ID, data=event)
        self.cursor = changes.cursor
        return len(changes.events)

    async def run_forever(self) -> None:
        await self.prime()
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll_once()
            except MLWSError as err:  # e.g. the store is busy: try again next tick
                self.log.warning("run events: %s", err)
