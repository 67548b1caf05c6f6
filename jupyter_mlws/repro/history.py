"""The kernel's execution history as a Python script that replays it: a snapshot's ``history.py``.

Who calls it: `client/snapshot.py` (`take_snapshot`) with the history the `%%mlrun` finalizer hands
it: (execution count, source) pairs, in the order the kernel ran them, up to the run's cell; and
`repro/diff.py`, which reads a run's script back (`parse_history`) and names the notebook cell of
each entry by comparing `replayable(cell source)` with it.

Decisions: the script must always compile, so that ``python history.py`` replays every Python cell
instead of refusing the whole file.

- Each cell is preceded by ``# In[n]:``, as Jupyter's own "export as Python" does.
- A cell that is valid Python is kept byte for byte (a ``%`` at the start of a line inside a string
  stays untouched).
- Otherwise IPython syntax is commented out with a note: line magics, shell escapes and help
  (``%x``, ``!x``, ``y = %x``, ``y = !x``, ``obj?``) become a comment, or ``pass  # ...`` when
  indented so the block stays valid. Which lines those are is decided by IPython's own input
  transformer (it knows strings and line continuations), not by a pattern.
- A cell magic whose body is Python (`PYTHON_CELL_MAGICS`, e.g. ``%%mlrun``, ``%%time``) loses only
  its first line; any other cell magic (``%%bash``, ``%%html``) is kept entirely as comments, as is
  a cell that still does not parse (it failed in the kernel too).
- Cost: a kernel's history only grows, and every `%%mlrun` snapshot writes all of it, so each
  distinct source is converted once per process (`REPLAYABLE_CACHE` sources, least recently used
  dropped) and a script costs a lookup and a join per cell. Without the cache every snapshot
  re-ran IPython's transformer and `compile` on every earlier cell: quadratic in the cells run,
  ~27 ms of the finalizer's time per `%%mlrun` cell on average over a kernel's first 300 cells,
  growing with each, and that work competed with the next cell when cells ran back to back.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["history_script", "parse_history", "replayable"]

#: Cell magics whose body is ordinary Python: replaying the body is replaying the cell.
PYTHON_CELL_MAGICS = frozenset({"mlrun", "time", "timeit", "capture", "prun", "debug"})
_NOTE = "[mlws] IPython syntax, not replayed:"
#: Distinct cell sources whose replayable form is kept (see the module docstring).
REPLAYABLE_CACHE = 16384


def history_script(history: Sequence[tuple[int, str]], run_id: str | None = None) -> str:
    """The replay script for `history` (see the module docstring)."""
    whose = f"run {run_id}'s cell" if run_id else "the run's cell"
    parts = [
        f"# Execution history of the kernel, in the order it ran, up to {whose}.\n"
        "# Recorded by jupyter_mlws. Replay it from the restored snapshot folder: python history.py\n"
        "# IPython magics and shell commands are commented out, marked [mlws].\n"
    ]
    for count, source in history:
        parts.append(f"\n# In[{count}]:\n{_replayable(source).rstrip()}\n")
    return "".join(parts)


_MARKER = re.compile(r"^# In\[(\d+)\]:$", re.M)


def parse_history(script: str) -> list[tuple[int, str]]:
    """(execution count, replayable source) pairs of a script `history_script` wrote, in order."""
    marks = list(_MARKER.finditer(script))
    entries = []
    for number, mark in enumerate(marks):
        end = marks[number + 1].start() if number + 1 < len(marks) else len(script)
        entries.append((int(mark.group(1)), script[mark.end() + 1 : end].rstrip()))
    return entries


def replayable(source: str) -> str:
    """The cell as `history_script` writes it (without its ``# In[n]:`` line)."""
    return _replayable(source).rstrip()


@lru_cache(maxsize=REPLAYABLE_CACHE)
def _replayable(source: str) -> str:
    if _parses(source):
        return source
    lines = source.splitlines()
    first = lines[0].strip() if lines else ""
    head: list[str] = []
    if first.startswith("%%"):
        name = first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""
        if name not in PYTHON_CELL_MAGICS:
            return _commented(lines, f"# {_NOTE} a %%{name} cell")
        head, lines = [f"# {_NOTE} {first}"], lines[1:]
    text = "\n".join(head + _without_magics(lines))
    return text if _parses(text) else _commented(source.splitlines(), f"# {_NOTE} not Python")


def _without_magics(lines: list[str]) -> list[str]:
    """The lines with IPython syntax commented out, found by IPython's own input transformer.

    The transformer knows strings and line continuations; every line it rewrites (to a
    ``get_ipython()`` call) is IPython syntax, every line it keeps is Python.
    """
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return lines  # without IPython the cell stays as it is; `_replayable` then comments it
    try:
        manager = TransformerManager()  # type: ignore[no-untyped-call]
        transformed = manager.transform_cell("\n".join(lines) + "\n").splitlines()
    except Exception:
        return lines
    kept: list[str] = []
    matcher = difflib.SequenceMatcher(a=lines, b=transformed, autojunk=False)
    for tag, a0, a1, _, _ in matcher.get_opcodes():
        statement_start = True  # only the first line of a rewritten block can need a `pass`
        for line in lines[a0:a1]:
            if tag == "equal" or not line.strip():
                kept.append(line)
                continue
            indent = line[: len(line) - len(line.lstrip())]
            if indent and statement_start:
                kept.append(f"{indent}pass  # {_NOTE} {line.strip()}")
            else:
                kept.append(f"{indent}# {_NOTE} {line.strip()}")
            statement_start = False
    return kept


def _commented(lines: list[str], note: str) -> str:
    return "\n".join([note, *(f"# {line}" if line else "#" for line in lines)])


def _parses(text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a cell's invalid escape is the cell's business, not ours
        try:
            compile(text, "<cell>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
    return True
