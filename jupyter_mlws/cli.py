"""`jupyter mlws ...`: look at a workspace from a terminal.

Installed as the `jupyter-mlws` script, which `jupyter mlws` finds. Commands:

    jupyter mlws info                               where the workspace is, store kind, schema
    jupyter mlws experiments                        experiments with their run counts
    jupyter mlws runs [--experiment E] [--filter F] [--order-by K] [--limit N]
    jupyter mlws compute list|show|create|update|delete|events   compute instances (cli_compute.py)
    jupyter mlws models list|show|register|alias|unalias|delete   the model registry (cli_models.py)
    jupyter mlws endpoints list|show|deploy|delete|keys|serve     scoring endpoints (cli_endpoints.py)

`--workspace W` (any command) overrides `$MLWS_WORKSPACE`. A domain error
(bad filter, unknown experiment, incompatible database) prints its message
and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from .cli_compute import add_compute_commands
from .cli_endpoints import add_endpoint_commands
from .cli_models import add_model_commands
from .errors import MLWSError

_RUN_FIELDS = ["run_id", "experiment", "name", "status", "start_time", "duration"]
_MAX_EXTRA_COLUMNS = 8


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width text table (left-aligned text, right-aligned numbers)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [
        all(
            isinstance(row[i], (int, float)) and not isinstance(row[i], bool)
            for row in rows
            if row[i] is not None
        )
        and rows
        for i in range(len(headers))
    ]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    for row in cells:
        lines.append(
            "  ".join(
                c.rjust(w) if numeric[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=False))
            ).rstrip()
        )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return "nan"
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _workspace(args: argparse.Namespace) -> Any:
    from .client.workspace import Workspace

    return Workspace(args.workspace)


def cmd_info(args: argparse.Namespace) -> int:
    """Print the workspace location and store summary."""
    ws = _workspace(args)
    described = ws.describe()
    store = described["store"]
    print(f"ML workspace   {described['workspace']}")
    print(f"  store        {described['store_kind']}  {described['store_url']}")
    print(f"  artifacts    {described['artifact_url']}")
    print(f"  schema       v{store['schema_version']}")
    print(f"  experiments  {len(ws.store.list_experiments())}")
    ws.close()
    return 0


def cmd_experiments(args: argparse.Namespace) -> int:
    """Print every experiment with its number of runs."""
    ws = _workspace(args)
    rows = []
    for exp in ws.store.list_experiments():
        count = sum(len(page.runs) for page in ws.store.iter_runs([exp.experiment_id], page_size=10_000))
        rows.append([exp.experiment_id, exp.name, count, _time(exp.created_time)])
    print(format_table(["id", "name", "runs", "created"], rows) if rows else "No experiments yet.")
    ws.close()
    return 0


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def cmd_runs(args: argparse.Namespace) -> int:
    """Print matching runs: the fixed fields, then metrics and params columns."""
    ws = _workspace(args)
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
    shown["start_time"] = [_time(None if t != t else int(t.timestamp() * 1000)) for t in frame["start_time"]]
    shown["duration"] = [None if d != d else d for d in frame["duration"]]  # running: blank, not nan
    rows = [list(r) for r in shown.itertuples(index=False)]
    print(format_table(columns, rows))
    if len(extra) > _MAX_EXTRA_COLUMNS:
        print(f"({len(extra) - _MAX_EXTRA_COLUMNS} more columns: use mlws.search_runs() for all of them)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by tests and `--help`)."""
    parser = argparse.ArgumentParser(prog="jupyter mlws", description="Look at an ML workspace.")
    parser.add_argument(
        "--workspace", "-w", default=None, help="folder or URL (default: $MLWS_WORKSPACE or ./.mlws)"
    )
    sub = parser.add_subparsers(dest="command")
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
    add_compute_commands(sub)
    add_model_commands(sub)
    add_endpoint_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `jupyter-mlws`; returns the exit status (2 on a domain error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        args = parser.parse_args([*(argv or sys.argv[1:]), "info"])
    try:
        return int(args.func(args))
    except MLWSError as err:
        print(f"mlws: {err.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
