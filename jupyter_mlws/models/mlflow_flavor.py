"""MLflow model folders in our registry: the ``mlflow`` flavor (an ``MLmodel`` file at the top).

Who calls it: `flavors.detect_flavor` / `entry_file` (a folder with ``MLmodel`` at its top is an
MLflow model), the loading gate (`gate.load_model` asks `plan` how to load one), and the MLflow
API's model-version create (`signature`, to give the version our signature).

How a version loads, and with what trust (RELIABILITY S1, S2). The ``MLmodel`` is read as data
(YAML ``safe_load``, at most `MAX_MLMODEL_BYTES`); a file it names is used only when it passes the
one safe-path helper and is one of the version's own files. Its ``loader_module``, ``code``,
``python_model`` and pickle module names never decide what is imported for an untrusted version:

- ``onnx`` flavor: its ``data`` file through onnxruntime, after the external-data check. No trust.
- ``sklearn`` flavor saved as skops (``serialization_format: skops``, MLflow 3's default): skops,
  with the version's own ``trusted_types``. The MLmodel's ``skops_trusted_types`` are bytes the
  uploader wrote and are not taken as trust. No code trust.
- ``sklearn`` saved as pickle or cloudpickle: that file, unpickled only once the version is trusted.
- any other model with a ``python_function`` flavor (a loader module, a ``python_model``,
  ``code/``): MLflow's own ``mlflow.pyfunc.load_model`` on the verified folder, only once the
  version is trusted, and only where mlflow is installed.

The first that fits wins in that order, so a folder with a safe way to load loads that way even
when it also names code; a named file that is missing or unsafe refuses the load (fail closed,
never a fall-through to the next way).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter
from ..paths import safe_relative_path

__all__ = ["MAX_MLMODEL_BYTES", "MLMODEL", "LoadPlan", "parse_mlmodel", "plan", "read_mlmodel",
           "signature"]

MLMODEL = "MLmodel"
MAX_MLMODEL_BYTES = 1024 * 1024
#: MLflow's column types as ours (models/signature.py); others (binary, tensors) give no signature.
_TYPES = {"double": "double", "float": "double", "long": "long", "integer": "long", "string": "string",
          "boolean": "boolean", "datetime": "datetime"}


@dataclass(frozen=True)
class LoadPlan:
    """How the gate loads an MLflow folder: `kind` (onnx, skops, pickle, pyfunc) and the file."""

    kind: str
    entry: str | None = None

    @property
    def needs_trust(self) -> bool:
        """Whether loading runs code from the files (a pickle, or MLflow's python loaders)."""
        return self.kind in ("pickle", "pyfunc")


def parse_mlmodel(raw: bytes) -> dict[str, Any]:
    """An ``MLmodel`` file's content as a dict with a ``flavors`` mapping; InvalidParameter otherwise."""
    import yaml

    if len(raw) > MAX_MLMODEL_BYTES:
        raise InvalidParameter(f"The MLmodel file is over {MAX_MLMODEL_BYTES} bytes; refused.")
    try:
        # libyaml's safe loader where PyYAML has it (same safe tags, ~10x faster), else Python's
        data = yaml.load(raw.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidParameter(f"The MLmodel file is not readable YAML: {str(exc)[:200]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise InvalidParameter("The MLmodel file names no flavors.")
    return data


def read_mlmodel(folder: Path) -> dict[str, Any]:
    """The ``MLmodel`` at the top of a (materialized, verified) folder; a link or non-file is refused."""
    path = folder / MLMODEL
    if path.is_symlink() or not path.is_file():
        raise InvalidParameter("MLmodel is not a regular file in the model folder; refused.")
    with path.open("rb") as handle:
        return parse_mlmodel(handle.read(MAX_MLMODEL_BYTES + 1))


def plan(mlmodel: Mapping[str, Any], manifest: Collection[str]) -> LoadPlan:
    """How to load the folder an ``MLmodel`` describes (module docstring); InvalidParameter if no way."""
    flavors = mlmodel.get("flavors") or {}
    onnx = flavors.get("onnx")
    if isinstance(onnx, dict):
        return LoadPlan("onnx", _member(onnx.get("data"), manifest, "onnx data"))
    sklearn = flavors.get("sklearn")
    if isinstance(sklearn, dict):
        fmt = str(sklearn.get("serialization_format") or "cloudpickle").lower()
        entry = _member(sklearn.get("pickled_model"), manifest, "sklearn pickled_model")
        if fmt == "skops":
            return LoadPlan("skops", entry)
        if fmt in ("pickle", "cloudpickle"):
            return LoadPlan("pickle", entry)
        raise InvalidParameter(f"The MLmodel's sklearn serialization_format {fmt[:40]!r} is not one we load.")
    if isinstance(flavors.get("python_function"), dict):
        return LoadPlan("pyfunc")
    shown = ", ".join(sorted(str(k) for k in flavors)[:8]) or "none"
    raise InvalidParameter(
        f"The MLmodel names no flavor this workspace can load (it has: {shown}); "
        "onnx, sklearn and python_function are loaded."
    )


def signature(mlmodel: Mapping[str, Any]) -> dict[str, Any] | None:
    """The MLmodel's column signature as ours ({"inputs": [...], "outputs": [...]}), or None."""
    raw = mlmodel.get("signature")
    if not isinstance(raw, dict):
        return None
    inputs = _columns(raw.get("inputs"))
    if not inputs:
        return None
    found: dict[str, Any] = {"inputs": inputs}
    outputs = _columns(raw.get("outputs"))
    if outputs:
        found["outputs"] = outputs
    return found


def _columns(raw: Any) -> list[dict[str, str]] | None:
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None
    if not isinstance(specs, list) or not specs:
        return None
    columns = []
    for spec in specs:
        kind = _TYPES.get(spec.get("type")) if isinstance(spec, dict) else None
        name = spec.get("name") if isinstance(spec, dict) else None
        if kind is None or not isinstance(name, str) or not name:
            return None  # tensors, binary or unnamed columns: no signature rather than a wrong one
        columns.append({"name": name, "type": kind})
    return columns


def _member(value: Any, manifest: Collection[str], what: str) -> str:
    """A file the MLmodel names, if it is one of the version's own files (safe-path helper first)."""
    if not isinstance(value, str) or not value:
        raise InvalidParameter(f"The MLmodel's {what} names no file; refused.")
    try:
        rel = safe_relative_path(value)
    except InvalidParameter as exc:
        raise InvalidParameter(
            f"The MLmodel's {what} {value[:80]!r} is not a safe path ({exc.message}); refused."
        ) from None
    if rel not in manifest:
        raise InvalidParameter(
            f"The MLmodel's {what} {value[:80]!r} is not one of the model's files; refused."
        )
    return rel
