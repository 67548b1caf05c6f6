"""What two runs did differently: params, metrics, tags, environment, code, cells, history, artifacts.

Who calls it: `Workspace.diff` / `mlws.diff` (client), ``jupyter mlws diff A B`` (cli/runs.py) and
``GET /mlws/api/v1/runs/diff`` (the panel's compare view), each with the workspace's metadata store
and artifact store; the caller waits for its own pending writes first (`ws.settle`).

Decisions (docs/reproducibility.md says the same for users):

- Every part is a DataFrame of the differences only (an identical part is an empty frame), with the
  two runs' values side by side in columns ``a`` and ``b`` and a ``change`` column; only the
  ``history`` part lists every cell that ran, since the order is the point there.
- Metrics: the final values, and ``parts_at_step``, the first step where the two curves differ
  (values compared with a relative tolerance of 1e-9, so a float printed and read back does not
  count; a step one run has and the other lacks counts). A metric whose final value is the same
  but whose curve parted is ``curve``.
- Environment: the run's ``environment.json`` flattened to items (``python``, ``platform``,
  ``host``, ``cpu``, ``gpus``, ``git.commit``, ``git.dirty``, ``package <name>``); a package
  version is ``upgraded`` or ``downgraded`` by PEP 440 order, else ``changed``.
- Code: the two snapshot manifests compared by sha256, so unchanged files cost nothing; a changed
  text file (UTF-8, at most `MAX_TEXT_BYTES`) is diffed unified, anything else is named with its
  sizes. Notebook files say "see .cells": their cells are compared there.
- Cells: the run's notebook is a notebook job's executed copy (``outputs/*.ipynb``) when it has one,
  else the notebook file in its code snapshot (the saved copy at the time of the run); see
  `repro/cells.py`.
- History: the kernel's execution history (``snapshot/history.py``) of each run, each entry named
  by the notebook cell whose replayable source it is (``?`` when no cell matches: edited or
  deleted since), with how often and in which positions each ran.
- Artifacts: the recorded artifacts other than the snapshot and the environment, by sha256; a
  changed text artifact (a log, a CSV) is diffed like code.
- A run that lacks a part (no snapshot, no environment) gives a note in `notes`, not an error.
"""

from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..store.snapshot_files import HISTORY, MANIFEST
from .cells import Cell, compare_cells, notebook_cells, unified
from .history import parse_history, replayable

if TYPE_CHECKING:
    import pandas as pd

    from ..store.artifacts import ArtifactStore
    from ..store.base import MetadataStore

__all__ = ["COLUMNS", "PARTS", "TABLE_PARTS", "RunDiff", "diff_runs"]

ENVIRONMENT = "environment.json"
#: Text files and artifacts up to this size are diffed line by line.
MAX_TEXT_BYTES = 1 << 20
#: Relative tolerance under which two metric values count as the same.
METRIC_RTOL = 1e-9
PARTS = ("params", "metrics", "tags", "environment", "code", "cells", "history", "artifacts")
#: The columns of each part's DataFrame (and of its rows in JSON).
COLUMNS = {
    "params": ["key", "a", "b", "change"],
    "metrics": ["key", "a", "b", "change", "parts_at_step"],
    "tags": ["key", "a", "b", "change"],
    "environment": ["item", "a", "b", "change"],
    "code": ["path", "change", "size_a", "size_b", "diff"],
    "cells": ["cell_id", "index_a", "index_b", "cell_type", "change", "source_diff", "output_diff", "images"],
    "history": ["cell_id", "count_a", "count_b", "order_a", "order_b", "change", "source"],
    "artifacts": ["path", "change", "size_a", "size_b", "diff"],
}


#: The parts shown as tables (the others are files or cells, shown with their diffs).
TABLE_PARTS = ("params", "metrics", "tags", "environment", "history")


