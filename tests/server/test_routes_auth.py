"""Deny-by-default route table (RELIABILITY A1-A3).

Walks the live tornado rule table, so every route a later issue registers is
checked without editing this file.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jupyter_server.auth import Authorizer

from .routes import Route, call_route, decorator_files, mlws_routes

AUTH_ACTIONS = {"get": "read", "head": "read", "options": "read", "post": "write", "put": "write",
                "patch": "write", "delete": "write"}


class DenyAndRecordAuthorizer(Authorizer):
    """Refuses everything and remembers what it was asked."""

    calls: list[tuple[str, str, str]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        type(self).calls.append((handler.request.method, action, resource))
        return False


def _routes(app: Any) -> list[Route]:
    routes = mlws_routes(app.web_app)
    assert routes, "the extension registered no routes"
    return routes


@pytest.mark.catalogue("A1")
def test_every_route_is_authenticated_and_authorized(jp_serverapp) -> None:
    routes = _routes(jp_serverapp)
    assert any(r.pattern.endswith("/mlws/api/v1/info$") for r in routes)
    problems = []
    for route in routes:
        resource = getattr(route.handler, "auth_resource", "")
        if not (isinstance(resource, str) and resource.startswith("mlws:") and len(resource) > 5):
            problems.append(f"{route.handler.__name__}: auth_resource {resource!r} is not 'mlws:<area>'")
        if not route.methods:
            problems.append(f"{route.handler.__name__}: implements no HTTP method")
        for method in route.methods:
            files = decorator_files(getattr(route.handler, method))
            if not any(f.endswith("tornado/web.py") for f in files) and not any(
                f.endswith("jupyter_server/base/websocket.py") for f in files
            ):
                problems.append(f"{route.handler.__name__}.{method} lacks @tornado.web.authenticated")
            if not any(f.endswith("jupyter_server/auth/decorator.py") for f in files):
                problems.append(f"{route.handler.__name__}.{method} lacks @authorized")
    assert not problems, "\n".join(problems)


@pytest.mark.catalogue("A2")
async def test_anonymous_requests_are_refused_everywhere(jp_serverapp, http_server_client) -> None:
    for route in _routes(jp_serverapp):
        for method in route.methods:
            response = await call_route(http_server_client, route, method, {"Authorization": ""})
            assert response.code == 403, f"{method.upper()} {route.pattern} answered {response.code}"


class TestDefaultServerSettings:
    """A2: the stock server allows unauthenticated handlers; ours must still refuse."""

    @pytest.fixture
    def jp_server_config(self) -> dict:
        return {"ServerApp": {"jpserver_extensions": {"jupyter_mlws": True}}}

    @pytest.mark.catalogue("A2")
    async def test_anonymous_refused_with_default_allowance(self, jp_serverapp, http_server_client) -> None:
        assert jp_serverapp.allow_unauthenticated_access is True
        for route in _routes(jp_serverapp):
            for method in route.methods:
                response = await call_route(http_server_client, route, method, {"Authorization": ""})
                assert response.code in (302, 403), f"{method.upper()} {route.pattern}: {response.code}"
                if response.code == 302:
                    assert method in ("get", "head")


class TestAuthorizerIsAsked:
    """A3: a refusing authorizer stops every route and is asked about `mlws:<area>`."""

    @pytest.fixture
    def jp_server_config(self) -> dict:
        DenyAndRecordAuthorizer.calls = []
        return {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_mlws": True},
                "authorizer_class": DenyAndRecordAuthorizer,
            }
        }

    @pytest.mark.catalogue("A3")
    async def test_each_route_asks_with_its_resource(self, jp_serverapp, http_server_client, jp_auth_header) -> None:
        for route in _routes(jp_serverapp):
            for method in route.methods:
                DenyAndRecordAuthorizer.calls = []
                response = await call_route(http_server_client, route, method, jp_auth_header)
                assert response.code == 403, f"{method.upper()} {route.pattern}: {response.code}"
                if method != "head":
                    body = json.loads(response.body)
                    if "/mlws/mlflow/" in route.pattern:  # MLflow's API answers in MLflow's shape
                        assert body["error_code"] == "PERMISSION_DENIED"
                    else:
                        assert body["error"] == "forbidden"
                mlws_calls = [c for c in DenyAndRecordAuthorizer.calls if c[2].startswith("mlws")]
                assert mlws_calls == [(method.upper(), AUTH_ACTIONS[method], route.handler.auth_resource)]
