"""MLflow's experiment search grammar: `name`, `tags.<key>`, `creation_time`, `last_update_time`.

`search_experiments(filter_string=...)` sends clauses joined by AND, each `<field> <op> <value>`
with `=`, `!=`, `LIKE`, `ILIKE` for text (`%` and `_` wildcards) and `=`, `!=`, `<`, `<=`, `>`, `>=`
for the two times (milliseconds). The fields may carry MLflow's `attribute.`/`attributes.` prefix
and backquotes. Experiments are few, so the filter is a predicate over the listed experiments; a
clause it cannot read is INVALID_PARAMETER_VALUE naming it. Order: MLflow's default
(`last_update_time DESC`, then id), or the `order_by` items given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...entities import Experiment
from .base import invalid

_CLAUSE = re.compile(
    r"""\s*(?:(?:attributes?)\.)?(?P<field>`[^`]+`|tags\.`[^`]+`|tags\.[\w.\-]+|"[^"]+"|\w+)\s*
    (?P<op>!=|>=|<=|=|<|>|\bNOT\s+ILIKE\b|\bNOT\s+LIKE\b|\bILIKE\b|\bLIKE\b)\s*
    (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+)\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_TIMES = {"creation_time": "created_time", "last_update_time": "last_update_time"}


def experiment_matcher(text: str | None) -> Callable[[Experiment], bool]:
    """A predicate for MLflow's experiment filter (everything matches an empty one)."""
    if not text or not text.strip():
        return lambda _: True
    tests = [_clause(part) for part in _split(text)]
    return lambda experiment: all(test(experiment) for test in tests)


def experiment_sorter(order_by: Any) -> Callable[[Experiment], Any]:
    """A sort key for MLflow's experiment `order_by` list."""
    items = [order_by] if isinstance(order_by, str) else list(order_by or [])
    keys: list[tuple[str, bool]] = []
    for item in items:
        words = str(item).split()
        if not words or len(words) > 2:
            raise invalid(f"Invalid order_by clause {str(item)[:80]!r}.")
        field = words[0].removeprefix("attributes.").removeprefix("attribute.").strip("`")
        if field not in ("name", "experiment_id", "creation_time", "last_update_time"):
            raise invalid(
                f"Invalid order_by field {field!r}: use name, experiment_id, creation_time or "
                "last_update_time."
            )
        descending = len(words) == 2 and words[1].upper() == "DESC"
        if len(words) == 2 and words[1].upper() not in ("ASC", "DESC"):
            raise invalid(f"Invalid order_by direction {words[1]!r}: use ASC or DESC.")
        keys.append((field, descending))
    if not keys:
        keys = [("last_update_time", True)]
    keys.append(("experiment_id", False))

    def key(experiment: Experiment) -> tuple[Any, ...]:
        parts: list[Any] = []
        for field, descending in keys:
            value = _value(experiment, field)
            if isinstance(value, str):
                parts.append(_Reversed(value) if descending else value)
            else:
                parts.append(-value if descending else value)
        return tuple(parts)

    return key


class _Reversed:
    """A string that sorts backwards (for DESC on text)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __lt__(self, other: _Reversed) -> bool:
        return self.text > other.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.text == other.text


def _value(experiment: Experiment, field: str) -> Any:
    if field == "name":
        return experiment.name
    if field == "experiment_id":
        return experiment.experiment_id
    return getattr(experiment, _TIMES[field])


def _split(text: str) -> list[str]:
    """Split on AND outside quotes."""
    parts: list[str] = []
    current: list[str] = []
    for piece in re.split(r"('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", text):
        if piece.startswith(("'", '"')):
            current.append(piece)
            continue
        chunks = _AND.split(piece)
        current.append(chunks[0])
        for chunk in chunks[1:]:
            parts.append("".join(current))
            current = [chunk]
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def _clause(text: str) -> Callable[[Experiment], bool]:
    found = _CLAUSE.fullmatch(text)
    if found is None:
        raise invalid(
            f"Invalid experiment filter clause {text.strip()[:100]!r}: use e.g. \"name = 'x'\", "
            '"name LIKE \'%x%\'", "tags.team = \'risk\'" or "creation_time > 1700000000000".'
        )
    field = found["field"].strip('`"')
    op = " ".join(found["op"].upper().split())
    raw = found["value"]
    if field in _TIMES:
        if raw[0] in "'\"" or op in ("LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"):
            raise invalid(f"{field} compares with a number of milliseconds, not {raw[:40]}.")
        number = int(raw)
        return lambda e: _compare(getattr(e, _TIMES[field]), op, number)
    if raw[0] not in "'\"":
        raise invalid(f"{field} compares with a quoted string, not {raw[:40]}.")
    value = raw[1:-1]
    if field.startswith("tags."):
        key = field[5:].strip("`")
        return lambda e: key in (getattr(e, "tags", {}) or {}) and _text(e.tags[key], op, value)
    if field != "name":
        raise invalid(
            f"Invalid experiment filter field {field!r}: use name, tags.<key>, creation_time or "
            "last_update_time."
        )
    if op in ("<", "<=", ">", ">="):
        raise invalid(f"name compares with =, !=, LIKE or ILIKE, not {op}.")
    return lambda e: _text(e.name, op, value)


def _compare(left: int, op: str, right: int) -> bool:
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }.get(op, False)


def _text(left: str, op: str, right: str) -> bool:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    pattern = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in right)
    flags = re.IGNORECASE | re.DOTALL if "ILIKE" in op else re.DOTALL
    matched = re.fullmatch(pattern, left, flags) is not None
    return not matched if op.startswith("NOT") else matched