@dataclass
class RunDiff:
    """The differences between run `run_a` and run `run_b`, one DataFrame per part (`PARTS`)."""

    run_a: str
    run_b: str
    parts: dict[str, pd.DataFrame]
    images: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> pd.DataFrame:
        parts = self.__dict__.get("parts") or {}
        if name in parts:
            return parts[name]
        raise AttributeError(f"RunDiff has no attribute {name!r}; its parts are {', '.join(PARTS)}")

    def changed(self, part: str) -> int:
        """How many rows of `part` differ (the history part counts only rows that changed)."""
        frame = self.parts[part]
        if part == "history":
            return int((frame["change"] != "same").sum()) if len(frame) else 0
        return len(frame)

    @property
    def identical(self) -> bool:
        """True when no part has a difference."""
        return all(self.changed(part) == 0 for part in PARTS)

    def summary(self) -> str:
        """One line per part that differs, e.g. ``params: 2 changed``."""
        lines = [
            f"Run {self.run_a} vs run {self.run_b}: " + ("identical" if self.identical else "they differ")
        ]
        for part in PARTS:
            count = self.changed(part)
            if count:
                lines.append(f"  {part}: {count} {'differs' if count == 1 else 'differ'}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every part as a list of row dicts, plus images and notes."""
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "identical": self.identical,
            "parts": {part: _records(self.parts[part]) for part in PARTS},
            "images": self.images,
            "notes": self.notes,
        }

    def __repr__(self) -> str:
        return f"<RunDiff {self.run_a} vs {self.run_b}: " + ("identical>" if self.identical else "differ>")

    def _repr_html_(self) -> str:
        from .html import diff_html

        return diff_html(self)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows
    ]


# ----- entry point -------------------------------------------------------------------------------


def diff_runs(store: MetadataStore, artifacts: ArtifactStore, run_a: str, run_b: str) -> RunDiff:
    """Compare two runs of this workspace (see the module docstring); NotFound for an unknown run."""
    import pandas as pd

    info_a, info_b = store.get_run(run_a), store.get_run(run_b)
    notes: list[str] = []
    side_a = _Side(store, artifacts, info_a, "a", notes)
    side_b = _Side(store, artifacts, info_b, "b", notes)
    rows: dict[str, list[dict[str, Any]]] = {
        "params": _mapping_rows(side_a.data.params, side_b.data.params),
        "metrics": _metric_rows(store, side_a, side_b),
        "tags": _mapping_rows(side_a.data.tags, side_b.data.tags),
        "environment": _environment_rows(side_a.environment(), side_b.environment()),
        "code": _file_rows(side_a, side_b, side_a.snapshot_files(), side_b.snapshot_files(), blobs=True),
        "artifacts": _file_rows(
            side_a, side_b, side_a.artifact_files(), side_b.artifact_files(), blobs=False
        ),
    }
    notebook_a, notebook_b = side_a.notebook(), side_b.notebook()
    cells_a, cells_b = notebook_cells(notebook_a or {}), notebook_cells(notebook_b or {})
    images: list[dict[str, Any]] = []
    cell_rows = []
    for change in compare_cells(cells_a, cells_b):
        cell_rows.append(
            {
                "cell_id": change.key,
                "index_a": change.index_a,
                "index_b": change.index_b,
                "cell_type": change.cell_type,
                "change": change.change,
                "source_diff": change.source_diff,
                "output_diff": change.output_diff,
                "images": len(change.images),
            }
        )
        images.extend({"cell_id": change.key, "mime": m, "a": a, "b": b} for m, a, b in change.images)
    rows["cells"] = cell_rows
    rows["history"] = _history_rows(side_a.history(cells_a), side_b.history(cells_b))
    parts = {part: pd.DataFrame(rows[part], columns=COLUMNS[part]) for part in PARTS}
    return RunDiff(run_a, run_b, parts, images, notes)


# ----- one run's side ----------------------------------------------------------------------------


