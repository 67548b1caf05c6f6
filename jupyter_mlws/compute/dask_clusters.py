"""Running a cluster definition on Dask: start, adapt, watch nodes, attach, stop (issue 15).

Who calls this: the server's cluster service (`server/clusters.py`), on a pool thread (starting a
LocalCluster takes a few seconds). Dask does the scheduling and the autoscaling; this module only
builds the Dask cluster a definition asks for and reads what Dask reports. Dask is imported here,
never at `import jupyter_mlws` (a kernel stays fast to start).

Decisions:
- Default backend: `distributed.LocalCluster` with worker processes bound to 127.0.0.1 (the
  scheduler too; the dashboard on 127.0.0.1 when bokeh is installed, else none), one worker per
  node with `nthreads=cpus`, `memory_limit=memory` and the worker resources `CPU`, `GPU`,
  `MEMORY` (jobs ask for them), GPU nodes with `CUDA_VISIBLE_DEVICES` from the same detection as
  compute instances.
- Autoscaling is Dask's `adapt(minimum, maximum)`. Dask retires a worker after it was recommended
  for removal `wait_count` times in a row, `interval` apart: `wait_count = idle / interval`
  makes a node retire about `idle_seconds_before_scaledown` after it fell idle.
- Another backend: the dotted `factory` is imported and called with `factory_kwargs`
  (`dask_jobqueue.SLURMCluster(...)`, `dask_kubernetes.operator.KubeCluster(...)`,
  `dask_gateway.GatewayCluster(...)`); it is adapted the same way when it can `adapt`. Only a
  subclass of Dask's `Cluster`, or a function annotated to return one, is ever called.
- Attached: a `distributed.Client` to the address is made within `ATTACH_TIMEOUT`, which proves the
  scheduler answers; the workers and versions it reports are checked (a version that differs from
  ours is returned as a warning text). An attached cluster is never scaled or closed here.
- The server's own environment stays as it is: Dask's nannies would write OMP_NUM_THREADS=1 and
  its kind into the process that spawns workers (every kernel started after would inherit it);
  those variables are given to each worker's own environment instead.
- Nodes are the workers the scheduler knows (`Client.processing()`); `nodes()` returns their
  addresses with the tasks each is processing, which the service diffs into events.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from ..entities import ComputeCluster
from ..errors import InvalidParameter, Unavailable

ATTACH_TIMEOUT = 5.0
#: Dask's nanny pre-spawn variables as configured, read once (the config is emptied after).
_PRE_SPAWN: dict[str, str] | None = None
_PRE_SPAWN_LOCK = threading.Lock()


@dataclass
class RunningCluster:
    """A Dask cluster behind one of our definitions (`cluster` is None when attached)."""

    definition: ComputeCluster
    address: str
    cluster: Any = None
    dashboard: str | None = None
    warnings: list[str] = field(default_factory=list)
    _client: Any = None

    @property
    def attached(self) -> bool:
        return self.cluster is None

    def client(self, reconnect: bool = True) -> Any:
        """A (cached) synchronous `distributed.Client` to the scheduler; one that Dask closed (its
        scheduler stopped answering) is replaced by a new one, unless `reconnect` is False."""
        if reconnect and self._client is not None and self._client.status in ("closed", "failed"):
            self._client = None
        if self._client is None:
            from distributed import Client

            self._client = Client(self.address, timeout=f"{ATTACH_TIMEOUT}s", set_as_default=False)
        return self._client

    def nodes(self) -> dict[str, int]:
        """Worker address -> tasks it is processing now (every worker the scheduler knows)."""
        return {address: len(tasks) for address, tasks in self.client().processing().items()}

    def declares_resources(self) -> bool:
        """True when some worker declares Dask resources (jobs then ask for CPU/GPU/MEMORY)."""
        workers = self.client().scheduler_info().get("workers", {})
        return any((w or {}).get("resources") for w in workers.values())

    def stop(self) -> None:
        """Close our client; close the cluster only when we started it."""
        client, self._client = self._client, None
        if client is not None:
            client.close(timeout=5)
        if self.cluster is not None:
            self.cluster.close(timeout=10)


def start(definition: ComputeCluster, connect_to: str | None = None) -> RunningCluster:
    """Start (or attach to) the Dask cluster `definition` describes; an attached one is reached at
    `connect_to` when given (the server's checked address for it: `jupyter_mlws/outbound.py`)."""
    if definition.kind == "attached":
        return attach(definition, connect_to)
    if definition.factory:
        _keep_our_environment_clean()  # (the backend's nannies would poison this process too)
        cluster = _factory(definition.factory)(**definition.factory_kwargs)
    else:
        cluster = _local_cluster(definition)
    running = RunningCluster(
        definition, cluster.scheduler_address, cluster, getattr(cluster, "dashboard_link", None)
    )
    readapt(running)
    return running


def readapt(running: RunningCluster) -> None:
    """(Re)apply Dask's adaptive scaling with the definition's bounds and idle time."""
    definition, cluster = running.definition, running.cluster
    if cluster is None or not hasattr(cluster, "adapt"):
        return
    interval = 0.5 if definition.idle_seconds_before_scaledown <= 60 else 1.0
    cluster.adapt(
        minimum=definition.min_nodes,
        maximum=definition.max_nodes,
        interval=f"{interval}s",
        wait_count=max(1, math.ceil(definition.idle_seconds_before_scaledown / interval)),
    )


def attach(definition: ComputeCluster, connect_to: str | None = None) -> RunningCluster:
    """Connect to somebody else's scheduler (at `connect_to`, else its definition's address);
    Unavailable when it does not answer in time."""
    from distributed import Client

    assert definition.address is not None
    address = connect_to or definition.address
    try:
        client = Client(address, timeout=f"{ATTACH_TIMEOUT}s", set_as_default=False)
    except (OSError, TimeoutError) as err:
        raise Unavailable(
            f"Attached cluster {definition.name!r}: no Dask scheduler answered at {definition.address} "
            f"within {ATTACH_TIMEOUT:g} s ({type(err).__name__})."
        ) from None
    running = RunningCluster(definition, address, None, client.dashboard_link, _client=client)
    running.warnings = version_warnings(client)
    return running


def version_warnings(client: Any) -> list[str]:
    """What differs between our Dask and the scheduler's and workers' (Dask's own version check)."""
    import distributed

    found = []
    try:
        versions = client.get_versions(check=False)
    except Exception as err:  # a scheduler that cannot say: note it, it is not fatal
        return [f"could not read the cluster's versions: {type(err).__name__}"]
    theirs = versions.get("scheduler", {}).get("packages", {}).get("distributed")
    if theirs and theirs != distributed.__version__:
        found.append(f"the scheduler runs distributed {theirs}, this server {distributed.__version__}")
    for address, worker in (versions.get("workers") or {}).items():
        version = (worker or {}).get("packages", {}).get("distributed")
        if version and version != distributed.__version__:
            found.append(
                f"worker {address} runs distributed {version}, this server {distributed.__version__}"
            )
    return found


def _keep_our_environment_clean() -> dict[str, str]:
    """Dask's nannies write `distributed.nanny.pre-spawn-environ` (OMP_NUM_THREADS=1, ...) into
    the environment of the process that runs them before each worker starts, "even if this means
    poisoning" it (distributed/nanny.py). In a Jupyter server that would make every kernel started
    after a cluster scaled up single-threaded. The variables go to the workers instead, through
    their own `env`; the config is emptied for this process."""
    import dask

    global _PRE_SPAWN
    with _PRE_SPAWN_LOCK:
        if _PRE_SPAWN is None:  # read once: after this the config is empty in this process
            configured = dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}
            _PRE_SPAWN = {str(k): str(v) for k, v in configured.items()}
            dask.config.set({"distributed.nanny.pre-spawn-environ": {}})
        return dict(_PRE_SPAWN)


