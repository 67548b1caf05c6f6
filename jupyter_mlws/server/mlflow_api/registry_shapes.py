"""Our registry's models and versions in MLflow's shapes, and MLflow's search grammar over them.

Who calls it: `registry.py` (registered models) and `registry_versions.py` (model versions).

What MLflow has and our registry keeps differently (one workspace, two front doors):

- A version's MLflow-only facts are version tags under `mlflow.` (`HIDDEN`): the `source` URI as
  the client sent it, the MLflow 3 `model_id`, and the deprecated `current_stage`. MLflow answers
  them as fields, so they are left out of its tag list; `ws.models` shows them as tags. A version
  without them (registered through `ws.models`) answers `runs:/<run>/<path>` as its source (or its
  local path), no model id, and stage "None"; `ws.models.set_tags`, which replaces a version's
  tags, forgets them too.
- `version` is our number as a string; `status` is always READY (a version exists only once its
  files are stored); `run_id` is the version's lineage (`source_run_id`); a version's
  `last_updated_timestamp` is its creation time (our versions keep no update time).
- `latest_versions` of a model: the newest version of each stage, as MLflow's SQL store answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...entities import ModelVersion, RegisteredModel
from ...errors import NotFound
from ...store.base import MetadataStore
from ...validation import validate_model_name
from . import convert as c
from .base import invalid, missing

SOURCE_TAG = "mlflow.source"
MODEL_ID_TAG = "mlflow.model_id"
STAGE_TAG = "mlflow.current_stage"
HIDDEN = (SOURCE_TAG, MODEL_ID_TAG, STAGE_TAG)
PROMPT_TAG = "mlflow.prompt.is_prompt"
MAX_FILTER_CHARS = 10_000
#: MLflow's stages, canonical spelling by lower case (deprecated in MLflow 3, still recorded).
STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}


# ----- requests --------------------------------------------------------------------------------
def model_name(f: dict[str, Any], field: str = "name") -> str:
    """A model name from the request, checked by our registry's name rule."""
    return validate_model_name(str(c.required(f, field)))


def version_number(f: dict[str, Any]) -> int:
    raw = str(c.required(f, "version")).strip()
    if not raw.isdigit() or not 1 <= int(raw) < 2**31:
        raise invalid(f"Parameter 'version' must be a version number (1, 2, ...), not {raw[:40]!r}.")
    return int(raw)


def get_model(store: MetadataStore, name: str) -> RegisteredModel:
    try:
        return store.get_registered_model(name)
    except NotFound:
        raise missing(f"Registered Model with name={name} not found") from None


def get_version(store: MetadataStore, name: str, version: int) -> ModelVersion:
    get_model(store, name)
    try:
        return store.get_model_version(name, version)
    except NotFound:
        raise missing(f"Model Version (name={name}, version={version}) not found") from None


def stage(raw: Any) -> str:
    """MLflow's canonical stage name; INVALID_PARAMETER_VALUE for another."""
    found = STAGES.get(str(raw or "").strip().lower())
    if found is None:
        raise invalid(f"Invalid Model Version stage: {str(raw)[:40]}. Value must be one of "
                      f"{', '.join(STAGES.values())}.")
    return found


def tag_dict(raw: Any) -> dict[str, str]:
    """MLflow's `tags` field ([{key, value}, ...]) as a dict."""
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise invalid("Parameter 'tags' must be a list of {key, value} objects.")
    return {str(c.required(t, "key")): str(t.get("value") or "") for t in raw}


def string_list(value: Any) -> list[str]:
    """A repeated field: a list from a JSON body, one or more query arguments from a GET."""
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# ----- answers ---------------------------------------------------------------------------------
def current_stage(version: ModelVersion) -> str:
    return version.tags.get(STAGE_TAG) or "None"


def source_of(version: ModelVersion) -> str:
    given = version.tags.get(SOURCE_TAG)
    if given:
        return given
    if version.source_run_id and version.source_path:
        return f"runs:/{version.source_run_id}/{version.source_path}"
    return version.source_path or ""