class _Side:
    """What one run holds, read lazily from the stores."""

    def __init__(self, store: Any, artifacts: Any, run: Any, label: str, notes: list[str]) -> None:
        self.store, self.artifacts, self.run, self.label, self.notes = store, artifacts, run, label, notes
        self.id = run.info.run_id
        self.data = run.data
        self._manifest: dict[str, Any] | None = None
        self._records = {r.path: r for r in store.list_artifacts(self.id)}

    def note(self, text: str) -> None:
        self.notes.append(f"run {self.label} ({self.id}) {text}")

    def read(self, path: str) -> bytes | None:
        if path not in self._records:
            return None
        with self.artifacts.open(self.id, path) as handle:
            return handle.read()

    def blob(self, digest: str) -> bytes:
        with self.artifacts.open_blob(digest) as handle:
            return handle.read()

    def manifest(self) -> dict[str, Any]:
        if self._manifest is None:
            raw = self.read(MANIFEST)
            try:
                loaded = json.loads(raw) if raw is not None else None
            except ValueError:
                loaded = None
            if not isinstance(loaded, dict):
                self.note("has no code snapshot")
                loaded = {}
            elif loaded.get("skipped"):
                self.note(f"has no code snapshot: {loaded['skipped']}")
            self._manifest = loaded
        return self._manifest

    def snapshot_files(self) -> dict[str, tuple[str, int]]:
        files = self.manifest().get("files") or []
        return {
            str(f["path"]): (str(f.get("sha256")), int(f.get("size") or 0))
            for f in files
            if isinstance(f, dict) and isinstance(f.get("path"), str)
        }

    def artifact_files(self) -> dict[str, tuple[str, int]]:
        return {
            path: (str(record.sha256), int(record.size or 0))
            for path, record in self._records.items()
            if not path.startswith("snapshot/") and path != ENVIRONMENT
        }

    def environment(self) -> dict[str, Any] | None:
        raw = self.read(ENVIRONMENT)
        try:
            env = json.loads(raw) if raw is not None else None
        except ValueError:
            env = None
        if not isinstance(env, dict):
            self.note("has no recorded environment")
            return None
        return env

    def notebook(self) -> dict[str, Any] | None:
        executed = sorted(p for p in self._records if p.startswith("outputs/") and p.endswith(".ipynb"))
        raw: bytes | None = self.read(executed[0]) if executed else None
        if raw is None:
            wanted = self.manifest().get("notebook_path")
            files = self.snapshot_files()
            if isinstance(wanted, str) and wanted:
                name = posixpath.basename(wanted.replace("\\", "/"))
                matches = sorted(
                    (p for p in files if posixpath.basename(p) == name and wanted.endswith(p)),
                    key=len,
                    reverse=True,
                ) or [p for p in files if posixpath.basename(p) == name]
                if matches:
                    raw = self.blob(files[matches[0]][0])
        if raw is None:
            return None
        try:
            notebook = json.loads(raw)
        except ValueError:
            self.note("has a notebook that is not valid JSON")
            return None
        return notebook if isinstance(notebook, dict) else None

    def history(self, cells: list[Cell]) -> list[tuple[int, str, str]]:
        """(execution count, cell id or '?', replayable source) of each entry of the run's history."""
        raw = self.read(HISTORY)
        entries = parse_history(raw.decode("utf-8", "replace")) if raw is not None else []
        if not entries:
            return []
        code = [cell for cell in cells if cell.cell_type == "code"]
        exact: dict[str, str] = {}
        for cell in code:
            exact.setdefault(cell.source.rstrip(), cell.key)
        converted: dict[str, str] | None = None  # a cell with IPython syntax, as the script wrote it
        named = []
        for count, source in entries:
            key = exact.get(source)
            if key is None:
                if converted is None:
                    converted = {}
                    for cell in code:
                        converted.setdefault(replayable(cell.source), cell.key)
                key = converted.get(source, "?")
            named.append((count, key, source))
        return named


