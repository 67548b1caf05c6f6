"""`jupyter mlws batch-endpoints ...`: batch endpoints from a terminal (issue 16).

    jupyter mlws batch-endpoints list [--json]
    jupyter mlws batch-endpoints show NAME [--json]
    jupyter mlws batch-endpoints deploy NAME [--model REF] [--target CLUSTER] [--mini-batch-size N]
                    [--error-threshold N] [--max-retries N] [--timeout S] [--output-action A]
                    [--output-file F] [--entry-script PATH] [--description TEXT] [--tag K=V ...]
    jupyter mlws batch-endpoints invoke NAME INPUTS [--mini-batch-size N ...] [--wait]
    jupyter mlws batch-endpoints jobs NAME [--limit N] [--json]
    jupyter mlws batch-endpoints keys NAME regenerate primary|secondary
    jupyter mlws batch-endpoints delete NAME

`main.build_parser` calls `add_batch_endpoint_commands`; every command goes through `ws.endpoints`
(client/batch_endpoints.py), so what is refused here is refused in Python and over REST alike.
A group of its own, as Azure's `az ml batch-endpoint` is beside `az ml online-endpoint`.

Decisions:
- The keys are printed once, by the `deploy` that creates the endpoint and by `keys ...
  regenerate`; `show`, `list` and `--json` never print key material (the store has hashes only).
- `deploy` of an existing endpoint changes the options given and leaves the rest.
- `invoke` prints the job and returns; with `--wait` (or when no Jupyter server dispatches this
  workspace's jobs, so this process runs the job, as `jobs submit` does) it waits and exits 0 only
  when the job completed. INPUTS is "data:name[:v]", a folder, a file or a quoted glob.
- `--json` prints what REST answers: `GET /batch-endpoints` for `list` (less `last_job`), `GET
  /batch-endpoints/{name}` for `show`, `GET /batch-endpoints/{name}/jobs` for `jobs`.
- Bad option values and unknown endpoints are `mlws: <message>`, exit status 2 (main.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import InvalidParameter
from .base import open_workspace, verb_group
from .data import _tags
from .formatting import format_table, format_time

_SETTINGS = (
    ("--mini-batch-size", "mini_batch_size", "files (or rows) per mini-batch (default 10)"),
    ("--error-threshold", "error_threshold", "failed items tolerated, -1 for any (default -1)"),
    ("--max-retries", "max_retries", "retries of a failed mini-batch (default 3)"),
    ("--timeout", "timeout", "seconds (or '5m') one mini-batch may run (default 30)"),
    ("--output-action", "output_action", "append_row (default) or summary_only"),
    ("--output-file", "output_file", "the output table's name (default predictions.csv)"),
)
_NUMBERS = ("mini_batch_size", "error_threshold", "max_retries")


def add_batch_endpoint_commands(sub: Any) -> None:
    """Register `batch-endpoints` and its sub-commands on the top-level sub-parsers."""
    verbs = verb_group(sub, "batch-endpoints", "batch endpoints: keyed batch scoring of a model on a cluster")
    listing = verbs.add_parser("list", help="every batch endpoint with its model, target and last job")
    listing.add_argument("--json", action="store_true", help="as REST answers GET /batch-endpoints")
    listing.set_defaults(func=cmd_list)
    show = verbs.add_parser("show", help="one batch endpoint in full (never its keys)")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="the endpoint as REST answers it")
    show.set_defaults(func=cmd_show)
    deploy = verbs.add_parser("deploy", help="create batch endpoint NAME, or change the options given")
    deploy.add_argument("name")
    deploy.add_argument(
        "--model", default=None, help="'diabetes@production', 'diabetes:3' (resolved at each invoke)"
    )
    deploy.add_argument("--target", default=None, help="the cluster its jobs run on")
    _setting_options(deploy)
    deploy.add_argument(
        "--entry-script", default=None, metavar="PATH", help="a script with init() and run(mini_batch)"
    )
    deploy.add_argument("--description", default=None)
    deploy.add_argument("--tag", action="append", default=[], metavar="K=V", help="a tag (repeatable)")
    deploy.set_defaults(func=cmd_deploy)
    invoke = verbs.add_parser("invoke", help="start a batch job of NAME over INPUTS")
    invoke.add_argument("name")
    invoke.add_argument("inputs", metavar="INPUTS", help="'data:name[:v]', a folder, a file or a quoted glob")
    _setting_options(invoke)
    invoke.add_argument(
        "--wait", action="store_true", help="wait until the job ended (exit 1 unless completed)"
    )
    invoke.set_defaults(func=cmd_invoke)
    jobs = verbs.add_parser("jobs", help="the jobs a batch endpoint started, newest first")
    jobs.add_argument("name")
    jobs.add_argument("--limit", default="100", help="at most this many (default 100)")
    jobs.add_argument("--json", action="store_true", help="as REST answers GET /batch-endpoints/{name}/jobs")
    jobs.set_defaults(func=cmd_jobs)
    keys = verbs.add_parser("keys", help="regenerate a key: keys NAME regenerate primary|secondary")
    keys.add_argument("name")
    keys.add_argument("action", choices=["regenerate"])
    keys.add_argument("slot", metavar="primary|secondary")
    keys.set_defaults(func=cmd_keys)
    delete = verbs.add_parser("delete", help="delete a batch endpoint (its keys stop; its jobs stay)")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_delete)


def _setting_options(parser: argparse.ArgumentParser) -> None:
    for option, dest, help in _SETTINGS:
        parser.add_argument(option, dest=dest, default=None, help=help)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, whole numbers as numbers (the client checks them)."""
    given: dict[str, Any] = {}
    for option, dest, _ in _SETTINGS:
        value = getattr(args, dest)
        if value is None:
            continue
        if dest in _NUMBERS:
            try:
                value = int(value)
            except ValueError:
                raise InvalidParameter(f"{option} must be a whole number, not {value!r}") from None
        given[dest] = value
    return given


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _last_job(ws: Any, endpoint: Any) -> Any:
    from ..errors import NotFound

    if not endpoint.last_job_id:
        return None
    try:
        return ws.store.get_job(endpoint.last_job_id)
    except NotFound:
        return None


