"""The API shapes are written once: the OpenAPI document comes from the code, and the
TypeScript types come from the document. These tests fail when either drifts."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from jupyter_mlws.server.handlers import api_routes
from jupyter_mlws.server.openapi import build_openapi, operation_of, render

from ..conftest import REPO
from .routes import handler_methods

API_DIR = REPO / "labextension" / "src" / "api"


def test_every_route_method_declares_its_operation() -> None:
    missing = [
        f"{handler.__name__}.{method}"
        for _, handler in api_routes()
        if getattr(handler, "in_openapi", True)
        for method in handler_methods(handler)
        if operation_of(getattr(handler, method)) is None
    ]
    assert not missing, f"methods without @api_operation: {missing}"


def test_committed_openapi_matches_the_code() -> None:
    committed = (API_DIR / "openapi.json").read_text()
    assert committed == render(build_openapi()), "run `jlpm gen:api` and commit the result"


def test_committed_typescript_matches_the_document(tmp_path: Path) -> None:
    tool = REPO / "node_modules" / ".bin" / "openapi-typescript"
    if not tool.exists() or shutil.which("node") is None:
        pytest.skip("node_modules/.bin/openapi-typescript is missing (make test runs jlpm install first)")
    out = tmp_path / "schema.ts"
    subprocess.run([str(tool), str(API_DIR / "openapi.json"), "-o", str(out)],
                   check=True, capture_output=True, cwd=REPO, timeout=120)
    assert out.read_text() == (API_DIR / "schema.ts").read_text(), "run `jlpm gen:api` and commit the result"


async def test_served_document_is_the_generated_one(jp_fetch) -> None:
    response = await jp_fetch("mlws", "api", "v1", "openapi.json")
    served = json.loads(response.body)
    assert served == build_openapi()
    assert "/mlws/api/v1/info" in served["paths"]
    info = served["paths"]["/mlws/api/v1/info"]["get"]
    assert info["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WorkspaceInfo"
    }
    assert set(served["components"]["schemas"]["WorkspaceInfo"]["required"]) == {
        "workspace", "version", "store_kind", "store_url", "artifact_url", "ready"
    }
