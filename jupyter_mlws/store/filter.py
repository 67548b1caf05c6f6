"""The run filter and order-by grammar, parsed into a small tree (no SQL here).

Used by every store: the SQL store compiles the tree into SQLAlchemy
expressions with bound parameters (user text never becomes SQL text), the
REST store sends the string and the server parses it with this same module.

Grammar (keywords are case-insensitive)::

    filter     := or
    or         := and ("or" and)*
    and        := unary ("and" unary)*
    unary      := "not" unary | "(" or ")" | comparison
    comparison := field op literal
                | field ["not"] "in" "(" literal ("," literal)* ")"
                | field "is" ["not"] "null"
    field      := ("metrics" | "params" | "tags") "." key | attribute
    key        := bare-key | `any key` | "any key"
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "like" | "ilike"
    literal    := number | 'text' | "text"

Attributes: run_id, name, status, experiment (its name), experiment_id,
user, source_kind, compute_target, notebook_path, cell_id, parent_run_id,
start_time, end_time, heartbeat_time (milliseconds, or an ISO date in quotes).
Metrics compare with numbers (their latest value; NaN matches nothing),
params and tags with quoted text. An error names the position:
`InvalidParameter("Bad filter at position 17: ...")`.

Order by: a list of `field [asc|desc]`, e.g. `["metrics.loss asc", "start_time desc"]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Union

from ..errors import InvalidParameter

ATTRIBUTES = {
    "run_id": "str",
    "name": "str",
    "status": "str",
    "experiment": "str",
    "experiment_id": "num",
    "user": "str",
    "source_kind": "str",
    "compute_target": "str",
    "notebook_path": "str",
    "cell_id": "str",
    "parent_run_id": "str",
    "start_time": "time",
    "end_time": "time",
    "heartbeat_time": "time",
}
_PREFIXES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
}
_OPS = {"=", "==", "!=", "<>", "<", "<=", ">", ">=", "like", "ilike"}
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)(?![\w.]))
      | (?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
      | (?P<tick>`[^`]*`)
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<punct>[(),.])
      | (?P<word>[^\s()'"`,.=<>!]+(?:\.[^\s()'"`,.=<>!]+)*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Comparison:
    """`field op value`; `kind` is metric/param/tag/attribute; values is a tuple for IN."""

    kind: str
    key: str
    op: str
    value: float | str | tuple[float | str, ...] | None
    position: int


@dataclass(frozen=True)
class BoolOp:
    """`and` / `or` of two or more parts."""

    op: str
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """`not part`."""

    part: Node


Node = Union[Comparison, BoolOp, Not]  # noqa: UP007 - a runtime alias, also for Python 3.10


@dataclass(frozen=True)
class OrderKey:
    """One `order_by` entry."""

    kind: str
    key: str
    descending: bool


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _fail(source: str, pos: int, why: str) -> InvalidParameter:
    return InvalidParameter(f"Bad filter at position {pos}: {why}\n  {source}\n  {' ' * pos}^")


def _tokenize(source: str) -> list[_Tok]:
    tokens, pos = [], 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None or m.end() == pos:
            raise _fail(source, pos, f"unexpected character {source[pos]!r}.")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    tokens.append(_Tok("end", "", len(source)))
    return tokens


def _unquote(text: str) -> str:
    quote, body = text[0], text[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.lower() in words

    def take(self) -> _Tok:
        tok = self.tok
        self.i += 1
        return tok

    def expect(self, kind: str, text: str, why: str) -> None:
        if self.tok.kind != kind or self.tok.text != text:
            raise _fail(self.source, self.tok.pos, why)
        self.i += 1

    def parse_filter(self) -> Node:
        node = self.parse_or()
        if self.tok.kind != "end":
            raise _fail(
                self.source, self.tok.pos, f"expected 'and', 'or' or the end, found {self.tok.text!r}."
            )
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.word("or"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_unary()]
        while self.word("and"):
            self.take()
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def parse_unary(self) -> Node:
        if self.word("not"):
            self.take()
            return Not(self.parse_unary())
        if self.tok.kind == "punct" and self.tok.text == "(":
            self.take()
            node = self.parse_or()
            self.expect("punct", ")", "expected ')'.")
            return node
        return self.parse_comparison()

    def parse_field(self) -> tuple[str, str, int]:
        tok = self.tok
        if tok.kind != "word":
            raise _fail(
                self.source, tok.pos, f"expected a field such as metrics.acc or status, found {tok.text!r}."
            )
        self.take()
        head, dot, rest = tok.text.partition(".")
        kind = _PREFIXES.get(head.lower())
        if kind is None:
            if dot or head.lower() not in ATTRIBUTES:
                raise _fail(
                    self.source,
                    tok.pos,
                    f"unknown field {tok.text!r}; use metrics.<key>, params.<key>, "
                    f"tags.<key> or one of {', '.join(sorted(ATTRIBUTES))}.",
                )
            return "attribute", head.lower(), tok.pos
        key = rest
        if not dot:
            if not (self.tok.kind == "punct" and self.tok.text == "."):
                raise _fail(self.source, self.tok.pos, f"expected '.' and a key after {head!r}.")
            self.take()
            quoted = self.take()
            if quoted.kind == "tick":
                key = quoted.text[1:-1]
            elif quoted.kind == "str" and quoted.text[0] == '"':
                key = _unquote(quoted.text)
            elif quoted.kind == "word":
                key = quoted.text
            else:
                raise _fail(self.source, quoted.pos, "expected a key (write `odd key` in backticks).")
        if not key:
            raise _fail(self.source, tok.pos, "empty key.")
        if kind == "attribute":
            if key.lower() not in ATTRIBUTES:
                raise _fail(self.source, tok.pos, f"unknown attribute {key!r}.")
            key = key.lower()
        return kind, key, tok.pos

    def parse_literal(self, kind: str, key: str) -> float | str:
        tok = self.take()
        if tok.kind == "num":
            value: float | str = float(tok.text)
        elif tok.kind == "str":
            value = _unquote(tok.text)
        else:
            raise _fail(self.source, tok.pos, f"expected a number or a quoted text, found {tok.text!r}.")
        return _check_literal(self.source, tok.pos, kind, key, value)

    def parse_comparison(self) -> Comparison:
        kind, key, pos = self.parse_field()
        if self.word("is"):
            self.take()
            op = "is not null" if self.word("not") else "is null"
            if op == "is not null":
                self.take()
            if not self.word("null"):
                raise _fail(self.source, self.tok.pos, "expected 'null'.")
            self.take()
            return Comparison(kind, key, op, None, pos)
        negate = False
        if self.word("not"):
            self.take()
            negate = True
            if not self.word("in"):
                raise _fail(self.source, self.tok.pos, "expected 'in' after 'not'.")
        if self.word("in"):
            self.take()
            self.expect("punct", "(", "expected '(' after 'in'.")
            values = [self.parse_literal(kind, key)]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.take()
                values.append(self.parse_literal(kind, key))
            self.expect("punct", ")", "expected ',' or ')'.")
            return Comparison(kind, key, "not in" if negate else "in", tuple(values), pos)
        tok = self.take()
        op = tok.text.lower()
        if (tok.kind != "op" and not (tok.kind == "word" and op in ("like", "ilike"))) or op not in _OPS:
            raise _fail(
                self.source,
                tok.pos,
                f"expected a comparison (= != < <= > >= like ilike in), found {tok.text!r}.",
            )
        op = {"==": "=", "<>": "!="}.get(op, op)
        value = self.parse_literal(kind, key)
        if op in ("like", "ilike") and not isinstance(value, str):
            raise _fail(self.source, tok.pos, f"{op} needs a quoted pattern.")
        return Comparison(kind, key, op, value, pos)


def _check_literal(source: str, pos: int, kind: str, key: str, value: float | str) -> float | str:
    if kind == "metric" and not isinstance(value, float):
        raise _fail(source, pos, f"metrics.{key} compares with a number, not a text.")
    if kind in ("param", "tag") and not isinstance(value, str):
        raise _fail(source, pos, f"{kind}s are text: quote the value, e.g. {kind}s.{key} = '{value:g}'.")
    if kind == "attribute":
        sort = ATTRIBUTES[key]
        if sort == "time":
            return _time_ms(source, pos, value)
        if sort == "num" and not isinstance(value, float):
            raise _fail(source, pos, f"{key} compares with a number.")
        if sort == "str" and not isinstance(value, str):
            raise _fail(source, pos, f"{key} compares with a quoted text.")
        if key == "status":
            from ..entities import RunStatus

            try:
                value = RunStatus.parse(str(value)).value
            except InvalidParameter as err:
                raise _fail(source, pos, err.message) from None
    return value


def _time_ms(source: str, pos: int, value: float | str) -> float:
    if isinstance(value, float):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(source, pos, f"{value!r} is not a time: use milliseconds or an ISO date.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return float(int(moment.timestamp() * 1000))


def parse_filter(source: str | None) -> Node | None:
    """The tree of a filter string; None for an empty filter; InvalidParameter with a position."""
    if source is None or not source.strip():
        return None
    if len(source) > 10_000:
        raise InvalidParameter("A filter is limited to 10,000 characters.")
    return _Parser(source).parse_filter()


def parse_order_by(entries: list[str] | tuple[str, ...] | None) -> list[OrderKey]:
    """`["metrics.loss asc", "start_time desc"]` -> OrderKeys; InvalidParameter on a bad entry."""
    keys = []
    for entry in entries or ():
        parser = _Parser(entry)
        kind, key, _ = parser.parse_field()
        descending = False
        if parser.word("asc", "desc"):
            descending = parser.take().text.lower() == "desc"
        if parser.tok.kind != "end":
            raise _fail(entry, parser.tok.pos, "expected 'asc', 'desc' or the end of the order_by entry.")
        keys.append(OrderKey(kind, key, descending))
    return keys
