"""Replay a run's cells in a fresh kernel and name the first cell whose outputs diverge.

Who calls it: `Run.replay()` (client/run.py, which makes the child run of kind ``replay`` and
records the outcome on it), ``%mlws replay RUN`` and the run view's Replay button (through
``POST /runs/{id}/replay``), each with the workspace's stores.

What is replayed (`plan_for`), decided in this order:

1. A notebook job's executed notebook (``outputs/*.ipynb``): every code cell, top to bottom, each
   compared with the outputs the job recorded.
2. Otherwise the kernel's execution history up to the run's cell: the raw sources the execution
   recorder stored for that kernel (magics included), else the run's ``snapshot/history.py``
   (IPython syntax commented out). A history entry is compared with the outputs of the saved
   notebook in the run's snapshot only when that saved cell holds *this* execution (its
   ``execution_count`` is the entry's): a notebook saved before a cell ran holds older outputs, and
   comparing with them would blame the wrong cell. The run's own cell is compared with its log
   (``logs/output.txt``). Entries with nothing recorded run, and are marked ``not recorded``.

How (`execute`): the run's code snapshot is restored into a temporary folder, which is the kernel's
working folder; the kernel (the run's kernelspec or the one the caller names; ``python3`` by
default) starts with ``$MLWS_WORKSPACE`` set to the workspace and ``$MLWS_RUN_ID`` to the replay's
run, so what the cells log lands in the replay (a replayed ``%%mlrun`` cell's run is its child).
nbclient executes the cells (allowing errors, so every cell runs); a first, uncompared cell loads
the IPython extension, a last one waits for what the cells logged to be written. Outputs are
compared by `repro/compare.py`.

The verdict is ``reproduced`` when every compared cell matches and the run's final metrics match
(`compare.REL_TOL`), else ``diverged`` with the first diverging cell. Seeds are not invented: when
the first diverging cell, or a cell before it, draws random numbers and no seed was set before it
(`unseeded_randomness`: numpy, random, torch, TensorFlow, scikit-learn's ``random_state``), that
cell is named as the likely cause.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound
from ..store.snapshot_files import HISTORY, read_manifest, restore_files
from .cells import output_items
from .compare import REL_TOL, compare_items, same_text
from .history import parse_history, replayable

if TYPE_CHECKING:
    from ..store.artifacts import ArtifactStore
    from ..store.base import MetadataStore

__all__ = ["CellOutcome", "Plan", "Replay", "Step", "execute", "plan_for", "unseeded_randomness"]

LOG = "logs/output.txt"
SETUP = "%load_ext jupyter_mlws"
#: The last, uncompared cell: what the replayed cells logged is written before the kernel stops.
TEARDOWN = (
    "import sys as _mlws_sys\n"
    "if 'jupyter_mlws.client' in _mlws_sys.modules:\n"
    "    from jupyter_mlws.client.fluent import default_workspace as _mlws_ws\n"
    "    _mlws_ws().settle()\n"
    "    _mlws_ws().flush()"
)
#: How long a replay waits for the execution recorder's records of a run that just ended (the
#: recorder writes about every second, from its own thread).
RECORDER_WAIT_SECONDS = 3.0
MAX_HISTORY = 10_000
_RANDOM_USE = re.compile(
    r"\b(?:np|numpy)\.random\.(?!seed\b|default_rng\(\s*[^\s)])\w+|\brandom\.(?:random|randint|choice|choices|"
    r"shuffle|uniform|gauss|sample|randrange)\(|\bdefault_rng\(\s*\)|\btorch\.(?:rand|randn|randint|randperm)\(|"
    r"\btf\.random\.\w+\("
)
_SEED = re.compile(
    r"\b(?:np|numpy)\.random\.seed\(|\brandom\.seed\(|\bmanual_seed\(|"
    r"\bset_seed\(|\bseed_everything\("
)
_UNSEEDED_SKLEARN = re.compile(
    r"\b(?:train_test_split|RandomForest\w*|KFold|ShuffleSplit|SGD\w*|KMeans|MLP\w*)\((?![^)]*random_state)"
)


@dataclass
class Step:
    """One cell to replay: `recorded` is what to compare its outputs with (None: nothing recorded)."""

    key: str
    source: str
    recorded: tuple[tuple[str, str, str], ...] | None
    count: int | None = None
    #: `recorded` is the run's log (`logs/output.txt`): compared with the cell's printed text only
    is_log: bool = False
    #: the run's own cell (the `%%mlrun` cell that made the run)
    own: bool = False


@dataclass
class Plan:
    """What `plan_for` found to replay, from where, and the folder the run's files come from."""

    kind: str  # "notebook" (a job's executed notebook) or "history"
    steps: list[Step]
    kernel: str | None
    notebook_name: str | None
    has_snapshot: bool


