"""Two notebooks compared cell by cell: sources diffed, outputs compared by content hash first.

Who calls it: `repro/diff.py` (the ``cells`` part of a run diff) with the notebooks of two runs (a
notebook job's executed copy, or the saved notebook in a `%%mlrun` run's snapshot).

Decisions:

- Cells are matched by their nbformat id (4.5+); a notebook without ids is matched by position
  (``#3``: the third cell). Positions (``index_a``, ``index_b``) count from 1, as the notebook's
  cells are numbered for a reader. The order of the rows follows the two notebooks, aligned by
  id (`difflib`'s matcher on the id lists: linear when the notebooks share most cells), so an
  added or removed cell shows where it stood.
- Outputs are reduced to items first: a stream's text (consecutive pieces of one stream joined, as a
  frontend shows them: how a print is cut into messages is chance), each MIME part of a result or
  display (text parts as text, images as their base64 data), an error's ``ename: evalue``. Execution
  counts and metadata are not content. A cell's outputs are compared by one sha1 of its items; only
  when the hashes differ are its text items joined and diffed (unified, 3 lines of context), and its
  images paired by position for the side-by-side view. This keeps a 200-cell diff linear: nbdime
  aligns outputs with a quadratic diff (nbdime#396, #540).
- A cell's change is ``added``, ``removed``, ``source``, ``outputs`` or ``source, outputs``;
  unchanged cells are left out of the result.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Cell",
    "CellChange",
    "compare_cells",
    "compare_notebooks",
    "notebook_cells",
    "output_items",
    "unified",
]

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
TEXT_TYPES = ("text/plain", "text/markdown", "text/latex", "application/json", "image/svg+xml")
#: Text longer than this is compared by hash only (its diff would be unreadable anyway).
MAX_DIFF_CHARS = 200_000


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook, reduced to what a comparison needs."""

    key: str
    index: int
    cell_type: str
    source: str
    items: tuple[tuple[str, str, str], ...]  # (kind "text"|"image", label, content)
    digest: str


@dataclass(frozen=True)
class CellChange:
    """How one cell differs between notebook a and notebook b."""

    key: str
    index_a: int | None
    index_b: int | None
    cell_type: str
    change: str
    source_diff: str
    output_diff: str
    images: tuple[tuple[str, str | None, str | None], ...]  # (mime, base64 in a, base64 in b)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def output_items(outputs: Sequence[Any]) -> tuple[tuple[str, str, str], ...]:
    """The content of a cell's outputs as (kind, label, content) items, in order."""
    items: list[tuple[str, str, str]] = []
    streamed = False  # the last item came from a stream: the next one of the same name joins it
    for output in outputs:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream":
            name, text = str(output.get("name") or "stdout"), _text(output.get("text", ""))
            if streamed and items[-1][1] == name:
                items[-1] = ("text", name, items[-1][2] + text)  # as a frontend shows (and saves) it
            else:
                items.append(("text", name, text))
            streamed = True
            continue
        streamed = False
        if kind in ("execute_result", "display_data"):
            data = output.get("data") or {}
            if not isinstance(data, dict):
                continue
            for mime in sorted(data):
                content = _text(data[mime])
                if mime in IMAGE_TYPES:
                    items.append(("image", mime, content.replace("\n", "")))
                elif mime in TEXT_TYPES or mime.startswith("text/"):
                    items.append(("text", mime, content))
                else:
                    items.append(("data", mime, content))
        elif kind == "error":
            items.append(("text", "error", f"{output.get('ename', '')}: {output.get('evalue', '')}"))
    return tuple(items)


def _digest(cell_type: str, items: tuple[tuple[str, str, str], ...]) -> str:
    hasher = hashlib.sha1(cell_type.encode())
    for kind, label, content in items:
        hasher.update(f"\0{kind}\0{label}\0{len(content)}\0".encode())
        hasher.update(content.encode("utf-8", "surrogatepass"))
    return hasher.hexdigest()


