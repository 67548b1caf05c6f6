"""A pytest-jupyter server whose event loop runs in a background thread.

pytest-jupyter serves requests only while a test awaits on its loop; the REST store
(and other synchronous clients: schemathesis, load generators in threads) need
the server to answer while the test thread blocks. This fixture runs the same
server's loop in a thread for the duration of one test and stops it before
pytest-jupyter's own teardown runs on the main thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class LiveServer:
    url: str
    token: str
    app: Any
    loop: asyncio.AbstractEventLoop

    @property
    def services(self) -> Any:
        return self.app.web_app.settings["mlws_services"]


@pytest.fixture
def live_server(jp_serverapp, http_server, jp_http_port, jp_base_url, jp_asyncio_loop) -> Iterator[LiveServer]:
    loop = jp_asyncio_loop
    thread = threading.Thread(target=loop.run_forever, name="live-jupyter-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(
            url=f"http://127.0.0.1:{jp_http_port}{jp_base_url}".rstrip("/"),
            token=jp_serverapp.identity_provider.token,
            app=jp_serverapp,
            loop=loop,
        )
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
