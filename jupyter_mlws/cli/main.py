"""`jupyter mlws ...`: look at a workspace from a terminal.

Installed as the `jupyter-mlws` script, which `jupyter mlws` finds. Commands:

    jupyter mlws info                               where the workspace is, store kind, schema
    jupyter mlws experiments                        experiments with their run counts
    jupyter mlws runs [--experiment E] [--filter F] [--order-by K] [--limit N]
    jupyter mlws compute list|show|create|update|delete|events   compute instances (cli/compute.py)
    jupyter mlws compute cluster list|show|create|update|delete|start|stop, compute attach|detach
                                                    training clusters on Dask (cli/clusters.py)
    jupyter mlws models list|show|register|alias|unalias|delete   the model registry (cli/models.py)
    jupyter mlws endpoints list|show|deploy|delete|keys|serve     scoring endpoints (cli/endpoints.py)
    jupyter mlws jobs submit|list|show|logs [-f]|cancel     jobs on training clusters (cli/jobs.py)
    jupyter mlws data register|list|show|download|runs      data assets (cli/data.py)
    jupyter mlws batch-endpoints list|show|deploy|invoke|jobs|keys|delete
                                                    batch endpoints (cli/batch_endpoints.py)
    jupyter mlws sync                               send what a workspace URL's clients spooled (cli/sync.py)

`--workspace W` (any command) overrides `$MLWS_WORKSPACE`. A domain error
(bad filter, unknown experiment, incompatible database) prints its message
and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import MLWSError
from .batch_endpoints import add_batch_endpoint_commands
from .clusters import add_cluster_commands
from .compute import add_compute_commands
from .data import add_data_commands
from .endpoints import add_endpoint_commands
from .jobs import add_job_commands
from .models import add_model_commands
from .runs import add_run_commands
from .sweeps import add_sweep_commands
from .sync import add_sync_commands


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by tests and `--help`)."""
    parser = argparse.ArgumentParser(prog="jupyter mlws", description="Look at an ML workspace.")
    parser.add_argument(
        "--workspace", "-w", default=None, help="folder or URL (default: $MLWS_WORKSPACE or ./.mlws)"
    )
    sub = parser.add_subparsers(dest="command")
    add_run_commands(sub)
    add_cluster_commands(add_compute_commands(sub))
    add_model_commands(sub)
    add_endpoint_commands(sub)
    add_sync_commands(sub)
    add_job_commands(sub)
    add_data_commands(sub)
    add_batch_endpoint_commands(sub)
    add_sweep_commands(sub)
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
    except BrokenPipeError:  # `jupyter mlws diff A B | head`: the reader had enough
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
