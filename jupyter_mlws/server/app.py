"""`MLWorkspaceApp`: the jupyter_server extension behind the ML Workspace.

Lifecycle (who calls what, and when):
- jupyter_server links the extension and loads its config, then calls
  `initialize_settings()` (workspace resolved, services built once) and
  `initialize_handlers()` (the route table);
- once the event loop runs, `_start_jupyter_server_extension()` starts the
  services' background work;
- on shutdown `stop_extension()` stops all of it.

Configuration (in `jupyter_server_config.py` or on the command line):
`--MLWorkspaceApp.workspace=PATH|URL`, `--MLWorkspaceApp.store_url=URL`,
`--MLWorkspaceApp.artifact_url=URL`. `$MLWS_WORKSPACE` is used when
`workspace` is not set; the default is `.mlws/` under the server's root dir.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Type, Unicode

from ..location import WorkspaceLocation, resolve_location
from .events import RUN_EVENT_SCHEMA, RunEventWatcher
from .handlers import api_routes
from .services import WorkspaceServices


class MLWorkspaceApp(ExtensionApp):
    """The ML Workspace server extension (`mlws`)."""

    name = "mlws"
    description = "An Azure-ML-style managed ML workspace inside JupyterLab."
    load_other_extensions = True

    workspace = Unicode(
        "",
        config=True,
        help=(
            "The workspace: a folder (relative to the server's root dir) or the http(s) URL "
            "of another jupyter_mlws server. Empty: $MLWS_WORKSPACE, else '.mlws'."
        ),
    )
    store_url = Unicode(
        "",
        config=True,
        help="Metadata store URL (sqlite:///PATH or postgresql://...). Empty: SQLite in the workspace.",
    )
    artifact_url = Unicode(
        "",
        config=True,
        help="Artifact store location (a folder or an fsspec URL). Empty: 'artifacts' in the workspace.",
    )
    services_class = Type(
        default_value=WorkspaceServices,
        klass=WorkspaceServices,
        config=True,
        help="The class that holds the workspace's long-lived services (swap it in tests or deployments).",
    )

    event_interval = Float(
        0.5,
        config=True,
        help="Seconds between two looks for run changes to push to the browser (0 turns live events off).",
    )

    location: WorkspaceLocation
    services: WorkspaceServices

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        self.location = resolve_location(
            self.workspace or None,
            store_url=self.store_url or None,
            artifact_url=self.artifact_url or None,
            base_dir=self.serverapp.root_dir,
        )
        self.services = self.services_class(self.location, log=self.log)
        self.settings["mlws_services"] = self.services
        self.serverapp.event_logger.register_event_schema(RUN_EVENT_SCHEMA)

    def initialize_handlers(self) -> None:
        self.handlers.extend(api_routes())

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        await self.services.start()
        if self.event_interval > 0 and self.location.store_kind != "rest":
            watcher = RunEventWatcher(self.services, serverapp.event_logger, self.event_interval)
            self.settings["mlws_event_watcher"] = watcher
            serverapp.web_app.settings["mlws_event_watcher"] = watcher
            self.services.spawn(watcher.run_forever(), "run-events")

    async def stop_extension(self) -> None:
        await self.services.stop()