@dataclass
class CellOutcome:
    """How one replayed cell compared: same, different, not recorded, or error (it raised anew)."""

    position: int
    key: str
    status: str
    detail: str
    source: str
    count: int | None = None

    @property
    def label(self) -> str:
        """How a user finds the cell: its id and the execution count it ran as (``In[n]``)."""
        if self.count is None:
            return f"{self.key} (cell {self.position})"
        return self.key if self.key == f"In[{self.count}]" else f"{self.key} (In[{self.count}])"


@dataclass
class Replay:
    """The outcome of `Run.replay()`: the verdict, the first diverging cell, and every cell's outcome."""

    run_id: str
    verdict: str
    first_diverging_cell: str | None
    cells: list[CellOutcome]
    metrics: list[dict[str, Any]] = field(default_factory=list)
    environment: list[dict[str, Any]] = field(default_factory=list)
    cause: str | None = None
    seconds: float = 0.0
    #: The child run that records the replay (a client `Run`, set by `Run.replay`).
    run: Any = None

    @property
    def reproduced(self) -> bool:
        return self.verdict == "reproduced"

    def cells_frame(self) -> Any:
        """DataFrame(position, cell_id, status, detail, source) of every replayed cell."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "position": c.position,
                    "cell_id": c.key,
                    "status": c.status,
                    "detail": c.detail,
                    "source": c.source.strip().splitlines()[0][:80] if c.source.strip() else "",
                }
                for c in self.cells
            ],
            columns=["position", "cell_id", "status", "detail", "source"],
        )

    def summary(self) -> str:
        """A few lines: the verdict, the first diverging cell and why, the likely cause."""
        lines = [
            f"Replay of run {self.run_id}: {self.verdict} ({len(self.cells)} cells, {self.seconds:.1f} s)"
        ]
        if self.first_diverging_cell is not None:
            first = next(c for c in self.cells if c.key == self.first_diverging_cell and c.status != "same")
            lines.append(f"  first diverging cell: {first.label}: {first.detail}")
        lines.extend(
            f"  metric {m['key']}: {m['recorded']} was recorded, the replay gave {m['replayed']}"
            for m in self.metrics
            if not m["same"]
        )
        if self.cause:
            lines.append(f"  likely cause: {self.cause}")
        lines.extend(f"  environment: {e['item']} {e['a']} -> {e['b']}" for e in self.environment[:5])
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "replay_run_id": getattr(self.run, "id", None),
            "verdict": self.verdict,
            "first_diverging_cell": self.first_diverging_cell,
            "cause": self.cause,
            "seconds": round(self.seconds, 3),
            "cells": [vars(c) for c in self.cells],
            "metrics": self.metrics,
            "environment": self.environment,
        }

    def __repr__(self) -> str:
        where = f", first diverging cell {self.first_diverging_cell}" if self.first_diverging_cell else ""
        return f"<Replay of {self.run_id}: {self.verdict}{where}>"

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{c.position}</td><td>{escape(c.key)}</td><td>{escape(c.status)}</td>"
            f"<td>{escape(c.detail)}</td></tr>"
            for c in self.cells
        )
        colour = "var(--jp-success-color1, #2e7d32)" if self.reproduced else "var(--jp-error-color1, #c62828)"
        return (
            f"<div class='mlws-replay'><div><b>Replay of run {escape(self.run_id)}</b>: "
            f"<b style='color: {colour}'>{escape(self.verdict)}</b></div>"
            f"<pre style='white-space: pre-wrap'>{escape(self.summary())}</pre>"
            "<details><summary>cells</summary><table><tr><th>#</th><th>cell</th><th>status</th>"
            f"<th>detail</th></tr>{rows}</table></details></div>"
        )


# ----- what to replay ----------------------------------------------------------------------------


def _read(artifacts: Any, run_id: str, path: str) -> bytes | None:
    try:
        with artifacts.open(run_id, path) as handle:
            return bytes(handle.read())
    except NotFound:
        return None


def _own_executions(store: Any, run_id: str) -> list[Any]:
    """The recorded executions of the run's cell; a run that ended a moment ago (replayed from the
    same kernel) may wait for the recorder's next write, a bounded `RECORDER_WAIT_SECONDS`."""
    deadline = time.monotonic() + RECORDER_WAIT_SECONDS
    while True:
        recorded = store.list_executions(run_id=run_id, limit=100)
        info = store.get_run_info(run_id)
        recent = info.end_time is not None and time.time() * 1000 - info.end_time < 30_000
        if recorded or not recent or info.source_kind != "notebook" or time.monotonic() > deadline:
            # a kernel whose id the recorder could not tell (nbclient's) has no history of its own
            return [e for e in recorded if e.kernel_id and e.execution_count]
        time.sleep(0.2)


