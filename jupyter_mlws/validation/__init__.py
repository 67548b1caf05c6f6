"""Validation of names, keys and values: the documented limits (RELIABILITY P8-P10).

Called by every store before it writes (so the REST store and the SQL store
refuse the same input) and by the metric logger at `log_metric` time (so a bad
point fails in the user's cell, not later in a background thread).

Where each rule lives: `names` (names, keys, compute instance, model, alias and
endpoint names, model references), `values` (param, tag and metric values, steps,
timestamps, batch limits, endpoint timeouts), `runs` (experiment ids, artifact
locations, run owners, recorded cell executions). Callers import from here,
`jupyter_mlws.validation`; the modules are how the rules are kept, not an API.

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

from .names import (
    ALIAS_NAME,
    ENDPOINT_NAME,
    KEY_MAX,
    MODEL_FLAVORS,
    MODEL_NAME,
    NAME_MAX,
    NAME_PATTERN,
    _key_cache,
    parse_model_ref,
    validate_alias,
    validate_data_name,
    validate_endpoint_name,
    validate_key,
    validate_model_name,
    validate_name,
    validate_version,
)
from .runs import (
    EXECUTION_ERROR_MAX,
    EXECUTION_SOURCE_MAX,
    MAX_BATCH_EXECUTIONS,
    validate_artifact_location,
    validate_executions,
    validate_experiment_id,
    validate_owner,
)
from .values import (
    KIND_NAN,
    KIND_NEG_ZERO,
    KIND_NUMBER,
    MAX_BATCH_METRICS,
    MAX_BATCH_PARAMS,
    MAX_BATCH_TAGS,
    MAX_TIMEOUT_SECONDS,
    MIN_TIMEOUT_SECONDS,
    PARAM_VALUE_MAX,
    STEP_MAX,
    TAG_VALUE_MAX,
    TS_MAX,
    TS_MIN,
    check_batch_size,
    decode_value,
    encode_value,
    validate_metric_value,
    validate_param_value,
    validate_step,
    validate_tag_value,
    validate_timeout_seconds,
    validate_timestamp,
)

#: `_key_cache` is shared on purpose: the metric logger and the SQL store read it on their hot paths.
__all__ = [
    "ALIAS_NAME",
    "ENDPOINT_NAME",
    "EXECUTION_ERROR_MAX",
    "EXECUTION_SOURCE_MAX",
    "KEY_MAX",
    "KIND_NAN",
    "KIND_NEG_ZERO",
    "KIND_NUMBER",
    "MAX_BATCH_EXECUTIONS",
    "MAX_BATCH_METRICS",
    "MAX_BATCH_PARAMS",
    "MAX_BATCH_TAGS",
    "MAX_TIMEOUT_SECONDS",
    "MIN_TIMEOUT_SECONDS",
    "MODEL_FLAVORS",
    "MODEL_NAME",
    "NAME_MAX",
    "NAME_PATTERN",
    "PARAM_VALUE_MAX",
    "STEP_MAX",
    "TAG_VALUE_MAX",
    "TS_MAX",
    "TS_MIN",
    "_key_cache",
    "check_batch_size",
    "decode_value",
    "encode_value",
    "parse_model_ref",
    "validate_alias",
    "validate_artifact_location",
    "validate_data_name",
    "validate_endpoint_name",
    "validate_executions",
    "validate_experiment_id",
    "validate_key",
    "validate_metric_value",
    "validate_model_name",
    "validate_name",
    "validate_owner",
    "validate_param_value",
    "validate_step",
    "validate_tag_value",
    "validate_timeout_seconds",
    "validate_timestamp",
    "validate_version",
]
