"""Training cluster definitions (issue 15): what `ws.compute.create_cluster(...)` and `attach(...)` accept.

Who calls this: `ws.compute` (client/compute.py), the server's REST handlers and `jupyter mlws
compute cluster ...`, before anything reaches a store; the cluster manager (`compute/dask_clusters.py`)
reads the checked definitions.

Decisions (Azure ML's AmlCompute names, Dask's engine):
- A cluster is `min_nodes`..`max_nodes` nodes of one size (`node={"cpus", "memory", "gpus"}`); a
  node is one Dask worker process with `nthreads=cpus`, `memory_limit=memory` and the worker
  resources `CPU`, `GPU`, `MEMORY`. Dask's own adaptive scaling adds nodes for waiting work and
  retires a node idle for `idle_seconds_before_scaledown` (Azure ML's name; default 120 s).
- Sizes are checked when defined, against this machine for the default backend (LocalCluster's
  nodes run here): more CPUs, memory or GPUs in one node than the machine has is refused with both
  numbers. `min_nodes <= max_nodes`, both whole numbers >= 0, `max_nodes` >= 1, at most
  `MAX_NODES`.
- Another backend per cluster: `factory="dask_jobqueue.SLURMCluster"` and `factory_kwargs={...}`
  (as dask-labextension's `labextension.factory`); the node size is then the backend's business
  and not checked against this machine.
- An attached cluster names a running Dask scheduler: `tcp://host:port` or `tls://host:port`
  (or a dask-gateway `gateway://` / `http(s)://` address); it is never scaled or stopped by us.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..entities import ComputeCluster
from ..errors import InvalidParameter
from ..validation import NAME_PATTERN
from .spec import MIN_MEMORY, available_cpus, format_bytes, parse_memory

MAX_NODES = 1000
MAX_IDLE_SECONDS = 7 * 24 * 3600
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+\Z")
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ucx|gateway|http|https)://[^\s/]+(/\S*)?\Z")


def validate_cluster(
    name: Any,
    *,
    min_nodes: Any = 0,
    max_nodes: Any = 1,
    node: Any = None,
    idle_seconds_before_scaledown: Any = 120,
    factory: Any = "",
    factory_kwargs: Any = None,
    description: Any = "",
) -> ComputeCluster:
    """A checked cluster definition, or InvalidParameter naming what is wrong."""
    name = _name(name)
    low, high = _count("min_nodes", min_nodes), _count("max_nodes", max_nodes)
    if high < 1:
        raise InvalidParameter(f"Cluster {name!r}: max_nodes must be at least 1, not {high}.")
    if low > high:
        raise InvalidParameter(f"Cluster {name!r}: min_nodes ({low}) is more than max_nodes ({high}).")
    factory = _factory(factory)
    cpus, memory, gpus = _node(name, node, check_machine=not factory)
    return ComputeCluster(
        name=name,
        kind="cluster",
        min_nodes=low,
        max_nodes=high,
        node_cpus=cpus,
        node_memory_bytes=memory,
        node_gpus=gpus,
        idle_seconds_before_scaledown=_idle(idle_seconds_before_scaledown),
        factory=factory,
        factory_kwargs=_kwargs(factory_kwargs),
        description=_description(description),
    )


def validate_attached(name: Any, *, address: Any, description: Any = "") -> ComputeCluster:
    """A checked attached-cluster definition (the scheduler is checked by the manager)."""
    name = _name(name)
    if not isinstance(address, str) or not _ADDRESS.match(address.strip()):
        raise InvalidParameter(
            f"Attached cluster {name!r}: address must be a Dask scheduler address such as "
            f"'tcp://host:8786' (or a dask-gateway URL), not {address!r:.80}."
        )
    return ComputeCluster(
        name=name,
        kind="attached",
        min_nodes=0,
        max_nodes=0,
        address=address.strip(),
        description=_description(description),
    )


def apply_cluster_changes(cluster: ComputeCluster, **changes: Any) -> ComputeCluster:
    """`cluster` with `changes` applied and checked again as a whole (for update)."""
    if cluster.kind != "cluster":
        raise InvalidParameter(f"{cluster.name!r} is an attached cluster: detach it and attach it again.")
    allowed = {
        "min_nodes",
        "max_nodes",
        "node",
        "idle_seconds_before_scaledown",
        "factory",
        "factory_kwargs",
        "description",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidParameter(f"Cannot change {', '.join(sorted(unknown))} of a cluster.")
    current = {
        "min_nodes": cluster.min_nodes,
        "max_nodes": cluster.max_nodes,
        "node": {"cpus": cluster.node_cpus, "memory": cluster.node_memory_bytes, "gpus": cluster.node_gpus},
        "idle_seconds_before_scaledown": cluster.idle_seconds_before_scaledown,
        "factory": cluster.factory,
        "factory_kwargs": cluster.factory_kwargs,
        "description": cluster.description,
    }
    if "node" in changes and isinstance(changes["node"], dict):
        changes["node"] = {**current["node"], **changes["node"]}
    return validate_cluster(cluster.name, **{**current, **changes})


def node_text(cluster: ComputeCluster) -> str:
    """'1 CPU, 2 GiB, 0 GPU' — a node's size as people read it."""
    memory = format_bytes(cluster.node_memory_bytes) if cluster.node_memory_bytes else "no memory limit"
    return f"{cluster.node_cpus} CPU, {memory}, {cluster.node_gpus} GPU"


