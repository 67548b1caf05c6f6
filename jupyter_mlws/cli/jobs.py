"""`jupyter mlws jobs ...`: jobs on training clusters from a terminal (issue 15).

    jupyter mlws jobs submit --target T [--code DIR] [-e EXPERIMENT] [--name N] [--input NAME=PATH ...]
                             [--env K=V ...] [--cpus N] [--gpus N] [--memory 2GiB] [--priority P]
                             [--max-retries N] [--timeout 1h] [--shell] [--wait | --stream] -- COMMAND ...
    jupyter mlws jobs submit --target T --notebook train.ipynb [-p NAME=VALUE ...] [same options]
    jupyter mlws jobs list [--state S] [--target T] [--limit N]
    jupyter mlws jobs show JOB [--json]
    jupyter mlws jobs logs JOB [-f]
    jupyter mlws jobs cancel JOB [--wait S]

`main.build_parser` calls `add_job_commands`; every command goes through `ws.jobs`
(client/jobs.py), so the checks, messages and queue are those of Python and REST. JOB is a job id
or a unique start of one (as `git` takes commits).

Decisions:
- The command comes after `--` and is an argv (never a shell) unless `--shell` is given; `-p`
  values are read as JSON when they are JSON (`-p alpha=0.1`, `-p layers=[64,32]`) and as text
  otherwise (`-p solver=lbfgs`), as papermill's `-p` does.
- Who dispatches: a Jupyter server on the workspace when one is alive (a workspace URL always),
  else this command's own process (client/jobs.py). That process stops dispatching when it exits,
  so there `submit` stays until the job ended even without `--wait` (it says so; Ctrl-C cancels
  the job: a terminal's Ctrl-C also reaches the Dask workers this process started, so the job may
  be recorded `killed`, node lost, rather than `canceled`). With a server, `submit` returns at
  once and Ctrl-C during `--wait`/`--stream` only stops watching: the job goes on.
- `submit --wait`/`--stream` exit with status 0 when the job completed and 1 when it ended
  otherwise (failed, canceled, killed), so a CI step fails with its job. `--stream` writes the
  job's stdout to stdout and its stderr to stderr; our own lines go to stderr.
- `cancel` of a job that already ended says so and succeeds (as REST answers the job unchanged).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..entities import JOB_STATES
from ..errors import InvalidParameter, NotFound
from .base import open_workspace, verb_group
from .formatting import format_table, format_time

_LIST_FIELDS = [
    "job_id",
    "name",
    "kind",
    "target",
    "state",
    "position",
    "priority",
    "attempt",
    "submitted",
    "duration",
    "reason",
]


def add_job_commands(sub: Any) -> None:
    """Register `jobs` and its sub-commands on the top-level sub-parsers."""
    verbs = verb_group(sub, "jobs", "jobs on training clusters: submit, follow, cancel")
    submit = verbs.add_parser(
        "submit",
        help="queue a command (after --) or a notebook on a cluster",
        usage="jupyter mlws jobs submit --target T [options] -- COMMAND ...",
    )
    submit.add_argument("command", nargs="*", help="the program and its arguments, after --")
    submit.add_argument("--target", "-t", default=None, help="the cluster to run on")
    submit.add_argument(
        "--code", default=None, help="the code folder (snapshotted; the job's working folder)"
    )
    submit.add_argument("--notebook", default=None, help="run this notebook (in --code) instead of a command")
    submit.add_argument(
        "--param", "-p", action="append", default=[], metavar="NAME=VALUE", help="a notebook parameter (JSON)"
    )
    submit.add_argument("--experiment", "-e", default=None)
    submit.add_argument("--name", "-n", default=None, help="the run's name (default: the script's)")
    submit.add_argument(
        "--input", action="append", default=[], metavar="NAME=PATH", help="a file, folder or URL"
    )
    submit.add_argument("--env", action="append", default=[], metavar="K=V", help="a variable (repeatable)")
    submit.add_argument("--cpus", default=None, help="CPUs the job needs on its node (default 1)")
    submit.add_argument("--gpus", default=None, help="GPUs the job needs on its node (default 0)")
    submit.add_argument("--memory", default=None, help="memory the job needs on its node, e.g. 2GiB")
    submit.add_argument("--priority", default="0", help="higher runs first (default 0)")
    submit.add_argument("--max-retries", default="0", help="new attempts after a lost node (default 0)")
    submit.add_argument("--timeout", default=None, help="seconds or a duration: 90s, 30m, 1h30m")
    submit.add_argument("--shell", action="store_true", help="run the command through a shell")
    how = submit.add_mutually_exclusive_group()
    how.add_argument("--wait", action="store_true", help="wait for the job to end")
    how.add_argument("--stream", action="store_true", help="print its output as it runs, until it ends")
    submit.set_defaults(func=cmd_submit)
    listing = verbs.add_parser("list", help="jobs, newest first, with their queue position")
    listing.add_argument("--state", default=None, help=", ".join(JOB_STATES))
    listing.add_argument("--target", "-t", default=None)
    listing.add_argument("--limit", "-n", default="50")
    listing.set_defaults(func=cmd_list)
    show = verbs.add_parser("show", help="one job in full")
    show.add_argument("job")
    show.add_argument("--json", action="store_true", help="the job as JSON (as REST answers it)")
    show.set_defaults(func=cmd_show)
    logs = verbs.add_parser("logs", help="what a job printed (every attempt)")
    logs.add_argument("job")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    logs.set_defaults(func=cmd_logs)
    cancel = verbs.add_parser("cancel", help="cancel a job: it leaves the queue, or its processes are killed")
    cancel.add_argument("job")
    cancel.add_argument("--wait", default="5", help="seconds to wait for it to end (default 5)")
    cancel.set_defaults(func=cmd_cancel)


# ----- option values ---------------------------------------------------------------------
def _pairs(option: str, items: list[str], what: str = "KEY=VALUE") -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidParameter(f"{option} takes {what}, not {item!r}")
        found[key.strip()] = value
    return found


def _parameters(items: list[str]) -> dict[str, Any]:
    """`-p alpha=0.1 -p solver=lbfgs` as {"alpha": 0.1, "solver": "lbfgs"} (JSON when it is JSON)."""
    parameters: dict[str, Any] = {}
    for name, text in _pairs("-p", items, "NAME=VALUE").items():
        try:
            parameters[name] = json.loads(text)
        except ValueError:
            parameters[name] = text
    return parameters


def _whole(option: str, text: str, low: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InvalidParameter(f"{option} takes a whole number, not {text!r}") from None
    if low is not None and value < low:
        raise InvalidParameter(f"{option} must be {low} or more, not {value}")
    return value


def _number(option: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidParameter(f"{option} takes a number, not {text!r}") from None
    return int(value) if value.is_integer() else value


def _timeout(text: str | None) -> Any:
    """A bare number is seconds; a text ("90s", "1h30m") goes to `ws.jobs.submit` as it is."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _submit_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The command line as `ws.jobs.submit` keywords."""
    given: dict[str, Any] = {
        "target": args.target,
        "code": args.code,
        "experiment": args.experiment,
        "name": args.name,
        "inputs": _pairs("--input", args.input, "NAME=PATH") or None,
        "environment_variables": _pairs("--env", args.env) or None,
        "priority": _whole("--priority", args.priority),
        "max_retries": _whole("--max-retries", args.max_retries, low=0),
        "timeout": _timeout(args.timeout),
    }
    resources: dict[str, Any] = {}
    if args.cpus is not None:
        resources["cpus"] = _number("--cpus", args.cpus)
    if args.gpus is not None:
        resources["gpus"] = _number("--gpus", args.gpus)
    if args.memory is not None:
        resources["memory"] = args.memory
    if resources:
        given["resources"] = resources
    if args.notebook is not None:
        if args.command:
            raise InvalidParameter("give --notebook or a command after --, not both")
        given.update(notebook=args.notebook, parameters=_parameters(args.param))
        return given
    if args.param:
        raise InvalidParameter("-p sets a notebook's parameters: use it with --notebook")
    if not args.command:
        raise InvalidParameter(
            "say what to run: a command after -- (jobs submit --target T -- python train.py) or --notebook"
        )
    given["command"] = " ".join(args.command) if args.shell else list(args.command)
    given["shell"] = args.shell
    return given


