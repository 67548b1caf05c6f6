"""A sweep's search space: the distributions Azure ML users write, sampled by Optuna.

`search_space={"lr": loguniform(1e-4, 1e-1), "n_estimators": choice(10, 100), "depth": randint(2, 10),
"dropout": uniform(0, 0.5)}`. Each expression is checked when it is written (an empty choice, low
above high, a non-positive log bound: `InvalidParameter` naming it), and `suggest(trial, space)`
asks an Optuna trial for one value of each, so Optuna's samplers (random, TPE, grid, ...) do the
sampling; nothing here draws a random number.

Decisions where the usual tools differ:
- `loguniform(low, high)` and `qloguniform(low, high, q)` take the bounds of the VALUE, as Optuna,
  Ray Tune and W&B's `log_uniform_values` do, so `loguniform(1e-4, 1e-1)` is a learning rate between
  1e-4 and 0.1. (Azure ML's v1 `loguniform(min, max)` took exponents; a user porting that code
  writes `loguniform(math.exp(min), math.exp(max))`.)
- `randint(low, high)` is low inclusive, high exclusive, as numpy and Ray Tune; `randint(upper)` is
  Azure ML's form, 0 to upper - 1.
- `normal(mu, sigma)` and `lognormal(mu, sigma)` (the log of the value is normal) have no Optuna
  distribution: Optuna samples the value's quantile in (0, 1) (the parameter `<name>` of the study
  holds the quantile) and the quantile function of the normal distribution (Python's
  `statistics.NormalDist`) turns it into the value; TPE then models the quantile, which keeps its
  ordering. The value is what the trial gets and what its run records.
- `quniform(low, high, q)` gives multiples of q within [low, high] (Optuna's stepped float over the
  multiples of q in range; at least one must exist), `qloguniform` the log-uniform value rounded to a
  multiple of q. So the Optuna study's own params are what Optuna drew (a normal's quantile, the
  unrounded qloguniform value); what `suggest` returns — the trial's values, and its run's params —
  are the values.
- Grid sampling takes only spaces whose every value can be listed: `choice`, `randint` and
  `quniform`; a continuous one is refused before anything starts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from ..errors import InvalidParameter

#: A quantile this close to 0 or 1 is as far as a normal value goes (about ±6 sigma).
_EDGE = 1e-9
#: The most values a grid may have, over all its parameters.
MAX_GRID = 100_000


def _number(what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidParameter(f"{what} must be a finite number, not {value!r}.")
    return float(value)


class Distribution:
    """One parameter's distribution (the functions below make them)."""

    kind = ""
    listable = False

    def draw(self, trial: Any, name: str) -> Any:
        """The parameter's value, drawn through an Optuna trial's public `suggest_*` calls."""
        raise NotImplementedError

    def grid(self) -> list[Any]:
        raise InvalidParameter(
            f"grid sampling needs values it can list; {self!r} is continuous "
            "(use choice, randint or quniform)."
        )


@dataclass(frozen=True, repr=False)
class Choice(Distribution):
    values: tuple[Any, ...]
    kind = "choice"
    listable = True

    def __repr__(self) -> str:
        return f"choice({', '.join(map(repr, self.values))})"

    def draw(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, self.values)

    def grid(self) -> list[Any]:
        return list(self.values)


@dataclass(frozen=True, repr=False)
class RandInt(Distribution):
    low: int
    high: int  # exclusive
    kind = "randint"
    listable = True

    def __repr__(self) -> str:
        return f"randint({self.low}, {self.high})"

    def draw(self, trial: Any, name: str) -> Any:
        return trial.suggest_int(name, self.low, self.high - 1)

    def grid(self) -> list[Any]:
        return list(range(self.low, self.high))


@dataclass(frozen=True, repr=False)
class Uniform(Distribution):
    low: float
    high: float
    log: bool = False
    q: float | None = None
    kind = "uniform"

    def __repr__(self) -> str:
        name = ("q" if self.q else "") + ("loguniform" if self.log else "uniform")
        return f"{name}({self.low!r}, {self.high!r}{f', {self.q!r}' if self.q else ''})"

    @property
    def listable(self) -> bool:  # type: ignore[override]
        return self.q is not None and not self.log

    def draw(self, trial: Any, name: str) -> Any:
        if self.q is not None and not self.log:
            first, last = _multiples(self.low, self.high, self.q)
            return _round_to(trial.suggest_float(name, first, last, step=self.q), self.q)
        drawn = trial.suggest_float(name, self.low, self.high, log=self.log)
        return _round_to(drawn, self.q) if self.q is not None else drawn

    def grid(self) -> list[Any]:
        if not self.listable:
            return super().grid()
        assert self.q is not None
        first, last = _multiples(self.low, self.high, self.q)
        count = round((last - first) / self.q) + 1
        return [_round_to(first + i * self.q, self.q) for i in range(count)]


