"""`GET /mlws/api/v1/info`: where the workspace is and what backs it."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, Field
from tornado import web

from ..._version import __version__
from .base import MLWSHandler


class WorkspaceInfo(BaseModel):
    """The answer of `GET /info`."""

    workspace: str = Field(description="The workspace folder, or the URL of a remote workspace.")
    version: str = Field(description="The jupyter_mlws version running in the server.")
    store_kind: str = Field(description="`sqlite`, `postgresql` or `rest`.")
    store_url: str = Field(description="The metadata store URL, password removed.")
    artifact_url: str = Field(description="The artifact store location, password removed.")


class InfoHandler(MLWSHandler):
    auth_resource = "mlws:workspace"

    @web.authenticated
    @authorized
    def get(self) -> None:
        described = self.services.location.describe()
        self.write_model(WorkspaceInfo(version=__version__, **described))