def version_json(version: ModelVersion) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": version.created_time,
        "last_updated_timestamp": version.created_time,
        "current_stage": current_stage(version),
        "description": version.description,
        "source": source_of(version),
        "run_id": version.source_run_id or "",
        "status": "READY",
        "tags": c.pairs({k: v for k, v in version.tags.items() if k not in HIDDEN}),
        "aliases": list(version.aliases),
    }
    if version.tags.get(MODEL_ID_TAG):
        answer["model_id"] = version.tags[MODEL_ID_TAG]
    return answer


def latest_versions(versions: Iterable[ModelVersion], stages: Iterable[str] = ()) -> list[ModelVersion]:
    """The newest version of each stage (of the `stages` asked, all when none), in stage order."""
    wanted = [stage(s) for s in stages] or list(STAGES.values())
    newest: dict[str, ModelVersion] = {}
    for version in versions:
        found = current_stage(version)
        if found in wanted and (found not in newest or newest[found].version < version.version):
            newest[found] = version
    return [newest[s] for s in STAGES.values() if s in newest]


def model_json(store: MetadataStore, model: RegisteredModel) -> dict[str, Any]:
    versions = store.list_model_versions(model.name) if model.latest_version is not None else []
    return {
        "name": model.name,
        "creation_timestamp": model.created_time,
        "last_updated_timestamp": model.updated_time,
        "description": model.description,
        "latest_versions": [version_json(v) for v in latest_versions(versions)],
        "tags": c.pairs(model.tags),
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
    }


# ----- search ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clause:
    """One `key op value` of a filter: `tag` says whether `key` names a tag or an attribute."""

    tag: bool
    key: str
    op: str
    value: Any


_KEY = r"(?P<key>(?:tags?\.)?(?:`[^`]+`|\"[^\"]+\"|[\w.]+))"
_OP = r"(?P<op>!=|<>|>=|<=|==|=|<|>|NOT\s+ILIKE|NOT\s+LIKE|ILIKE|LIKE|NOT\s+IN|IN)"
_VALUE = r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\([^)]*\)|[-\w.]+)"
_CLAUSE = re.compile(rf"\s*{_KEY}\s*{_OP}\s*{_VALUE}\s*", re.IGNORECASE)
_AND = re.compile(r"AND\s+", re.IGNORECASE)
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


def parse_filter(text: str | None, attributes: Iterable[str], numeric: Iterable[str] = ()) -> list[Clause]:
    """MLflow's registry filter: clauses joined by AND, on `attributes` and `tags.<key>`."""
    if not text or not text.strip():
        return []
    if len(text) > MAX_FILTER_CHARS:
        raise invalid(f"The filter is {len(text)} characters long; the limit is {MAX_FILTER_CHARS}.")
    allowed, numbers = set(attributes), set(numeric)
    clauses, pos = [], 0
    while True:
        found = _CLAUSE.match(text, pos)
        if found is None:
            raise invalid(f"Invalid filter {text[:200]!r}: expected clauses such as name = 'x', "
                          "name LIKE '%x%' or tags.key = 'value', joined by AND.")
        clauses.append(_clause(found, allowed, numbers))
        pos = found.end()
        if pos >= len(text):
            return clauses
        joined = _AND.match(text, pos)
        if joined is None:
            raise invalid(f"Invalid filter {text[:200]!r}: clauses are joined by AND.")
        pos = joined.end()


def _clause(found: re.Match[str], allowed: set[str], numbers: set[str]) -> Clause:
    raw_key, op, raw = found["key"], re.sub(r"\s+", " ", found["op"].upper()), found["value"]
    tag = bool(re.match(r"tags?\.", raw_key, re.IGNORECASE))
    key = raw_key.split(".", 1)[1] if tag else raw_key
    key = key[1:-1] if key[:1] in "`\"" else key
    if not tag and key.removeprefix("attributes.") not in allowed:
        raise invalid(f"Invalid attribute key '{key[:60]}' specified. Valid keys are {sorted(allowed)} "
                      "and tags.<key>.")
    key = key if tag else key.removeprefix("attributes.")
    op = {"==": "=", "<>": "!="}.get(op, op)
    if not tag and key in numbers:
        if op not in ("=", "!=", "<", ">", "<=", ">=") or not re.fullmatch(r"-?\d+", raw.strip("'\"")):
            raise invalid(f"Invalid filter on {key}: compare it with a whole number "
                          "(=, !=, <, >, <=, >=).")
        return Clause(False, key, op, int(raw.strip("'\"")))
    if op in ("<", ">", "<=", ">="):
        raise invalid(f"Invalid comparator '{op}' for {key[:60]}: use =, !=, LIKE, ILIKE or IN.")
    if op in ("IN", "NOT IN"):
        if tag or not raw.startswith("("):
            raise invalid(f"Invalid filter on {key[:60]}: IN takes a list of quoted strings, "
                          "on an attribute.")
        values = [_unquote(m) for m in _QUOTED.finditer(raw)]
        return Clause(False, key, op, values)
    if raw[:1] not in "'\"":
        raise invalid(f"Invalid filter on {key[:60]}: the value must be a quoted string, not {raw[:40]}.")
    return Clause(tag, key, op, _unquote(_QUOTED.fullmatch(raw)))  # type: ignore[arg-type]


