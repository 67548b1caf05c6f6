"""The process of a function, cell or notebook job on its node: `python -m jupyter_mlws.jobs.child`.

Who runs it: `jobs/node.py`, in the job's folder, with `$MLWS_RUN_ID` naming the attempt's run, so
`mlws.log_metric` and friends inside the user's code log into it.

- `function FOLDER`: loads `job/payload.pkl` (cloudpickle, written by the submitter: the function,
  its arguments; a sweep's trial adds its values from `job/kwargs.json`), calls it, writes the
  return value to `job/result.pkl`. An exception is printed
  with its traceback and named in `job/error.txt`; the exit code is 1.
- `cell FOLDER`: the payload is a cell's source and the notebook variables it reads; the cell runs
  as a module-level script in that namespace (its prints stream back as the job's output) and the
  variables it assigned that pickle come back in `job/result.pkl` (the others are named).
- `notebook FOLDER NOTEBOOK PARAMETERS_JSON`: runs the notebook with nbclient after injecting the
  parameters (`jobs/notebooks.py`); the executed notebook is `job/executed.ipynb`. The first
  failing cell is named in `job/error.txt`.
"""

from __future__ import annotations

import ast
import json
import sys
import traceback
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> int:
    kind, folder = argv[0], Path(argv[1])
    job = folder / "job"
    job.mkdir(exist_ok=True)
    try:
        if kind == "function":
            return _function(job)
        if kind == "cell":
            return _cell(job)
        if kind == "notebook":
            return _notebook(folder, job, argv[2], json.loads(argv[3]))
    except BaseException as err:  # the user's code failed: say so, as a script would
        traceback.print_exc()
        (job / "error.txt").write_text(f"{type(err).__name__}: {err}")
        return 1
    print(f"jupyter_mlws.jobs.child: unknown job kind {kind!r}", file=sys.stderr)
    return 2


def cell_trial(source: str, variables: dict[str, Any], **values: Any) -> None:
    """A `%%mlsweep` cell as a sweep's trial: its source run with the shipped notebook variables and
    the trial's values as variables (the payload's function is this, with the first two bound)."""
    namespace: dict[str, Any] = {"__name__": "__main__", **variables, **values}
    exec(compile(source, "<%%mlsweep cell>", "exec"), namespace)


def _function(job: Path) -> int:
    import cloudpickle

    with open(job / "payload.pkl", "rb") as handle:
        payload = cloudpickle.load(handle)
    kwargs = dict(payload.get("kwargs") or {})
    if (job / "kwargs.json").exists():  # a sweep's trial: the values it was given
        kwargs.update(json.loads((job / "kwargs.json").read_text()))
    result = payload["function"](*payload.get("args", ()), **kwargs)
    _flush()
    with open(job / "result.pkl", "wb") as handle:
        cloudpickle.dump(result, handle)
    return 0


def _cell(job: Path) -> int:
    import cloudpickle

    with open(job / "payload.pkl", "rb") as handle:
        payload = cloudpickle.load(handle)
    namespace = dict(payload.get("variables") or {})
    namespace.setdefault("__name__", "__main__")
    before = {k: id(v) for k, v in namespace.items()}
    tree = ast.parse(payload["source"], "<cell>")
    last = (
        ast.Expression(tree.body.pop().value) if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    )
    exec(compile(tree, "<cell>", "exec"), namespace)  # the user's own cell, in a process of its own
    value = eval(compile(last, "<cell>", "eval"), namespace) if last is not None else None
    back, refused = {}, []
    for name, assigned in namespace.items():
        if name.startswith("_") or (name in before and before[name] == id(assigned)):
            continue
        if type(assigned).__name__ == "module":
            continue
        try:
            cloudpickle.dumps(assigned)
        except Exception as err:
            refused.append(f"{name} ({type(err).__name__})")
            continue
        back[name] = assigned
    try:
        cloudpickle.dumps(value)
    except Exception:
        value = repr(value)  # shown in the notebook as text when the object cannot come back
    with open(job / "result.pkl", "wb") as handle:
        cloudpickle.dump({"variables": back, "not_returned": refused, "value": value}, handle)
    return 0


def _notebook(folder: Path, job: Path, notebook: str, parameters: dict) -> int:
    from .notebooks import run_notebook

    failure = run_notebook(folder, notebook, parameters, job / "executed.ipynb")
    _flush()
    if failure:
        (job / "error.txt").write_text(failure)
        print(failure, file=sys.stderr)
        return 1
    return 0


def _flush() -> None:
    """Nothing to do here: what the user's code logged is delivered by the metric logger's exit
    hook (`client/logger.py`) when this process ends, after the result is written."""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
