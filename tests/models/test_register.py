"""ws.models: register from a file, a folder, a run; versions, digests, signature, lineage, aliases, load."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from jupyter_mlws.errors import InvalidParameter, NotFound


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_register_file_folder_and_run_count_up(ws, skops_file, features, logreg, tmp_path):
    v1 = ws.models.register("churn", skops_file, example=features.head(5), description="first")
    assert (v1.name, v1.version, v1.flavor) == ("churn", 1, "sklearn")
    assert [(f.path, f.sha256, f.size) for f in v1.files] == [
        ("model.skops", _sha(skops_file), skops_file.stat().st_size)
    ]
    assert v1.signature == {
        "inputs": [
            {"name": "age", "type": "long"},
            {"name": "income", "type": "double"},
            {"name": "score", "type": "double"},
        ]
    }
    assert v1.environment["python"]["version"] and "scikit-learn" in v1.environment["packages"]
    assert v1.source_path == str(skops_file) and v1.source_run_id is None and v1.trusted is False

    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "model.skops").write_bytes(skops_file.read_bytes())
    (folder / "README.md").write_text("churn model\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"\0")
    v2 = ws.models.register("churn", folder)
    assert v2.version == 2 and [f.path for f in v2.files] == ["README.md", "model.skops"]

    run = ws.start_run(experiment="training")
    run.log_artifact(skops_file, "model")
    run.log_text("{}", "model/conda.yaml")
    run.log_dict(
        {"python": {"version": "3.99"}, "packages": {"scikit-learn": "0.0-from-run"}}, "environment.json"
    )
    run.end()
    v3 = ws.models.register("churn", run=run, artifact_path="model")
    assert v3.version == 3
    assert [f.path for f in v3.files] == ["conda.yaml", "model.skops"]
    assert v3.source_run_id == run.run_id and v3.source_path == "model"
    assert v3.environment["packages"] == {"scikit-learn": "0.0-from-run"}  # the run's, not ours
    assert ws.models.get("churn").version == 3
    assert list(ws.models.versions("churn")["version"]) == [3, 2, 1]
    assert ws.get_run(v3.source_run_id).info.experiment_id == ws.experiment("training").id

    # Loading goes through the gate and predicts as the in-memory model does.
    predictor = ws.models.load("churn:1")
    assert np.array_equal(predictor.predict(features), logreg.predict(features))
    # Records and CSV are typed by the signature first, as the endpoint does.
    head = features.head(4)
    assert np.array_equal(predictor.predict(head.to_dict("records")), logreg.predict(head))
    assert np.array_equal(predictor.predict(head.to_csv(index=False)), logreg.predict(head))
    assert np.array_equal(ws.models.load("churn:3").predict(head), logreg.predict(head))


def test_identical_files_are_stored_once(ws, skops_file, tmp_path):
    ws.models.register("a", skops_file)
    ws.models.register("b", skops_file)
    ws.models.register("a", skops_file)
    blobs = [p for p in (tmp_path / "ws").rglob("*") if p.is_file() and p.parent.parent.name == "blobs"]
    assert [p.name for p in blobs] == [_sha(skops_file)]
    assert ws.models.get("a:1").sha256 == ws.models.get("a:2").sha256 == ws.models.get("b").sha256


def test_aliases_set_move_remove_and_refs(ws, skops_file):
    for _ in range(3):
        ws.models.register("churn", skops_file)
    ws.models.set_alias("churn", "production", 1)
    ws.models.set_alias("churn", "staging", 3)
    assert ws.models.get("churn@production").version == 1
    ws.models.set_alias("churn", "production", 2)  # moved
    assert ws.models.get("churn@production").version == 2
    assert ws.models.get("churn:2").aliases == ("production",)
    assert ws.models.model("churn").aliases == {"production": 2, "staging": 3}
    ws.models.delete_alias("churn", "production")
    with pytest.raises(NotFound):
        ws.models.get("churn@production")
    assert ws.models.get("churn@staging").version == 3
    listed = ws.models.list()
    assert list(listed["name"]) == ["churn"] and listed["latest_version"][0] == 3
    for bad in ("churn@Prod", "churn:0", "../churn", ""):
        with pytest.raises(InvalidParameter):
            ws.models.get(bad)
    with pytest.raises(InvalidParameter, match="alias"):
        ws.models.set_alias("churn", "Bad Alias", 1)


def test_tags_description_trust_and_delete(ws, skops_file):
    ws.models.register("churn", skops_file, tags={"team": "risk"})
    ws.models.register("churn", skops_file)
    ws.models.describe("churn", "Predicts churn")
    ws.models.set_tags("churn:2", {"stage": "candidate"})
    assert ws.models.model("churn").description == "Predicts churn"
    assert ws.models.get("churn:2").tags == {"stage": "candidate"}
    assert ws.models.get("churn:1").tags == {"team": "risk"}
    assert ws.models.trust("churn:2").trusted is True
    ws.models.delete_version("churn", 2)
    assert list(ws.models.versions("churn")["version"]) == [1]
    ws.models.delete("churn")
    with pytest.raises(NotFound):
        ws.models.get("churn")


def test_register_refuses_bad_input(ws, skops_file, tmp_path):
    with pytest.raises(InvalidParameter, match="model name"):
        ws.models.register("bad name!", skops_file)
    with pytest.raises(NotFound):
        ws.models.register("m", tmp_path / "missing.skops")
    with pytest.raises(InvalidParameter, match="Say where the model files are"):
        ws.models.register("m")
    with ws.start_run() as open_run, pytest.raises(InvalidParameter, match="not both"):
        ws.models.register("m", skops_file, run=open_run, artifact_path="model")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InvalidParameter, match="flavor"):
        ws.models.register("m", tmp_path / "notes.txt")
    with pytest.raises(InvalidParameter, match=r"\.onnx"):
        ws.models.register("m", skops_file, flavor="onnx")
    with pytest.raises(NotFound):
        ws.models.register("m", run="0123abcd", artifact_path="model")
    run = ws.start_run()
    with pytest.raises(NotFound, match="no artifact"):
        ws.models.register("m", run=run, artifact_path="model")
    run.end()
    with pytest.raises(NotFound):
        ws.models.get("m")  # nothing half-registered


def test_a_local_file_registered_with_its_run_keeps_the_runs_lineage_and_environment(ws, skops_file):
    """README / DESIGN §5: `ws.models.register("churn", path="model.skops", run=run)`, as Azure ML's
    run.register_model: the files are the local ones, the lineage and environment the run's."""
    from jupyter_mlws.client.environment import record_environment

    with ws.start_run(experiment="churn", name="train") as run:
        env = record_environment(run)
    version = ws.models.register("churn", path=skops_file, run=run, tags={"team": "a"})
    assert version.version == 1 and version.flavor == "sklearn"
    assert version.source_run_id == run.id
    assert version.source_path == str(skops_file.absolute())
    assert [f.path for f in version.files] == [skops_file.name]
    assert version.environment["python"] == env["python"]
    assert ws.models.load("churn:1").predict is not None
    by_id = ws.models.register("churn", skops_file, run=run.id)  # a run id works as well
    assert by_id.version == 2 and by_id.source_run_id == run.id and by_id.sha256 == version.sha256
    with pytest.raises(NotFound):
        ws.models.register("churn", skops_file, run="0123abcd")
    assert ws.models.get("churn").version == 2  # the refused one stored nothing


def test_download_gives_the_verified_files(ws, skops_file, tmp_path):
    ws.models.register("churn", skops_file)
    dest = ws.models.download("churn", tmp_path / "out")
    assert _sha(dest / "model.skops") == _sha(skops_file)
    cached = ws.models.cache_root / ws.models.get("churn").sha256 / "model.skops"
    assert cached.is_file() and str(ws.models.cache_root).startswith(str(tmp_path / "ws"))


def test_signature_from_records_and_json_roundtrip(ws, skops_file):
    v = ws.models.register(
        "churn", skops_file, example=[{"age": 30, "income": 1.5, "score": 0.1, "vip": True}]
    )
    assert [c["type"] for c in v.signature["inputs"]] == ["long", "double", "double", "boolean"]
    assert json.loads(json.dumps(ws.models.get("churn").to_dict()))["signature"] == v.signature
