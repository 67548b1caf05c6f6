"""The values a run records: params, tags, metric points, and the limits of one batch.

Who calls it: every store before it writes (so the REST store and the SQL store refuse the same
input) and the metric logger at `log_metric` time (so a bad point fails in the user's cell, not
later in a background thread). The SQL store also uses `encode_value` / `decode_value` to keep
NaN and -0.0 exact. The rules are listed in the package docstring.
"""

from __future__ import annotations

import math
import numbers
from datetime import datetime, timezone
from typing import Any

from ..errors import InvalidParameter

PARAM_VALUE_MAX = 6000
TAG_VALUE_MAX = 8000
MAX_BATCH_METRICS = 50_000
MAX_BATCH_PARAMS = 1_000
MAX_BATCH_TAGS = 1_000
STEP_MAX = 2**63 - 1
TS_MIN = 946_684_800_000  # 2000-01-01T00:00:00Z in ms
TS_MAX = 32_503_680_000_000  # 3000-01-01T00:00:00Z in ms
_EXACT_INT = 2**53

# How a metric value is stored: SQLite binds NaN as NULL and drops the sign of
# -0.0, so the store keeps a small "kind" next to the value.
KIND_NUMBER = 0
KIND_NAN = 1
KIND_NEG_ZERO = 2


def _check_value_text(what: str, value: object, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidParameter(f"{what} is {len(text)} characters long; the limit is {limit} characters.")
    if "\x00" in text:
        raise InvalidParameter(f"{what} must not contain the NUL character.")
    return text


def validate_param_value(key: str, value: object) -> str:
    """A param value as the string that is stored (limit PARAM_VALUE_MAX)."""
    return _check_value_text(f"The value of param {key!r}", value, PARAM_VALUE_MAX)


def validate_tag_value(key: str, value: object) -> str:
    """A tag value as the string that is stored (limit TAG_VALUE_MAX)."""
    return _check_value_text(f"The value of tag {key!r}", value, TAG_VALUE_MAX)


def validate_metric_value(key: str, value: object) -> float:
    """A metric value as a float64, refusing anything that would change it."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameter(
            f"The value of metric {key!r} must be a number, not {type(value).__name__} {value!r:.40}."
        )
    if isinstance(value, numbers.Integral):
        number = int(value)
        if abs(number) > _EXACT_INT and float(number) != number:
            raise InvalidParameter(
                f"The value of metric {key!r} ({number}) cannot be stored exactly as a float64 "
                "(integers beyond 2**53); log it as a param or tag to keep every digit."
            )
        return float(number)
    return float(value)


def validate_step(key: str, step: object) -> int:
    """A step: an integer in 0..2**63-1."""
    if type(step) is not int:
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise InvalidParameter(f"The step of metric {key!r} must be an integer, not {step!r:.40}.")
        step = int(step)
    if step < 0 or step > STEP_MAX:
        raise InvalidParameter(f"The step of metric {key!r} ({step}) must be between 0 and 2**63-1.")
    return step


def validate_timestamp(key: str, timestamp: object) -> int:
    """Milliseconds since the epoch; datetimes are converted, seconds are refused with a hint."""
    ms: int
    if isinstance(timestamp, datetime):
        aware = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=timezone.utc)
        ms = int(aware.timestamp() * 1000)
    elif isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real):
        raise InvalidParameter(f"The timestamp of metric {key!r} must be milliseconds since the epoch.")
    elif isinstance(timestamp, int):
        ms = timestamp
    else:
        as_float = float(timestamp)
        if not math.isfinite(as_float):
            raise InvalidParameter(f"The timestamp of metric {key!r} must be finite.")
        ms = int(as_float)
    if TS_MIN <= ms < TS_MAX:
        return ms
    hint = ""
    if TS_MIN // 1000 <= ms < TS_MAX // 1000:
        hint = f" It looks like seconds: pass milliseconds ({ms * 1000})."
    raise InvalidParameter(
        f"The timestamp of metric {key!r} ({ms}) must be milliseconds since the epoch "
        f"between 2000-01-01 and 3000-01-01.{hint}"
    )


def encode_value(value: float) -> tuple[float | None, int]:
    """(stored value, kind): NaN is stored as NULL + KIND_NAN, -0.0 as 0.0 + KIND_NEG_ZERO."""
    if value != value:
        return None, KIND_NAN
    if value == 0.0 and math.copysign(1.0, value) < 0:
        return 0.0, KIND_NEG_ZERO
    return value, KIND_NUMBER


def decode_value(value: float | None, kind: int) -> float:
    """The float a user logged, from what `encode_value` stored."""
    if kind == KIND_NUMBER and value is not None:
        return float(value)
    if kind == KIND_NEG_ZERO:
        return -0.0
    return math.nan


def check_batch_size(metrics: int, params: int, tags: int) -> None:
    """Refuse batches beyond the documented limits (PayloadTooLarge)."""
    from ..errors import PayloadTooLarge

    for what, count, limit in (
        ("metrics", metrics, MAX_BATCH_METRICS),
        ("params", params, MAX_BATCH_PARAMS),
        ("tags", tags, MAX_BATCH_TAGS),
    ):
        if count > limit:
            raise PayloadTooLarge(
                f"A batch holds {count} {what}; the limit is {limit} per batch. "
                "Split it into smaller batches."
            )


#: The bounds of an endpoint's per-request predict timeout (seconds). Longer work is batch scoring.
MIN_TIMEOUT_SECONDS = 0.1
MAX_TIMEOUT_SECONDS = 600.0


def validate_timeout_seconds(value: Any) -> float:
    """An endpoint's `timeout_seconds`: a number from 0.1 to 600 (a 400 naming the bounds)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not (
        MIN_TIMEOUT_SECONDS <= value <= MAX_TIMEOUT_SECONDS
    ):
        raise InvalidParameter(
            f"timeout_seconds must be a number of seconds from {MIN_TIMEOUT_SECONDS:g} to "
            f"{MAX_TIMEOUT_SECONDS:g}, not {value!r}"
        )
    return float(value)
