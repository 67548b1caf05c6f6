"""Enumerate the routes the jupyter_mlws extension registered in a live server.

Used by the route-table tests so that every route a later issue adds is
covered automatically (RELIABILITY A1-A3).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tornado.routing import PathMatches, Router, RuleRouter
from tornado.web import RequestHandler

HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
_GROUP = re.compile(r"\((?:\?P<\w+>)?(?:[^()]|\([^()]*\))*\)")


@dataclass(frozen=True)
class Route:
    pattern: str
    handler: type[RequestHandler]
    methods: tuple[str, ...]

    def sample_path(self, value: str = "x") -> str:
        """The route's path with every capture group filled with `value`."""
        path = _GROUP.sub(value, self.pattern)
        return path.rstrip("$").replace("\\", "")


def _walk(router: Any) -> list[tuple[str, type[RequestHandler]]]:
    found: list[tuple[str, type[RequestHandler]]] = []
    for rule in getattr(router, "rules", []):
        target = rule.target
        if isinstance(target, (Router, RuleRouter)):
            found.extend(_walk(target))
        elif isinstance(target, type) and issubclass(target, RequestHandler):
            if isinstance(rule.matcher, PathMatches):
                found.append((rule.matcher.regex.pattern, target))
    return found


def handler_methods(handler: type[RequestHandler]) -> tuple[str, ...]:
    """The HTTP methods that jupyter_mlws code implements on a handler class.

    Methods inherited from tornado or jupyter_server (APIHandler's CORS
    `options`, say) are theirs to secure and are left out.
    """
    ours = []
    for name in HTTP_METHODS:
        owner = next(klass for klass in handler.__mro__ if name in vars(klass))
        if owner.__module__.startswith("jupyter_mlws"):
            ours.append(name)
    return tuple(ours)


def mlws_routes(web_app: Any) -> list[Route]:
    """Every route whose handler comes from jupyter_mlws or whose path is under /mlws/."""
    routes: dict[tuple[str, type[RequestHandler]], Route] = {}
    for router in (web_app.default_router, web_app.wildcard_router):
        for pattern, handler in _walk(router):
            ours = handler.__module__.startswith("jupyter_mlws") or "/mlws/" in pattern
            if ours:
                routes[(pattern, handler)] = Route(pattern, handler, handler_methods(handler))
    return sorted(routes.values(), key=lambda r: r.pattern)


def decorator_files(func: Any) -> list[str]:
    """The source files of every function in a decorator chain (via __wrapped__)."""
    files = []
    while func is not None:
        code = getattr(func, "__code__", None)
        if code is not None:
            files.append(code.co_filename.replace("\\", "/"))
        func = getattr(func, "__wrapped__", None)
    return files


async def call_route(
    client: Any, route: Route, method: str, headers: dict[str, str], path: str | None = None, body: Any = None
) -> Any:
    """`method` on `route` (its sample path, or `path`) with `headers`; a JSON `body` for writes.

    Never raises on an error status or follows a redirect: the tests read the answer as it came.
    """
    writes = method not in ("get", "head", "options", "delete")
    data = json.dumps({} if body is None else body) if writes else None
    return await client.fetch(
        path or route.sample_path(),
        method=method.upper(),
        body=data,
        headers={"Content-Type": "application/json", **headers},
        raise_error=False,
        follow_redirects=False,
        allow_nonstandard_methods=True,
    )
