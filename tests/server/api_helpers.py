"""Small helpers for REST tests against the pytest-jupyter server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tornado.httpclient import HTTPResponse


class Api:
    """JSON calls to `/mlws/api/v1/...` with the server's token; errors come back, not raised."""

    def __init__(self, client: Any, base_url: str, auth_header: dict[str, str]) -> None:
        self.client, self.base, self.auth = client, f"{base_url.rstrip('/')}/mlws/api/v1", auth_header

    async def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> HTTPResponse:
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = b""
        return await self.client.fetch(
            self.base + path, method=method, body=payload,
            headers={"Content-Type": "application/json", **self.auth, **(headers or {})},
            raise_error=False, allow_nonstandard_methods=True,
        )

    async def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = await self.call(method, path, body)
        assert response.code == expect, f"{method} {path}: {response.code} {response.body[:500]!r}"
        return json.loads(response.body) if response.body else None


def error_of(response: HTTPResponse) -> dict[str, str]:
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.body)
    assert set(body) == {"error", "message"}
    assert "Traceback" not in body["message"]
    return body


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    """Await `check()` every 0.1 s until it gives something true (returned), or fail saying `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.1)
