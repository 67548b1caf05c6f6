"""`jupyter mlws info | experiments | runs | diff`: the workspace and its tracked runs.

    jupyter mlws info                               where the workspace is, store kind, schema
    jupyter mlws experiments                        experiments with their run counts
    jupyter mlws runs [--experiment E] [--filter F] [--order-by K] [--limit N]
    jupyter mlws diff RUN_A RUN_B [--part P ...] [--json] [--exit-code]
    jupyter mlws replay RUN [--kernel K] [--timeout S] [--json] [--exit-code]

`main.build_parser` calls `add_run_commands`; `info` is also what a bare
`jupyter mlws` runs. `runs` prints what `ws.runs(...)` (client/workspace.py)
finds, so it takes the same filter and order-by text as Python. `diff` prints what
`ws.diff(a, b)` (repro/diff.py) finds, part by part; as with ``git diff --exit-code``,
`--exit-code` makes it exit 1 when the runs differ. `replay` is `run.replay()` (client/replaying.py):
it prints the verdict; with `--exit-code` it exits 1 when the replay diverged.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..repro.diff import COLUMNS, PARTS, TABLE_PARTS
from .base import open_workspace
from .formatting import format_table, format_time

_RUN_FIELDS = ["run_id", "experiment", "name", "status", "start_time", "duration"]
_MAX_EXTRA_COLUMNS = 8


def add_run_commands(sub: Any) -> None:
    """Register `info`, `experiments` and `runs` on the top-level sub-parsers."""
    sub.add_parser("info", help="where the workspace is and what it holds").set_defaults(func=cmd_info)
    sub.add_parser("experiments", help="list experiments").set_defaults(func=cmd_experiments)
    runs = sub.add_parser("runs", help="list runs (newest first)")
    runs.add_argument(
        "--experiment", "-e", action="append", default=None, help="experiment name (repeatable)"
    )
    runs.add_argument(
        "--filter",
        "-f",
        default=None,
        help="e.g. \"metrics.acc > 0.9 and params.lr = '0.01' and status = 'completed'\"",
    )
    runs.add_argument("--order-by", "-o", action="append", default=None, help="e.g. 'metrics.acc desc'")
    runs.add_argument("--limit", "-n", type=int, default=100)
    runs.set_defaults(func=cmd_runs)
    diff = sub.add_parser(
        "diff", help="what run B did differently from run A (code, cells, environment, ...)"
    )
    diff.add_argument("run_a", help="run id")
    diff.add_argument("run_b", help="run id")
    diff.add_argument("--part", "-p", action="append", choices=PARTS, help="only this part (repeatable)")
    diff.add_argument("--json", action="store_true", help="print the whole diff as JSON")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when the runs differ")
    diff.set_defaults(func=cmd_diff)
    replay = sub.add_parser("replay", help="re-execute a run in a fresh kernel and compare it cell by cell")
    replay.add_argument("run", help="run id")
    replay.add_argument("--kernel", "-k", default=None, help="kernelspec to replay in (default: the run's)")
    replay.add_argument("--timeout", "-t", type=float, default=600, help="seconds per cell (default 600)")
    replay.add_argument("--json", action="store_true", help="print the whole outcome as JSON")
    replay.add_argument("--exit-code", action="store_true", help="exit 1 when the replay diverged")
    replay.set_defaults(func=cmd_replay)


def cmd_info(args: argparse.Namespace) -> int:
    """Print the workspace location and store summary."""
    ws = open_workspace(args)
    described = ws.describe()
    store = described["store"]
    print(f"ML workspace   {described['workspace']}")
    print(f"  store        {described['store_kind']}  {described['store_url']}")
    print(f"  artifacts    {described['artifact_url']}")
    if "schema_version" in store:
        print(f"  schema       v{store['schema_version']}")
    else:
        version, kind = store.get("server_version"), store.get("server_store_kind")
        print(f"  server       jupyter_mlws {version} on a {kind} store")
    print(f"  experiments  {len(ws.store.list_experiments())}")
    ws.close()
    return 0


def cmd_experiments(args: argparse.Namespace) -> int:
    """Print every experiment with its number of runs."""
    ws = open_workspace(args)
    rows = []
    for exp in ws.store.list_experiments():
        count = sum(len(page.runs) for page in ws.store.iter_runs([exp.experiment_id], page_size=10_000))
        rows.append([exp.experiment_id, exp.name, count, format_time(exp.created_time)])
    print(format_table(["id", "name", "runs", "created"], rows) if rows else "No experiments yet.")
    ws.close()
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    """Print matching runs: the fixed fields, then metrics and params columns."""
    ws = open_workspace(args)
    frame = ws.runs(args.experiment, args.filter, args.order_by, args.limit)
    ws.close()
    if frame.empty:
        print("No runs match.")
        return 0
    extra = [c for c in frame.columns if c.startswith("metrics.")] + [
        c for c in frame.columns if c.startswith("params.")
    ]
    columns = _RUN_FIELDS + extra[:_MAX_EXTRA_COLUMNS]
    shown = frame[columns].astype(object)
    shown["start_time"] = [
        format_time(None if t != t else int(t.timestamp() * 1000)) for t in frame["start_time"]
    ]
    shown["duration"] = [None if d != d else d for d in frame["duration"]]  # running: blank, not nan
    rows = [list(r) for r in shown.itertuples(index=False)]
    print(format_table(columns, rows))
    if len(extra) > _MAX_EXTRA_COLUMNS:
        print(f"({len(extra) - _MAX_EXTRA_COLUMNS} more columns: use mlws.search_runs() for all of them)")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """Print the differences of two runs, one part after the other."""
    import json

    ws = open_workspace(args)
    try:
        diff = ws.diff(args.run_a, args.run_b)
    finally:
        ws.close()
    if args.json:
        print(json.dumps(diff.to_dict(), indent=1, default=str))
        return 1 if args.exit_code and not diff.identical else 0
    print(diff.summary())
    for part in args.part or PARTS:
        if not diff.changed(part):
            continue
        frame = diff.parts[part].astype(object).where(diff.parts[part].notna(), None)
        print(f"\n== {part} ==")
        if part in TABLE_PARTS:
            columns = COLUMNS[part]
            print(format_table(columns, [list(row) for row in frame[columns].itertuples(index=False)]))
            continue
        for row in frame.to_dict("records"):
            if part == "cells":
                print(
                    f"-- cell {row['cell_id']} ({row['cell_type']}, {row['index_a']} -> {row['index_b']}): "
                    f"{row['change']}" + (f", {row['images']} image(s) differ" if row["images"] else "")
                )
                print((row["source_diff"] or "") + (row["output_diff"] or ""), end="")
            else:
                print(f"-- {row['path']}: {row['change']} ({row['size_a']} -> {row['size_b']} bytes)")
                print(row["diff"] or "", end="")
    return 1 if args.exit_code and not diff.identical else 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a run and print its verdict (or the whole outcome as JSON)."""
    import json

    ws = open_workspace(args)
    try:
        result = ws.get_run(args.run).replay(args.kernel, timeout=args.timeout)
    finally:
        ws.close()
    print(json.dumps(result.to_dict(), indent=1, default=str) if args.json else result.summary())
    return 1 if args.exit_code and not result.reproduced else 0
