"""What a replica reads from a scoring request and writes back: bodies, answers, error shapes.

Who calls this: `serving/replica.py`, per request (`parse`, `predictions`, `raw_answer`, `error`).

Decisions (RELIABILITY S4: bad input is a 400 that names the problem, never a 500):
- JSON is parsed strictly: `NaN`, `Infinity` and `-Infinity` are not JSON (RFC 8259) and are
  refused (send `null` for a missing value); a body nested deeper than the parser can follow
  (`[[[[...]]]]` 100,000 levels: Python's json raises RecursionError) is refused too.
- CSV (`text/csv`) must be UTF-8; other content types are refused with the two we take.
- Answers: the typed path wraps predictions as `{"predictions": [...], "deployment", "version"}`;
  an Azure-ML-style entry script's return value IS the answer (`raw_answer`), JSON-encoded as it
  is, and the deployment and version travel in the `X-MLWS-Deployment` / `X-MLWS-Version`
  headers (`X-MLWS-Answer: raw` tells a client not to look for the envelope).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidParameter
from ..wire import finite_float

JSON_TYPES = ("application/json", "")


def error(code: str, message: str) -> bytes:
    """The one error body of the scoring API."""
    return json.dumps({"error": code, "message": message}).encode()


def _no_constants(token: str) -> Any:
    raise InvalidParameter(
        f"Malformed JSON body: {token} is not JSON (RFC 8259); send null for a missing value."
    )


def content_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def parse(headers: dict[str, str], body: bytes) -> Any:
    """The request's payload: JSON values, or CSV text (InvalidParameter naming the problem)."""
    ctype = content_type(headers)
    if not body.strip():
        raise InvalidParameter("Empty request body: send JSON records, split orientation or CSV.")
    if ctype in ("text/csv", "application/csv"):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameter("The CSV body is not UTF-8.") from None
    if ctype in JSON_TYPES or ctype.endswith("+json") or ctype == "text/plain":
        return loads(body)
    raise InvalidParameter(f"Unsupported Content-Type {ctype[:60]!r}: use application/json or text/csv.")


def loads(body: bytes | str) -> Any:
    """Strict JSON (see the module docstring)."""
    try:
        return json.loads(body, parse_constant=_no_constants, parse_float=finite_float)
    except RecursionError:
        raise InvalidParameter("Malformed JSON body: nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, InvalidParameter):
            raise
        raise InvalidParameter(f"Malformed JSON body: {exc}") from None


def text(body: bytes) -> str:
    """The body as text for an entry script's `run(raw_data)` (UTF-8, else a 400)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter("The request body is not UTF-8 text.") from None


def jsonable(out: Any) -> Any:
    """Model output as JSON values: a frame as records, an array as (nested) lists."""
    if hasattr(out, "columns") and hasattr(out, "to_dict"):
        return out.to_dict(orient="records")
    if hasattr(out, "tolist"):
        return out.tolist()
    return list(out)


def default(value: Any) -> Any:
    """`json.dumps(default=...)` for numpy scalars, dates and anything else (as text)."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def predictions(out: Any, tag: bytes) -> bytes:
    """The typed path's answer: `{"predictions": [...]` + the deployment's tail `tag`."""
    return b'{"predictions": ' + json.dumps(jsonable(out), default=default).encode() + tag


def raw_answer(out: Any) -> bytes:
    """An entry script's return value as the answer, JSON-encoded as it is (strictly: a NaN in
    it is a 500 of the script, as an invalid answer)."""
    if hasattr(out, "columns") or (hasattr(out, "tolist") and not hasattr(out, "item")):
        out = jsonable(out)
    return json.dumps(out, default=default, allow_nan=False).encode()


def raw_headers(name: str, version: int) -> bytes:
    """The headers that carry the deployment of a raw answer."""
    safe = "".join(c for c in name if c.isalnum() or c in "-_")
    return f"X-MLWS-Answer: raw\r\nX-MLWS-Deployment: {safe}\r\nX-MLWS-Version: {version:d}\r\n".encode()
