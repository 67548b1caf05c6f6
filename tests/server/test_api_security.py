"""Security properties that hold on every extension route (RELIABILITY A5, A8, A9).

Like tests/server/test_routes_auth.py these walk the live route table, so routes that later
issues add are covered without editing this file.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from jupyter_mlws.server.handlers.base import MLWSHandler

from .routes import Route, call_route, mlws_routes

SECRET = "s3cr3t-value-that-must-never-be-echoed"


def _routes(app: Any) -> list[Route]:
    routes = mlws_routes(app.web_app)
    assert routes
    return routes


async def _call(client: Any, route: Route, method: str, headers: dict[str, str], path: str | None = None):
    return await call_route(client, route, method, headers, path, body={"name": "x"})


@pytest.mark.catalogue("A5")
async def test_foreign_host_header_is_refused_everywhere(jp_serverapp, http_server_client, jp_auth_header) -> None:
    """A5: DNS rebinding — a request naming another host is refused even with a valid token."""
    for route in _routes(jp_serverapp):
        for method in route.methods:
            response = await _call(
                http_server_client, route, method, {**jp_auth_header, "Host": "attacker.example"}
            )
            assert response.code == 403, f"{method.upper()} {route.pattern}: {response.code}"


class _BrokenServices:
    """Stands in for the workspace services and fails on any use, with a secret in the message."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"backing store exploded; password={SECRET}")


@pytest.mark.catalogue("A8")
async def test_internal_errors_are_json_without_traceback_or_secrets(
    jp_serverapp, http_server_client, jp_auth_header, caplog: pytest.LogCaptureFixture
) -> None:
    """A8: an unexpected failure answers `{error, message}` JSON, with no traceback, and
    neither the answer nor the server log carries the token or the secret."""
    jp_serverapp.web_app.settings["mlws_services"] = _BrokenServices()
    token = jp_auth_header["Authorization"].split()[-1]
    failed = []
    with caplog.at_level(logging.DEBUG):
        for route in _routes(jp_serverapp):
            for method in route.methods:
                response = await _call(http_server_client, route, method, jp_auth_header)
                if response.code < 500:
                    continue  # this route did not touch the services
                failed.append(route.pattern)
                assert response.code == 500
                assert response.headers["Content-Type"].startswith("application/json")
                if method == "head":
                    continue  # a HEAD answer has no body (blobs' existence check)
                body = json.loads(response.body)
                assert body["error"] == "internal_error"
                assert "Traceback" not in body["message"] and SECRET not in body["message"]
                assert set(body) == {"error", "message"}
    assert any(p.endswith("/mlws/api/v1/info$") for p in failed)
    log_text = caplog.text
    assert token not in log_text
    assert "Authorization" not in log_text


@pytest.mark.catalogue("A9")
async def test_answers_are_json_and_nosniff_and_never_reflect_html(
    jp_serverapp, http_server_client, jp_auth_header
) -> None:
    """A9: HTML in a path segment comes back, if at all, as JSON text — never as HTML."""
    for route in _routes(jp_serverapp):
        for method in route.methods:
            if method == "head":
                continue
            response = await _call(http_server_client, route, method, jp_auth_header,
                                   path=route.sample_path("%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
            if not response.body:
                continue
            content_type = response.headers.get("Content-Type", "")
            assert content_type.startswith("application/json"), f"{route.pattern}: {content_type}"
            assert response.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.catalogue("A9")
async def test_unknown_api_paths_answer_json_404_without_html(http_server_client, jp_auth_header, jp_base_url) -> None:
    """A9: a path under the API that matches no resource is a JSON 404, not an HTML page."""
    for method in ("GET", "POST", "DELETE"):
        response = await http_server_client.fetch(
            f"{jp_base_url}mlws/api/v1/%3Cscript%3Ealert(1)%3C%2Fscript%3E/x",
            method=method, body=None if method != "POST" else "{}",
            headers=jp_auth_header, raise_error=False, allow_nonstandard_methods=True,
        )
        assert response.code == 404
        assert response.headers["Content-Type"].startswith("application/json")
        body = json.loads(response.body)
        assert body["error"] == "not_found"
        assert "<script>" not in response.body.decode()


def test_base_handler_is_the_translation_point() -> None:
    """Every extension handler derives from MLWSHandler, so errors have one shape."""
    from jupyter_mlws.server.handlers import api_routes

    assert all(issubclass(handler, MLWSHandler) for _, handler in api_routes())