@dataclass(frozen=True, repr=False)
class Normal(Distribution):
    mu: float
    sigma: float
    log: bool = False
    kind = "normal"

    def __repr__(self) -> str:
        return f"{'lognormal' if self.log else 'normal'}({self.mu!r}, {self.sigma!r})"

    def draw(self, trial: Any, name: str) -> Any:
        quantile = trial.suggest_float(name, _EDGE, 1 - _EDGE)
        x = NormalDist(self.mu, self.sigma).inv_cdf(min(max(quantile, _EDGE), 1 - _EDGE))
        return math.exp(x) if self.log else x


def _multiples(low: float, high: float, q: float) -> tuple[float, float]:
    first, last = math.ceil(low / q - 1e-9) * q, math.floor(high / q + 1e-9) * q
    if first > last + 1e-12:
        raise InvalidParameter(f"no multiple of q={q!r} lies between {low!r} and {high!r}.")
    return _round_to(first, q), _round_to(last, q)


def _round_to(x: float, q: float) -> float:
    """x rounded to a multiple of q, without the float noise of `round(x / q) * q` (0.30000000000000004)."""
    digits = max(0, -math.floor(math.log10(q)) + 6) if q < 1 else 6
    return round(round(x / q) * q, digits)


# ----- what users write --------------------------------------------------------------------------
def choice(*values: Any) -> Choice:
    """One of the given values: `choice(10, 100)` or `choice([10, 100])`."""
    if len(values) == 1 and isinstance(values[0], (list, tuple)):
        values = tuple(values[0])
    if not values:
        raise InvalidParameter("choice() needs at least one value.")
    for v in values:
        if v is not None and not isinstance(v, (bool, int, float, str)):
            raise InvalidParameter(f"choice values are numbers, strings, booleans or None, not {v!r}.")
    if len(set(map(repr, values))) != len(values):
        raise InvalidParameter(f"choice values repeat: {values!r}.")
    return Choice(tuple(values))


def randint(low: int, high: int | None = None) -> RandInt:
    """A whole number from `low` up to `high` - 1 (`randint(upper)`: 0 to upper - 1)."""
    if high is None:
        low, high = 0, low
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidParameter(f"randint {name} must be a whole number, not {v!r}.")
    if high <= low:
        raise InvalidParameter(f"randint({low}, {high}) is empty: high is exclusive and must be above low.")
    return RandInt(low, high)


def _bounds(name: str, low: Any, high: Any, log: bool = False) -> tuple[float, float]:
    lo, hi = _number(f"{name} low", low), _number(f"{name} high", high)
    if lo >= hi:
        raise InvalidParameter(f"{name}({low!r}, {high!r}): low must be below high.")
    if log and lo <= 0:
        raise InvalidParameter(
            f"{name}({low!r}, {high!r}): the bounds are values and must be above 0 "
            "(Azure ML v1's exponents: loguniform(math.exp(min), math.exp(max)))."
        )
    return lo, hi


def _q(name: str, q: Any) -> float:
    step = _number(f"{name} q", q)
    if step <= 0:
        raise InvalidParameter(f"{name} q must be above 0, not {q!r}.")
    return step


def uniform(low: float, high: float) -> Uniform:
    """A real number between low and high."""
    return Uniform(*_bounds("uniform", low, high))


def loguniform(low: float, high: float) -> Uniform:
    """A real number between low and high (both > 0) whose logarithm is uniform."""
    return Uniform(*_bounds("loguniform", low, high, log=True), log=True)


def quniform(low: float, high: float, q: float) -> Uniform:
    """A multiple of q between low and high."""
    lo, hi = _bounds("quniform", low, high)
    dist = Uniform(lo, hi, q=_q("quniform", q))
    _multiples(lo, hi, dist.q or 1.0)
    return dist


