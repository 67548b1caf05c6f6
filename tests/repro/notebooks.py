"""Notebooks built for the diff and replay tests: nbformat 4.5 JSON with ids, outputs and images."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any


def png(shade: int, size: int = 4) -> str:
    """A tiny grey PNG (base64), different for every `shade`."""
    raw = b"".join(b"\0" + bytes([shade]) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(data).decode()


def code_cell(
    cell_id: str,
    source: str,
    *,
    stdout: str | None = None,
    result: str | None = None,
    image: str | None = None,
    count: int | None = None,
) -> dict[str, Any]:
    outputs: list[dict[str, Any]] = []
    if stdout is not None:
        outputs.append({"output_type": "stream", "name": "stdout", "text": stdout})
    if result is not None:
        outputs.append(
            {
                "output_type": "execute_result",
                "execution_count": count,
                "metadata": {},
                "data": {"text/plain": result},
            }
        )
    if image is not None:
        outputs.append(
            {
                "output_type": "display_data",
                "metadata": {},
                "data": {"image/png": image, "text/plain": "<Figure>"},
            }
        )
    return {
        "id": cell_id,
        "cell_type": "code",
        "metadata": {},
        "execution_count": count,
        "source": source,
        "outputs": outputs,
    }


def markdown_cell(cell_id: str, source: str) -> dict[str, Any]:
    return {"id": cell_id, "cell_type": "markdown", "metadata": {}, "source": source}


def notebook(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def many_cells(n: int, variant: int, *, change_sources: bool = False) -> dict[str, Any]:
    """`n` code cells whose outputs all depend on `variant` (and sources too, when asked)."""
    return notebook(
        [
            code_cell(
                f"c{i}",
                f"x{i} = {i} * {variant if change_sources else 1}\nprint(x{i})",
                stdout=f"run {variant}: x{i} = {i * variant}\nsecond line\n",
                result=str(i * variant),
                count=i + 1,
            )
            for i in range(n)
        ]
    )
