"""The ONE model-loading gate (STYLE rule 12, RELIABILITY S1/S2): `load_model(folder, version)`.

Who calls it: `ws.models.load(ref)` (client/models.py) and the serving replica (helper B), always on a
folder from `models.files.materialize` (verified against the manifest). Nothing else in the package
deserializes a model file.

What it allows, by flavor (see models/flavors.py):

- ``sklearn`` (skops, extra ``jupyter-mlws[sklearn]``; `Unavailable` naming it when missing):
  ``skops.io.get_untrusted_types(file=...)`` must be a subset of the version's
  ``trusted_types``; otherwise `UntrustedModel` lists the untrusted type names and how to trust them
  (``ws.models.trust(ref, trusted_types=[...])`` after reviewing them). Then ``skops.io.load(file,
  trusted=<those types>)``. A plain LogisticRegression or Pipeline needs no extra types; a
  RandomForest needs ``sklearn.tree._tree.Tree``.
- ``onnx``: onnxruntime + onnx must be installed (extra ``jupyter-mlws[onnx]``), else `Unavailable`
  saying so. Before onnxruntime sees the file, every ``external_data`` location is checked to be one
  of the version's own files inside the folder (`flavors.check_onnx_external_data`); the folder itself
  holds no links (materialize verified it).
- ``python`` and ``pickle``: loading runs code from the files (an entry script's module body, or a
  pickle's ``__reduce__``). DECISION: both load only when the version is registered ``trusted=True``
  (``ws.models.register(..., trusted=True)`` or ``ws.models.trust(ref)``); the trust is a visible
  field of the version (panel badge, REST, CLI). An untrusted one is refused before a byte of the
  file is read, so a malicious pickle's payload never runs. The entry script is imported from its
  file under a private module name (not via ``sys.path``), ``MODEL_DIR`` is set in its globals, and
  ``AZUREML_MODEL_DIR`` in ``os.environ`` only while ``init()`` runs (Azure ML compatibility).
  Azure ML's contract for ``run``: ``run(raw_data)`` gets the request body as TEXT (the usual
  ``json.loads(raw_data)["data"]`` on ``{"data": [[...]]}``) and what it returns IS the answer
  (JSON-encoded as it is: no ``{"predictions": ...}`` envelope). A script that wants the typed
  path declares it by annotating run's first parameter as a DataFrame
  (``def run(data: pd.DataFrame)``, or the string ``"pd.DataFrame"`` under postponed
  annotations): it then gets the frame the signature builds from records / split / CSV, and its
  answer is enveloped like every other flavor's (`Predictor.raw` tells which).
- ``mlflow`` (an MLflow model folder): models/mlflow_flavor.py reads its ``MLmodel`` as data and
  picks one way to load it: ONNX and skops as above (no trust needed), a pickle or MLflow's own
  python loaders (``mlflow.pyfunc.load_model``) only for a trusted version, refused before any of
  its files but the ``MLmodel`` is read.

`Predictor.predict(data)` takes a DataFrame (or anything `signature.to_frame` accepts: records, split
dict, CSV text) and returns what the model returns (list, ndarray or DataFrame). For the sklearn and
pickle flavors `Predictor.model` is the loaded estimator (the serving fast path feeds it arrays);
an estimator fitted without feature names is given ``frame.to_numpy()``. ONNX sessions run with one
intra-op thread: endpoints scale by replica processes, not threads.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Forbidden, InvalidParameter, Unavailable
from .flavors import CODE_FLAVORS, check_onnx_external_data, entry_file, import_skops

if TYPE_CHECKING:
    import pandas as pd

    from ..entities import ModelVersion

__all__ = ["Predictor", "UntrustedModel", "load_model"]


class UntrustedModel(Forbidden):
    """Loading the model would run code or import types the user has not trusted: refused."""

    code = "untrusted_model"


class Predictor:
    """A loaded model version: `predict(data)`. Built only by `load_model`."""

    #: True for an entry script that takes the request body as text and answers as it is.
    raw = False

    def __init__(self, version: ModelVersion, folder: Path) -> None:
        self.name = version.name
        self.version = version.version
        self.flavor = version.flavor
        self.signature = version.signature
        self.folder = folder

    def __repr__(self) -> str:
        return f"<Predictor {self.name}:{self.version} ({self.flavor})>"

    def predict(self, data: Any) -> Any:
        """Predictions for `data` (a DataFrame, or records / split dict / CSV text typed by the signature)."""
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            from .signature import to_frame

            data = to_frame(data, self.signature)
        return self._predict(data)

    def _predict(self, frame: pd.DataFrame) -> Any:
        raise NotImplementedError


class _EstimatorPredictor(Predictor):
    """An object with ``predict`` (skops or trusted pickle)."""

    def __init__(self, version: ModelVersion, folder: Path, model: Any) -> None:
        super().__init__(version, folder)
        if not callable(getattr(model, "predict", None)):
            raise InvalidParameter(f"The object in {self.name}:{self.version} has no predict() method.")
        self.model = model
        # Fitted on an array: hand it an array (no "X has feature names" warning on every call).
        self._by_name = hasattr(model, "feature_names_in_") or not hasattr(model, "n_features_in_")

    def _predict(self, frame: pd.DataFrame) -> Any:
        return self.model.predict(frame if self._by_name else frame.to_numpy())


class _OnnxPredictor(Predictor):
    def __init__(self, version: ModelVersion, folder: Path, session: Any) -> None:
        super().__init__(version, folder)
        self.session = session
        self._inputs = session.get_inputs()

    def _predict(self, frame: pd.DataFrame) -> Any:
        import numpy as np

        def array(values: Any, onnx_type: str) -> Any:
            dtype = {
                "tensor(double)": np.float64,
                "tensor(int64)": np.int64,
                "tensor(string)": object,
                "tensor(bool)": bool,
            }.get(onnx_type, np.float32)
            return np.asarray(values, dtype=dtype)

        if len(self._inputs) == 1:
            spec = self._inputs[0]
            feeds = {spec.name: array(frame.to_numpy(), spec.type)}
        else:
            missing = [i.name for i in self._inputs if i.name not in frame.columns]
            if missing:
                raise InvalidParameter(f"The ONNX model needs the columns {missing}.")
            feeds = {i.name: array(frame[i.name].to_numpy().reshape(-1, 1), i.type) for i in self._inputs}
        return self.session.run(None, feeds)[0]


class _ScriptPredictor(Predictor):
    """An entry script: raw text in and the answer as it is out, unless run() declares a DataFrame."""

    def __init__(self, version: ModelVersion, folder: Path, module: Any) -> None:
        super().__init__(version, folder)
        self.module = module
        self.raw = not _takes_dataframe(module.run)

    def predict(self, data: Any) -> Any:
        """A raw script gets text: a str or bytes as it is, a DataFrame as Azure ML's
        ``{"data": [[...]]}`` body, anything else JSON-encoded. A typed one gets a DataFrame."""
        if not self.raw:
            return super().predict(data)
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        if not isinstance(data, str):
            import json

            if hasattr(data, "columns") and hasattr(data, "to_numpy"):
                data = {"data": data.to_numpy().tolist()}
            data = json.dumps(data, default=str)
        return self.module.run(data)

    def _predict(self, frame: pd.DataFrame) -> Any:
        return self.module.run(frame)


def _takes_dataframe(run: Any) -> bool:
    """Whether run()'s first parameter is annotated as a pandas DataFrame (class or string)."""
    import inspect

    try:
        params = list(inspect.signature(run).parameters.values())
    except (TypeError, ValueError):
        return False
    if not params or params[0].annotation is inspect.Parameter.empty:
        return False
    note = params[0].annotation
    if isinstance(note, str):
        return note.replace(" ", "").rsplit(".", 1)[-1] == "DataFrame"
    try:
        import pandas as pd

        return isinstance(note, type) and issubclass(note, pd.DataFrame)
    except ImportError:
        return False


