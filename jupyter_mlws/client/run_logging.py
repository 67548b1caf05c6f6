"""The loggers Azure ML users reach for: `log_image`, `log_list`, `log_row` (Run methods and
module functions; Azure ML's `run.log_image(name, plot=...)`, `run.log_list`, `run.log_row`).

Who calls this: `Run.log_image / log_list / log_row` (client/run.py), which the module-level
`mlws.log_image(...)` etc. call on the active run (client/fluent.py).

Decisions:
- `log_image(name, image)` stores a PNG at `images/<name>.png`, which the run view shows as an
  image. `image` is a matplotlib Figure (`savefig`), a PIL image (`save`), a numpy array
  (H×W grey, H×W×3 RGB, H×W×4 RGBA; uint8, or floats in 0..1 scaled to 0..255; bool as
  black/white; nested lists of numbers alike), PNG bytes, or the path of an image file (copied as it is, its extension kept).
  Arrays are encoded here with zlib (PNG, no extra dependency) — no pickle, nothing that runs
  code on read.
- `log_list(name, values)` logs the values as one metric series, one step each, continuing
  the metric's steps (a list logged into a fresh run is steps 0..n-1): it charts like any metric.
- `log_row(name, **columns)` appends one row to the table `tables/<name>.json` (a JSON list of
  objects, which the run view shows as a table); the file is rewritten whole on each row (a
  table of a few thousand rows costs milliseconds). Rows logged by an earlier process into the
  same run are read back first, so nothing is dropped. Column values must be JSON scalars
  (numbers, text, booleans, None); NaN and infinities are stored as text ("nan").
"""

from __future__ import annotations

import json
import math
import struct
import threading
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound

if TYPE_CHECKING:
    from ..entities import ArtifactRecord
    from .run import Run

IMAGES_FOLDER = "images"
TABLES_FOLDER = "tables"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_tables_lock = threading.Lock()


def _artifact_name(kind: str, name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter(f"{kind} needs a name (text), not {name!r}.")
    cleaned = name.strip()
    if "/" in cleaned or "\\" in cleaned or cleaned in (".", "..") or len(cleaned) > 200:
        raise InvalidParameter(
            f"{kind} name {name[:60]!r} must be one file name (no '/', at most 200 characters)."
        )
    return cleaned


def log_image(run: Run, name: str, image: Any) -> ArtifactRecord:
    """Store `image` as a PNG (or the given image file) under `images/` (see the module docstring)."""
    base = _artifact_name("log_image", name)
    if base.lower().endswith(_IMAGE_SUFFIXES):
        stem, suffix = base.rsplit(".", 1)[0], "." + base.rsplit(".", 1)[1].lower()
    else:
        stem, suffix = base, ".png"
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise NotFound(f"log_image: no image file at {str(image)[:200]!r}.")
        kept = path.suffix.lower() if path.suffix.lower() in _IMAGE_SUFFIXES else suffix
        return run.log_bytes(path.read_bytes(), f"{IMAGES_FOLDER}/{stem}{kept}")
    if isinstance(image, (bytes, bytearray)):
        if not bytes(image[:8]) == _PNG_MAGIC:
            raise InvalidParameter("log_image takes bytes only as a PNG file's bytes.")
        return run.log_bytes(bytes(image), f"{IMAGES_FOLDER}/{stem}.png")
    if hasattr(image, "savefig"):  # a matplotlib Figure
        from .artifact_formats import figure_bytes

        data, final = figure_bytes(image, f"{IMAGES_FOLDER}/{stem}.png")
        return run.log_bytes(data, final)
    if hasattr(image, "save") and hasattr(image, "mode") and hasattr(image, "size"):  # a PIL image
        import io

        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return run.log_bytes(buffer.getvalue(), f"{IMAGES_FOLDER}/{stem}.png")
    if (hasattr(image, "shape") and hasattr(image, "dtype")) or isinstance(image, (list, tuple)):
        return run.log_bytes(encode_png(image), f"{IMAGES_FOLDER}/{stem}.png")
    raise InvalidParameter(
        "log_image takes a matplotlib Figure, a PIL image, a numpy array (H×W, H×W×3 or H×W×4), "
        f"PNG bytes or an image file's path, not {type(image).__name__}."
    )


def encode_png(array: Any) -> bytes:
    """PNG bytes of an image array (8 bits per channel; grey, RGB or RGBA)."""
    import numpy as np

    values = np.asarray(array)
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[2] not in (3, 4)):
        raise InvalidParameter(f"log_image needs an H×W, H×W×3 or H×W×4 array, not shape {values.shape}.")
    if values.shape[0] < 1 or values.shape[1] < 1 or values.size > 100_000_000:
        raise InvalidParameter(f"log_image: an image of shape {values.shape} is empty or too large.")
    if values.dtype == bool:
        values = values.astype(np.uint8) * 255
    elif values.dtype.kind == "f":
        if not np.isfinite(values).all():
            raise InvalidParameter("log_image: the array holds NaN or infinite values.")
        values = np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
    elif values.dtype.kind in "ui":
        if values.min() < 0 or values.max() > 255:
            raise InvalidParameter(
                "log_image: integer pixels must be 0..255 (scale them, or pass floats 0..1)."
            )
        values = values.astype(np.uint8)
    else:
        raise InvalidParameter(f"log_image: pixels of type {values.dtype} are not numbers.")
    height, width = values.shape[:2]
    color = 0 if values.ndim == 2 else 2 if values.shape[2] == 3 else 6  # grey, RGB, RGBA
    rows = np.ascontiguousarray(values).reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return _PNG_MAGIC + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def log_list(run: Run, name: str, values: Any) -> None:
    """Log `values` as the metric `name`, one step each (continuing its steps)."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise InvalidParameter(f"log_list takes a list of numbers, not {type(values).__name__}.")
    for value in list(values):
        run.log_metric(name, value)


def _cell(column: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # numpy scalars
        return _cell(column, value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise InvalidParameter(
        f"log_row: column {column!r} holds a {type(value).__name__}; use numbers, text, booleans or None."
    )


def log_row(run: Run, name: str, columns: dict[str, Any]) -> ArtifactRecord:
    """Append one row to the run's table `name` (`tables/<name>.json`)."""
    table = _artifact_name("log_row", name)
    if not columns:
        raise InvalidParameter("log_row needs at least one column: log_row('table', epoch=1, loss=0.3).")
    row = {str(k): _cell(str(k), v) for k, v in columns.items()}
    path = f"{TABLES_FOLDER}/{table}.json"
    with _tables_lock:
        rows = run._tables.get(table)
        if rows is None:
            rows = run._tables[table] = _existing_rows(run, path)
        rows.append(row)
        data = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return run.log_bytes(data, path)


def _existing_rows(run: Run, path: str) -> list[dict[str, Any]]:
    try:
        with run.workspace.artifact_store.open(run.id, path) as handle:
            found = json.loads(handle.read().decode("utf-8"))
    except (NotFound, ValueError, UnicodeDecodeError):
        return []
    return [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []
