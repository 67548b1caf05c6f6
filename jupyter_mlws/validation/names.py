"""The grammar of names, keys and references: what a user may call a thing.

Who calls it: every store before it writes (`store/sql/*`, `store/rest.py`), the metric logger at
`log_metric` time (through `validate_key` and its cache), the model registry and endpoint code in
`client/`, `server/` and `serving/`, and `compute.spec` for compute instance names. The rules for
experiment and run names and for keys are listed in the package docstring.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from ..errors import InvalidParameter

NAME_MAX = 256
KEY_MAX = 250
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


#: A compute instance name; the instance's kernelspec folder is `mlws-<name>` (`compute.spec`).
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")


# ----- model registry and endpoints (issue 8) --------------------------------------------------
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
ALIAS_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}\Z")
ENDPOINT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}\Z")
MODEL_FLAVORS = ("sklearn", "onnx", "python", "pickle", "mlflow")


def validate_model_name(name: Any) -> str:
    if not isinstance(name, str) or not MODEL_NAME.match(name) or name.endswith("."):
        raise InvalidParameter(
            f"model name {name!r} is not valid: 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def validate_data_name(name: Any) -> str:
    """A data asset's name: the rules of a model's name (`validate_model_name`)."""
    if not isinstance(name, str) or not MODEL_NAME.match(name) or name.endswith("."):
        raise InvalidParameter(
            f"data asset name {name!r} is not valid: 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
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
