"""The REST route table of the extension, under `/mlws/api/v1/`.

Every route is a resource (STYLE.md rule 5), served by an `MLWSHandler`
subclass whose methods are `@authenticated` and `@authorized` with a resource
`mlws:<area>`; `tests/server/test_routes_auth.py` walks the live table and fails on
any route that is not.
"""

from __future__ import annotations

from typing import Any

from .artifacts import ArtifactHandler, ArtifactListHandler
from .batch_endpoints import (
    BatchEndpointHandler,
    BatchEndpointJobsHandler,
    BatchEndpointKeyHandler,
    BatchEndpointListHandler,
)
from .blobs import BlobHandler
from .charts import MetricHistoriesHandler
from .clusters import ClusterHandler, ClusterListHandler, ClusterStateHandler
from .compute import (
    ComputeEventsHandler,
    ComputeInstanceHandler,
    ComputeInstancesHandler,
    ComputeKernelsHandler,
    KeepAliveHandler,
)
from .dashboard import DashboardHandler, DashboardSocketHandler
from .data import DataListHandler, DataVersionHandler, DataVersionsHandler
from .diff import RunDiffHandler, RunReplayHandler
from .endpoints import (
    EndpointHandler,
    EndpointKeyHandler,
    EndpointListHandler,
    EndpointLogsHandler,
    EndpointScoreHandler,
)
from .executions import ExecutionsHandler
from .experiments import ExperimentHandler, ExperimentsHandler
from .info import InfoHandler, OpenAPIHandler, UnknownResourceHandler
from .jobs import JobCancelHandler, JobHandler, JobListHandler, JobLogsHandler
from .metrics import BatchHandler, HeartbeatHandler, MetricHistoryHandler
from .models import (
    AliasHandler,
    ModelHandler,
    ModelListHandler,
    VersionHandler,
    VersionListHandler,
)
from .runs import RunHandler, RunsHandler

API_PREFIX = "/mlws/api/v1"


def api_routes() -> list[tuple[str, type[Any]]]:
    """The (pattern, handler) pairs; the ExtensionApp prefixes the base URL."""
    return [
        (f"{API_PREFIX}/info", InfoHandler),
        (f"{API_PREFIX}/openapi.json", OpenAPIHandler),
        (f"{API_PREFIX}/experiments", ExperimentsHandler),
        (f"{API_PREFIX}/experiments/(?P<experiment_id>[^/]+)", ExperimentHandler),
        (f"{API_PREFIX}/runs", RunsHandler),
        (f"{API_PREFIX}/runs/(?P<run_id>[^/]+)", RunHandler),
        (f"{API_PREFIX}/runs/(?P<run_id>[^/]+)/batches/(?P<batch_id>[^/]+)", BatchHandler),
        (f"{API_PREFIX}/runs/(?P<run_id>[^/]+)/metrics/(?P<key>.+)", MetricHistoryHandler),
        (f"{API_PREFIX}/runs/(?P<run_id>[^/]+)/heartbeat", HeartbeatHandler),
        (f"{API_PREFIX}/runs/(?P<run_id>[^/]+)/diff/(?P<other_id>[^/]+)", RunDiffHandler),
        (f"{API_PREFIX}/runs/(?P<run_id>[^/]+)/replay", RunReplayHandler),
        (f"{API_PREFIX}/runs/(?P<run_id>[^/]+)/artifacts", ArtifactListHandler),
        (f"{API_PREFIX}/runs/(?P<run_id>[^/]+)/artifacts/(?P<path>.+)", ArtifactHandler),
        (f"{API_PREFIX}/blobs/(?P<sha256>[^/]+)", BlobHandler),
        (f"{API_PREFIX}/metrics/histories", MetricHistoriesHandler),
        (f"{API_PREFIX}/executions", ExecutionsHandler),
        (f"{API_PREFIX}/compute/instances", ComputeInstancesHandler),
        (f"{API_PREFIX}/compute/instances/(?P<name>[^/]+)", ComputeInstanceHandler),
        (f"{API_PREFIX}/compute/clusters", ClusterListHandler),
        (f"{API_PREFIX}/compute/clusters/(?P<name>[^/]+)", ClusterHandler),
        (f"{API_PREFIX}/compute/clusters/(?P<name>[^/]+)/state", ClusterStateHandler),
        (f"{API_PREFIX}/compute/clusters/(?P<name>[^/]+)/dashboard/(?P<page>.+)/ws", DashboardSocketHandler),
        (f"{API_PREFIX}/compute/clusters/(?P<name>[^/]+)/dashboard/(?P<path>.*)", DashboardHandler),
        (f"{API_PREFIX}/data", DataListHandler),
        (f"{API_PREFIX}/data/(?P<name>[^/]+)/versions", DataVersionsHandler),
        (f"{API_PREFIX}/data/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", DataVersionHandler),
        (f"{API_PREFIX}/jobs", JobListHandler),
        (f"{API_PREFIX}/jobs/(?P<job_id>[^/]+)", JobHandler),
        (f"{API_PREFIX}/jobs/(?P<job_id>[^/]+)/cancel", JobCancelHandler),
        (f"{API_PREFIX}/jobs/(?P<job_id>[^/]+)/logs", JobLogsHandler),
        (f"{API_PREFIX}/compute/kernels", ComputeKernelsHandler),
        (f"{API_PREFIX}/compute/kernels/(?P<kernel_id>[^/]+)/keepalive", KeepAliveHandler),
        (f"{API_PREFIX}/compute/events", ComputeEventsHandler),
        (f"{API_PREFIX}/models", ModelListHandler),
        (f"{API_PREFIX}/models/(?P<name>[^/]+)", ModelHandler),
        (f"{API_PREFIX}/models/(?P<name>[^/]+)/versions", VersionListHandler),
        (f"{API_PREFIX}/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)", VersionHandler),
        (f"{API_PREFIX}/models/(?P<name>[^/]+)/aliases/(?P<alias>[^/]+)", AliasHandler),
        (f"{API_PREFIX}/endpoints", EndpointListHandler),
        (f"{API_PREFIX}/endpoints/(?P<name>[^/]+)", EndpointHandler),
        (f"{API_PREFIX}/endpoints/(?P<name>[^/]+)/keys/(?P<key_name>[^/]+)", EndpointKeyHandler),
        (f"{API_PREFIX}/endpoints/(?P<name>[^/]+)/score", EndpointScoreHandler),
        (f"{API_PREFIX}/endpoints/(?P<name>[^/]+)/logs", EndpointLogsHandler),
        (f"{API_PREFIX}/batch-endpoints", BatchEndpointListHandler),
        (f"{API_PREFIX}/batch-endpoints/(?P<name>[^/]+)", BatchEndpointHandler),
        (f"{API_PREFIX}/batch-endpoints/(?P<name>[^/]+)/keys/(?P<key_name>[^/]+)", BatchEndpointKeyHandler),
        (f"{API_PREFIX}/batch-endpoints/(?P<name>[^/]+)/jobs", BatchEndpointJobsHandler),
        # Last: anything else under the API is a JSON 404.
        (f"{API_PREFIX}/(?P<path>.*)", UnknownResourceHandler),
    ]