# ----- fields ------------------------------------------------------------------------------------
def _name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidParameter(
            f"Cluster name {name!r:.80} is not valid: 1 to 63 lowercase letters, digits and '-', "
            "starting with a letter or digit."
        )
    return name


def _count(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NODES:
        raise InvalidParameter(f"{what} must be a whole number from 0 to {MAX_NODES}, not {value!r:.40}.")
    return value


def _node(name: str, node: Any, check_machine: bool) -> tuple[int, int | None, int]:
    node = {} if node is None else node
    if not isinstance(node, dict) or set(node) - {"cpus", "memory", "gpus"}:
        raise InvalidParameter(
            f"Cluster {name!r}: node is a dict of cpus, memory and gpus, e.g. "
            '{"cpus": 1, "memory": "2GiB", "gpus": 0}.'
        )
    cpus = node.get("cpus", 1)
    if isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1:
        raise InvalidParameter(f"Cluster {name!r}: a node's cpus is a whole number >= 1, not {cpus!r:.40}.")
    memory = parse_memory(node.get("memory"))
    if memory is not None and memory < MIN_MEMORY:
        raise InvalidParameter(
            f"Cluster {name!r}: a node needs at least {format_bytes(MIN_MEMORY)} of memory."
        )
    gpus = node.get("gpus", 0)
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0:
        raise InvalidParameter(f"Cluster {name!r}: a node's gpus is a whole number >= 0, not {gpus!r:.40}.")
    if check_machine:
        _fits_this_machine(name, cpus, memory, gpus)
    return cpus, memory, gpus


def _fits_this_machine(name: str, cpus: int, memory: int | None, gpus: int) -> None:
    """The default backend runs its nodes here: one node must fit this machine."""
    have = available_cpus()
    if cpus > have:
        raise InvalidParameter(
            f"Cluster {name!r}: a node of {cpus} CPUs is bigger than this machine, which has {have} "
            "(the default backend runs its nodes here; use factory= for a cluster of other machines)."
        )
    if memory is not None:
        import psutil

        total = int(psutil.virtual_memory().total)
        if memory > total:
            raise InvalidParameter(
                f"Cluster {name!r}: a node of {format_bytes(memory)} is bigger than this machine's "
                f"memory, {format_bytes(total)}."
            )
    if gpus:
        import os

        from .resources import allowed_gpus, detect_gpus

        found = len(allowed_gpus(detect_gpus(), os.environ.get("CUDA_VISIBLE_DEVICES")))
        if gpus > found:
            raise InvalidParameter(
                f"Cluster {name!r}: a node of {gpus} GPUs needs more than this machine has: {found} found."
            )


def _idle(seconds: Any) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise InvalidParameter(
            f"idle_seconds_before_scaledown must be a number of seconds, not {seconds!r:.40}."
        )
    if not 1 <= seconds <= MAX_IDLE_SECONDS:
        raise InvalidParameter(
            f"idle_seconds_before_scaledown must be from 1 to {MAX_IDLE_SECONDS} seconds, not {seconds:g}."
        )
    return float(seconds)


def _factory(factory: Any) -> str:
    if factory in (None, ""):
        return ""
    if not isinstance(factory, str) or not _DOTTED.match(factory):
        raise InvalidParameter(
            f"factory names a Dask cluster class by its dotted path (e.g. 'dask_jobqueue.SLURMCluster'), "
            f"not {factory!r:.80}."
        )
    return factory


def _kwargs(kwargs: Any) -> dict[str, Any]:
    if kwargs is None:
        return {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise InvalidParameter("factory_kwargs is a dict of keyword arguments for the factory.")
    import json

    try:
        json.dumps(kwargs, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidParameter(
            "factory_kwargs must be plain JSON values (text, numbers, lists, dicts)."
        ) from None
    return dict(kwargs)


def _description(description: Any) -> str:
    if not isinstance(description, str) or len(description) > 1000:
        raise InvalidParameter("description is text of at most 1,000 characters.")
    return description