def _unquote(found: re.Match[str]) -> str:
    text = found.group(1) if found.group(1) is not None else found.group(2)
    return re.sub(r"\\(.)", r"\1", text)


def _like(pattern: str, flags: int = 0) -> re.Pattern[str]:
    parts = ("." if ch == "_" else ".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), flags | re.DOTALL)


def matches(clauses: list[Clause], attributes: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
    """Whether one model or version satisfies every clause (a missing tag satisfies none).

    MLflow's client adds ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every model search (to
    leave out prompts): that tag, when missing, reads as "false", as MLflow's server treats it."""
    for clause in clauses:
        have: Any = attributes.get(clause.key)
        if clause.tag:
            have = tags.get(clause.key, "false" if clause.key == PROMPT_TAG else None)
            if have is None:
                return False
        if not _compare(have, clause.op, clause.value):
            return False
    return True


def _compare(have: Any, op: str, want: Any) -> bool:
    if op == "=":
        return bool(have == want)
    if op == "!=":
        return bool(have != want)
    if op in ("<", ">", "<=", ">="):
        return bool({"<": have < want, ">": have > want, "<=": have <= want, ">=": have >= want}[op])
    if op in ("IN", "NOT IN"):
        return (have in want) == (op == "IN")
    flags = re.IGNORECASE if "ILIKE" in op else 0
    found = _like(str(want), flags).fullmatch(str(have or "")) is not None
    return found != op.startswith("NOT")


def sort(items: list[Any], order_by: Any, keys: Mapping[str, Callable[[Any], Any]],
         natural: list[tuple[str, bool]]) -> list[Any]:
    """`items` ordered by MLflow's `order_by` ("key [ASC|DESC]", keys in `keys`), then `natural`."""
    wanted: list[tuple[str, bool]] = []
    for item in string_list(order_by):
        parts = item.strip().split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].upper() not in ("ASC", "DESC")):
            raise invalid(f"Invalid order_by clause {item[:80]!r}: use '<key> [ASC|DESC]'.")
        key = parts[0].removeprefix("attributes.").strip("`")
        key = "last_updated_timestamp" if key == "timestamp" else key
        if key not in keys:
            raise invalid(f"Invalid order by key '{key[:60]}' specified. Valid keys are {sorted(keys)}.")
        if any(k == key for k, _ in wanted):
            raise invalid(f"`order_by` contains duplicate fields: {string_list(order_by)}")
        wanted.append((key, len(parts) == 1 or parts[1].upper() == "ASC"))
    wanted += [(k, up) for k, up in natural if all(k != w for w, _ in wanted)]
    for key, ascending in reversed(wanted):
        items = sorted(items, key=keys[key], reverse=not ascending)
    return items


def page(items: list[Any], f: dict[str, Any], default: int, most: int) -> tuple[list[Any], str | None]:
    """One page of `items` by MLflow's max_results and page_token, and the next page's token."""
    from .tracking import _offset, _token

    limit = c.to_int(f.get("max_results"), "max_results", default)
    if not 1 <= limit <= most:
        raise invalid(f"Invalid value {limit} for parameter 'max_results' supplied: use 1 to {most}.")
    start = _offset(c.text(f, "page_token"))
    return items[start : start + limit], _token(start + limit) if start + limit < len(items) else None
