"""`jupyter mlws compute ...`: compute instances from a terminal (issue 7).

    jupyter mlws compute list
    jupyter mlws compute show NAME
    jupyter mlws compute create NAME [--cpus N] [--memory 2GiB] [--gpus N] [--idle-minutes M]
                                     [--env K=V ...] [--python PATH] [--description TEXT]
    jupyter mlws compute update NAME [same options] [--unset-env K ...]
    jupyter mlws compute delete NAME
    jupyter mlws compute events [NAME] [--kernel ID] [--limit N]

`main.build_parser` calls `add_compute_commands`; every command goes through
`ws.compute` (client/compute.py), so the CLI writes the store, the event and the
kernelspec exactly as Python and the REST API do. Decisions: option values are
parsed here, not by argparse types, so a bad value is an `InvalidParameter`
printed as `mlws: <message>` with exit status 2 like every other domain error;
in `update`, `none` removes a limit (`--cpus none`, `--memory none`,
`--python none`, `--idle-minutes 0`), `--env` adds or replaces variables and
`--unset-env` removes them. `delete` cannot see the kernels a server runs: the
REST API (and the panel) refuse while kernels run, the CLI leaves that to you.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidParameter
from .base import open_workspace, verb_group
from .formatting import format_table, format_time

_NONE = "none"
_EVENT_FIELDS = ["event_id", "time", "instance", "kind", "kernel", "reason"]


def add_compute_commands(sub: Any) -> Any:
    """Register `compute` and its sub-commands on the top-level sub-parsers; its verbs (for clusters)."""
    verbs = verb_group(sub, "compute", "compute instances: named kernel sizes")
    verbs.add_parser("list", help="every instance with its size").set_defaults(func=cmd_list)
    show = verbs.add_parser("show", help="one instance in full")
    show.add_argument("name")
    show.set_defaults(func=cmd_show)
    create = verbs.add_parser("create", help="define an instance (it becomes kernel 'mlws-NAME')")
    create.add_argument("name")
    _size_options(create)
    create.set_defaults(func=cmd_create)
    update = verbs.add_parser("update", help="change an instance ('none' removes a limit)")
    update.add_argument("name")
    _size_options(update)
    update.add_argument("--unset-env", action="append", default=[], metavar="K", help="remove a variable")
    update.set_defaults(func=cmd_update)
    delete = verbs.add_parser("delete", help="forget an instance and remove its kernel choice")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_delete)
    events = verbs.add_parser("events", help="what happened to instances and their kernels (newest first)")
    events.add_argument("name", nargs="?", default=None)
    events.add_argument("--kernel", default=None, help="only this kernel id")
    events.add_argument("--limit", "-n", default="50")
    events.set_defaults(func=cmd_events)
    return verbs


def _size_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cpus", default=None, help="CPUs the kernel may use (affinity and thread variables)"
    )
    parser.add_argument("--memory", default=None, help="memory limit, e.g. 2GiB, 512MiB")
    parser.add_argument("--gpus", default=None, help="GPUs assigned through CUDA_VISIBLE_DEVICES")
    parser.add_argument("--idle-minutes", default=None, help="shut idle kernels down after this (0: never)")
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="a variable (repeatable)")
    parser.add_argument("--python", default=None, help="another Python (a venv or conda env's interpreter)")
    parser.add_argument("--description", default=None)


# ----- option values ---------------------------------------------------------------------
def _whole(option: str, text: str | None, allow_none: bool = True) -> int | None:
    if text is None or (allow_none and text.strip().lower() == _NONE):
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidParameter(
            f"{option} must be a whole number{' or none' if allow_none else ''}, not {text!r}"
        ) from None


def _minutes(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InvalidParameter(
            f"--idle-minutes must be a number of minutes (0: never), not {text!r}"
        ) from None


def _pairs(items: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"--env takes KEY=VALUE, not {item!r}")
        env[key] = value
    return env


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The size options given on the command line, as `ws.compute` arguments."""
    given: dict[str, Any] = {}
    if args.cpus is not None:
        given["cpus"] = _whole("--cpus", args.cpus)
    if args.memory is not None:
        given["memory"] = None if args.memory.strip().lower() == _NONE else args.memory
    if args.gpus is not None:
        given["gpus"] = _whole("--gpus", args.gpus, allow_none=False)
    if args.idle_minutes is not None:
        given["idle_shutdown_minutes"] = _minutes(args.idle_minutes)
    if args.python is not None:
        given["python"] = None if args.python.strip().lower() == _NONE else args.python
    if args.description is not None:
        given["description"] = args.description
    return given