# ----- helpers ---------------------------------------------------------------------------
def _dispatched_here(ws: Any) -> bool:
    """True when no Jupyter server dispatches for this workspace: this process will."""
    return not ws.jobs.server_dispatches()


def _find(ws: Any, text: str) -> Any:
    """The job handle for an id or a unique start of one."""
    try:
        return ws.jobs.get(text)
    except NotFound:
        if not 4 <= len(text) < 32 or any(c not in "0123456789abcdef" for c in text):
            raise
    found = [j for j in ws.store.list_jobs(limit=10_000) if j.job_id.startswith(text)]
    if not found:
        raise NotFound(f"No job has an id starting with {text!r}.")
    if len(found) > 1:
        raise InvalidParameter(f"{len(found)} jobs have ids starting with {text!r}: give more of the id.")
    return ws.jobs.get(found[0].job_id)


def _ended_line(job: Any) -> str:
    record = job.record
    code = f", exit code {record.exit_code}" if record.exit_code is not None else ""
    reason = f": {record.state_reason}" if record.state_reason else ""
    return f"Job {record.job_id} {record.state}{code}{reason} (run {record.run_id})."


def _print_chunks(chunks: Any, attempt: list[int]) -> None:
    """Write output chunks to stdout/stderr as they were printed; a line marks each new attempt."""
    for chunk in chunks:
        if chunk.attempt != attempt[0]:
            if attempt[0]:
                sys.stdout.flush()
                print(f"--- attempt {chunk.attempt} ---", file=sys.stderr, flush=True)
            attempt[0] = chunk.attempt
        out = sys.stderr if chunk.stream == "stderr" else sys.stdout
        out.write(chunk.text)
        out.flush()


