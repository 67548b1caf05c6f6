"""`jupyter mlws endpoints ...`: scoring endpoints from a terminal (issue 8).

    jupyter mlws endpoints list
    jupyter mlws endpoints show NAME
    jupyter mlws endpoints deploy NAME MODEL [--replicas N] [--deployment D] [--traffic PCT] [--port P]
                                             [--timeout S]
    jupyter mlws endpoints logs NAME [--lines N]
    jupyter mlws endpoints delete NAME
    jupyter mlws endpoints keys NAME regenerate primary|secondary
    jupyter mlws endpoints serve

`main.build_parser` calls `add_endpoint_commands`; every command goes through `ws.endpoints`
(client/endpoints.py), so endpoints deployed here are the ones the panel, Python and the REST
API see, run by whichever endpoint manager owns the workspace (a Jupyter server, or `serve`).
Decisions: the keys are printed once, by `deploy` (when it creates the endpoint) and by `keys
... regenerate`; `show` and `list` never print key material (the store has only hashes).
`serve` runs the endpoint manager in the foreground (Ctrl-C or SIGTERM stops it and its
replicas) for a workspace that no Jupyter server manages. `deploy` needs such a manager (a
Jupyter server on the workspace, or `serve`): it refuses (exit 2) rather than start replicas
in its own short-lived process, which would stop with it. Bad option values are
`InvalidParameter`s: `mlws: <message>`, exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..errors import InvalidParameter, Unavailable
from .base import open_workspace, verb_group
from .formatting import format_table


def add_endpoint_commands(sub: Any) -> None:
    """Register `endpoints` and its sub-commands on the top-level sub-parsers."""
    verbs = verb_group(sub, "endpoints", "scoring endpoints: deployed models with keys and replicas")
    verbs.add_parser("list", help="every endpoint with its state, URL and traffic").set_defaults(
        func=cmd_list
    )
    show = verbs.add_parser("show", help="one endpoint in full (never its keys)")
    show.add_argument("name")
    show.set_defaults(func=cmd_show)
    deploy = verbs.add_parser("deploy", help="deploy MODEL ('churn@production', 'churn:3') to endpoint NAME")
    deploy.add_argument("name")
    deploy.add_argument("model")
    deploy.add_argument(
        "--replicas",
        default=None,
        help="replica processes sharing the port (default 1; unchanged on redeploy)",
    )
    deploy.add_argument(
        "--deployment", default="blue", help="deployment name; another name adds one (blue/green)"
    )
    deploy.add_argument("--traffic", default=None, help="this deployment's percent of the requests")
    deploy.add_argument("--port", default=None, help="default: a free port, kept across restarts")
    deploy.add_argument("--timeout", default=None, help="seconds a prediction may take (default 30)")
    deploy.set_defaults(func=cmd_deploy)
    logs = verbs.add_parser("logs", help="what the endpoint's replicas printed last (stamped lines)")
    logs.add_argument("name")
    logs.add_argument("--lines", default="200", help="how many lines, 1 to 10000 (default 200)")
    logs.set_defaults(func=cmd_logs)
    delete = verbs.add_parser("delete", help="delete an endpoint (its replicas stop)")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_delete)
    keys = verbs.add_parser("keys", help="regenerate a scoring key: keys NAME regenerate primary|secondary")
    keys.add_argument("name")
    keys.add_argument("action", choices=["regenerate"])
    keys.add_argument("slot", metavar="primary|secondary")
    keys.set_defaults(func=cmd_keys)
    verbs.add_parser("serve", help="run the endpoint manager in the foreground").set_defaults(func=cmd_serve)


def _whole(option: str, text: str | None, low: int, high: int) -> int | None:
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise InvalidParameter(f"{option} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def _seconds(text: str | None) -> float | None:
    from ..validation import MAX_TIMEOUT_SECONDS, MIN_TIMEOUT_SECONDS, validate_timeout_seconds

    if text is None:
        return None
    try:
        return validate_timeout_seconds(float(text))
    except (ValueError, InvalidParameter):
        raise InvalidParameter(
            f"--timeout must be a number of seconds from {MIN_TIMEOUT_SECONDS:g} to "
            f"{MAX_TIMEOUT_SECONDS:g}, not {text!r}"
        ) from None


def cmd_logs(args: argparse.Namespace) -> int:
    """Print the endpoint's recent log lines (as Azure ML's `service.get_logs()`)."""
    from ..serving.logs import MAX_LINES

    lines = _whole("--lines", args.lines, 1, MAX_LINES)
    ws = open_workspace(args)
    try:
        text = ws.endpoints.logs(args.name, lines or 200)
    finally:
        ws.close()
    print(text or f"(endpoint {args.name} has logged nothing yet)", end="" if text else "\n")
    return 0


def _url(ws: Any, endpoint: Any) -> str | None:
    from ..client.endpoints import EndpointHandle

    return EndpointHandle(ws.endpoints, endpoint).url if endpoint.port else None


def _deployments(endpoint: Any) -> str:
    return ", ".join(f"{d.name}={d.model} (v{d.version}) {d.traffic}%" for d in endpoint.deployments)


def _ms(stats: dict[str, Any], key: str) -> str:
    value = stats.get(key)
    return f"{value:.2f}" if isinstance(value, int | float) else ""


# ----- commands ----------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        found = [(e, _url(ws, e)) for e in ws.store.list_endpoints()]
    finally:
        ws.close()
    if not found:
        print("No endpoints yet: jupyter mlws endpoints deploy NAME MODEL@ALIAS")
        return 0
    rows = [
        [
            e.name,
            e.state,
            e.replicas,
            url or "",
            e.stats.get("requests", 0),
            _ms(e.stats, "p50_ms"),
            _ms(e.stats, "p99_ms"),
            _deployments(e),
        ]
        for e, url in found
    ]
    table = format_table(
        ["name", "state", "replicas", "url", "requests", "p50_ms", "p99_ms", "deployments"], rows
    )
    print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        endpoint = ws.store.get_endpoint(args.name)
        url = _url(ws, endpoint)
    finally:
        ws.close()
    _print_endpoint(endpoint, url)
    return 0


def _print_endpoint(endpoint: Any, url: str | None) -> None:
    stats = endpoint.stats or {}
    lines = [
        ("name", endpoint.name),
        ("state", endpoint.state + (f" ({endpoint.state_reason})" if endpoint.state_reason else "")),
        ("url", url or "not serving yet"),
        ("replicas", endpoint.replicas),
        ("requests", f"{stats.get('requests', 0)} ({stats.get('errors', 0)} errors)"),
        ("latency ms", f"p50 {_ms(stats, 'p50_ms')}  p90 {_ms(stats, 'p90_ms')}  p99 {_ms(stats, 'p99_ms')}"),
        ("timeout", f"{endpoint.timeout_seconds:g} s"),
        ("owner", endpoint.owner or ""),
        ("description", endpoint.description),
    ]
    lines += [
        (f"deployment {d.name}", f"{d.model} -> version {d.version}, {d.traffic}% (sha256 {d.sha256[:12]})")
        for d in endpoint.deployments
    ]
    for label, value in lines:
        print(f"  {label:<18} {value}")


def cmd_deploy(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {"deployment": args.deployment}
    replicas = _whole("--replicas", args.replicas, 1, 64)
    if replicas is not None:
        options["replicas"] = replicas
    traffic = _whole("--traffic", args.traffic, 0, 100)
    if traffic is not None:
        options["traffic"] = traffic
    port = _whole("--port", args.port, 1, 65535)
    if port is not None:
        options["port"] = port
    timeout = _seconds(args.timeout)
    if timeout is not None:
        options["timeout_seconds"] = timeout
    ws = open_workspace(args)
    try:
        _require_manager(ws)
        handle = ws.endpoints.deploy(args.name, model=args.model, **options)
        endpoint = ws.store.get_endpoint(args.name)
    finally:
        ws.close()
    print(f"Endpoint {args.name} is {endpoint.state}: POST {handle.url}/score")
    _print_endpoint(endpoint, handle.url)
    keys = getattr(handle, "keys", None)
    if keys is not None and getattr(keys, "primary", None):
        print("\nKeys (shown once; send one as 'Authorization: Bearer KEY'):")
        print(f"  primary    {keys.primary}")
        print(f"  secondary  {keys.secondary}")
    return 0


def _require_manager(ws: Any) -> None:
    """A deploy from this short-lived process needs a manager that outlives it."""
    from ..serving import procs

    if not procs.live_managers(procs.serving_dir(ws.location.workspace)):
        raise Unavailable(
            f"no endpoint manager runs the workspace {ws.location.workspace}: start JupyterLab on it, "
            "or `jupyter mlws endpoints serve` in another terminal, then deploy again"
        )


def cmd_delete(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        ws.endpoints.delete(args.name)
    finally:
        ws.close()
    print(f"Deleted endpoint {args.name}; its replicas stop.")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    return rotate_key(args, lambda ws: ws.endpoints.regenerate_key(args.name, args.slot), args.name)


def rotate_key(args: argparse.Namespace, regenerate: Callable[[Any], str], label: str) -> int:
    """`... keys NAME SLOT` of an endpoint or a batch endpoint: the new key, printed once."""
    if args.slot not in ("primary", "secondary"):
        raise InvalidParameter(f"the key to regenerate is primary or secondary, not {args.slot!r}")
    ws = open_workspace(args)
    try:
        key = regenerate(ws)
    finally:
        ws.close()
    print(f"New {args.slot} key of {label} (shown once; the old one stops working):")
    print(f"  {key}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run an EndpointManager until Ctrl-C or SIGTERM; its replicas stop with it."""
    import signal
    import threading

    from ..serving.manager import EndpointManager

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ws = open_workspace(args)
    manager = EndpointManager(ws.store, ws.artifact_store, ws.location.workspace).start()
    try:
        print(f"Serving the endpoints of {ws.location.workspace} (Ctrl-C stops them).", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        manager.stop()
        ws.close()
        signal.signal(signal.SIGTERM, previous)
    print("Stopped serving.", flush=True)
    return 0
