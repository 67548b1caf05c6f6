"""Validation of names, keys and values: the documented limits (RELIABILITY P8-P10).

Called by every store before it writes (so the REST store and the SQL store
refuse the same input) and by the metric logger at `log_metric` time (so a bad
point fails in the user's cell, not later in a background thread).

Rules, as users see them:

- Names (experiments, runs) and keys (params, metrics, tags) are normalised to
  Unicode NFC, so an NFD twin names the same thing. Nothing is ever stripped
  or truncated: a name that breaks a rule raises `InvalidParameter` naming the
  rule and the limit.
- Names: 1..256 characters; no control, format (zero-width, bidi override),
  private-use or unassigned characters; no leading/trailing whitespace; no `%`
  or `\\`; `/`-separated parts must not be empty, `.` or `..`.
- Keys: 1..250 characters, as names, and only letters, digits, marks and
  `_ - . / : space` (so a key can always be written in a filter).
- Param values: any value, stored as `str(value)`, at most 6,000 characters;
  tag values at most 8,000; neither may contain NUL.
- Metric values: float64. NaN, +inf, -inf, -0.0 and subnormals round-trip bit
  exactly; an `int` beyond 2**53 that a float64 cannot hold exactly is refused
  (never rounded silently); bools and strings are refused.
- Steps: integers 0 <= step < 2**63. Timestamps: integer milliseconds since the
  Unix epoch between 2000-01-01 and 3000-01-01; a value that looks like seconds
  is refused with a hint.
"""

from __future__ import annotations

import math
import re
import numbers
import unicodedata
from datetime import datetime, timezone
from typing import Any

from .errors import InvalidParameter

NAME_MAX = 256
KEY_MAX = 250
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

_BAD_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_KEY_PUNCT = set("_-./: ")
_CACHE_MAX = 20_000
_key_cache: dict[str, str] = {}


def _check_text(what: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"{what} must be a string, not {type(value).__name__}.")
    text = unicodedata.normalize("NFC", value)
    if not text:
        raise InvalidParameter(f"{what} must not be empty (1 to {limit} characters).")
    if len(text) > limit:
        raise InvalidParameter(
            f"{what} is {len(text)} characters long; the limit is {limit} characters: {text[:40]!r}..."
        )
    if text != text.strip():
        raise InvalidParameter(f"{what} {text!r} must not start or end with whitespace.")
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in _BAD_CATEGORIES or (cat == "Zs" and ch != " "):
            raise InvalidParameter(
                f"{what} {text!r} contains the character U+{ord(ch):04X} ({cat}); control, "
                "format, zero-width, bidi and unusual space characters are not allowed."
            )
        if ch in "%\\":
            raise InvalidParameter(f"{what} {text!r} must not contain {ch!r}.")
    for part in text.split("/"):
        if part in ("", ".", ".."):
            raise InvalidParameter(
                f"{what} {text!r} has an empty, '.' or '..' part between slashes; "
                "write it without leading, trailing or doubled '/'."
            )
    return text


def validate_name(what: str, value: object) -> str:
    """An experiment or run name in NFC form, or InvalidParameter (limit NAME_MAX)."""
    return _check_text(what, value, NAME_MAX)


def validate_key(what: str, value: object) -> str:
    """A param, metric or tag key in NFC form, or InvalidParameter (limit KEY_MAX).

    Cached: the metric logger validates the same few keys millions of times.
    """
    if type(value) is str:
        hit = _key_cache.get(value)
        if hit is not None:
            return hit
    text = _check_text(what, value, KEY_MAX)
    for ch in text:
        if ch in _KEY_PUNCT:
            continue
        if unicodedata.category(ch)[0] not in "LNM":
            raise InvalidParameter(
                f"{what} {text!r} contains {ch!r}; keys may use letters, digits and _ - . / : space."
            )
    if len(_key_cache) >= _CACHE_MAX:
        _key_cache.clear()
    _key_cache[value] = text  # type: ignore[index]
    return text


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
    from .errors import PayloadTooLarge

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


def validate_experiment_id(value: object) -> int:
    """An experiment id: an integer from 1 to 2**63-1 (ids past that cannot exist)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < int(value) <= STEP_MAX:
        raise InvalidParameter(f"An experiment id is an integer from 1 to {STEP_MAX}, not {value!r:.40}.")
    return int(value)


def validate_artifact_location(value: object) -> str | None:
    """An experiment's artifact location (RELIABILITY P3): None, or a folder *inside* the
    workspace's artifact store written as a relative path. URLs (`file:///etc`), absolute paths
    and traversal (`../../`) are refused on write, and the server re-checks stored values
    before serving them (a value that fails is served as None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"An artifact location is a relative folder path, not {type(value).__name__}.")
    from .store.paths import safe_relative_path

    try:
        return safe_relative_path(value)
    except InvalidParameter as err:
        raise InvalidParameter(
            f"Artifact location {value[:80]!r} must be a relative folder inside the workspace's "
            f"artifact store: {err.message}"
        ) from None


#: Limits of one recorded cell execution (see `validate_executions`).
EXECUTION_SOURCE_MAX = 256 * 1024
EXECUTION_ERROR_MAX = 8000
MAX_BATCH_EXECUTIONS = 1000