# ----- the parts ---------------------------------------------------------------------------------


def _mapping_rows(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(set(a) | set(b)):
        if key in a and key in b:
            if a[key] == b[key]:
                continue
            change = "changed"
        else:
            change = "added" if key in b else "removed"
        rows.append({"key": key, "a": a.get(key), "b": b.get(key), "change": change})
    return rows


def _same(x: float, y: float) -> bool:
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y or math.isclose(x, y, rel_tol=METRIC_RTOL, abs_tol=0.0)


def _metric_rows(store: Any, side_a: _Side, side_b: _Side) -> list[dict[str, Any]]:
    a, b = dict(side_a.data.metrics), dict(side_b.data.metrics)
    rows = []
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            rows.append(
                {
                    "key": key,
                    "a": a.get(key),
                    "b": b.get(key),
                    "change": "added" if key in b else "removed",
                    "parts_at_step": None,
                }
            )
            continue
        step = _parting_step(
            store.get_metric_history(side_a.id, key), store.get_metric_history(side_b.id, key)
        )
        final_same = _same(float(a[key]), float(b[key]))
        if final_same and step is None:
            continue
        rows.append(
            {
                "key": key,
                "a": a[key],
                "b": b[key],
                "change": "curve" if final_same else "changed",
                "parts_at_step": step,
            }
        )
    return rows


def _parting_step(series_a: Any, series_b: Any) -> int | None:
    """The first step at which the two curves differ (one lacks it, or its values differ)."""
    import numpy as np

    def last_by_step(series: Any) -> tuple[Any, Any]:
        steps = np.asarray(series.steps, dtype="int64")
        values = np.asarray(series.values, dtype="float64")
        order = np.argsort(steps, kind="stable")
        steps, values = steps[order], values[order]
        keep = np.append(steps[1:] != steps[:-1], True) if len(steps) else np.zeros(0, dtype=bool)
        return steps[keep], values[keep]

    steps_a, values_a = last_by_step(series_a)
    steps_b, values_b = last_by_step(series_b)
    all_steps = np.union1d(steps_a, steps_b)
    in_a, in_b = np.isin(all_steps, steps_a), np.isin(all_steps, steps_b)
    differ = in_a != in_b
    both = in_a & in_b
    if both.any():
        va = values_a[np.isin(steps_a, all_steps[both])]
        vb = values_b[np.isin(steps_b, all_steps[both])]
        close = np.isclose(va, vb, rtol=METRIC_RTOL, atol=0.0, equal_nan=True)
        differ[np.flatnonzero(both)[~close]] = True
    hits = np.flatnonzero(differ)
    return int(all_steps[hits[0]]) if len(hits) else None


def _flat_environment(env: dict[str, Any] | None) -> dict[str, str]:
    if not env:
        return {}
    items: dict[str, str] = {}
    python = env.get("python") or {}
    if python.get("version"):
        items["python"] = f"{python.get('implementation', '')} {python['version']}".strip()
    plat = env.get("platform") or {}
    if plat:
        items["platform"] = " ".join(str(plat.get(k, "")) for k in ("system", "release", "machine")).strip()
    if env.get("host"):
        items["host"] = str(env["host"])
    cpu = env.get("cpu") or {}
    if cpu:
        items["cpu"] = f"{cpu.get('count', '?')} x {cpu.get('model') or 'unknown'}"
    gpus = env.get("gpus") or []
    items["gpus"] = ", ".join(str(g.get("name", "?")) for g in gpus if isinstance(g, dict)) or "none"
    git = env.get("git") or {}
    for key in ("commit", "branch", "dirty"):
        if git.get(key) is not None:
            items[f"git.{key}"] = str(git[key])
    for name, version in sorted((env.get("packages") or {}).items()):
        items[f"package {name}"] = str(version)
    return items


def _version_change(a: str, b: str) -> str:
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover - packaging comes with pip and Jupyter
        return "changed"
    try:
        return (
            "upgraded" if Version(b) > Version(a) else "downgraded" if Version(b) < Version(a) else "changed"
        )
    except InvalidVersion:
        return "changed"


def _environment_rows(env_a: dict[str, Any] | None, env_b: dict[str, Any] | None) -> list[dict[str, Any]]:
    if env_a is None or env_b is None:
        return []  # noted by the side that lacks it; a whole environment "added" says nothing
    rows = []
    for row in _mapping_rows(_flat_environment(env_a), _flat_environment(env_b)):
        if row["change"] == "changed" and str(row["key"]).startswith("package "):
            row["change"] = _version_change(str(row["a"]), str(row["b"]))
        rows.append({"item": row["key"], "a": row["a"], "b": row["b"], "change": row["change"]})
    return rows


def _text_of(data: bytes) -> str | None:
    if len(data) > MAX_TEXT_BYTES or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _file_rows(
    side_a: _Side,
    side_b: _Side,
    files_a: dict[str, tuple[str, int]],
    files_b: dict[str, tuple[str, int]],
    *,
    blobs: bool,
) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(set(files_a) | set(files_b)):
        got_a, got_b = files_a.get(path), files_b.get(path)
        if got_a is not None and got_b is not None and got_a[0] == got_b[0]:
            continue
        change = "changed" if got_a and got_b else "added" if got_b else "removed"
        diff = ""
        if path.endswith(".ipynb"):
            diff = "(a notebook: see the cells part)\n"
        else:
            texts = []
            for side, got in ((side_a, got_a), (side_b, got_b)):
                if got is None:
                    texts.append("")
                elif got[1] > MAX_TEXT_BYTES:
                    texts.append(None)
                else:
                    texts.append(_text_of(side.blob(got[0]) if blobs else side.read(path) or b""))
            if texts[0] is None or texts[1] is None:
                diff = f"(binary or over {MAX_TEXT_BYTES >> 20} MiB: sizes differ or bytes do)\n"
            else:
                diff = unified(texts[0], texts[1], f"a/{path}", f"b/{path}")
        rows.append(
            {
                "path": path,
                "change": change,
                "size_a": got_a[1] if got_a else None,
                "size_b": got_b[1] if got_b else None,
                "diff": diff,
            }
        )
    return rows


def _history_rows(
    history_a: list[tuple[int, str, str]], history_b: list[tuple[int, str, str]]
) -> list[dict[str, Any]]:
    order: list[str] = []
    positions: dict[str, tuple[list[int], list[int]]] = {}
    sources: dict[str, str] = {}
    for which, history in ((0, history_a), (1, history_b)):
        for position, (_, cell, source) in enumerate(history, 1):
            key = (
                cell if cell != "?" else f"? {source.strip().splitlines()[0][:60] if source.strip() else ''}"
            )
            if key not in positions:
                positions[key] = ([], [])
                order.append(key)
                sources[key] = source
            positions[key][which].append(position)
    rows = []
    for key in order:
        pa, pb = positions[key]
        if not pa or not pb:
            change = "only b" if not pa else "only a"
        elif len(pa) != len(pb):
            change = "count"
        elif pa != pb:
            change = "order"
        else:
            change = "same"
        rows.append(
            {
                "cell_id": key,
                "count_a": len(pa),
                "count_b": len(pb),
                "order_a": _positions(pa),
                "order_b": _positions(pb),
                "change": change,
                "source": _first_line(sources[key]),
            }
        )
    return rows


def _positions(values: Iterable[int]) -> str:
    return ",".join(str(v) for v in values)


def _first_line(source: str) -> str:
    """The first line of a history entry as the user wrote it (IPython syntax without our note)."""
    for line in source.splitlines():
        text = line.strip()
        if text.startswith("# [mlws]") and ": " in text:
            text = text.split(": ", 1)[1].strip()
        if text:
            return text[:80]
    return ""
