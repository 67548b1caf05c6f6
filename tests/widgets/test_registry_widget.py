"""ModelRegistry's state without a kernel: models, a model's versions, alias moves, errors, saved state."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def churn(workspace, tmp_path: Path):
    """Two versions of a small scikit-learn model: v1 from a file, v2 from a run's artifact."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlws.models import save_sklearn

    frame = pd.DataFrame({"tenure": [1.0, 2.0, 30.0, 40.0], "calls": [9, 8, 1, 0]})
    labels = [1, 1, 0, 0]
    v1 = workspace.models.register(
        "churn",
        path=save_sklearn(LogisticRegression().fit(frame, labels), tmp_path / "v1" / "model.skops"),
        example=frame,
        description="first try",
    )
    run = workspace.start_run(experiment="churn-training", name="bigger-c")
    save_sklearn(LogisticRegression(C=10.0).fit(frame, labels), tmp_path / "v2" / "model.skops")
    run.log_artifact(tmp_path / "v2" / "model.skops")
    run.end()
    v2 = workspace.models.register("churn", run=run, artifact_path="model.skops", example=frame)
    return v1, v2, run


def test_models_then_a_models_versions_with_flavor_sha_signature_and_lineage(workspace, churn) -> None:
    from jupyter_mlws.widgets import ModelRegistry

    _, v2, run = churn
    registry = ModelRegistry(workspace=workspace)
    try:
        assert [m["name"] for m in registry.models] == ["churn"]
        assert registry.models[0]["latest_version"] == 2
        assert registry.versions == [], "no model is open yet"
        registry.selected = "churn"  # what clicking the model in the table sends
        assert [v["version"] for v in registry.versions] == [2, 1], "newest first"
        newest, oldest = registry.versions
        assert newest["flavor"] == oldest["flavor"] == "sklearn"
        assert newest["sha256"] == v2.sha256 and len(newest["sha256"]) == 64
        assert newest["sha256"] != oldest["sha256"], "different models, different files"
        assert [c["name"] for c in newest["signature"]["inputs"]] == ["tenure", "calls"]
        assert newest["source_run_id"] == run.id, "lineage: the run it came from"
        assert oldest["source_run_id"] is None and oldest["source_path"].endswith("model.skops")
        assert oldest["description"] == "first try"
        assert newest["trusted"] is False and newest["size_bytes"] > 0
        assert registry.error == ""
        assert "1 models, 'churn' open" in repr(registry)
    finally:
        registry.close()


def test_aliases_are_set_moved_and_removed_from_the_front_end(workspace, churn) -> None:
    from jupyter_mlws.widgets import ModelRegistry

    registry = ModelRegistry("churn", workspace=workspace)
    try:
        # The front end's messages, as the "Set alias" button and the chip's remove button send them.
        registry._on_message(registry, {"type": "set_alias", "alias": "production", "version": 2}, [])
        assert workspace.models.get("churn@production").version == 2
        assert registry.models[0]["aliases"] == {"production": 2}
        assert registry.versions[0]["aliases"] == ["production"]
        registry._on_message(registry, {"type": "set_alias", "alias": "production", "version": 1}, [])
        assert workspace.models.get("churn@production").version == 1, "the alias moved"
        assert registry.versions[0]["aliases"] == [] and registry.versions[1]["aliases"] == ["production"]
        registry._on_message(registry, {"type": "delete_alias", "alias": "production"}, [])
        assert registry.models[0]["aliases"] == {}
        assert registry.error == ""
    finally:
        registry.close()


def test_refused_changes_show_an_error_and_never_raise(workspace, churn) -> None:
    from jupyter_mlws.widgets import ModelRegistry

    registry = ModelRegistry("churn", workspace=workspace)
    try:
        registry._on_message(registry, {"type": "set_alias", "alias": "Not An Alias", "version": 1}, [])
        assert "alias" in registry.error.lower()
        registry._on_message(registry, {"type": "set_alias", "alias": "staging", "version": 9}, [])
        assert "9" in registry.error
        registry._on_message(registry, {"type": "set_alias", "alias": "staging", "version": "two"}, [])
        assert "whole number" in registry.error
        registry._on_message(registry, {"type": "set_alias", "alias": "staging", "version": 1}, [])
        assert registry.error == "" and registry.models[0]["aliases"] == {"staging": 1}
        missing = ModelRegistry("no-such-model", workspace=workspace)
        assert "no registered model named 'no-such-model'" in missing.error
        missing.close()
    finally:
        registry.close()


def test_what_a_saved_notebook_keeps_and_a_refresh_sees(workspace, churn, tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    from jupyter_mlws.models import save_sklearn
    from jupyter_mlws.widgets import ModelRegistry

    registry = ModelRegistry("churn", workspace=workspace)
    try:
        # The widget state saved with a notebook holds everything the front end draws.
        state = registry.get_state()
        assert state["selected"] == "churn"
        assert [v["version"] for v in state["versions"]] == [2, 1]
        assert [m["name"] for m in state["models"]] == ["churn"]
        # A version registered elsewhere shows after a refresh (the Refresh button's message).
        path = save_sklearn(DummyClassifier().fit([[0], [1]], [0, 1]), tmp_path / "v3" / "model.skops")
        workspace.models.register("churn", path=path)
        registry._on_message(registry, {"type": "refresh"}, [])
        assert [v["version"] for v in registry.versions] == [3, 2, 1]
        assert registry.models[0]["latest_version"] == 3
        registry.selected = ""
        assert registry.versions == []
    finally:
        registry.close()
