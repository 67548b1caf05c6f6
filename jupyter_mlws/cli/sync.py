"""`jupyter mlws sync`: send what a workspace URL's clients left in their spool (issue 14).

    jupyter mlws sync                      every workspace URL with a spool on this machine
    jupyter mlws -w http://host:8888/ sync   just that one (token: $MLWS_TOKEN)

A client that exits while its server is down leaves its batches and run endings in the spool
(`store/spool.py`) and says so on stderr; this command (and any later client of the same
workspace, by itself) delivers them in order, each batch under its own id, so running it twice
sends nothing twice. Exit status 0 when nothing waits any more, 1 when something still waits
(the server did not answer) or was refused (the lines stay in `refused.jsonl`).
"""

from __future__ import annotations

import argparse
import functools
import os
from typing import Any

from ..location import WORKSPACE_ENV, server_url
from ..store.spool import Delivery, deliver_orphans, send_record, spool_folder, spool_root, waiting_points


def add_sync_commands(sub: Any) -> None:
    """Register `sync` on the top-level sub-parsers."""
    sync = sub.add_parser("sync", help="send what a workspace URL's clients left in their spool")
    sync.set_defaults(func=cmd_sync)


def _urls(args: argparse.Namespace) -> list[str]:
    given = args.workspace or os.environ.get(WORKSPACE_ENV, "")
    if "://" in given:
        return [server_url(given)[0]]
    root = spool_root()
    found = []
    for marker in sorted(root.glob("*/url.txt")) if root.is_dir() else []:
        found.append(marker.read_text().strip())
    return found


def cmd_sync(args: argparse.Namespace) -> int:
    """Deliver every spool (or the one of --workspace) and print what happened."""
    from ..store.rest_connect import connect

    urls = _urls(args)
    if not urls:
        print("Nothing waits: no spool on this machine.")
        return 0
    status = 0
    for url in urls:
        folder = spool_folder(url)
        _, lines = waiting_points(folder)
        if not lines:
            print(f"{url}: nothing waits.")
            continue
        token = server_url(args.workspace)[1] if args.workspace and "://" in args.workspace else None
        store = connect(url, token=token, durable=False)
        try:
            done: Delivery = deliver_orphans(folder, functools.partial(send_record, store))
        finally:
            store.close()
        print(f"{url}: {done.describe()}.")
        if done.left or done.refused:
            status = 1
        if done.refused:
            print(f"  refused lines are kept in {folder / 'refused.jsonl'}")
        _, still = waiting_points(folder)
        if still and not done.left:
            print(f"  {still} lines belong to a client that is still running; it sends them itself.")
    return status
