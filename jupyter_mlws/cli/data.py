"""`jupyter mlws data ...`: data assets from a terminal (issue 16).

    jupyter mlws data register NAME PATH [--description TEXT] [--tag K=V ...]
    jupyter mlws data list [--json]
    jupyter mlws data show REF [--json]
    jupyter mlws data download REF DEST
    jupyter mlws data runs REF [--json]

`main.build_parser` calls `add_data_commands`; every command goes through `ws.data`
(client/data.py), so paths, references and refusals are those of Python and REST. REF is
'name' or 'name@latest' (the newest version) or 'name:3'; a job's 'data:name:3' is taken too.

Decisions:
- PATH is a folder, a file, a glob or an fsspec URL. A glob is ours to expand (`**` included), so
  it is quoted: an unquoted one that the shell expanded into several paths is refused with that
  advice rather than registering whichever file came first.
- Files equal to the newest version's make no new version (as in Python); `register` says
  "unchanged" then, with the version that already holds them, and still exits 0.
- `show` prints the version, every version of its asset and the version's files (the first 100;
  `--json` has them all). `--json` prints what REST answers: `GET /data` for `list`,
  `GET /data/{name}/versions/{v}` for `show`; `runs --json` a list of the runs.
- A bad reference, an unknown asset or version, or a PATH that matches nothing is one line,
  `mlws: <message>`, and exit status 2 (main.py).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import InvalidParameter, NotFound
from .base import open_workspace, verb_group
from .formatting import format_table, format_time

_FILES_SHOWN = 100


def add_data_commands(sub: Any) -> None:
    """Register `data` and its sub-commands on the top-level sub-parsers."""
    verbs = verb_group(sub, "data", "data assets: versioned, content-addressed sets of files")
    register = verbs.add_parser(
        "register", help="store a folder, file, glob or URL as the next version of NAME (none when unchanged)"
    )
    register.add_argument("name")
    register.add_argument(
        "path", nargs="+", metavar="PATH", help="a folder, a file, a quoted glob ('data/*.csv') or a URL"
    )
    register.add_argument("--description", default="")
    register.add_argument("--tag", action="append", default=[], metavar="K=V", help="a tag (repeatable)")
    register.set_defaults(func=cmd_register)
    listing = verbs.add_parser("list", help="every data asset with its newest version")
    listing.add_argument("--json", action="store_true", help="as REST answers GET /data")
    listing.set_defaults(func=cmd_list)
    show = verbs.add_parser(
        "show", help="a version (REF: NAME, NAME:V, NAME@latest), its asset's versions, files"
    )
    show.add_argument("ref", metavar="REF")
    show.add_argument("--json", action="store_true", help="the version as REST answers it")
    show.set_defaults(func=cmd_show)
    download = verbs.add_parser("download", help="copy a version's files (verified) into DEST")
    download.add_argument("ref", metavar="REF")
    download.add_argument("dest", metavar="DEST", help="a folder (created if missing)")
    download.set_defaults(func=cmd_download)
    runs = verbs.add_parser("runs", help="the runs that read a version (jobs given it as an input)")
    runs.add_argument("ref", metavar="REF")
    runs.add_argument("--json", action="store_true", help="the runs as a JSON list")
    runs.set_defaults(func=cmd_runs)


# ----- option values and printing ---------------------------------------------------------
def _tags(items: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidParameter(f"--tag takes KEY=VALUE, not {item!r}")
        tags[key.strip()] = value
    return tags


def _size(size: int) -> str:
    from ..compute.spec import format_bytes

    return format_bytes(size) if size >= 1024 else f"{size} B"


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _files_table(files: Any) -> str:
    """size, sha256 and path of each file; paths last and whole (the shared table cuts long text)."""
    sizes = [str(f.size) for f in files]
    width = max([len("size"), *(len(s) for s in sizes)])
    lines = [f"{'size':>{width}}  {'sha256':<12}  path", f"{'-' * width}  {'-' * 12}  ----"]
    lines += [f"{s:>{width}}  {f.sha256[:12]}  {f.path}" for s, f in zip(sizes, files, strict=True)]
    return "\n".join(lines)


# ----- commands ----------------------------------------------------------------------------
def cmd_register(args: argparse.Namespace) -> int:
    if len(args.path) > 1:
        raise InvalidParameter(
            f"give one PATH, not {len(args.path)}; quote a glob so the shell leaves it to mlws: 'data/*.csv'"
        )
    tags = _tags(args.tag) or None
    ws = open_workspace(args)
    try:
        try:
            before = ws.store.get_data_version(args.name).version
        except NotFound:  # a new asset (or a bad name, which register refuses)
            before = None
        version = ws.data.register(args.name, args.path[0], description=args.description, tags=tags)
    finally:
        ws.close()
    what = f"{_files(len(version.files))}, {_size(version.size_bytes)}, sha256 {version.sha256[:12]}"
    if version.version == before:
        print(f"Unchanged: {version.ref} already holds these files ({what}); no new version.")
    else:
        print(f"Registered {version.name} version {version.version} ({what}).")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        found = ws.store.list_data_assets()
    finally:
        ws.close()
    if args.json:
        _print_json({"assets": [a.to_dict() for a in found]})
        return 0
    if not found:
        print("No data assets yet: jupyter mlws data register NAME PATH")
        return 0
    rows = [[a.name, a.latest_version, a.description, format_time(a.updated_time)] for a in found]
    print(format_table(["name", "latest", "description", "updated"], rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        version = ws.data.get(args.ref)
        versions = [] if args.json else ws.store.list_data_versions(version.name)
    finally:
        ws.close()
    if args.json:
        _print_json(version.to_dict())
        return 0
    newest = versions[-1].version if versions else version.version
    lines: list[tuple[str, Any]] = [
        ("data", version.ref + ("  (the newest)" if version.version == newest else f"  (newest: {newest})")),
        ("sha256", version.sha256),
        ("size", f"{_size(version.size_bytes)} in {_files(len(version.files))}"),
        ("source", version.source),
        ("description", version.description),
        ("source run", version.source_run_id or ""),
        ("created", format_time(version.created_time)),
        *((f"tag {k}", v) for k, v in sorted(version.tags.items())),
    ]
    for label, value in lines:
        print(f"  {label:<14} {value}".rstrip())
    rows = [
        [
            v.version,
            len(v.files),
            _size(v.size_bytes),
            v.sha256[:12],
            v.source,
            (v.source_run_id or "")[:12],
            format_time(v.created_time),
        ]
        for v in reversed(versions)
    ]
    print(f"\nVersions of {version.name} (newest first):")
    print(format_table(["version", "files", "size", "sha256", "source", "run", "created"], rows))
    shown = version.files[:_FILES_SHOWN]
    print(f"\nFiles of {version.ref}:")
    print(_files_table(shown))
    if len(version.files) > len(shown):
        print(f"({len(version.files) - len(shown)} more files: jupyter mlws data show {version.ref} --json)")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        version = ws.data.get(args.ref)
        target = ws.data.download(version.ref, args.dest)
    finally:
        ws.close()
    print(
        f"Downloaded {version.ref} ({_files(len(version.files))}, {_size(version.size_bytes)}) to {target}."
    )
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        version = ws.data.get(args.ref)
        frame = ws.data.runs(version.ref)
    finally:
        ws.close()
    prefix = "tags.mlws.data."
    inputs = [c for c in frame.columns if c.startswith(prefix)]
    found = []
    for _, row in frame.iterrows():
        start = row["start_time"]
        found.append(
            {
                "run_id": row["run_id"],
                "experiment": row["experiment"],
                "name": row["name"],
                "status": row["status"],
                "start_time": None if start != start else int(start.timestamp() * 1000),
                "inputs": [c[len(prefix) :] for c in inputs if row[c] == version.ref],
            }
        )
    if args.json:
        _print_json(found)
        return 0
    if not found:
        print(
            f"No run has read {version.ref} yet (a job reads it with inputs={{'x': 'data:{version.ref}'}})."
        )
        return 0
    fields = ["run_id", "experiment", "name", "status", "start_time", "inputs"]
    rows = [
        [
            r["run_id"],
            r["experiment"],
            r["name"],
            r["status"],
            format_time(r["start_time"]),
            " ".join(r["inputs"]),
        ]
        for r in found
    ]
    print(format_table(fields, rows))
    return 0