def _watch(job: Any, stream: bool, here: bool) -> int:
    """Wait (printing the output with `stream`) until the job ended; its exit status for the shell."""
    try:
        if stream:
            _print_chunks(job.follow(), [0])
        job.wait()
    except KeyboardInterrupt:
        if here:
            print(f"\nCanceling job {job.id} (this process was running it) ...", file=sys.stderr)
            job.cancel(wait=10)
            print(_ended_line(job), file=sys.stderr)
        else:
            print(
                f"\nStopped watching; job {job.id} goes on: jupyter mlws jobs logs -f {job.id}",
                file=sys.stderr,
            )
        return 130
    print(_ended_line(job), file=sys.stderr)
    return 0 if job.record.state == "completed" else 1


# ----- commands ----------------------------------------------------------------------------
def cmd_submit(args: argparse.Namespace) -> int:
    given = _submit_arguments(args)
    ws = open_workspace(args)
    here = _dispatched_here(ws)
    job = ws.jobs.submit(**given)
    record = job.record
    experiment = ws.store.get_experiment(record.experiment_id).name
    print(
        f"Job {job.id} {record.name!r} queued on {record.target} "
        f"(experiment {experiment}, run {record.run_id}).",
        file=sys.stderr if args.stream else sys.stdout,
        flush=True,
    )
    if here and not (args.wait or args.stream):
        print(
            "No Jupyter server dispatches jobs for this workspace: this command runs the job and "
            "waits for it (Ctrl-C stops it).",
            file=sys.stderr,
            flush=True,
        )
    if here or args.wait or args.stream:
        return _watch(job, args.stream, here)  # (the workspace stays open: this process dispatches)
    print(f"Follow it: jupyter mlws jobs logs -f {job.id}")
    ws.close()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if args.state is not None and args.state not in JOB_STATES:
        raise InvalidParameter(f"--state is one of {', '.join(JOB_STATES)}, not {args.state!r}")
    limit = _whole("--limit", args.limit, low=1)
    import pandas as pd

    ws = open_workspace(args)
    try:
        frame = ws.jobs.list(state=args.state, target=args.target, limit=limit)
    finally:
        ws.close()
    if frame.empty:
        print("No jobs match." if args.state or args.target else "No jobs yet: jupyter mlws jobs submit ...")
        return 0
    rows = []
    for row in frame.itertuples(index=False):
        submitted = None if row.submitted is pd.NaT else int(row.submitted.timestamp() * 1000)
        position = _blank(row.position)
        rows.append(
            [
                row.job_id,
                row.name,
                row.kind,
                row.target,
                row.state,
                None if position is None else int(position),
                row.priority,
                row.attempt,
                format_time(submitted),
                _blank(row.duration),
                _blank(row.reason),
            ]
        )
    print(format_table(_LIST_FIELDS, rows))
    return 0


def _blank(value: Any) -> Any:
    """None for a missing cell of the jobs frame (None, NaN or NaT), else the value."""
    return None if value is None or value != value else value


