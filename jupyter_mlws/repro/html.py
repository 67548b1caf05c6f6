"""How a `RunDiff` shows in a notebook: one collapsible section per part that differs.

Who calls it: `RunDiff._repr_html_` (repro/diff.py). Plain HTML with inline styles that follow
JupyterLab's theme variables, so it reads in the light and the dark theme and needs no widget
front end (a saved notebook shows it too). Every value is escaped; images are the runs' own PNG
or JPEG bytes as data URLs, side by side.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from .diff import RunDiff

__all__ = ["diff_html"]

_BOX = (
    "font-family: var(--jp-ui-font-family, sans-serif); font-size: 13px; "
    "color: var(--jp-ui-font-color1, inherit)"
)
_PRE = (
    "margin: 4px 0; padding: 6px; max-height: 24em; overflow: auto; font-size: 12px; "
    "background: var(--jp-layout-color2, #f5f5f5); white-space: pre"
)
_CELL = (
    "padding: 2px 8px; text-align: left; vertical-align: top; "
    "border-bottom: 1px solid var(--jp-border-color2, #ddd)"
)


def _value(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return escape(str(value))


def _table(frame: pd.DataFrame, columns: list[str]) -> str:
    head = "".join(f"<th style='{_CELL}'>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='{_CELL}'>{_value(row[c])}</td>" for c in columns) + "</tr>"
        for _, row in frame.iterrows()
    )
    return (
        f"<table style='border-collapse: collapse'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _diff_block(text: str) -> str:
    if not text:
        return ""
    lines = []
    for line in text.splitlines():
        color = ""
        if line.startswith("+") and not line.startswith("+++"):
            color = "color: var(--jp-success-color1, #2e7d32)"
        elif line.startswith("-") and not line.startswith("---"):
            color = "color: var(--jp-error-color1, #c62828)"
        elif line.startswith("@@"):
            color = "color: var(--jp-info-color1, #1565c0)"
        lines.append(f"<span style='{color}'>{escape(line)}</span>" if color else escape(line))
    return f"<pre style='{_PRE}'>" + "\n".join(lines) + "</pre>"


def _image(mime: str, data: str | None) -> str:
    if not data:
        return "<div style='padding: 8px'>(none)</div>"
    return f"<img style='max-width: 100%' src='data:{escape(mime)};base64,{escape(data)}'>"


def _files(frame: pd.DataFrame) -> str:
    parts = []
    for _, row in frame.iterrows():
        sizes = f"{_value(row['size_a'])} → {_value(row['size_b'])} bytes"
        parts.append(f"<div><b>{escape(str(row['path']))}</b> {escape(str(row['change']))} ({sizes})</div>")
        parts.append(_diff_block(str(row["diff"] or "")))
    return "".join(parts)


def _cells(diff: RunDiff) -> str:
    images: dict[str, list[dict[str, Any]]] = {}
    for image in diff.images:
        images.setdefault(image["cell_id"], []).append(image)
    parts = []
    for _, row in diff.parts["cells"].iterrows():
        where = f"cell {_value(row['index_a'])} → {_value(row['index_b'])}"
        parts.append(
            f"<div style='margin-top: 6px'><b>{escape(str(row['cell_id']))}</b> ({where}, "
            f"{escape(str(row['cell_type']))}): {escape(str(row['change']))}</div>"
        )
        parts.append(_diff_block(str(row["source_diff"] or "")))
        parts.append(_diff_block(str(row["output_diff"] or "")))
        for image in images.get(str(row["cell_id"]), []):
            parts.append(
                "<div style='display: flex; gap: 8px'>"
                f"<div style='flex: 1'>a{_image(image['mime'], image['a'])}</div>"
                f"<div style='flex: 1'>b{_image(image['mime'], image['b'])}</div></div>"
            )
    return "".join(parts)


def diff_html(diff: RunDiff) -> str:
    """The HTML of `diff` (see the module docstring)."""
    from .diff import COLUMNS, PARTS, TABLE_PARTS

    title = (
        f"<div><b>Run {escape(diff.run_a)}</b> (a) vs <b>run {escape(diff.run_b)}</b> (b): "
        + ("identical" if diff.identical else "they differ")
        + "</div>"
    )
    sections = [title]
    warn = "color: var(--jp-warn-color1, #b26a00)"
    sections.extend(f"<div style='{warn}'>{escape(note)}</div>" for note in diff.notes)
    for part in PARTS:
        count = diff.changed(part)
        if not count:
            continue
        frame = diff.parts[part]
        if part in TABLE_PARTS:
            body = _table(frame, COLUMNS[part])
        elif part == "cells":
            body = _cells(diff)
        else:
            body = _files(frame)
        sections.append(
            f"<details open><summary><b>{escape(part)}</b>: "
            f"{count} differ{'s' if count == 1 else ''}</summary>"
            f"<div style='margin-left: 12px'>{body}</div></details>"
        )
    return f"<div class='mlws-run-diff' style='{_BOX}'>" + "".join(sections) + "</div>"