def _optional_text(what: str, value: object, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"{what} must be a string, not {type(value).__name__}.")
    if len(value) > limit:
        raise InvalidParameter(f"{what} is {len(value)} characters long; the limit is {limit}.")
    return value


def validate_executions(executions: object) -> list[Any]:
    """Check a batch of `CellExecution`s; the first bad one raises InvalidParameter naming it.

    A source longer than `EXECUTION_SOURCE_MAX` is cut with a visible marker
    (the record is a summary of what ran; the snapshot keeps whole files).
    """
    from .entities import EXECUTION_STATUSES, CellExecution

    if not isinstance(executions, list | tuple):
        raise InvalidParameter("Executions must be a list.")
    if len(executions) > MAX_BATCH_EXECUTIONS:
        raise InvalidParameter(
            f"A batch holds at most {MAX_BATCH_EXECUTIONS} executions, not {len(executions)}."
        )
    checked = []
    for i, e in enumerate(executions):
        where = f"Execution {i}"
        if not isinstance(e, CellExecution):
            raise InvalidParameter(f"{where} is a {type(e).__name__}, not a CellExecution.")
        if not isinstance(e.source, str):
            raise InvalidParameter(f"{where}: source must be a string.")
        source = e.source
        if len(source) > EXECUTION_SOURCE_MAX:
            keep = EXECUTION_SOURCE_MAX - 80  # room for the marker: cutting again changes nothing
            source = source[:keep] + f"\n# ... ({len(source) - keep} more characters not recorded)\n"
        if e.status not in EXECUTION_STATUSES:
            raise InvalidParameter(
                f"{where}: status {e.status!r} is not one of {', '.join(EXECUTION_STATUSES)}."
            )
        for name in ("start_time", "duration_ms"):
            value = getattr(e, name)
            if type(value) is not int or value < 0:
                raise InvalidParameter(f"{where}: {name} must be a non-negative integer (ms).")
        if not TS_MIN <= e.start_time < TS_MAX:
            raise InvalidParameter(f"{where}: start_time {e.start_time} is not milliseconds since 1970.")
        count = e.execution_count
        if count is not None and (type(count) is not int or not 0 <= count < 2**31):
            raise InvalidParameter(f"{where}: execution_count must be a non-negative integer.")
        checked.append(
            CellExecution(
                source=source,
                start_time=e.start_time,
                duration_ms=e.duration_ms,
                status=e.status,
                run_id=_optional_text(f"{where}: run_id", e.run_id, 32),
                notebook_path=_optional_text(f"{where}: notebook_path", e.notebook_path, 4096),
                cell_id=_optional_text(f"{where}: cell_id", e.cell_id, 256),
                execution_count=count,
                kernel_id=_optional_text(f"{where}: kernel_id", e.kernel_id, 64),
                error=(e.error[:EXECUTION_ERROR_MAX] if isinstance(e.error, str) else None),
            )
        )
    return checked


def validate_owner(host: object, pid: object, kernel_id: object) -> tuple[str | None, int | None, str | None]:
    """Check the owner fields of a run (host name, process id, Jupyter kernel id)."""
    host = _optional_text("Run host", host, 256)
    if pid is not None and (type(pid) is not int or not 0 < pid < 2**31):
        raise InvalidParameter(f"Run pid must be a positive integer, not {pid!r}.")
    kernel_id = _optional_text("Run kernel_id", kernel_id, 64)
    return host, pid, kernel_id


# ----- model registry and endpoints (issue 8) --------------------------------------------------
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ALIAS_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
ENDPOINT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MODEL_FLAVORS = ("sklearn", "onnx", "python", "pickle")


def validate_model_name(name: Any) -> str:
    if not isinstance(name, str) or not MODEL_NAME.match(name) or name.endswith("."):
        raise InvalidParameter(
            f"model name {name!r} is not valid: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def validate_alias(alias: Any) -> str:
    if not isinstance(alias, str) or not ALIAS_NAME.match(alias):
        raise InvalidParameter(
            f"alias {alias!r} is not valid: 1-64 lowercase letters, digits, '_' or '-', starting with a letter"
        )
    return alias


def validate_endpoint_name(name: Any) -> str:
    if not isinstance(name, str) or not ENDPOINT_NAME.match(name):
        raise InvalidParameter(
            f"endpoint name {name!r} is not valid: 1-63 lowercase letters, digits and '-', starting with a letter or digit"
        )
    return name


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


def validate_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidParameter(f"a model version is a whole number from 1, not {version!r}")
    return version


def parse_model_ref(ref: Any) -> tuple[str, int | None, str | None]:
    """'name' -> (name, None, None) (latest); 'name:3' -> (name, 3, None); 'name@prod' -> (name, None, 'prod')."""
    if not isinstance(ref, str) or not ref:
        raise InvalidParameter(f"a model reference is 'name', 'name:version' or 'name@alias', not {ref!r}")
    if "@" in ref:
        name, _, alias = ref.partition("@")
        return validate_model_name(name), None, validate_alias(alias)
    if ":" in ref:
        name, _, number = ref.partition(":")
        if not number.isdigit():
            raise InvalidParameter(f"model reference {ref!r}: the version after ':' must be a number")
        return validate_model_name(name), validate_version(int(number)), None
    return validate_model_name(ref), None, None
