"""`jupyter mlws sweep ...`: hyperparameter sweeps from a terminal (issue 18).

    jupyter mlws sweep submit --target T --maximize auc --space lr="loguniform(1e-4, 1e-1)"
                              [--space depth="choice(3, 5)" ...] [--sampling random|grid|bayesian]
                              [--early-stop bandit:0.1[:DELAY]] [--max-trials N] [--concurrent N]
                              [--code DIR] [-e EXPERIMENT] [--name N] [--env K=V ...] [--seed N]
                              [--timeout 1h] [--wait] -- python train.py --lr '${{search_space.lr}}'
    jupyter mlws sweep submit ... --notebook train.ipynb [-p NAME=VALUE ...]
    jupyter mlws sweep list [--limit N]
    jupyter mlws sweep show SWEEP [--json]
    jupyter mlws sweep cancel SWEEP [--wait S]

Everything goes through `ws.jobs.sweep` / `ws.jobs.get_sweep` (client/sweeps.py), so the checks and
messages are those of Python; a sweep is a job of kind "sweep", so `jupyter mlws jobs ...` sees it
too. SWEEP is the sweep's job id (or a unique start of one) or its run id. `--space` texts are read
by `jupyter_mlws.sweep.parse` (literals only; no code runs), `--early-stop` by `parse_policy`.

Decisions: as for `jobs submit`, the command comes after `--` and is an argv; its
`${{search_space.<name>}}` arguments become each trial's values. With no Jupyter server on the
workspace this process dispatches, so `submit` waits for the sweep to end (it says so); `submit
--wait` exits 0 when the sweep completed and 1 otherwise. `show` prints the sweep and its trials,
best first.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import InvalidParameter, NotFound
from .base import open_workspace, verb_group
from .formatting import format_table
from .jobs import _dispatched_here, _find, _pairs, _parameters, _timeout, _whole


def add_sweep_commands(sub: Any) -> None:
    """Register `sweep` and its sub-commands on the top-level sub-parsers."""
    verbs = verb_group(sub, "sweep", "hyperparameter sweeps: submit, show, cancel")
    submit = verbs.add_parser(
        "submit",
        help="start a sweep of a command (after --) or a notebook on a cluster",
        usage="jupyter mlws sweep submit --target T --maximize M --space NAME=DIST [options] -- COMMAND ...",
    )
    submit.add_argument("command", nargs="*", help="the trial's program and arguments, after --")
    submit.add_argument("--target", "-t", default=None, help="the cluster whose nodes run the trials")
    goal = submit.add_mutually_exclusive_group()
    goal.add_argument("--maximize", metavar="METRIC", default=None, help="the objective, to maximize")
    goal.add_argument("--minimize", metavar="METRIC", default=None, help="the objective, to minimize")
    submit.add_argument(
        "--space",
        action="append",
        default=[],
        metavar='NAME="DIST"',
        help='a parameter and its distribution, e.g. lr="loguniform(1e-4, 1e-1)" (repeatable)',
    )
    submit.add_argument("--sampling", default="random", help="random (default), grid, bayesian")
    submit.add_argument(
        "--early-stop", default=None, help="bandit:SLACK[:DELAY], median, truncation:PCT, asha"
    )
    submit.add_argument("--max-trials", default="10", help="trials in all (default 10)")
    submit.add_argument("--concurrent", default="2", help="trials at once (default 2)")
    submit.add_argument("--code", default=None, help="the code folder (snapshotted once for all trials)")
    submit.add_argument("--notebook", default=None, help="each trial runs this notebook (in --code)")
    submit.add_argument(
        "--param", "-p", action="append", default=[], metavar="NAME=VALUE", help="a fixed notebook parameter"
    )
    submit.add_argument("--experiment", "-e", default=None)
    submit.add_argument("--name", "-n", default=None, help="the sweep's name")
    submit.add_argument("--env", action="append", default=[], metavar="K=V", help="a variable (repeatable)")
    submit.add_argument("--seed", default=None, help="the sampler's seed")
    submit.add_argument("--timeout", default=None, help="start no trial after this: 90s, 30m, 1h30m")
    submit.add_argument("--wait", action="store_true", help="wait for the sweep to end")
    submit.set_defaults(func=cmd_submit)
    listing = verbs.add_parser("list", help="sweeps, newest first")
    listing.add_argument("--limit", "-n", default="50")
    listing.set_defaults(func=cmd_list)
    show = verbs.add_parser("show", help="a sweep and its trials, best first")
    show.add_argument("sweep")
    show.add_argument("--json", action="store_true", help="the sweep and its trials as JSON")
    show.set_defaults(func=cmd_show)
    cancel = verbs.add_parser("cancel", help="cancel a sweep: its running trials are killed")
    cancel.add_argument("sweep")
    cancel.add_argument("--wait", default="30", help="seconds to wait for it to end (default 30)")
    cancel.set_defaults(func=cmd_cancel)


def _space(items: list[str]) -> dict[str, Any]:
    from ..sweep import parse

    if not items:
        raise InvalidParameter('give the search space: --space lr="loguniform(1e-4, 1e-1)" (repeatable)')
    pairs = _pairs("--space", items, 'NAME="DISTRIBUTION"')
    return {name: parse(text.strip().strip("'\"")) for name, text in pairs.items()}  # (quotes a shell kept)


def _sweep(ws: Any, text: str) -> Any:
    """The sweep named by a job id (or a unique start of one) or its run id."""
    try:
        return ws.jobs.get_sweep(text)
    except NotFound:
        job = _find(ws, text)
        return ws.jobs.get_sweep(job.id)


def cmd_submit(args: argparse.Namespace) -> int:
    from ..sweep import parse_policy

    if not (args.maximize or args.minimize):
        raise InvalidParameter("name the objective: --maximize METRIC or --minimize METRIC")
    options: dict[str, Any] = {
        "search_space": _space(args.space),
        "objective": args.maximize or args.minimize,
        "goal": "maximize" if args.maximize else "minimize",
        "sampling": args.sampling,
        "early_termination": parse_policy(args.early_stop),
        "max_trials": _whole("--max-trials", args.max_trials, low=1),
        "max_concurrent_trials": _whole("--concurrent", args.concurrent, low=1),
        "target": args.target,
        "experiment": args.experiment,
        "name": args.name,
        "code": args.code,
        "environment_variables": _pairs("--env", args.env) or None,
        "seed": None if args.seed is None else _whole("--seed", args.seed),
        "timeout": _timeout(args.timeout),
    }
    if args.notebook is not None:
        if args.command:
            raise InvalidParameter("give --notebook or a command after --, not both")
        trial: Any = args.notebook
        options["parameters"] = _parameters(args.param)
    else:
        if args.param:
            raise InvalidParameter("-p sets a notebook's parameters: use it with --notebook")
        if not args.command:
            raise InvalidParameter("say what each trial runs: a command after -- or --notebook")
        trial = list(args.command)
    ws = open_workspace(args)
    here = _dispatched_here(ws)
    sweep = ws.jobs.sweep(trial, **options)
    print(f"Sweep {sweep.id} {sweep.record.name!r} queued on {sweep.record.target} (run {sweep.run_id}).")
    if here and not args.wait:
        print(
            "No Jupyter server dispatches jobs for this workspace: this command drives the sweep "
            "and waits for it (Ctrl-C stops it).",
            file=sys.stderr,
            flush=True,
        )
    if here or args.wait:
        try:
            sweep.wait()
        except RuntimeError as err:
            print(str(err), file=sys.stderr)
        except KeyboardInterrupt:
            if here:
                sweep.cancel(wait=15)
            return 130
        _print_summary(sweep)
        return 0 if sweep.record.state == "completed" else 1
    print(f"Follow it: jupyter mlws sweep show {sweep.id}")
    ws.close()
    return 0


def _print_summary(sweep: Any) -> None:
    record = sweep.refresh()
    reason = f" ({record.state_reason})" if record.state_reason else ""
    best = sweep.best_run
    line = f"Sweep {record.job_id} {record.state}{reason}; run {record.run_id}"
    if best is not None:
        line += f"; best trial run {best.id}: {sweep.objective} = {best.metrics.get(sweep.objective)}"
    print(line)


def cmd_list(args: argparse.Namespace) -> int:
    limit = _whole("--limit", args.limit, low=1)
    ws = open_workspace(args)
    try:
        jobs = [j for j in ws.store.list_jobs(limit=10_000) if j.kind == "sweep"][:limit]
        rows = [
            {
                "sweep": j.job_id,
                "name": j.name,
                "target": j.target,
                "state": j.state,
                "objective": (j.spec.get("sweep") or {}).get("objective"),
                "run": j.run_id,
            }
            for j in jobs
        ]
    finally:
        ws.close()
    if not rows:
        print("No sweeps yet: jupyter mlws sweep submit --help")
        return 0
    print(format_table(list(rows[0]), [list(r.values()) for r in rows]))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    try:
        sweep = _sweep(ws, args.sweep)
        record = sweep.refresh()
        table = sweep.trials()
        settings = sweep.settings
        best = sweep.best_run
    finally:
        ws.close()
    if args.json:
        body = {
            "sweep": record.to_dict(),
            "best_run": best.id if best is not None else None,
            "trials": json.loads(table.to_json(orient="records")) if not table.empty else [],
        }
        print(json.dumps(body, indent=2, default=str))
        return 0
    state = record.state + (f" ({record.state_reason})" if record.state_reason else "")
    print(f"sweep       {record.job_id}\nname        {record.name}\nstate       {state}")
    print(f"run         {record.run_id}\ntarget      {record.target}")
    objective = settings.get("objective")
    print(f"objective   {objective} ({settings.get('goal')}), sampling {settings.get('sampling')}")
    space = ", ".join(f"{k}={v}" for k, v in (settings.get("space") or {}).items())
    print(f"space       {space}")
    if best is not None:
        print(f"best        run {best.id}: {objective} = {best.metrics.get(objective)}")
    if table.empty:
        print("No trials yet.")
        return 0
    rows = table.astype(object).where(table.notna(), None).values.tolist()
    print(format_table(list(table.columns), rows))
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    try:
        wait = float(args.wait)
    except ValueError:
        raise InvalidParameter(f"--wait takes seconds, not {args.wait!r}") from None
    ws = open_workspace(args)
    try:
        sweep = _sweep(ws, args.sweep)
        if sweep.refresh().ended:
            print(f"Sweep {sweep.id} had already ended: {sweep.record.state}.")
            return 0
        sweep.cancel(wait=wait)
        record = sweep.refresh()
    finally:
        ws.close()
    print(
        f"Sweep {record.job_id} {record.state}" + (f" ({record.state_reason})" if record.state_reason else "")
    )
    return 0