def _local_cluster(definition: ComputeCluster) -> Any:
    from distributed import LocalCluster

    resources: dict[str, float] = {"CPU": definition.node_cpus, "GPU": definition.node_gpus}
    if definition.node_memory_bytes:
        resources["MEMORY"] = definition.node_memory_bytes
    env = _keep_our_environment_clean()
    if definition.node_gpus:
        from .resources import allowed_gpus, detect_gpus

        visible = allowed_gpus(detect_gpus(), os.environ.get("CUDA_VISIBLE_DEVICES"))
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g.index) for g in visible[: definition.node_gpus])
    try:
        import bokeh  # noqa: F401  (the dashboard needs it)

        dashboard: str | None = "127.0.0.1:0"
    except ImportError:
        dashboard = None
    return LocalCluster(
        n_workers=definition.min_nodes,
        threads_per_worker=definition.node_cpus,
        processes=True,
        memory_limit=definition.node_memory_bytes or 0,
        host="127.0.0.1",
        dashboard_address=dashboard,
        resources=resources,
        silence_logs=logging.ERROR,
        env=env,
    )


def _factory(dotted: str) -> Any:
    """The Dask cluster class (or a function declared to return a Dask cluster) `dotted` names.
    Anything else is refused before it is called: a factory is a backend, not a way to call any
    function with any arguments in the server's process."""
    from distributed.deploy.cluster import Cluster

    module_name, _, name = dotted.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise InvalidParameter(f"Cluster factory {dotted!r} cannot be imported here: {err}.") from None
    if not _makes_a_cluster(found, Cluster):
        raise InvalidParameter(
            f"Cluster factory {dotted!r} is not a Dask cluster class (a subclass of "
            "distributed.deploy.Cluster, such as dask_jobqueue.SLURMCluster) or a function "
            "declared to return one (such as distributed.deploy.subprocess.SubprocessCluster)."
        )
    return found


def _makes_a_cluster(found: Any, cluster_class: type) -> bool:
    """True for a Cluster subclass, or a function whose return annotation is one."""
    if isinstance(found, type):
        return issubclass(found, cluster_class)
    if not inspect.isfunction(found):
        return False
    try:
        returns = inspect.signature(found, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError, SyntaxError):
        return False
    return isinstance(returns, type) and issubclass(returns, cluster_class)