def qloguniform(low: float, high: float, q: float) -> Uniform:
    """A log-uniform value between low and high, rounded to a multiple of q."""
    lo, hi = _bounds("qloguniform", low, high, log=True)
    return Uniform(lo, hi, log=True, q=_q("qloguniform", q))


def normal(mu: float, sigma: float) -> Normal:
    """A real number drawn from the normal distribution N(mu, sigma)."""
    if _number("normal sigma", sigma) <= 0:
        raise InvalidParameter(f"normal sigma must be above 0, not {sigma!r}.")
    return Normal(_number("normal mu", mu), float(sigma))


def lognormal(mu: float, sigma: float) -> Normal:
    """exp(x) with x drawn from N(mu, sigma): a positive number whose log is normal."""
    if _number("lognormal sigma", sigma) <= 0:
        raise InvalidParameter(f"lognormal sigma must be above 0, not {sigma!r}.")
    return Normal(_number("lognormal mu", mu), float(sigma), log=True)


FUNCTIONS = {
    f.__name__: f for f in (choice, randint, uniform, loguniform, quniform, qloguniform, normal, lognormal)
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")


# ----- a whole space ------------------------------------------------------------------------------
def check_space(space: Any) -> dict[str, Distribution]:
    """The search space as {name: Distribution}; a plain list or tuple is a choice."""
    if not isinstance(space, Mapping) or not space:
        raise InvalidParameter(
            "search_space is a non-empty dict of {name: distribution}, e.g. {'lr': loguniform(1e-4, 1e-1)}."
        )
    checked: dict[str, Distribution] = {}
    for name, dist in space.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InvalidParameter(f"search space name {name!r} is not a valid parameter name.")
        if isinstance(dist, (list, tuple)):
            dist = choice(*dist)
        if not isinstance(dist, Distribution):
            raise InvalidParameter(
                f"search space {name!r}: {dist!r} is not a distribution "
                f"(one of {', '.join(FUNCTIONS)} from jupyter_mlws.sweep)."
            )
        checked[name] = dist
    return checked


def parse(text: str) -> Distribution:
    """A distribution written as text (`%%mlsweep --lr "loguniform(1e-4, 1e-1)"`): literals only."""
    import ast

    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise InvalidParameter(f"{text[:80]!r} is not a distribution such as uniform(0, 1).") from None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords):
        raise InvalidParameter(f"{text[:80]!r} is not a distribution such as uniform(0, 1).")
    function = FUNCTIONS.get(node.func.id)
    if function is None:
        raise InvalidParameter(f"unknown distribution {node.func.id!r}: one of {', '.join(FUNCTIONS)}.")
    try:
        args = [ast.literal_eval(a) for a in node.args]
    except ValueError:
        raise InvalidParameter(f"{text[:80]!r}: the arguments must be literal values.") from None
    try:
        return function(*args)  # type: ignore[operator,no-any-return]
    except TypeError as err:
        raise InvalidParameter(f"{text[:80]!r}: {err}") from None


def suggest(trial: Any, space: Mapping[str, Distribution]) -> dict[str, Any]:
    """One value per parameter, drawn through the Optuna trial."""
    return {name: dist.draw(trial, name) for name, dist in space.items()}


def grid_space(space: Mapping[str, Distribution]) -> dict[str, list[Any]]:
    """The lists a grid sampler walks (Optuna's GridSampler); refused for a continuous parameter."""
    lists = {name: dist.grid() for name, dist in space.items()}
    if math.prod(len(v) for v in lists.values()) > MAX_GRID:
        raise InvalidParameter(f"the grid has more than {MAX_GRID:,} points; sample it instead.")
    return lists


# ----- kept in a job's spec (the sweep's driver runs where the dispatcher is) ---------------------
def space_to_texts(space: Mapping[str, Distribution]) -> dict[str, str]:
    """Each distribution as the text that writes it (`parse` reads it back, checked here)."""
    texts = {}
    for name, dist in space.items():
        text = repr(dist)
        try:
            same = parse(text) == dist
        except InvalidParameter:
            same = False
        if not same:
            raise InvalidParameter(f"search space {name!r}: {text} cannot be written down and read back.")
        texts[name] = text
    return texts


def space_from_texts(texts: Mapping[str, str]) -> dict[str, Distribution]:
    return {name: parse(text) for name, text in texts.items()}
