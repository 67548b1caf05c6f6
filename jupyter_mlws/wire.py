"""How values travel as JSON between the server and its clients (REST store, panel).

JSON has no NaN or infinities, and Python's `json` would emit bare `NaN`
tokens that browsers reject (RELIABILITY P8). On the wire a metric value is a
JSON number when finite, else one of the strings "NaN", "Infinity",
"-Infinity"; -0.0 stays the number -0.0. Shared by the server handlers and
the REST store so both ends agree; no server imports here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Literal, Union

from .errors import InvalidParameter

NonFinite = Literal["NaN", "Infinity", "-Infinity"]
WireFloat = Union[float, NonFinite]

_DECODE: dict[str, float] = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
#: A number literal that may not fit a 64-bit float: an exponent, or 300 digits in a row.
_RISKY = re.compile(rb"\d[eE][+-]?\d|\d{300}")


def may_overflow(raw: bytes) -> bool:
    """Whether a JSON body may hold a number past a float's range (`1e400`), which Python's and
    pydantic's parsers turn into an infinity without a word: such a body is read with
    `finite_float` (RELIABILITY P8: refused with a message, never stored as infinity)."""
    return _RISKY.search(raw) is not None


def finite_float(text: str) -> float:
    """`parse_float` for `json.loads`: the number, or InvalidParameter when it overflows."""
    value = float(text)
    if not math.isfinite(value):
        raise InvalidParameter(
            f"The number {text[:40]} is outside the range of a 64-bit float (about ±1.8e308); "
            'send an infinity as the string "Infinity" or "-Infinity".'
        )
    return value


def encode_float(value: float) -> WireFloat:
    """A float as it goes into JSON."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def decode_float(value: WireFloat | int) -> float:
    """A JSON value back into a float (the strings above, or a number)."""
    if isinstance(value, str):
        return _DECODE[value]
    return float(value)


def encode_floats(values: Iterable[float]) -> list[WireFloat]:
    """A column of floats for JSON; fast path when all are finite."""
    out = [float(v) for v in values]
    if all(map(math.isfinite, out)):
        return out  # type: ignore[return-value]
    return [encode_float(v) for v in out]
