"""The OpenAPI document of `/mlws/api/v1`, generated from the code.

Shapes are written once (STYLE.md rule 6): each handler method declares its
operation with `@api_operation(...)` naming pydantic models, and this module
walks the route table to build the document. The document is served at
`/mlws/api/v1/openapi.json`, committed as `labextension/src/api/openapi.json`,
and `openapi-typescript` turns it into `labextension/src/api/schema.ts`;
`tests/server/test_openapi.py` fails when either file drifts from the code.

Regenerate both with `jlpm gen:api` (which runs `python -m jupyter_mlws.server.openapi`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

API_TITLE = "jupyter_mlws REST API"
API_VERSION = "v1"
_METHODS = ("get", "head", "post", "put", "patch", "delete")
_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    """What one handler method takes and answers, for the OpenAPI document."""

    summary: str
    response: type[BaseModel] | None = None
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    #: A non-JSON body (e.g. "application/octet-stream" for streamed uploads).
    raw_body: str | None = None
    #: A non-JSON answer (e.g. "application/octet-stream" for downloads).
    raw_response: str | None = None
    errors: tuple[int, ...] = (400, 403, 404)
    tags: tuple[str, ...] = field(default_factory=tuple)


def api_operation(summary: str, **kwargs: Any) -> Callable[[F], F]:
    """Attach an `Operation` to a handler method (does not wrap it)."""

    def mark(method: F) -> F:
        method.__mlws_operation__ = Operation(summary, **kwargs)  # type: ignore[attr-defined]
        return method

    return mark


def operation_of(method: Any) -> Operation | None:
    """The `Operation` declared on a (possibly decorated) handler method."""
    while method is not None:
        found = getattr(method, "__mlws_operation__", None)
        if found is not None:
            return found  # type: ignore[no-any-return]
        method = getattr(method, "__wrapped__", None)
    return None


class ErrorBody(BaseModel):
    """The body of every error answer."""

    error: str
    message: str


def path_template(pattern: str) -> tuple[str, list[str]]:
    """`/runs/(?P<run_id>[^/]+)` -> (`/runs/{run_id}`, ["run_id"])."""
    names = _GROUP.findall(pattern)
    return _GROUP.sub(lambda m: "{" + m.group(1) + "}", pattern).rstrip("$"), names


def build_openapi(routes: list[tuple[str, type[Any]]] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document for `routes` (default: the extension's route table)."""
    if routes is None:
        from .handlers import api_routes

        routes = api_routes()
    from .compute_events import ComputeLiveEvent
    from .events import RunEvent
    from .registry_events import RegistryLiveEvent

    # Shapes that travel outside the REST routes (the live events) are documented here too,
    # so the TypeScript types cover them.
    models: set[type[BaseModel]] = {ComputeLiveEvent, ErrorBody, RegistryLiveEvent, RunEvent}
    paths: dict[str, dict[str, Any]] = {}
    operations: list[tuple[str, str, list[str], Operation]] = []
    for pattern, handler in routes:
        if not getattr(handler, "in_openapi", True):
            continue
        path, params = path_template(pattern)
        for method in _METHODS:
            op = operation_of(getattr(handler, method, None))
            if op is None:
                continue
            operations.append((path, method, params, op))
            models.update(m for m in (op.response, op.body) if m is not None)

    _, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = defs.get("$defs", {})

    for path, method, params, op in operations:
        entry: dict[str, Any] = {
            "operationId": _operation_id(method, path),
            "summary": op.summary,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in params
            ],
            "responses": {},
        }
        if op.tags:
            entry["tags"] = list(op.tags)
        if op.query is not None:
            entry["parameters"].extend(_query_parameters(op.query))
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(op.body)}},
            }
        elif op.raw_body is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {op.raw_body: {"schema": {"type": "string", "format": "binary"}}},
            }
        if op.response is not None:
            content = {"application/json": {"schema": _ref(op.response)}}
            entry["responses"][str(op.status)] = {"description": op.summary, "content": content}
        elif op.raw_response is not None:
            content = {op.raw_response: {"schema": {"type": "string", "format": "binary"}}}
            entry["responses"][str(op.status)] = {"description": op.summary, "content": content}
        else:
            entry["responses"][str(op.status)] = {"description": op.summary}
        for code in op.errors:
            entry["responses"][str(code)] = {
                "description": "An error; `error` is a stable code, `message` says what to do.",
                "content": {"application/json": {"schema": _ref(ErrorBody)}},
            }
        paths.setdefault(path, {})[method] = entry

    return {
        "openapi": "3.1.0",
        "info": {"title": API_TITLE, "version": API_VERSION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "A Jupyter server token."}
            },
        },
        "security": [{"token": []}],
    }


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation_id(method: str, path: str) -> str:
    words = [w.strip("{}") for w in path.split("/") if w and w not in ("mlws", "api", "v1")]
    return method + "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", "_".join(words)) if w)


def render(document: dict[str, Any]) -> str:
    """The committed, diff-friendly text of the document."""
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main() -> None:
    """`python -m jupyter_mlws.server.openapi [OUT]`: write the document (stdout by default)."""
    text = render(build_openapi())
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
