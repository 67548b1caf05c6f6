"""Is a replayed output the output that was recorded? Text compared with floats and volatile parts
tolerated, images by their bytes.

Who calls it: `repro/replay.py`, cell by cell, with output items (`repro/cells.output_items`).

Decisions (docs/reproducibility.md says the same for users):

- Volatile parts are masked in both texts before they are compared: memory addresses (``0x7f...``),
  dates and times (ISO dates, ``12:03:44``, Unix times from 2017 to 2033 in seconds or
  milliseconds, as ``time.time()`` prints them), durations (``1.23 s``, ``45 ms``, ``2 min``), 32-hex
  run ids, temporary folder names, and progress bars (a line with ``%|`` or ``it/s``). The run card
  a `%%mlrun` cell shows (its run id and duration change every time) is left out whole.
- Numbers are compared as numbers: two texts are the same when they differ only in numbers that are
  equal within a relative tolerance (`REL_TOL`, 1e-6 by default; ``0.1 + 0.2`` printed by another
  BLAS or libm passes) or an absolute one for values near zero (`ABS_TOL`). Integers (no point, no
  exponent) are counts, sizes and ids, and must be equal.
- Images (PNG, JPEG, GIF) are compared by their bytes: matplotlib writes the same bytes for the same
  figure with the same versions; a different library version is named in the environment part.
- Other rich outputs (HTML, JSON, widgets' state) go through the same text rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

__all__ = ["ABS_TOL", "REL_TOL", "compare_items", "mask", "same_text"]

REL_TOL = 1e-6
ABS_TOL = 1e-9
Item = tuple[str, str, str]

_VOLATILE = [
    (re.compile(r"0x[0-9a-fA-F]{6,16}"), "0x…"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"), "<datetime>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(\.\d+)?\b"), "<time>"),
    (re.compile(r"\b1[5-9]\d{8}(\.\d+)?\b|\b1[5-9]\d{11}\b"), "<epoch>"),  # time.time(), in s or ms
    (re.compile(r"\b\d+(\.\d+)?\s?(ns|µs|us|ms|s|sec|seconds|min|minutes|h)\b"), "<duration>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    (re.compile(r"/tmp/[^\s'\"]+"), "<tmp>"),
]
_FLOATY = re.compile(r"[.eEnNiI]")
_PROGRESS = re.compile(r"^.*(%\||\bit/s\b|s/it\b).*$", re.M)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\b", re.I)
_CARD = 'class="mlws-run-card"'


def mask(text: str) -> str:
    """`text` with its volatile parts replaced by placeholders (see the module docstring)."""
    text = _PROGRESS.sub("<progress>", text)
    for pattern, placeholder in _VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def _close(a: str, b: str, rel_tol: float) -> bool:
    if not _FLOATY.search(a) and not _FLOATY.search(b):
        return int(a) == int(b)  # integers are counts and ids: exact
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=rel_tol, abs_tol=ABS_TOL)


def same_text(a: str, b: str, rel_tol: float = REL_TOL) -> bool:
    """True when `a` and `b` are the same once masked, numbers compared within the tolerance."""
    if a == b:
        return True
    a, b = mask(a), mask(b)
    if a == b:
        return True
    if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        return False
    return all(_close(x, y, rel_tol) for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b), strict=True))


def _kept(items: Sequence[Item]) -> list[Item]:
    """The items that count: a run card (and its plain-text twin in the same output) is left out."""
    kept: list[Item] = []
    card_text = False
    for kind, label, content in items:
        if kind == "text" and label == "text/html" and _CARD in content:
            card_text = True
            continue
        kept.append((kind, label, content))
    if card_text:
        kept = [i for i in kept if not (i[1] == "text/plain" and i[2].startswith("mlws run "))]
    return kept


def compare_items(recorded: Sequence[Item], replayed: Sequence[Item], rel_tol: float = REL_TOL) -> str | None:
    """None when the replayed outputs are the recorded ones; else what differs first, in words."""
    left, right = _kept(recorded), _kept(replayed)
    if len(left) != len(right):
        shown = ", ".join(label for _, label, _ in right) or "nothing"
        return f"{len(left)} outputs were recorded, the replay gave {len(right)} ({shown})"
    for (kind_a, label_a, a), (kind_b, label_b, b) in zip(left, right, strict=True):
        if (kind_a, label_a) != (kind_b, label_b):
            return f"a {label_a} output was recorded, the replay gave {label_b}"
        if kind_a == "image":
            if a != b:
                return f"the {label_a} image differs"
        elif not same_text(a, b, rel_tol):
            return f"the {label_a} output differs: {_first_difference(a, b)}"
    return None


def _first_difference(a: str, b: str) -> str:
    lines_a, lines_b = a.splitlines(), b.splitlines()
    for number, (x, y) in enumerate(zip(lines_a, lines_b, strict=False), 1):
        if not same_text(x, y):
            return f"line {number}: {x.strip()[:80]!r} was recorded, the replay gave {y.strip()[:80]!r}"
    return f"{len(lines_a)} lines were recorded, the replay gave {len(lines_b)}"
