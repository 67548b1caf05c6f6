"""`GET /mlws/api/v1/info`: where the workspace is and what backs it."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, Field
from tornado import web

from ..._version import __version__
from ...errors import NotFound, Unavailable
from ..openapi import build_openapi
from .base import MLWSHandler, route


class WorkspaceInfo(BaseModel):
    """The answer of `GET /info`."""

    workspace: str = Field(description="The workspace folder, or the URL of a remote workspace.")
    version: str = Field(description="The jupyter_mlws version running in the server.")
    store_kind: str = Field(description="`sqlite`, `postgresql` or `rest`.")
    store_url: str = Field(description="The metadata store URL, password removed.")
    artifact_url: str = Field(description="The artifact store location, password removed.")
    ready: bool = Field(description="Whether the stores are open and serving.")
    problem: str | None = Field(None, description="Why the stores are not serving, if they are not.")
    warnings: list[str] = Field(
        default_factory=list,
        description="What needs the owner's attention while the stores serve (a SQLite write-ahead "
        "log that a reader outside the workspace keeps from being reset, naming the process).",
    )


class InfoHandler(MLWSHandler):
    auth_resource = "mlws:workspace"
    needs_store = False

    @route(
        "Where the workspace is and what backs it", response=WorkspaceInfo, errors=(403,), tags=("workspace",)
    )
    def get(self) -> None:
        services = self.services
        described = services.location.describe()
        try:
            store = services.store
        except Unavailable:
            store = None
        warnings = [w for w in (getattr(store, "wal_warning", None),) if w]
        self.write_model(
            WorkspaceInfo(
                version=__version__,
                ready=services.started,
                problem=services.start_error,
                warnings=warnings,
                **described,
            )
        )


class OpenAPIHandler(MLWSHandler):
    """`GET /mlws/api/v1/openapi.json`: this API described by itself."""

    auth_resource = "mlws:workspace"
    needs_store = False

    @route(
        "This API's OpenAPI document", raw_response="application/json", errors=(403,), tags=("workspace",)
    )
    def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(build_openapi())


class UnknownResourceHandler(MLWSHandler):
    """Anything under `/mlws/api/v1/` that no resource matches: a JSON 404 (never an HTML page)."""

    auth_resource = "mlws:workspace"
    needs_store = False
    #: Not an API operation: left out of the OpenAPI document.
    in_openapi = False

    def _missing(self) -> None:
        raise NotFound("No such resource in the ML workspace API; see /mlws/api/v1/openapi.json.")

    @web.authenticated
    @authorized
    def get(self, path: str) -> None:
        self._missing()

    @web.authenticated
    @authorized
    def post(self, path: str) -> None:
        self._missing()

    @web.authenticated
    @authorized
    def put(self, path: str) -> None:
        self._missing()

    @web.authenticated
    @authorized
    def patch(self, path: str) -> None:
        self._missing()

    @web.authenticated
    @authorized
    def delete(self, path: str) -> None:
        self._missing()