def _as_json(endpoint: Any, job: Any) -> dict[str, Any]:
    data = endpoint.to_dict()
    data["last_job"] = None
    if job is not None:
        fields = ("job_id", "state", "state_reason", "run_id", "submitted_time", "ended_time")
        data["last_job"] = {k: getattr(job, k) for k in fields}
    return data


def _started_line(job: Any, endpoint: str) -> str:
    record = job.record
    where = f"on {record.target} (run {record.run_id})"
    return f"Job {record.job_id} of batch endpoint {endpoint} {record.state} {where}."


# ----- commands ----------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        found = [(e, _last_job(ws, e)) for e in ws.store.list_batch_endpoints()]
    finally:
        ws.close()
    if args.json:
        _print_json({"batch_endpoints": [_as_json(e, j) for e, j in found]})
        return 0
    if not found:
        print("No batch endpoints yet: jupyter mlws batch-endpoints deploy NAME --model REF --target CLUSTER")
        return 0
    rows = [
        [
            e.name,
            e.model or "",
            e.entry_script or "",
            e.target,
            e.defaults.get("mini_batch_size"),
            j.state if j else "",
            format_time(j.submitted_time) if j else "",
        ]
        for e, j in found
    ]
    print(format_table(["name", "model", "script", "target", "mini_batch", "last_job", "last_invoked"], rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        endpoint = ws.endpoints.get_batch(args.name).record
        job = _last_job(ws, endpoint)
    finally:
        ws.close()
    if args.json:
        _print_json(_as_json(endpoint, job))
        return 0
    _print_endpoint(endpoint, job)
    return 0


def _print_endpoint(endpoint: Any, job: Any) -> None:
    lines: list[tuple[str, Any]] = [
        ("name", endpoint.name),
        ("model", endpoint.model or "(none: the entry script scores)"),
        ("entry script", endpoint.entry_script or ""),
        ("target", endpoint.target),
        *((name, endpoint.defaults.get(name)) for name in endpoint.defaults),
        ("description", endpoint.description),
        ("created", format_time(endpoint.created_time)),
        ("updated", format_time(endpoint.updated_time)),
        *((f"tag {k}", v) for k, v in sorted(endpoint.tags.items())),
    ]
    if job is not None:
        lines.append(("last job", f"{job.job_id} {job.state} (run {job.run_id})"))
    for label, value in lines:
        print(f"  {label:<16} {value}".rstrip())


def cmd_deploy(args: argparse.Namespace) -> int:
    options = _settings(args)
    tags = _tags(args.tag) or None
    ws = open_workspace(args)
    try:
        handle = ws.endpoints.deploy_batch(
            args.name,
            args.model,
            target=args.target,
            entry_script=args.entry_script,
            description=args.description,
            tags=tags,
            **options,
        )
        job = _last_job(ws, handle.record)
    finally:
        ws.close()
    created = handle.keys.primary is not None
    print(f"{'Created' if created else 'Changed'} batch endpoint {args.name}:")
    _print_endpoint(handle.record, job)
    if created:
        print("\nKeys (shown once; invoke with 'Authorization: Bearer KEY'):")
        print(f"  primary    {handle.keys.primary}")
        print(f"  secondary  {handle.keys.secondary}")
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    from .jobs import _dispatched_here, _watch

    overrides = _settings(args)
    ws = open_workspace(args)
    here = _dispatched_here(ws)
    job = ws.endpoints.get_batch(args.name).invoke(args.inputs, **overrides)
    print(_started_line(job, args.name), flush=True)
    if here and not args.wait:
        print(
            "No Jupyter server dispatches jobs for this workspace: this command runs the job and "
            "waits for it (Ctrl-C stops it).",
            file=sys.stderr,
            flush=True,
        )
    if here or args.wait:
        return _watch(job, False, here)  # (the workspace stays open: this process may dispatch)
    print(f"Follow it: jupyter mlws jobs logs -f {job.id}")
    ws.close()
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    if not args.limit.isdigit() or not 1 <= int(args.limit) <= 1000:
        raise InvalidParameter(f"--limit must be a whole number from 1 to 1000, not {args.limit!r}")
    ws = open_workspace(args)
    try:
        records = ws.endpoints.get_batch(args.name).job_records(limit=int(args.limit))
    finally:
        ws.close()
    if args.json:
        _print_json({"jobs": [r.to_dict() for r in records]})
        return 0
    import pandas as pd

    from ..client.jobs import jobs_frame

    frame = jobs_frame(records, pd)
    if frame.empty:
        print(
            f"Batch endpoint {args.name} started no job yet: "
            f"jupyter mlws batch-endpoints invoke {args.name} INPUTS"
        )
        return 0
    rows = [
        [
            row.job_id,
            row.state,
            row.target,
            format_time(int(row.submitted.timestamp() * 1000)),
            None if row.duration != row.duration else row.duration,
            row.run_id,
            row.reason if isinstance(row.reason, str) else "",
        ]
        for row in frame.itertuples(index=False)
    ]
    print(format_table(["job_id", "state", "target", "submitted", "duration", "run_id", "reason"], rows))
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from .endpoints import rotate_key

    regenerate = lambda ws: ws.endpoints.regenerate_batch_key(args.name, args.slot)  # noqa: E731
    return rotate_key(args, regenerate, f"batch endpoint {args.name}")


def cmd_delete(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        ws.endpoints.delete_batch(args.name)
    finally:
        ws.close()
    print(f"Deleted batch endpoint {args.name}; its keys stop working, the jobs it started stay.")
    return 0
