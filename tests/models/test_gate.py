"""The one loading gate (RELIABILITY S1, S2): pickles and code load only when trusted; skops types are
checked; crafted model folders are refused and their payloads never run."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

from jupyter_mlws.errors import Forbidden, InvalidParameter
from jupyter_mlws.models import UntrustedModel

pytestmark = pytest.mark.catalogue("S1")


class _Payload:
    """A pickle whose loading creates a file: what a malicious model would do."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (open, (str(self.sentinel), "w"))


def test_untrusted_pickle_is_refused_and_its_payload_never_runs(ws, tmp_path):
    sentinel = tmp_path / "pwned"
    evil = tmp_path / "evil" / "model.pkl"
    evil.parent.mkdir()
    evil.write_bytes(pickle.dumps(_Payload(sentinel)))
    version = ws.models.register("evil", evil)
    assert (version.flavor, version.trusted) == ("pickle", False)
    with pytest.raises(UntrustedModel, match=r"not registered as trusted.*ws\.models\.trust\('evil:1'\)"):
        ws.models.load("evil")
    assert issubclass(UntrustedModel, Forbidden) and UntrustedModel.http_status == 403
    assert not sentinel.exists()


def test_pickle_and_joblib_load_once_trusted(ws, tmp_path, logreg, features):
    import joblib

    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps(logreg))
    ws.models.register("p", folder)
    with pytest.raises(UntrustedModel):
        ws.models.load("p")
    assert ws.models.trust("p:1").trusted is True
    assert np.array_equal(ws.models.load("p").predict(features), logreg.predict(features))

    joblib.dump(logreg, tmp_path / "model.joblib")
    ws.models.register("j", tmp_path / "model.joblib", trusted=True)
    assert ws.models.get("j").trusted is True
    assert np.array_equal(ws.models.load("j").predict(features.head(3)), logreg.predict(features.head(3)))


def test_skops_with_untrusted_types_is_refused_naming_them(ws, tmp_path, frame, features):
    from sklearn.ensemble import RandomForestClassifier

    from jupyter_mlws.models import save_sklearn

    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(features, frame["label"])
    path = save_sklearn(forest, tmp_path / "forest")
    assert path.name == "forest.skops"
    ws.models.register("forest", path)
    with pytest.raises(UntrustedModel, match=r"'sklearn\.tree\._tree\.Tree'.*trusted_types=\['sklearn"):
        ws.models.load("forest")
    ws.models.trust("forest", trusted=False, trusted_types=["sklearn.tree._tree.Tree"])
    assert ws.models.get("forest").trusted is False  # types trusted, not code
    assert np.array_equal(ws.models.load("forest").predict(features), forest.predict(features))
    ws.models.register("forest", path, trusted_types=["sklearn.tree._tree.Tree"])
    assert ws.models.load("forest:2").predict(features.head(2)).shape == (2,)


def test_python_flavor_needs_trust_and_runs_init_and_run(ws, tmp_path):
    sentinel = tmp_path / "imported"
    folder = tmp_path / "script"
    folder.mkdir()
    (folder / "factor.json").write_text(json.dumps({"factor": 3}))
    (folder / "score.py").write_text(
        "import json, os, pathlib\n"
        "import pandas as pd\n"
        f"pathlib.Path({str(sentinel)!r}).write_text('imported')\n"
        "FACTOR = None\n"
        "def init():\n"
        "    global FACTOR\n"
        "    here = os.environ['AZUREML_MODEL_DIR']\n"
        "    assert here == MODEL_DIR\n"
        "    FACTOR = json.loads(open(os.path.join(here, 'factor.json')).read())['factor']\n"
        "def run(data: pd.DataFrame):  # declared: the typed path\n"
        "    return (data['x'] * FACTOR).tolist()\n"
    )
    version = ws.models.register("script", folder, example=[{"x": 1.0}])
    assert version.flavor == "python"
    with pytest.raises(UntrustedModel, match="python model"):
        ws.models.load("script")
    assert not sentinel.exists()
    ws.models.trust("script")
    predictor = ws.models.load("script")
    assert predictor.predict([{"x": 2.0}, {"x": 0.5}]) == [6.0, 1.5]
    assert sentinel.exists() and "AZUREML_MODEL_DIR" not in __import__("os").environ
    assert not any(name.startswith("_mlws_model_") for name in sys.modules)


@pytest.mark.catalogue("S2")
def test_crafted_mlflow_style_folder_never_imports_its_loader(ws, tmp_path):
    """S2: an MLmodel naming a loader_module + code/, a pickle module name file, `pickled_model: ../x`."""
    sentinel = tmp_path / "loader-ran"
    folder = tmp_path / "crafted"
    (folder / "code").mkdir(parents=True)
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: evil_loader\n    code: code\n"
        "  sklearn:\n    pickled_model: ../x\n    serialization_format: cloudpickle\n"
    )
    (folder / "code" / "evil_loader.py").write_text(
        f"import pathlib\npathlib.Path({str(sentinel)!r}).write_text('ran')\n"
        "def _load_pyfunc(path):\n    return None\n"
    )
    (folder / "pickle_module_name").write_text("evil_loader\n")
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(sentinel)))
    version = ws.models.register("crafted", folder)
    assert version.flavor == "mlflow" and "code/evil_loader.py" in {f.path for f in version.files}
    with pytest.raises(InvalidParameter, match=r"pickled_model '\.\./x' is not a safe path"):
        ws.models.load("crafted")
    ws.models.trust("crafted:1")  # even trusted: the named file leaves the folder; no loader runs instead
    with pytest.raises(InvalidParameter, match=r"pickled_model '\.\./x'"):
        ws.models.load("crafted")
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: evil_loader\n    code: code\n"
    )
    ws.models.register("crafted", folder)
    with pytest.raises(UntrustedModel, match="MLflow's python loader"):
        ws.models.load("crafted:2")
    with pytest.raises(InvalidParameter, match=r"needs a \.skops file"):
        ws.models.register("crafted", folder, flavor="sklearn")
    (folder / "MLmodel").unlink()
    (folder / "model.pkl").unlink()
    with pytest.raises(InvalidParameter, match="Cannot tell the model's flavor"):
        ws.models.register("crafted2", folder)
    assert not sentinel.exists() and "evil_loader" not in sys.modules


def test_skops_file_referencing_os_system_is_refused(ws, tmp_path):
    """S1: a skops file whose transformer calls os.system: the type is named, never trusted by default."""
    import skops.io
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "model.skops"
    skops.io.dump(FunctionTransformer(func=__import__("os").system), path)
    ws.models.register("shell", path)
    with pytest.raises(UntrustedModel, match=r"'(posix|os)\.system'"):
        ws.models.load("shell")
    versions = ws.models.versions("shell")
    assert versions["trusted"].tolist() == [False] and versions["trusted_types"].tolist() == [[]]
