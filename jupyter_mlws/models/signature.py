"""Model signatures: the input columns and their types, inferred from an example, enforced on input.

Who calls it: `ws.models.register(..., example=df)` (`infer_signature`), the serving replica
(helper B: `to_frame(body, version.signature)` for every ``POST /score``), `Predictor` users, and the
panel, which shows ``signature["inputs"]``.

A signature is JSON: ``{"inputs": [{"name": "age", "type": "long"}, ...], "outputs": [...]}``
("outputs" only when an output example was given). Types: ``double``, ``long``, ``string``,
``boolean``, ``datetime``. An ndarray example names its columns ``"0", "1", ...`` (positional).

`to_frame` accepts what scoring clients send:

- JSON records: ``[{"age": 3, ...}]`` or ``{"dataframe_records": [...]}``;
- split orientation: ``{"dataframe_split": {"columns": [...], "data": [[...]]}}`` or
  ``{"columns": [...], "data": [[...]]}``; with a signature, bare rows ``[[...], ...]`` too (positional);
- CSV text (str or bytes with a header line); JSON text (str/bytes starting with ``[`` or ``{``).

Decisions: the frame has exactly the signature's columns in the signature's order (extra columns are
dropped, as MLflow does: clients often send ids along); a missing column, or a value of the wrong type,
is an `InvalidParameter` naming the column (and the row); ints are accepted for ``double`` and
integral floats for ``long``; ``null`` is accepted only for ``double`` (as NaN) and ``string``. Values
are checked in plain Python and each column built as one numpy array, so a one-row request costs tens
of microseconds plus one DataFrame construction. Without a signature the frame is built as given.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TYPES", "infer_signature", "to_frame"]

TYPES = ("double", "long", "string", "boolean", "datetime")
_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


def infer_signature(example: Any, output: Any = None) -> dict[str, Any]:
    """The signature of an example input (DataFrame, ndarray, list of records or dict of columns).

    With `output` (predictions on that example), the signature gets ``"outputs"`` too.
    """
    signature: dict[str, Any] = {"inputs": _columns(_as_frame(example, "example"))}
    if output is not None:
        signature["outputs"] = _columns(_as_frame(output, "output"))
    return signature


def _as_frame(value: Any, what: str) -> pd.DataFrame:
    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, pd.Series):
        return value.to_frame(name=str(value.name) if value.name is not None else "0")
    if isinstance(value, np.ndarray):
        if value.ndim == 1:
            value = value.reshape(-1, 1)
        if value.ndim != 2:
            raise InvalidParameter(f"The {what} array has {value.ndim} dimensions; a signature needs 1 or 2.")
        return pd.DataFrame(value, columns=[str(i) for i in range(value.shape[1])])
    if isinstance(value, Mapping):
        return pd.DataFrame(
            {str(k): list(v) if isinstance(v, Sequence | np.ndarray) else [v] for k, v in value.items()}
        )
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and value:
        if all(isinstance(r, Mapping) for r in value):
            return pd.DataFrame(list(value))
        return _as_frame(np.asarray(value), what)
    raise InvalidParameter(
        f"Cannot infer a signature from a {type(value).__name__} {what}: give a DataFrame, an ndarray, "
        "a list of records or a dict of columns."
    )


def _columns(frame: pd.DataFrame) -> list[dict[str, str]]:
    return [{"name": str(name), "type": _column_type(frame[name])} for name in frame.columns]


def _column_type(column: pd.Series) -> str:
    import pandas as pd
    from pandas.api import types as t

    if t.is_bool_dtype(column.dtype):
        return "boolean"
    if t.is_integer_dtype(column.dtype):
        return "long"
    if t.is_float_dtype(column.dtype):
        return "double"
    if t.is_datetime64_any_dtype(column.dtype):
        return "datetime"
    values = column.dropna()
    if len(values) and all(isinstance(v, bool) for v in values):
        return "boolean"
    if len(values) and all(isinstance(v, pd.Timestamp) for v in values):
        return "datetime"
    return "string"


def to_frame(payload: Any, signature: Mapping[str, Any] | None) -> pd.DataFrame:
    """Turn a scoring payload into a DataFrame typed by `signature` (see the module docstring).

    Raises InvalidParameter naming the problem: an unknown shape, a missing column, a wrong type.
    """
    import pandas as pd

    inputs = _inputs(signature)
    if isinstance(payload, bytes | bytearray | memoryview):
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameter("The request body is not UTF-8 text.") from None
    if isinstance(payload, str):
        text = payload.lstrip()
        if text[:1] in ("[", "{"):
            try:
                payload = json.loads(text)
            except ValueError as exc:
                raise InvalidParameter(f"The request body is not valid JSON: {exc}.") from None
        else:
            return _from_csv(payload, inputs)
    columns, rows = _shape(payload, inputs)
    if inputs is None:
        if columns is None:
            return pd.DataFrame(rows)
        return pd.DataFrame(rows, columns=columns)
    return _typed(columns, rows, inputs)


def _inputs(signature: Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    if not signature or not signature.get("inputs"):
        return None
    return [(str(c["name"]), str(c["type"])) for c in signature["inputs"]]


def _shape(payload: Any, inputs: list[tuple[str, str]] | None) -> tuple[list[str] | None, list[Any]]:
    """(columns, rows): columns None means rows are records (dicts)."""
    if isinstance(payload, Mapping):
        if "dataframe_records" in payload:
            payload = payload["dataframe_records"]
        elif "dataframe_split" in payload or ("columns" in payload and "data" in payload):
            split = payload.get("dataframe_split", payload)
            if (
                not isinstance(split, Mapping)
                or not isinstance(split.get("columns"), list)
                or not isinstance(split.get("data"), list)
            ):
                raise InvalidParameter('Split orientation needs {"columns": [...], "data": [[...], ...]}.')
            return [str(c) for c in split["columns"]], split["data"]
        else:
            raise InvalidParameter(
                'Expected JSON records ([{...}] or {"dataframe_records": [...]}) or split orientation '
                '({"dataframe_split": {"columns": [...], "data": [...]}}); got an object with keys '
                f"{sorted(map(str, payload))[:5]}."
            )
    if not isinstance(payload, list):
        raise InvalidParameter(f"Expected a list of records, not {type(payload).__name__}.")
    if payload and all(isinstance(r, list) for r in payload):
        if inputs is None:
            raise InvalidParameter("Rows without column names need a model signature; send records instead.")
        return [name for name, _ in inputs], payload
    for i, record in enumerate(payload):
        if not isinstance(record, Mapping):
            raise InvalidParameter(f"Record {i} is a {type(record).__name__}, not an object.")
    return None, payload


def _typed(columns: list[str] | None, rows: list[Any], inputs: list[tuple[str, str]]) -> pd.DataFrame:
    import pandas as pd

    data: dict[str, Any] = {}
    if columns is None:
        for name, kind in inputs:
            values = []
            for i, record in enumerate(rows):
                if name not in record:
                    raise InvalidParameter(f"Column {name!r} is missing in record {i}{_expected(inputs)}.")
                values.append(record[name])
            data[name] = _column(name, kind, values)
    else:
        where = {c: i for i, c in enumerate(columns)}
        width = len(columns)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                raise InvalidParameter(f"Row {i} does not have {width} values like the columns list.")
        for name, kind in inputs:
            if name not in where:
                raise InvalidParameter(f"Column {name!r} is missing{_expected(inputs)}.")
            j = where[name]
            data[name] = _column(name, kind, [row[j] for row in rows])
    return pd.DataFrame(data)


def _expected(inputs: list[tuple[str, str]]) -> str:
    names = ", ".join(name for name, _ in inputs[:20])
    return f" (the model expects: {names}{', ...' if len(inputs) > 20 else ''})"


def _column(name: str, kind: str, values: list[Any]) -> Any:
    import numpy as np
    import pandas as pd

    def bad(i: int, value: Any) -> InvalidParameter:
        shown = json.dumps(value, default=str)[:40]
        return InvalidParameter(
            f"Column {name!r} expects {kind}; row {i} has {shown} ({type(value).__name__})."
        )

    if kind == "double":
        for i, v in enumerate(values):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
                raise bad(i, v)
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)
    if kind == "long":
        for i, v in enumerate(values):
            if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, float) and v.is_integer())):
                raise bad(i, v)
        return np.array(values, dtype=np.int64)
    if kind == "boolean":
        for i, v in enumerate(values):
            if not isinstance(v, bool):
                raise bad(i, v)
        return np.array(values, dtype=bool)
    if kind == "string":
        for i, v in enumerate(values):
            if v is not None and not isinstance(v, str):
                raise bad(i, v)
        return np.array(values, dtype=object)
    if kind == "datetime":
        for i, v in enumerate(values):
            if not isinstance(v, str | int):
                raise bad(i, v)
        try:
            return pd.to_datetime(pd.Series(values), utc=False).to_numpy()
        except (ValueError, TypeError) as exc:
            raise InvalidParameter(f"Column {name!r} expects datetime: {exc}.") from None
    raise InvalidParameter(f"The signature gives column {name!r} an unknown type {kind!r} (one of {TYPES}).")


def _from_csv(text: str, inputs: list[tuple[str, str]] | None) -> pd.DataFrame:
    import pandas as pd

    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str if inputs else None, keep_default_na=inputs is None)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidParameter(f"The CSV body cannot be parsed: {exc}.") from None
    if inputs is None:
        return frame
    data: dict[str, Any] = {}
    for name, kind in inputs:
        if name not in frame.columns:
            raise InvalidParameter(f"Column {name!r} is missing from the CSV header{_expected(inputs)}.")
        data[name] = _column(name, kind, [_csv_value(name, kind, i, v) for i, v in enumerate(frame[name])])
    return pd.DataFrame(data)


def _csv_value(name: str, kind: str, row: int, text: Any) -> Any:
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text).strip()
    try:
        if kind == "double":
            return None if text == "" else float(text)
        if kind == "long":
            return int(text)
        if kind == "boolean":
            low = text.lower()
            if low in _TRUE or low in _FALSE:
                return low in _TRUE
            raise ValueError(text)
    except ValueError:
        raise InvalidParameter(f"Column {name!r} expects {kind}; CSV row {row} has {text[:40]!r}.") from None
    return text
