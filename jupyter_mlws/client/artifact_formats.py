"""How `log_dict`, `log_table` and `log_figure` turn Python objects into artifact bytes.

Called by `Run.log_dict/log_table/log_figure`. Formats are safe to load
(nothing executes code on read):

- dicts: JSON (`.json`, the default) or YAML (`.yaml`/`.yml`, needs PyYAML);
  JSON is written with `allow_nan=False` semantics replaced by strings so the
  file stays valid JSON.
- tables: Parquet when pyarrow is installed (types and NaN kept exactly),
  otherwise CSV; the extension follows the format (`predictions` becomes
  `predictions.parquet` or `predictions.csv`); a name ending in `.csv` or
  `.json` forces that format. Pickle is never used.
- figures: matplotlib's `savefig` into memory; the format comes from the
  extension (`.png` added when there is none). matplotlib is imported by the
  figure itself, never by us.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

from ..errors import InvalidParameter


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def dict_bytes(data: Any, artifact_file: str) -> bytes:
    """JSON (or YAML) bytes of a dict-like object."""
    if artifact_file.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise InvalidParameter(
                "Writing YAML needs PyYAML (pip install pyyaml); use a .json name."
            ) from None
        text: str = yaml.safe_dump(_jsonable(data), sort_keys=False, allow_unicode=True)
        return text.encode("utf-8")
    try:
        return json.dumps(_jsonable(data), indent=2, ensure_ascii=False, default=str).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise InvalidParameter(f"log_dict could not turn the value into JSON: {err}") from None


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def table_bytes(table: Any, artifact_file: str) -> tuple[bytes, str]:
    """(bytes, final artifact name) of a pandas DataFrame."""
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        try:
            table = pd.DataFrame(table)
        except Exception as err:
            raise InvalidParameter(
                f"log_table needs a pandas DataFrame (or dict of columns): {err}"
            ) from None
    name = artifact_file
    lower = name.lower()
    if lower.endswith(".csv"):
        return table.to_csv(index=False).encode("utf-8"), name
    if lower.endswith(".json"):
        return table.to_json(orient="split", index=False).encode("utf-8"), name
    if lower.endswith(".parquet") or _has_pyarrow():
        if not _has_pyarrow():
            raise InvalidParameter("Writing Parquet needs pyarrow (pip install pyarrow); use a .csv name.")
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        return buffer.getvalue(), name if lower.endswith(".parquet") else name + ".parquet"
    return table.to_csv(index=False).encode("utf-8"), name + ".csv"


def figure_bytes(figure: Any, artifact_file: str) -> tuple[bytes, str]:
    """(image bytes, final artifact name) of a matplotlib figure."""
    if not hasattr(figure, "savefig"):
        raise InvalidParameter("log_figure needs a matplotlib Figure (something with savefig).")
    name = artifact_file
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name.rsplit("/", 1)[-1] else ""
    if not suffix:
        name, suffix = name + ".png", "png"
    buffer = io.BytesIO()
    figure.savefig(buffer, format=suffix)
    return buffer.getvalue(), name
