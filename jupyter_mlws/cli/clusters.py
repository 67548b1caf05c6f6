"""`jupyter mlws compute cluster ...`, `compute attach`, `compute detach`: training clusters (issue 15).

    jupyter mlws compute cluster list
    jupyter mlws compute cluster show NAME
    jupyter mlws compute cluster create NAME [--min-nodes N] [--max-nodes N] [--node-cpus N]
                                             [--node-memory 2GiB] [--node-gpus N] [--idle-seconds S]
                                             [--factory DOTTED] [--factory-kwargs JSON] [--description T]
    jupyter mlws compute cluster update NAME [same options]
    jupyter mlws compute cluster delete NAME
    jupyter mlws compute cluster start|stop NAME        (through a workspace URL: the server runs it)
    jupyter mlws compute attach NAME ADDRESS            a running Dask scheduler, e.g. tcp://host:8786
    jupyter mlws compute detach NAME

`main.build_parser` adds these to the `compute` group. Everything goes through `ws.compute`
(client/compute.py), so the rules and messages are those of Python and REST.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import InvalidParameter
from .base import open_workspace
from .formatting import format_table

_LIST_FIELDS = ["name", "kind", "state", "nodes", "min_nodes", "max_nodes", "busy_nodes", "node", "address"]


def add_cluster_commands(compute_verbs: Any) -> None:
    """Register `cluster ...`, `attach` and `detach` under `jupyter mlws compute`."""
    group = compute_verbs.add_parser("cluster", help="training clusters on Dask")
    verbs = group.add_subparsers(dest="cluster_command")
    group.set_defaults(func=lambda args: (group.print_help(), 2)[1])
    verbs.add_parser("list", help="every cluster with its nodes now").set_defaults(func=cmd_list)
    for name, func, what in (
        ("show", cmd_show, "one cluster in full"),
        ("delete", cmd_delete, "stop a cluster and forget it"),
        ("start", cmd_start, "start a cluster now (through a workspace URL)"),
        ("stop", cmd_stop, "stop a cluster now (through a workspace URL)"),
    ):
        verb = verbs.add_parser(name, help=what)
        verb.add_argument("name")
        verb.set_defaults(func=func)
    for name, func, what in (
        ("create", cmd_create, "define a cluster"),
        ("update", cmd_update, "change a cluster (a running one follows)"),
    ):
        verb = verbs.add_parser(name, help=what)
        verb.add_argument("name")
        _options(verb)
        verb.set_defaults(func=func)
    attach = compute_verbs.add_parser("attach", help="use a running Dask scheduler as a cluster")
    attach.add_argument("name")
    attach.add_argument("address", help="e.g. tcp://host:8786")
    attach.add_argument("--description", default="")
    attach.set_defaults(func=cmd_attach)
    detach = compute_verbs.add_parser("detach", help="stop using an attached cluster (it keeps running)")
    detach.add_argument("name")
    detach.set_defaults(func=cmd_detach)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--min-nodes", default=None)
    parser.add_argument("--max-nodes", default=None)
    parser.add_argument("--node-cpus", default=None)
    parser.add_argument("--node-memory", default=None, help="e.g. 2GiB")
    parser.add_argument("--node-gpus", default=None)
    parser.add_argument("--idle-seconds", default=None, help="retire a node idle this long (default 120)")
    parser.add_argument(
        "--factory", default=None, help="a Dask cluster class, e.g. dask_jobqueue.SLURMCluster"
    )
    parser.add_argument("--factory-kwargs", default=None, help="its keyword arguments as JSON")
    parser.add_argument("--description", default=None)


def _whole(option: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InvalidParameter(f"--{option} takes a whole number, not {text!r}.") from None


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The options given, as `ws.compute.create_cluster` / `update_cluster` keywords."""
    changes: dict[str, Any] = {}
    for option in ("min_nodes", "max_nodes"):
        if getattr(args, option) is not None:
            changes[option] = _whole(option.replace("_", "-"), getattr(args, option))
    node: dict[str, Any] = {}
    if args.node_cpus is not None:
        node["cpus"] = _whole("node-cpus", args.node_cpus)
    if args.node_memory is not None:
        node["memory"] = args.node_memory
    if args.node_gpus is not None:
        node["gpus"] = _whole("node-gpus", args.node_gpus)
    if node:
        changes["node"] = node
    if args.idle_seconds is not None:
        try:
            changes["idle_seconds_before_scaledown"] = float(args.idle_seconds)
        except ValueError:
            raise InvalidParameter(
                f"--idle-seconds takes a number of seconds, not {args.idle_seconds!r}."
            ) from None
    if args.factory is not None:
        changes["factory"] = args.factory
    if args.factory_kwargs is not None:
        try:
            changes["factory_kwargs"] = json.loads(args.factory_kwargs)
        except ValueError:
            raise InvalidParameter(
                '--factory-kwargs takes a JSON object, e.g. \'{"queue": "gpu"}\'.'
            ) from None
    if args.description is not None:
        changes["description"] = args.description
    return changes


def _text(value: Any) -> str:
    return "" if value is None or value != value else str(value)  # None and NaN show as nothing


def cmd_list(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    frame = ws.compute.clusters()
    rows = [[_text(row[f]) for f in _LIST_FIELDS] for _, row in frame.iterrows()]
    print(
        format_table(_LIST_FIELDS, rows)
        if rows
        else "No clusters yet: jupyter mlws compute cluster create NAME"
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    cluster = ws.compute.get_cluster(args.name).to_dict()
    print(json.dumps({**cluster, **ws.compute.cluster_status(args.name)}, indent=2, default=str))
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    made = open_workspace(args).compute.create_cluster(args.name, **_given(args))
    print(f"Cluster {made.name!r}: {made.min_nodes} to {made.max_nodes} nodes.")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    changes = _given(args)
    if not changes:
        raise InvalidParameter("Say what to change: --max-nodes, --node-memory, --idle-seconds, ...")
    changed = open_workspace(args).compute.update_cluster(args.name, **changes)
    print(f"Cluster {changed.name!r}: {changed.min_nodes} to {changed.max_nodes} nodes.")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    open_workspace(args).compute.delete_cluster(args.name)
    print(f"Cluster {args.name!r} deleted.")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    status = open_workspace(args).compute.start_cluster(args.name)
    print(f"Cluster {args.name!r} is {status['state']} at {status['address']} ({status['nodes']} nodes).")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    open_workspace(args).compute.stop_cluster(args.name)
    print(f"Cluster {args.name!r} stopped.")
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    attached = open_workspace(args).compute.attach(args.name, args.address, description=args.description)
    print(f"Attached {attached.name!r} at {attached.address}.")
    return 0


def cmd_detach(args: argparse.Namespace) -> int:
    open_workspace(args).compute.detach(args.name)
    print(f"Detached {args.name!r} (the cluster itself keeps running).")
    return 0
