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

Run supervision (`supervisor.py`, docs/supervision.md) and system metrics
(`sysmetrics.py`) run for local stores: `supervise_interval`,
`lease_seconds`, `system_metrics_interval`. So do compute instances
(`compute.py`: kernelspecs, usage, live compute events; `idle_shutdown.py`):
`compute_interval`, `idle_warning_seconds`. So does the endpoint manager
(`serving/manager.py`, issue 8: replicas of the workspace's scoring endpoints,
brought back after a restart): `serve_endpoints`. It is stopped first on
shutdown, so replicas end before the stores close.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, List, Type, Unicode

from ..location import WorkspaceLocation, resolve_location
from .compute import ComputeManager
from .compute_events import COMPUTE_EVENT_SCHEMA
from .events import RUN_EVENT_SCHEMA, RunEventWatcher
from .exposure import refusal
from .handlers import api_routes
from .mlflow_api import MLFLOW_PREFIX, mlflow_routes
from .registry_events import REGISTRY_EVENT_SCHEMA
from .services import WorkspaceServices
from .supervisor import RunSupervisor
from .sysmetrics import SystemMetricsSampler


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
        0.25,
        config=True,
        help="Seconds between two looks for run changes to push to the browser (0 turns live events off).",
    )

    supervise_interval = Float(
        1.0,
        config=True,
        help=(
            "Seconds between two checks that the owners of running runs are alive; runs whose "
            "process, kernel or heartbeat lease is gone end 'killed' (0 turns supervision off)."
        ),
    )
    lease_seconds = Float(
        30.0,
        config=True,
        help=(
            "A run owned by no process of this host (another host, or no pid) ends 'killed' when "
            "its heartbeat is this many seconds old (clients beat every 10 s; 0: never)."
        ),
    )
    system_metrics_interval = Float(
        2.0,
        config=True,
        help=(
            "Seconds between two samples of CPU, memory and GPU use of each running run's "
            "process tree, logged as system/* metrics (0 turns sampling off)."
        ),
    )

    compute_interval = Float(
        1.0,
        config=True,
        help=(
            "Seconds between two looks at the kernels of compute instances (usage, idle shutdown) "
            "and at new compute events to push to the browser (0 turns the loop off)."
        ),
    )
    idle_warning_seconds = Float(
        60.0,
        config=True,
        help="How long before an idle instance kernel is shut down the browser is warned.",
    )

    cluster_interval = Float(
        0.5,
        config=True,
        help=(
            "Seconds between two looks at the nodes of the training clusters this server runs "
            "(node events); 0 turns the watching off (the clusters still run and scale)."
        ),
    )

    outbound_allowed_networks = List(
        Unicode(),
        default_value=["auto"],
        config=True,
        help=(
            "Networks beyond the public internet (CIDRs, e.g. 10.1.0.0/16; one per option, repeated "
            "for more) that the server may connect to when a caller names the address (an attached "
            "Dask scheduler). 'auto' (the default): loopback and private networks when the server "
            "listens on loopback only, none otherwise. An empty list allows none. Link-local and "
            "other special addresses only when listed."
        ),
    )

    serve_endpoints = Bool(
        True,
        config=True,
        help=(
            "Run the workspace's scoring endpoints (their replica processes) in this server: started "
            "with it, restarted when they crash, stopped with it and brought back on the next start."
        ),
    )

    autoload_extension = Bool(
        True,
        config=True,
        help=(
            "Load the jupyter_mlws IPython extension (%%mlrun, %mlws, the execution recorder) in "
            "every Python kernel this server starts, through $PYTHONSTARTUP."
        ),
    )
    mlflow_kernel_env = Bool(
        True,
        config=True,
        help=(
            "Give the kernels this server starts MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN for "
            "this server's MLflow API (/mlws/mlflow), so existing mlflow code logs into the workspace "
            "unchanged. A MLFLOW_TRACKING_URI already in the server's environment is kept."
        ),
    )
    record_executions = Bool(
        True,
        config=True,
        help=(
            "Record every cell execution of the kernels this server starts (source, duration, "
            "status, run); `%mlws record off` turns it off for one notebook."
        ),
    )

    location: WorkspaceLocation
    services: WorkspaceServices
    supervisor: RunSupervisor | None = None
    compute: ComputeManager | None = None
    endpoint_manager: Any = None
    clusters: Any = None
    jobs: Any = None

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
        refused = refusal(self.serverapp)
        self.settings["mlws_refusal"] = refused
        if refused:
            self.log.error(refused)
        self.services.kernel_env = self._kernel_env()
        events = self.serverapp.event_logger
        if events is not None:
            events.register_event_schema(RUN_EVENT_SCHEMA)
            events.register_event_schema(COMPUTE_EVENT_SCHEMA)
            events.register_event_schema(REGISTRY_EVENT_SCHEMA)

    def _kernel_env(self) -> dict[str, str]:
        env = {"MLWS_RECORD_EXECUTIONS": "1" if self.record_executions else "0"}
        if self.autoload_extension:
            env["PYTHONSTARTUP"] = str(
                Path(__file__).resolve().parent.parent / "notebook" / "kernel_startup.py"
            )
        return env

    def initialize_handlers(self) -> None:
        self.handlers.extend(api_routes())
        self.handlers.extend(mlflow_routes())  # MLflow's REST API (server/mlflow_api), not in our OpenAPI

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self.services.extension_starting()
        try:
            await self._start_all(serverapp)
        finally:
            self.services.extension_started()

    async def _start_all(self, serverapp: Any) -> None:
        if self.mlflow_kernel_env:
            self.services.kernel_env.update(self._mlflow_env(serverapp))
        await self.services.start()
        if self.event_interval > 0 and self.location.store_kind != "rest":
            watcher = RunEventWatcher(self.services, serverapp.event_logger, self.event_interval)
            self.settings["mlws_event_watcher"] = watcher
            serverapp.web_app.settings["mlws_event_watcher"] = watcher
            self.services.spawn(watcher.run_forever(), "run-events")
        if self.location.store_kind != "rest":
            self._start_supervision(serverapp)
            self._start_compute(serverapp)
            await self._start_clusters(serverapp)
            if self.serve_endpoints:
                await self._start_endpoints(serverapp)

    def _start_supervision(self, serverapp: Any) -> None:
        if self.supervise_interval > 0:
            supervisor = RunSupervisor(
                self.services,
                interval=self.supervise_interval,
                lease_seconds=self.lease_seconds,
                log=self.log,
            )
            supervisor.install(serverapp.kernel_manager, serverapp.event_logger)
            self.supervisor = supervisor
            self.settings["mlws_supervisor"] = supervisor
            serverapp.web_app.settings["mlws_supervisor"] = supervisor
            self.services.spawn(supervisor.run_forever(), "run-supervisor")
        if self.system_metrics_interval > 0:
            sampler = SystemMetricsSampler(self.services, interval=self.system_metrics_interval, log=self.log)
            self.services.spawn(sampler.run_forever(), "system-metrics")

    def _start_compute(self, serverapp: Any) -> None:
        manager = ComputeManager(
            self.services,
            serverapp.kernel_manager,
            serverapp.event_logger,
            interval=self.compute_interval,
            idle_warning_seconds=self.idle_warning_seconds,
            settings=serverapp.web_app.settings,
            session_manager=getattr(serverapp, "session_manager", None),
            log=self.log,
        )
        self.compute = manager
        self.settings["mlws_compute"] = manager
        serverapp.web_app.settings["mlws_compute"] = manager
        if self.compute_interval > 0:
            self.services.spawn(manager.run_forever(), "compute")
        else:
            self.services.spawn(manager.start(), "compute-start")

    async def _start_clusters(self, serverapp: Any) -> None:
        from ..outbound import OutboundPolicy
        from .clusters import ClusterService
        from .exposure import listens_on_loopback_only

        outbound = OutboundPolicy.for_server(
            self.outbound_allowed_networks, listens_on_loopback_only(serverapp)
        )
        self.log.info(
            "Connections to caller-named addresses may reach: %s",
            ", ".join(str(n) for n in outbound.allowed) or "public addresses only",
        )
        service = ClusterService(
            self.services, interval=self.cluster_interval, log=self.log, outbound=outbound
        )
        self.clusters = service
        self.settings["mlws_clusters"] = service
        serverapp.web_app.settings["mlws_clusters"] = service
        await service.start()
        from .jobs import JobService

        jobs = JobService(self.services, service, self._node_workspace(serverapp), log=self.log)
        await jobs.start()
        self.jobs = jobs
        self.settings["mlws_jobs"] = jobs
        serverapp.web_app.settings["mlws_jobs"] = jobs

    def _mlflow_env(self, serverapp: Any) -> dict[str, str]:
        """`MLFLOW_TRACKING_URI` (and the token) for kernels, so MLflow code logs into the workspace;
        a tracking URI the server's own environment sets is the user's choice and stays."""
        if os.environ.get("MLFLOW_TRACKING_URI"):
            return {}
        try:
            url = serverapp.connection_url.rstrip("/") + MLFLOW_PREFIX
        except Exception:  # a server without a URL (a socket): MLflow code keeps its default
            return {}
        env = {"MLFLOW_TRACKING_URI": url}
        token = getattr(serverapp.identity_provider, "token", "") or ""
        if token:
            env["MLFLOW_TRACKING_TOKEN"] = token
        return env

    def _node_workspace(self, serverapp: Any) -> dict[str, Any]:
        """How a job's node reaches this workspace: its stores on this machine, else this server."""
        where: dict[str, Any] = {
            "store_url": self.location.store_url,
            "artifact_url": self.location.artifact_url,
        }
        try:
            where["url"] = serverapp.connection_url
            token = getattr(serverapp.identity_provider, "token", "") or ""
            if token:
                where["token"] = token
        except Exception:  # a server without a URL yet: nodes then use the stores only
            pass
        return where

    async def _start_endpoints(self, serverapp: Any) -> None:
        from ..serving.manager import EndpointManager

        services = self.services
        manager = EndpointManager(
            services.store,
            services.artifacts,
            self.location.workspace,
            self.log,
            # replicas answer the Hosts this server answers (RELIABILITY A5)
            host_policy={
                "allow_remote_access": bool(serverapp.allow_remote_access),
                "local_hostnames": list(serverapp.local_hostnames),
            },
        )
        await services.run(manager.start)  # takes over (and restarts) the endpoints of a previous owner
        self.endpoint_manager = manager
        self.settings["mlws_endpoint_manager"] = manager
        serverapp.web_app.settings["mlws_endpoint_manager"] = manager

    async def stop_extension(self) -> None:
        try:
            if self.endpoint_manager is not None:
                manager, self.endpoint_manager = self.endpoint_manager, None
                await self.services.run(manager.stop)  # replicas end before anything else stops
            if self.jobs is not None:
                jobs, self.jobs = self.jobs, None
                await jobs.stop()  # running jobs are recorded before their nodes go
            if self.clusters is not None:
                clusters, self.clusters = self.clusters, None
                await clusters.stop()  # its worker processes end with the server
            if self.compute is not None:
                compute, self.compute = self.compute, None
                await compute.stop()
            if self.supervisor is not None:
                supervisor, self.supervisor = self.supervisor, None
                await supervisor.stop()  # before jupyter_server shuts the kernels down
        finally:
            await self.services.stop()
