"""What every resource module builds its commands on.

`open_workspace` opens the workspace the top-level `--workspace` option names
(else `$MLWS_WORKSPACE`, else `./.mlws`); the client is imported only when a
command runs, so `--help` stays fast. `verb_group` makes a resource's group
(`jupyter mlws compute ...`) whose bare use prints its help and exits 2.
"""

from __future__ import annotations

import argparse
from typing import Any


def open_workspace(args: argparse.Namespace) -> Any:
    """The `Workspace` of this command line (the caller closes it)."""
    from ..client.workspace import Workspace

    return Workspace(args.workspace)


def verb_group(sub: Any, name: str, help: str) -> Any:
    """Add the `name` group to the top-level sub-parsers; its sub-parsers, for the verbs."""
    group = sub.add_parser(name, help=help)
    verbs = group.add_subparsers(dest=f"{name}_command")
    group.set_defaults(func=lambda args: _missing_verb(group))
    return verbs


def _missing_verb(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2