def load_model(folder: str | os.PathLike[str], version: ModelVersion) -> Predictor:
    """Load `version` from `folder` (a `materialize`d copy) through the checks of the module docstring.

    Raises `UntrustedModel` (403) when trust is missing, `InvalidParameter` for a folder the flavor
    cannot load (or a crafted one), `Unavailable` when the flavor's runtime is not installed.
    """
    root = Path(folder)
    manifest = {f.path for f in version.files}
    if version.flavor in CODE_FLAVORS and not version.trusted:
        raise UntrustedModel(
            f"Model {version.name!r} version {version.version} is a {version.flavor} model: loading it "
            "runs code from its files, and it is not registered as trusted. Review where it comes from, "
            f"then trust it: ws.models.trust('{version.name}:{version.version}') (or register it with "
            "trusted=True)."
        )
    if version.flavor == "mlflow":
        return _load_mlflow(root, version, manifest)
    rel = entry_file(version.flavor, manifest, version.tags)
    path = root / rel
    if path.is_symlink() or not path.is_file():
        raise InvalidParameter(f"{rel!r} is not a regular file in the model folder; refused.")
    if version.flavor == "sklearn":
        return _EstimatorPredictor(version, root, _load_skops(path, version))
    if version.flavor == "onnx":
        return _OnnxPredictor(version, root, _load_onnx(path, root, manifest))
    if version.flavor == "pickle":
        return _EstimatorPredictor(version, root, _load_pickle(path))
    return _ScriptPredictor(version, root, _load_script(path, root, version))


class _PyfuncPredictor(Predictor):
    """A trusted MLflow model loaded by MLflow's own `mlflow.pyfunc.load_model`."""

    def __init__(self, version: ModelVersion, folder: Path, model: Any) -> None:
        super().__init__(version, folder)
        self.pyfunc = model

    def _predict(self, frame: pd.DataFrame) -> Any:
        return self.pyfunc.predict(frame)