def _what(record: Any) -> list[tuple[str, Any]]:
    """The lines that say what the job runs."""
    spec = record.spec
    lines: list[tuple[str, Any]] = []
    if record.kind == "command":
        command = spec.get("command")
        shown = command if isinstance(command, str) else " ".join(str(a) for a in command or [])
        lines.append(("command", shown + ("  (through a shell)" if spec.get("shell") else "")))
    elif record.kind == "notebook":
        lines.append(("notebook", spec.get("notebook")))
        lines.append(("parameters", json.dumps(spec.get("parameters") or {})))
    else:
        lines.append(("function", spec.get("function_name") or record.kind))
    resources = spec.get("resources") or {}
    size = [f"{resources.get('cpus', 1):g} CPU", f"{resources.get('gpus', 0):g} GPU"]
    if resources.get("memory_bytes"):
        size.append(f"{resources['memory_bytes']} bytes")
    lines.append(("resources", ", ".join(size)))
    if spec.get("timeout_seconds"):
        lines.append(("timeout", f"{spec['timeout_seconds']:g} s"))
    for name, given in (spec.get("inputs") or {}).items():
        lines.append((f"input {name}", given.get("uri") or f"copied into the run: inputs/{name}"))
    names = sorted(spec.get("environment_variables") or {})
    if names:
        lines.append(("environment", ", ".join(names)))  # names only: values may be secrets
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        job = _find(ws, args.job)
        record = job.record
        if args.json:
            print(json.dumps(record.to_dict(), indent=2, default=str))
            return 0
        experiment = ws.store.get_experiment(record.experiment_id).name
        position = None
        if record.state == "queued":
            queued = ws.jobs.list(state="queued", target=record.target, limit=10_000)
            match = queued[queued["job_id"] == record.job_id]
            position = None if match.empty else int(match["position"].iloc[0])
    finally:
        ws.close()
    state = record.state + (f" ({record.state_reason})" if record.state_reason else "")
    duration = None
    if record.started_time and record.ended_time:
        duration = f"{(record.ended_time - record.started_time) / 1000:.1f} s"
    lines: list[tuple[str, Any]] = [
        ("job", record.job_id),
        ("name", record.name),
        ("kind", record.kind),
        ("target", record.target),
        ("state", state),
        ("queue position", position),
        ("priority", record.priority),
        ("attempt", f"{record.attempt} of at most {record.max_retries + 1}"),
        ("experiment", experiment),
        ("run", record.run_id),
        ("node", record.node),
        ("pid", record.pid),
        ("exit code", record.exit_code),
        ("submitted", format_time(record.submitted_time)),
        ("started", format_time(record.started_time)),
        ("ended", format_time(record.ended_time)),
        ("duration", duration),
        *_what(record),
    ]
    for label, value in lines:
        if value is not None and value != "":
            print(f"  {label:<15} {value}")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        job = _find(ws, args.job)
        if not args.follow:
            chunks = job.log_chunks()
            _print_chunks(chunks, [0])
            if not chunks:
                print(f"(job {job.id} is {job.record.state} and has printed nothing yet)", file=sys.stderr)
            return 0
        if job.record.state == "queued" and not ws.is_remote and not ws.store.job_dispatchers(_lease()):
            print(
                f"Job {job.id} is queued and nothing dispatches jobs for this workspace now: it starts "
                "when a Jupyter server runs on it (Ctrl-C stops following).",
                file=sys.stderr,
                flush=True,
            )
        try:
            _print_chunks(job.follow(), [0])
        except KeyboardInterrupt:
            return 130
        print(_ended_line(job), file=sys.stderr)
        return 0
    finally:
        ws.close()


def _lease() -> int:
    from ..jobs.dispatcher import LEASE_MS

    return LEASE_MS


def cmd_cancel(args: argparse.Namespace) -> int:
    wait = _number("--wait", args.wait)
    ws = open_workspace(args)
    try:
        job = _find(ws, args.job)
        if job.record.ended:
            print(f"Job {job.id} already ended {job.record.state}: nothing to cancel.")
            return 0
        job.cancel(wait=max(0.0, wait))
        record = job.refresh()
    finally:
        ws.close()
    if record.ended:
        print(_ended_line(job))
    else:
        print(
            f"Cancel of job {job.id} requested; it is still {record.state} "
            "(it ends when its dispatcher, a Jupyter server or the process that submitted it, looks)."
        )
    return 0