def notebook_cells(notebook: dict[str, Any]) -> list[Cell]:
    """The cells of a notebook (nbformat 4 JSON) with their ids (or ``#index``) and output digests."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    found: list[Cell] = []
    seen: set[str] = set()
    for index, cell in enumerate(cells if isinstance(cells, list) else [], 1):
        if not isinstance(cell, dict):
            continue
        key = cell.get("id") if isinstance(cell.get("id"), str) else None
        if not key or key in seen:
            key = f"#{index}"
        seen.add(key)
        cell_type = str(cell.get("cell_type") or "code")
        items = output_items(cell.get("outputs") or []) if cell_type == "code" else ()
        found.append(
            Cell(key, index, cell_type, _text(cell.get("source", "")), items, _digest(cell_type, items))
        )
    return found


def unified(a: str, b: str, name_a: str = "a", name_b: str = "b") -> str:
    """A unified diff of two texts ('' when equal; a note when too long to diff)."""
    if a == b:
        return ""
    if len(a) + len(b) > MAX_DIFF_CHARS:
        return f"(texts of {len(a)} and {len(b)} characters differ; too long to diff here)\n"
    lines = difflib.unified_diff(
        a.splitlines(keepends=True), b.splitlines(keepends=True), name_a, name_b, n=3
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _joined_text(cell: Cell) -> str:
    parts = []
    for kind, label, content in cell.items:
        if kind == "text":
            parts.append(content if label in ("stdout", "stderr", "text/plain") else f"[{label}]\n{content}")
        elif kind == "data":
            parts.append(f"[{label}: {len(content)} characters]")
    return "\n".join(part.rstrip("\n") for part in parts)


def _images(cell: Cell | None) -> list[tuple[str, str]]:
    return [(label, content) for kind, label, content in (cell.items if cell else ()) if kind == "image"]


def _change(a: Cell | None, b: Cell | None) -> CellChange | None:
    if a is None and b is None:
        return None
    key = (b or a).key  # type: ignore[union-attr]
    cell_type = (b or a).cell_type  # type: ignore[union-attr]
    parts = []
    source_diff = output_diff = ""
    if a is not None and b is not None:
        if a.source != b.source:
            parts.append("source")
            source_diff = unified(a.source, b.source, f"a/{key}", f"b/{key}")
        if a.digest != b.digest:
            parts.append("outputs")
        if not parts:
            return None
        change = ", ".join(parts)
    else:
        change = "added" if a is None else "removed"
        source_diff = unified(a.source if a else "", b.source if b else "", f"a/{key}", f"b/{key}")
    images: list[tuple[str, str | None, str | None]] = []
    if a is None or b is None or a.digest != b.digest:
        output_diff = unified(
            _joined_text(a) if a else "",
            _joined_text(b) if b else "",
            f"a/{key} (outputs)",
            f"b/{key} (outputs)",
        )
        left, right = _images(a), _images(b)
        for position in range(max(len(left), len(right))):
            la = left[position] if position < len(left) else None
            rb = right[position] if position < len(right) else None
            if la is None or rb is None or la[1] != rb[1]:
                mime = (la or rb)[0]  # type: ignore[index]
                images.append((mime, la[1] if la else None, rb[1] if rb else None))
    return CellChange(
        key,
        a.index if a else None,
        b.index if b else None,
        cell_type,
        change,
        source_diff,
        output_diff,
        tuple(images),
    )


def compare_notebooks(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[CellChange]:
    """The cells that differ between notebooks `a` and `b`, in the notebooks' order."""
    return compare_cells(notebook_cells(a or {}), notebook_cells(b or {}))


def compare_cells(cells_a: Sequence[Cell], cells_b: Sequence[Cell]) -> list[CellChange]:
    """`compare_notebooks` on cells already read (`notebook_cells`)."""
    keys_a, keys_b = [c.key for c in cells_a], [c.key for c in cells_b]
    by_a, by_b = dict(zip(keys_a, cells_a, strict=True)), dict(zip(keys_b, cells_b, strict=True))
    changes: list[CellChange] = []
    matcher = difflib.SequenceMatcher(a=keys_a, b=keys_b, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            pairs = [(by_a[k], by_b[k]) for k in keys_a[a0:a1]]
        else:
            # a cell moved elsewhere is still the same cell: compare it where it is in b
            pairs = [(None if k in by_b else by_a[k], None) for k in keys_a[a0:a1]]
            pairs += [(by_a.get(k), by_b[k]) for k in keys_b[b0:b1]]
        for ca, cb in pairs:
            change = _change(ca, cb)
            if change is not None:
                changes.append(change)
    return changes