def _load_mlflow(root: Path, version: ModelVersion, manifest: set[str]) -> Predictor:
    """An MLflow folder, the way models/mlflow_flavor.py `plan`s it; trust is checked before any
    file but the MLmodel is opened."""
    from .mlflow_flavor import plan, read_mlmodel

    how = plan(read_mlmodel(root), manifest)
    if how.needs_trust and not version.trusted:
        what = "a pickle" if how.kind == "pickle" else "MLflow's python loader and the code it names"
        raise UntrustedModel(
            f"Model {version.name!r} version {version.version} is an MLflow model that loads with {what}: "
            "loading it runs code from its files, and it is not registered as trusted. Review where it "
            f"comes from, then trust it: ws.models.trust('{version.name}:{version.version}')."
        )
    if how.kind == "pyfunc":
        return _PyfuncPredictor(version, root, _load_pyfunc(root))
    assert how.entry is not None
    path = root / how.entry
    if path.is_symlink() or not path.is_file():
        raise InvalidParameter(f"{how.entry!r} is not a regular file in the model folder; refused.")
    if how.kind == "onnx":
        return _OnnxPredictor(version, root, _load_onnx(path, root, manifest))
    if how.kind == "skops":
        return _EstimatorPredictor(version, root, _load_skops(path, version))
    return _EstimatorPredictor(version, root, _load_pickle(path))


def _load_pyfunc(root: Path) -> Any:
    """Only reached for a trusted version (checked in `_load_mlflow`)."""
    try:
        import mlflow.pyfunc
    except ImportError:
        raise Unavailable(
            "This MLflow model loads with MLflow's python loader, and mlflow is not installed here: "
            "pip install mlflow."
        ) from None
    return mlflow.pyfunc.load_model(os.fspath(root))


def _load_skops(path: Path, version: ModelVersion) -> Any:
    skops_io = import_skops()
    try:
        untrusted = skops_io.get_untrusted_types(file=path)
    except Exception as exc:  # a damaged or crafted zip: skops raises many kinds
        raise InvalidParameter(f"{path.name!r} is not a readable skops file: {exc}.") from None
    missing = sorted(set(untrusted) - set(version.trusted_types))
    if missing:
        listed = ", ".join(repr(t) for t in missing)
        raise UntrustedModel(
            f"Model {version.name!r} version {version.version} needs types that are not trusted: {listed}. "
            "Review them, then trust them: "
            f"ws.models.trust('{version.name}:{version.version}', trusted_types={missing!r})."
        )
    return skops_io.load(path, trusted=list(untrusted))


def _load_onnx(path: Path, root: Path, manifest: set[str]) -> Any:
    try:
        import onnx  # noqa: F401  (checks external data)
        import onnxruntime
    except ImportError:
        raise Unavailable(
            "ONNX models need onnxruntime and onnx, which are not installed here: "
            "pip install 'jupyter-mlws[onnx]' (or onnx onnxruntime)."
        ) from None
    try:
        check_onnx_external_data(path, root, manifest)
    except InvalidParameter:
        raise
    except Exception as exc:  # protobuf decode errors
        raise InvalidParameter(f"{path.name!r} is not a readable ONNX model: {exc}.") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise InvalidParameter(f"onnxruntime cannot load {path.name!r}: {exc}.") from None


def _load_pickle(path: Path) -> Any:
    """Only reached for a trusted version (checked in `load_model`)."""
    if path.suffix.lower() == ".joblib":
        import joblib

        return joblib.load(path)
    with path.open("rb") as handle:
        return pickle.load(handle)


def _load_script(path: Path, root: Path, version: ModelVersion) -> Any:
    """Import the entry script under a private name and call its init(); only for a trusted version."""
    module_name = f"_mlws_model_{version.sha256[:16]}_{version.version}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InvalidParameter(f"{path.name!r} cannot be imported as a Python module.")
    module = importlib.util.module_from_spec(spec)
    module.MODEL_DIR = os.fspath(root)  # type: ignore[attr-defined]
    with _model_dir_env(root):
        spec.loader.exec_module(module)
        if not callable(getattr(module, "run", None)):
            raise InvalidParameter(f"The entry script {path.name!r} defines no run(data) function.")
        init = getattr(module, "init", None)
        if callable(init):
            init()
    sys.modules.pop(module_name, None)
    return module


@contextlib.contextmanager
def _model_dir_env(root: Path) -> Iterator[None]:
    old = os.environ.get("AZUREML_MODEL_DIR")
    os.environ["AZUREML_MODEL_DIR"] = os.fspath(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("AZUREML_MODEL_DIR", None)
        else:
            os.environ["AZUREML_MODEL_DIR"] = old