def _history_entries(store: Any, artifacts: Any, run_id: str) -> list[tuple[int, str]]:
    """(execution count, raw source) of the kernel's history up to the run's cell."""
    own = _own_executions(store, run_id)
    if own:
        last = max(own, key=lambda e: e.execution_count or 0)
        found = store.list_executions(kernel_id=last.kernel_id, limit=MAX_HISTORY)
        entries = sorted(
            {
                (e.execution_count, e.source)
                for e in found
                if e.execution_count is not None and e.execution_count <= (last.execution_count or 0)
            }
        )
        if entries:
            return [(count, source) for count, source in entries]
    raw = _read(artifacts, run_id, HISTORY)
    if raw is None:
        raise NotFound(f"Run {run_id} has no execution history to replay (no recorded cells, no history.py).")
    return parse_history(raw.decode("utf-8", "replace"))


def _snapshot_notebook(artifacts: Any, manifest: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    wanted = manifest.get("notebook_path")
    if not isinstance(wanted, str) or not wanted:
        return None, None
    name = os.path.basename(wanted)
    for entry in manifest.get("files") or []:
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and os.path.basename(path) == name and wanted.endswith(path):
            with artifacts.open_blob(str(entry.get("sha256"))) as handle:
                try:
                    return path, json.loads(handle.read())
                except ValueError:
                    return path, None
    return None, None


def plan_for(store: MetadataStore, artifacts: ArtifactStore, run_id: str, info: Any) -> Plan:
    """What to replay for the run (see the module docstring)."""
    records = {r.path for r in store.list_artifacts(run_id)}
    try:
        manifest = read_manifest(artifacts, run_id)
        has_snapshot = not manifest.get("skipped")
    except NotFound:
        manifest, has_snapshot = {}, False
    executed = sorted(p for p in records if p.startswith("outputs/") and p.endswith(".ipynb"))
    if executed:
        notebook = json.loads(_read(artifacts, run_id, executed[0]) or b"{}")
        steps = [
            Step(
                str(cell.get("id") or f"#{number}"),
                _source(cell),
                output_items(cell.get("outputs") or []),
                cell.get("execution_count"),
            )
            for number, cell in enumerate(notebook.get("cells") or [], 1)
            if isinstance(cell, dict) and cell.get("cell_type") == "code"
        ]
        kernel = ((notebook.get("metadata") or {}).get("kernelspec") or {}).get("name")
        return Plan("notebook", steps, kernel, os.path.basename(executed[0]), has_snapshot)

    entries = _history_entries(store, artifacts, run_id)
    notebook_path, notebook = _snapshot_notebook(artifacts, manifest)
    saved: dict[str, tuple[str, int | None, list[Any]]] = {}
    for number, cell in enumerate((notebook or {}).get("cells") or [], 1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            key = str(cell.get("id") or f"#{number}")
            entry = (key, cell.get("execution_count"), cell.get("outputs") or [])
            saved.setdefault(_source(cell).strip(), entry)
            saved.setdefault(replayable(_source(cell)).strip(), entry)
    own_count = int(info.data.tags.get("mlws.execution_count") or 0) if hasattr(info, "data") else 0
    log = _read(artifacts, run_id, LOG) if LOG in records else None
    steps = []
    for count, source in entries:
        match = saved.get(source.strip())
        key = match[0] if match else f"In[{count}]"
        recorded = None
        if match is not None and match[1] == count:
            recorded = output_items(match[2])
        own = bool(own_count and count == own_count)
        if own and log is not None:
            recorded = (("text", "stdout", log.decode("utf-8", "replace")),)
        steps.append(Step(key, source, recorded, count, own and log is not None, own))
    return Plan(
        "history", steps, None, os.path.basename(notebook_path) if notebook_path else None, has_snapshot
    )


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


# ----- running it --------------------------------------------------------------------------------


def restore_folder(artifacts: ArtifactStore, run_id: str, has_snapshot: bool) -> Path:
    """A temporary folder with the run's snapshot restored (empty when it has none)."""
    folder = Path(tempfile.mkdtemp(prefix="mlws-replay-"))
    if has_snapshot:
        restore_files(artifacts, run_id, folder, history=False)
    return folder


def execute(
    plan: Plan,
    folder: Path,
    env: dict[str, str],
    *,
    kernel: str | None = None,
    timeout: float | None = 600,
) -> list[list[Any]]:
    """Run the plan's cells in a fresh kernel started in `folder`; the outputs of each step."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    name = kernel or plan.kernel or "python3"
    cells = [nbformat.v4.new_code_cell(SETUP)]
    cells += [nbformat.v4.new_code_cell(step.source) for step in plan.steps]
    cells.append(nbformat.v4.new_code_cell(TEARDOWN))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": name, "display_name": name, "language": "python"}
    # IPC sockets at an absolute path: the kernel starts in `folder`, and a relative socket path
    # would be resolved there by the kernel and here by the client
    sockets = Path(tempfile.mkdtemp(prefix="mlws-replay-ipc-"))
    manager = KernelManager(kernel_name=name, transport="ipc", ip=str(sockets / "kernel"))
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=timeout,
        kernel_name=name,
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    )
    try:
        client.execute(env={**os.environ, **env}, cwd=str(folder))
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    return [list(cell.get("outputs") or []) for cell in notebook.cells[1:-1]]


def compare_steps(plan: Plan, outputs: Sequence[list[Any]], rel_tol: float = REL_TOL) -> list[CellOutcome]:
    """Each step's outcome: its replayed outputs against what was recorded."""
    outcomes = []
    for position, (step, produced) in enumerate(zip(plan.steps, outputs, strict=True), 1):
        items = output_items(produced)
        error = next((o for o in produced if o.get("output_type") == "error"), None)
        recorded_error = any(label == "error" for _, label, _ in (step.recorded or ()))
        if error is not None and not recorded_error:
            status, detail = "error", f"raised {error.get('ename')}: {error.get('evalue')}"[:300]
        elif step.recorded is None:
            status, detail = "not recorded", "no recorded outputs of this execution to compare with"
        else:
            if step.is_log:
                replayed_text = "".join(c for k, label, c in items if label in ("stdout", "stderr"))
                same = same_text(step.recorded[0][2], replayed_text, rel_tol)
                difference = None if same else "the cell's log differs from the run's logs/output.txt"
            else:
                difference = compare_items(step.recorded, items, rel_tol)
            status, detail = ("same", "") if difference is None else ("different", difference)
        outcomes.append(CellOutcome(position, step.key, status, detail, step.source, step.count))
    return outcomes


def unseeded_randomness(steps: Sequence[Step], upto: int) -> str | None:
    """The first cell up to position `upto` that draws random numbers with no seed set before it."""
    seeded = False
    for position, step in enumerate(steps[:upto], 1):
        source = step.source
        if _SEED.search(source):
            seeded = True
        use = _RANDOM_USE.search(source) or _UNSEEDED_SKLEARN.search(source)
        if use and not seeded:
            where = f"In[{step.count}]" if step.count is not None else f"cell {position}"
            name = step.key if step.key == where else f"{step.key} ({where})"
            return f"cell {name} uses randomness without a seed: {use.group(0).strip()}"
    return None


def check_target(kernel: str | None) -> None:
    """A kernelspec name the caller gave must exist."""
    if kernel is None:
        return
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise InvalidParameter(
            f"There is no kernel {kernel!r} to replay in (jupyter kernelspec list)."
        ) from None


def elapsed(started: float) -> float:
    return time.perf_counter() - started