# ----- commands ----------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        found = ws.store.list_compute_targets()
    finally:
        ws.close()
    if not found:
        print("No compute instances yet: jupyter mlws compute create NAME --cpus 2 --memory 4GiB")
        return 0
    rows = [
        [
            i.name,
            i.kernelspec,
            i.cpus,
            _memory(i.memory_bytes),
            i.gpus,
            i.idle_shutdown_minutes,
            i.description,
        ]
        for i in found
    ]
    print(format_table(["name", "kernelspec", "cpus", "memory", "gpus", "idle_min", "description"], rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        instance = ws.compute.get_instance(args.name)
    finally:
        ws.close()
    _print_instance(instance)
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    given = _given(args)
    env = _pairs(args.env)
    ws = open_workspace(args)
    try:
        instance = ws.compute.create_instance(args.name, env=env or None, **given)
    finally:
        ws.close()
    print(f"Created compute instance {instance.name}: kernel '{instance.kernelspec}'.")
    _print_instance(instance)
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    changes = _given(args)
    added = _pairs(args.env)
    ws = open_workspace(args)
    try:
        if added or args.unset_env:
            env = dict(ws.compute.get_instance(args.name).env)
            for key in args.unset_env:
                if key not in env:
                    raise InvalidParameter(
                        f"--unset-env {key}: the instance {args.name!r} has no variable {key}"
                    )
                del env[key]
            changes["env"] = {**env, **added}
        if not changes:
            raise InvalidParameter(
                "nothing to change: give --cpus, --memory, --gpus, --idle-minutes, --env, --unset-env, "
                "--python or --description"
            )
        instance = ws.compute.update_instance(args.name, **changes)
    finally:
        ws.close()
    print(f"Updated compute instance {instance.name} (kernels started from now on get the new size).")
    _print_instance(instance)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        ws.compute.delete_instance(args.name)
    finally:
        ws.close()
    print(f"Deleted compute instance {args.name} and its kernel 'mlws-{args.name}'.")
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    limit = _whole("--limit", args.limit, allow_none=False) or 0
    if not 1 <= limit <= 10_000:
        raise InvalidParameter(f"--limit must be from 1 to 10000, not {limit}")
    ws = open_workspace(args)
    try:
        found = ws.store.list_compute_events(args.name, kernel_id=args.kernel, limit=limit)
    finally:
        ws.close()
    if not found:
        print("No compute events yet.")
        return 0
    rows = [
        [e.event_id, format_time(e.time), e.target, e.kind, (e.kernel_id or "")[:8], e.reason] for e in found
    ]
    print(_events_table(format_table(_EVENT_FIELDS, rows), rows))
    return 0


def _events_table(table: str, rows: list[list[Any]]) -> str:
    """`format_table` cuts cells at 40 characters; reasons are the point here, so print them whole."""
    lines = table.splitlines()
    start = lines[0].index("reason")
    body = [line[:start] + (row[-1] or "") for line, row in zip(lines[2:], rows, strict=True)]
    return "\n".join(lines[:2] + body)


def _memory(size: int | None) -> str | None:
    from ..compute.spec import format_bytes

    return format_bytes(size) if size else None


def _print_instance(instance: Any) -> None:
    from ..compute.spec import kernelspec_dir

    folder = kernelspec_dir() / instance.kernelspec
    lines = [
        ("name", instance.name),
        (
            "kernelspec",
            f"{instance.kernelspec}  ({folder if folder.exists() else 'not written on this machine'})",
        ),
        ("cpus", instance.cpus if instance.cpus is not None else "all"),
        ("memory", _memory(instance.memory_bytes) or "no limit"),
        ("gpus", instance.gpus),
        (
            "idle shutdown",
            f"{instance.idle_shutdown_minutes:g} min" if instance.idle_shutdown_minutes else "never",
        ),
        ("python", instance.python or "the server's"),
        ("description", instance.description),
    ]
    lines += [(f"env {key}", value) for key, value in sorted(instance.env.items())]
    for label, value in lines:
        print(f"  {label:<14} {value}")
