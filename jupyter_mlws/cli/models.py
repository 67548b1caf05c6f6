"""`jupyter mlws models ...`: the model registry from a terminal (issue 8).

    jupyter mlws models list
    jupyter mlws models show NAME[:VERSION|@ALIAS]
    jupyter mlws models register NAME [PATH] [--run RUN_ID [--artifact-path P]] [--flavor F]
                                 [--trusted] [--trusted-type T ...] [--description TEXT] [--tag K=V ...]
    jupyter mlws models alias NAME ALIAS VERSION
    jupyter mlws models unalias NAME ALIAS
    jupyter mlws models delete NAME[:VERSION]

`main.build_parser` calls `add_model_commands`; every command goes through `ws.models`
(client/models.py), so the CLI registers and refuses exactly as Python and the REST API do.
Decisions: `register` takes a local PATH (file or folder), or `--run` with the artifact path
as `--artifact-path` or as PATH; `show` takes any model reference ('churn', 'churn:3',
'churn@production') and shows the model with its versions, or one version in full;
`delete NAME` deletes the model with every version, `delete NAME:3` one version — both are
refused (exit 2) while an endpoint serves what would be deleted. Option values are parsed
here, so a bad one is an `InvalidParameter`: `mlws: <message>`, exit status 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidParameter
from .base import open_workspace, verb_group
from .formatting import format_table, format_time


def add_model_commands(sub: Any) -> None:
    """Register `models` and its sub-commands on the top-level sub-parsers."""
    verbs = verb_group(sub, "models", "the model registry: models, versions, aliases")
    verbs.add_parser("list", help="every model with its latest version and aliases").set_defaults(
        func=cmd_list
    )
    show = verbs.add_parser("show", help="a model and its versions, or one version (NAME:V, NAME@ALIAS)")
    show.add_argument("ref", metavar="NAME")
    show.set_defaults(func=cmd_show)
    register = verbs.add_parser("register", help="register a new version from a file/folder or a run")
    register.add_argument("name")
    register.add_argument(
        "path", nargs="?", default=None, help="a local file or folder (or, with --run, the artifact path)"
    )
    register.add_argument("--run", default=None, help="the run whose artifact to register")
    register.add_argument("--artifact-path", default=None, help="the artifact path in that run")
    register.add_argument(
        "--flavor", default=None, help="sklearn, onnx, python or pickle (default: detected)"
    )
    register.add_argument("--trusted", action="store_true", help="allow loading formats that run code")
    register.add_argument(
        "--trusted-type", action="append", default=[], metavar="T", help="a skops type to accept"
    )
    register.add_argument("--description", default="")
    register.add_argument("--tag", action="append", default=[], metavar="K=V", help="a tag (repeatable)")
    register.set_defaults(func=cmd_register)
    alias = verbs.add_parser("alias", help="point ALIAS at VERSION (set or move it)")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version")
    alias.set_defaults(func=cmd_alias)
    unalias = verbs.add_parser("unalias", help="remove an alias")
    unalias.add_argument("name")
    unalias.add_argument("alias")
    unalias.set_defaults(func=cmd_unalias)
    delete = verbs.add_parser("delete", help="delete a model (NAME) or one version (NAME:V)")
    delete.add_argument("ref", metavar="NAME[:V]")
    delete.set_defaults(func=cmd_delete)


def _version(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise InvalidParameter(f"VERSION must be a whole number from 1, not {text!r}")
    return int(text)


def _tags(items: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidParameter(f"--tag takes KEY=VALUE, not {item!r}")
        tags[key] = value
    return tags


def _size(size: int) -> str:
    from ..compute.spec import format_bytes

    return format_bytes(size) if size >= 1024 else f"{size} B"


# ----- commands ----------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        found = ws.store.list_registered_models()
    finally:
        ws.close()
    if not found:
        print("No models yet: jupyter mlws models register NAME PATH")
        return 0
    rows = [
        [m.name, m.latest_version, _aliases(m.aliases), m.description, format_time(m.updated_time)]
        for m in found
    ]
    print(format_table(["name", "latest", "aliases", "description", "updated"], rows))
    return 0


def _aliases(aliases: dict[str, int]) -> str:
    return " ".join(f"{alias}={version}" for alias, version in sorted(aliases.items()))


def cmd_show(args: argparse.Namespace) -> int:
    from ..validation import parse_model_ref

    name, version, alias = parse_model_ref(args.ref)
    ws = open_workspace(args)
    try:
        if version is None and alias is None:
            model = ws.store.get_registered_model(name)
            versions = ws.store.list_model_versions(name)
        else:
            found = ws.models.get(args.ref)
    finally:
        ws.close()
    if version is None and alias is None:
        _print_model(model, versions)
    else:
        _print_version(found)
    return 0


def _print_model(model: Any, versions: list[Any]) -> None:
    for label, value in (
        ("name", model.name),
        ("latest", model.latest_version if model.latest_version is not None else "no versions"),
        ("aliases", _aliases(model.aliases)),
        ("description", model.description),
        *((f"tag {k}", v) for k, v in sorted(model.tags.items())),
    ):
        print(f"  {label:<14} {value}")
    if versions:
        rows = [
            [
                v.version,
                v.flavor,
                v.sha256[:12],
                _size(v.size_bytes),
                "yes" if v.trusted else "",
                " ".join(v.aliases),
                (v.source_run_id or "")[:12],
                format_time(v.created_time),
            ]
            for v in versions
        ]
        print()
        print(
            format_table(
                ["version", "flavor", "sha256", "size", "trusted", "aliases", "run", "created"], rows
            )
        )


def _print_version(version: Any) -> None:
    signature = version.signature or {}
    inputs = ", ".join(f"{c['name']}:{c['type']}" for c in signature.get("inputs", []))
    lines = [
        ("model", f"{version.name}:{version.version}"),
        ("flavor", version.flavor),
        ("sha256", version.sha256),
        ("size", _size(version.size_bytes)),
        ("files", ", ".join(f.path for f in version.files)),
        ("trusted", "yes (code in it may run when loaded)" if version.trusted else "no"),
        ("aliases", " ".join(version.aliases)),
        ("signature", inputs or "none"),
        ("source run", version.source_run_id or ""),
        ("source path", version.source_path or ""),
        ("created", format_time(version.created_time)),
        ("description", version.description),
    ]
    if version.trusted_types:
        lines.append(("trusted types", ", ".join(version.trusted_types)))
    lines += [(f"tag {k}", v) for k, v in sorted(version.tags.items())]
    for label, value in lines:
        print(f"  {label:<14} {value}")


def cmd_register(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {
        "flavor": args.flavor,
        "description": args.description,
        "tags": _tags(args.tag) or None,
        "trusted": args.trusted,
        "trusted_types": args.trusted_type or None,
    }
    if args.run is not None:
        artifact = args.artifact_path or args.path
        if artifact is None or (args.artifact_path and args.path):
            raise InvalidParameter("with --run, give the artifact path once: as PATH or as --artifact-path")
        where: dict[str, Any] = {"run": args.run, "artifact_path": artifact}
    else:
        if args.artifact_path is not None:
            raise InvalidParameter("--artifact-path needs --run (the run the artifact belongs to)")
        if args.path is None:
            raise InvalidParameter("say where the model is: PATH (a file or folder) or --run RUN_ID PATH")
        where = {"path": args.path}
    ws = open_workspace(args)
    try:
        version = ws.models.register(args.name, **where, **options)
    finally:
        ws.close()
    digest = version.sha256[:12]
    print(f"Registered {version.name} version {version.version} ({version.flavor}, sha256 {digest}).")
    return 0


def cmd_alias(args: argparse.Namespace) -> int:
    version = _version(args.version)
    ws = open_workspace(args)
    try:
        ws.models.set_alias(args.name, args.alias, version)
    finally:
        ws.close()
    print(f"{args.name}@{args.alias} -> version {version}.")
    return 0


def cmd_unalias(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        ws.models.delete_alias(args.name, args.alias)
    finally:
        ws.close()
    print(f"Removed alias {args.alias} of {args.name}.")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from ..validation import parse_model_ref

    if "@" in args.ref:
        raise InvalidParameter("delete takes NAME or NAME:VERSION, not an alias (use unalias)")
    name, version, _ = parse_model_ref(args.ref)
    ws = open_workspace(args)
    try:
        if version is None:
            ws.models.delete(name)
        else:
            ws.models.delete_version(name, version)
    finally:
        ws.close()
    print(f"Deleted {'model ' + name if version is None else f'version {version} of {name}'}.")
    return 0
