"""Notebook jobs: parameters injected as a typed cell (papermill's convention), run with nbclient.

Who calls it: `jobs/child.py` on the node (`run_notebook`), and `jobs/submit.py` when a notebook
job is submitted (`check_parameters`, so bad parameters fail at submit, not on a node).

Decisions:
- The parameters cell is the first cell tagged `parameters`; a new code cell tagged
  `injected-parameters` goes right after it (at the top when no cell has the tag), as papermill
  does, so the notebook's defaults are overridden and the executed notebook shows both.
- Values are JSON types only (numbers, strings, booleans, None, lists and dicts of them) and are
  written with `repr`, which for those types is a Python literal: the injected cell is generated
  code, never text pasted from the submitter. Names must be identifiers and not keywords.
- Each executed cell's printed text is written to this process's stdout as the cell ends, so the
  job's live log follows the notebook cell by cell. The executed notebook is kept whether or not a
  cell failed; the failure names the cell (its index and id) and the exception.
"""

from __future__ import annotations

import keyword
import math
import sys
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter

INJECTED_TAG = "injected-parameters"


def check_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters when every name is an identifier and every value a JSON type, else InvalidParameter."""
    if not isinstance(parameters, dict):
        raise InvalidParameter(
            f"Notebook parameters are a dict of name -> value, not {type(parameters).__name__}."
        )
    for name, value in parameters.items():
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise InvalidParameter(f"Notebook parameter name {name!r} is not a Python identifier.")
        _check_value(name, value)
    return parameters


def _check_value(name: str, value: Any) -> None:
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameter(
                f"Notebook parameter {name!r} is {value}: only finite numbers can be passed."
            )
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_value(name, item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidParameter(f"Notebook parameter {name!r}: dict keys must be strings.")
            _check_value(name, item)
        return
    raise InvalidParameter(
        f"Notebook parameter {name!r} is a {type(value).__name__}: pass numbers, strings, booleans, "
        "None, or lists and dicts of them."
    )


def parameters_source(parameters: dict[str, Any]) -> str:
    """The injected cell's source: one `name = literal` line per parameter."""
    check_parameters(parameters)
    lines = ["# Parameters injected by jupyter_mlws"]
    lines += [f"{name} = {value!r}" for name, value in parameters.items()]
    return "\n".join(lines)


def inject(notebook: Any, parameters: dict[str, Any]) -> int:
    """Insert the parameters cell into `notebook` (nbformat node); returns its index."""
    import nbformat

    cell = nbformat.v4.new_code_cell(parameters_source(parameters))
    cell.metadata["tags"] = [INJECTED_TAG]
    index = 0
    for i, existing in enumerate(notebook.cells):
        if "parameters" in (existing.get("metadata", {}).get("tags") or []):
            index = i + 1
            break
    notebook.cells.insert(index, cell)
    return index


def run_notebook(folder: Path, notebook: str, parameters: dict[str, Any], executed: Path) -> str | None:
    """Execute `folder/notebook` with `parameters`; write it to `executed`; the failure in words or None."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = folder / notebook
    nb = nbformat.read(path, as_version=4)
    if parameters:
        inject(nb, parameters)

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                target = sys.stderr if output.get("name") == "stderr" else sys.stdout
                target.write(output.get("text", ""))
                target.flush()

    from jupyter_client.manager import KernelManager

    kernel = (nb.metadata.get("kernelspec") or {}).get("name") or "python3"
    chosen = kernel if _has_kernel(kernel) else "python3"
    # IPC sockets: the kernel is this process's child on the same machine (no TCP ports, and no
    # "running over TCP without encryption" warning at the top of the job's log)
    manager = KernelManager(kernel_name=chosen, transport="ipc")
    client = NotebookClient(
        nb,
        km=manager,
        timeout=None,
        kernel_name=chosen,
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_executed=on_cell_executed,
    )
    failure = None
    try:
        client.execute()
    except CellExecutionError as err:
        failure = _failure_text(nb, err)
    finally:
        nbformat.write(nb, executed)
    return failure


def _has_kernel(name: str) -> bool:
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        KernelSpecManager().get_kernel_spec(name)
        return True
    except Exception:
        return False


def _failure_text(nb: Any, err: Any) -> str:
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return (
                    f"cell {index} (id {cell.get('id', '?')}) raised {output.get('ename')}: "
                    f"{output.get('evalue')}"
                )
    return str(err).strip().splitlines()[-1] if str(err).strip() else "a cell failed"
