"""Model flavors: which format a set of files is in, which file to load, and how to save one.

Who calls it: `ws.models.register` (`detect_flavor`, `entry_file` to refuse a folder the gate could
not load), the loading gate (`models/gate.py`: `entry_file`, `check_onnx_external_data`), and users
(`jupyter_mlws.models.save_sklearn(model, path)`).

Flavors (the ``flavor`` of a ModelVersion):

- ``sklearn``: a ``*.skops`` file (skops' zip+JSON format: loading it imports only types listed as
  trusted, never arbitrary code). The default format to save scikit-learn models in.
- ``onnx``: a ``*.onnx`` file, run with onnxruntime (optional extra ``jupyter-mlws[onnx]``).
- ``python``: an entry script (``score.py`` at the top, or the file named by the version tag
  ``entry_script``) defining ``init()`` and ``run(data)``, as in Azure ML. It is code.
- ``pickle``: ``*.pkl``, ``*.pickle``, ``*.joblib`` (pickle, joblib, cloudpickle). Loading runs code.
- ``mlflow``: an MLflow model folder, ``MLmodel`` at its top (MLflow's registry API registers these).
  How it loads, and whether that needs trust, depends on its flavors: models/mlflow_flavor.py (an
  ONNX or skops model loads untrusted; a pickle or MLflow's python loaders need a trusted version).

Detection order: an entry script wins (Azure ML folders hold ``score.py`` next to the pickle it
loads), then ``MLmodel``, skops, ONNX, pickle. Beyond that, no file decides what is imported: an
``MLmodel``'s ``loader_module`` and ``code/``, a "pickle module name" file, are never imported for
an untrusted version (RELIABILITY S2). When a folder holds several files of the flavor, the one
named ``model.<ext>`` is used, else the choice is refused as ambiguous.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidParameter, Unavailable
from ..paths import resolve_under, safe_relative_path

__all__ = [
    "FLAVORS",
    "check_onnx_external_data",
    "detect_flavor",
    "entry_file",
    "import_skops",
    "save_sklearn",
]

FLAVORS = ("sklearn", "onnx", "python", "pickle", "mlflow")
#: Flavors whose loading runs code from the model files: they need a version registered trusted.
CODE_FLAVORS = ("python", "pickle")
ENTRY_SCRIPT = "score.py"
ENTRY_SCRIPT_TAG = "entry_script"
#: The file that makes a folder an MLflow model (models/mlflow_flavor.py reads it).
MLMODEL = "MLmodel"
_SUFFIXES = {"sklearn": (".skops",), "onnx": (".onnx",), "pickle": (".pkl", ".pickle", ".joblib")}


def detect_flavor(paths: Collection[str], tags: Mapping[str, str] | None = None) -> str:
    """The flavor of a model from its file paths (see the module docstring); InvalidParameter if none fits.

    The entry script is `score.py`, or the file the version's `entry_script` tag names — the same
    rule `entry_file` applies when the version loads (in `ws.models.load` and in endpoints)."""
    script = (tags or {}).get(ENTRY_SCRIPT_TAG) or ENTRY_SCRIPT
    if script in paths:
        return "python"
    if MLMODEL in paths:
        return "mlflow"
    for flavor in ("sklearn", "onnx", "pickle"):
        if any(p.lower().endswith(_SUFFIXES[flavor]) for p in paths):
            return flavor
    shown = ", ".join(sorted(paths)[:5])
    raise InvalidParameter(
        f"Cannot tell the model's flavor from its files ({shown}): expected a .skops, .onnx, "
        f"{ENTRY_SCRIPT}, {MLMODEL} or .pkl/.joblib file, or pass flavor= one of {', '.join(FLAVORS)}."
    )


def entry_file(flavor: str, paths: Collection[str], tags: Mapping[str, str] | None = None) -> str:
    """The one file the flavor loads (relative path); InvalidParameter when missing or ambiguous."""
    if flavor not in FLAVORS:
        raise InvalidParameter(f"Unknown model flavor {flavor!r}: one of {', '.join(FLAVORS)}.")
    if flavor == "python":
        script = (tags or {}).get(ENTRY_SCRIPT_TAG) or ENTRY_SCRIPT
        script = safe_relative_path(script)
        if script not in paths or not script.endswith(".py"):
            raise InvalidParameter(
                f"A python-flavor model needs its entry script {script!r} among its files."
            )
        return script
    if flavor == "mlflow":
        if MLMODEL not in paths:
            raise InvalidParameter(f"An mlflow-flavor model needs its {MLMODEL} file at the top of its "
                                   "files.")
        return MLMODEL
    found = sorted(p for p in paths if p.lower().endswith(_SUFFIXES[flavor]))
    if len(found) == 1:
        return found[0]
    preferred = [p for p in found if p.rsplit("/", 1)[-1].lower().startswith("model.")]
    if len(preferred) == 1:
        return preferred[0]
    if not found:
        wanted = " or ".join(_SUFFIXES[flavor])
        raise InvalidParameter(f"A {flavor}-flavor model needs a {wanted} file; none is among its files.")
    raise InvalidParameter(
        f"The model holds several {flavor} files ({', '.join(found[:5])}); name the one to load model.<ext>."
    )


def save_sklearn(model: Any, path: str | os.PathLike[str]) -> Path:
    """Save a scikit-learn model in skops format (the safe default); returns the file's path.

    A `path` without the ``.skops`` suffix gets it. Register the file (or its folder) with
    ``ws.models.register(name, path)``.
    """
    skops_io = import_skops()
    target = Path(path)
    if target.suffix != ".skops":
        target = target.with_name(target.name + ".skops")
    target.parent.mkdir(parents=True, exist_ok=True)
    skops_io.dump(model, target)
    return target


def import_skops() -> Any:
    """`skops.io`, or `Unavailable` saying how to install it (extra ``jupyter-mlws[sklearn]``)."""
    try:
        import skops.io
    except ImportError:
        raise Unavailable(
            "scikit-learn models are saved and loaded with skops, which is not installed here: "
            "pip install 'jupyter-mlws[sklearn]' (or skops)."
        ) from None
    return skops.io


def check_onnx_external_data(model_path: Path, folder: Path, manifest: Collection[str]) -> None:
    """Refuse an ONNX file whose tensors point at external data outside the model (RELIABILITY S2).

    Every ``external_data`` location must pass the safe-path helper (no ``..``, not absolute), be one of
    the model version's own files, and resolve (no link) inside `folder`. Nothing is read but the
    ONNX file's protobuf structure.
    """
    import onnx

    proto = onnx.load(os.fspath(model_path), load_external_data=False)
    for tensor in _tensors(proto):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {e.key: e.value for e in tensor.external_data}
        location = entries.get("location", "")
        try:
            rel = safe_relative_path(location)
            if rel not in manifest:
                raise InvalidParameter("not one of the model's files")
            resolve_under(folder, rel, follow_final_link=False)
        except InvalidParameter as exc:
            raise InvalidParameter(
                f"ONNX tensor {tensor.name!r} points at external data {location[:80]!r} outside the "
                f"model's files ({exc.message}); refused."
            ) from None


def _tensors(proto: Any) -> list[Any]:
    """Every TensorProto in a model: initializers, sparse ones, node attributes, subgraphs, functions."""
    found: list[Any] = []
    graphs = [proto.graph]
    nodes = [n for f in proto.functions for n in f.node]
    while graphs or nodes:
        if graphs:
            graph = graphs.pop()
            found.extend(graph.initializer)
            for sparse in graph.sparse_initializer:
                found.extend((sparse.values, sparse.indices))
            nodes.extend(graph.node)
            continue
        node = nodes.pop()
        for attr in node.attribute:
            if attr.HasField("t"):
                found.append(attr.t)
            found.extend(attr.tensors)
            if attr.HasField("g"):
                graphs.append(attr.g)
            graphs.extend(attr.graphs)
            if attr.HasField("sparse_tensor"):
                found.extend((attr.sparse_tensor.values, attr.sparse_tensor.indices))
    return found
