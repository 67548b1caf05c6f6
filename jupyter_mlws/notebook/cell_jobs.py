"""`%%mlrun --target CLUSTER`: a notebook cell run as a job on a cluster's node (issue 15).

Who calls it: the `%%mlrun` magic (`magics.py`) when its line names a target. The job itself is
`ws.jobs.submit_cell` (`client/jobs.py`); on the node the cell runs in a fresh Python process
(`jobs/child.py`).

What happens, as a user sees it:
- The variables the cell reads (names it loads that the notebook has) are shipped with the cell
  (cloudpickle, as Dask ships a function's arguments). One that cannot be pickled (an open file, a
  lock, a database connection) is named in a clear error and nothing is submitted.
- The cell's output streams back into the cell while it runs (stdout and stderr, from the job's
  live log, a few times a second); interrupting the kernel cancels the job.
- When it completed, the variables the cell assigned come back into the notebook where they
  pickle (the others are named in a note); the value of its last line is shown, as a cell would.
  A failed cell raises `CellJobFailed` with the node's reason (the traceback was streamed already).
- The run is recorded as for any `%%mlrun` (`-e`, `-n`, `-t`, `-p` apply), with the job's tags.

Decisions: the cell must be plain Python — IPython magics and `!shell` lines need the notebook's
kernel and are refused before anything is submitted. Modules the cell uses are imported again on
the node (the same packages must be installed there: they are, on this machine's clusters).
"""

from __future__ import annotations

import ast
import sys
import time
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..errors import InvalidParameter, NotFound

if TYPE_CHECKING:
    from .mlrun import MlrunOptions
    from .session import NotebookSession

#: Names IPython puts in every namespace; never shipped.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


class CellJobFailed(RuntimeError):
    """The cell ran on the node and failed (or was killed or canceled there)."""


def reads(source: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """The notebook variables `source` loads (by name) that the namespace has."""
    tree = ast.parse(source)
    names = {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    return {
        name: namespace[name]
        for name in sorted(names)
        if name in namespace and not name.startswith("_") and name not in _IPYTHON_NAMES
    }


def run_on_target(shell: Any, session: NotebookSession, options: MlrunOptions, target: str, cell: str) -> Any:
    """Submit the cell to `target`, stream its output here, bring its variables back (see above)."""
    __tracebackhide__ = True
    from ..client import fluent
    from ..client.workspace import default_experiment_name

    transformed = shell.transform_cell(cell)
    if "get_ipython()" in transformed:
        raise UsageError(
            "%%mlrun --target: the cell must be plain Python (magics and !commands run only here)."
        )
    try:
        variables = reads(transformed, shell.user_ns)
    except SyntaxError as err:
        raise UsageError(f"%%mlrun --target: the cell does not parse: {err}") from None
    ws = fluent.default_workspace()
    tags: dict[str, Any] = dict(options.tags)
    if options.description:
        tags["mlws.description"] = options.description
    if session.notebook_path:
        tags["mlws.notebook"] = session.notebook_path
    if session.cell_id:
        tags["mlws.cell_id"] = session.cell_id
    try:
        job = ws.jobs.submit_cell(
            transformed,
            variables,
            target=target,
            experiment=options.experiment or default_experiment_name(),
            name=options.name,
            tags=tags,
            params=options.params,
        )
    except (InvalidParameter, NotFound) as err:
        raise UsageError(f"%%mlrun --target: {err.message}") from None
    print(f"[mlws] job {job.id} on {target}: run {job.record.run_id}", file=sys.stderr, flush=True)
    try:
        for chunk in job.follow(poll=0.1):
            stream = sys.stderr if chunk.stream == "stderr" else sys.stdout
            stream.write(chunk.text)
            stream.flush()
    except KeyboardInterrupt:
        job.cancel(wait=5)
        print(f"[mlws] job {job.id} canceled (interrupted)", file=sys.stderr)
        raise
    state = job.refresh().state
    if state != "completed":
        raise CellJobFailed(f"The cell's job {job.id} ended {state} on {target}: {job.record.state_reason}")
    returned = job.result()
    shell.user_ns.update(returned.get("variables") or {})
    if returned.get("not_returned"):
        names = ", ".join(returned["not_returned"])
        print(f"[mlws] not brought back (they do not pickle): {names}", file=sys.stderr)
    _wait_a_moment()
    return returned.get("value")


def _wait_a_moment() -> None:
    """Let the streamed output reach the front end before the cell's value is shown."""
    time.sleep(0.01)
