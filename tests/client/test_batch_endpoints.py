"""`ws.endpoints.deploy_batch / get_batch / list_batch / regenerate_batch_key / delete_batch` on a
folder workspace (issue 16), and the refusals of `invoke` that come before anything is queued.

No cluster runs here: invokes that queue a real job, over REST and from a folder workspace, are in
tests/jobs/test_batch_endpoints.py (one server, one cluster).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.errors import InvalidParameter, NotFound
from jupyter_mlws.model_entities import BATCH_SETTINGS
from jupyter_mlws.serving.keys import hash_key


@pytest.fixture
def ws(tmp_path: Path) -> Any:
    """A folder workspace with model "lin" (versions 1 and 2, production on 1) and cluster "cpu"."""
    from sklearn.linear_model import LinearRegression

    import jupyter_mlws as mlws
    from jupyter_mlws.models.flavors import save_sklearn

    workspace = mlws.Workspace(tmp_path / "ws")
    for slope in (1.0, 2.0):
        fitted = LinearRegression().fit([[0.0], [1.0]], [0.0, slope])
        workspace.models.register("lin", save_sklearn(fitted, tmp_path / f"lin{slope}.skops"))
    workspace.models.set_alias("lin", "production", 1)
    workspace.compute.create_cluster("cpu", max_nodes=1)
    yield workspace
    workspace.close()


def test_deploy_returns_the_keys_once_and_stores_their_hashes(ws: Any) -> None:
    ep = ws.endpoints.deploy_batch("lin-batch", "lin@production", target="cpu", timeout="2m", description="d")
    assert ep.keys.primary and ep.keys.secondary and ep.keys.primary != ep.keys.secondary
    assert ep.keys.primary not in repr(ep.keys) and ep.keys.primary not in repr(ep)
    stored = ws.store.get_batch_endpoint("lin-batch")
    assert stored.key_hashes == {
        "primary": hash_key(ep.keys.primary),
        "secondary": hash_key(ep.keys.secondary),
    }
    assert stored.model == "lin@production", "kept as given: resolved at each invoke"
    assert stored.defaults == {**BATCH_SETTINGS, "timeout": 120.0} and stored.description == "d"
    assert ws.endpoints.get_batch("lin-batch").keys.primary is None

    changed = ws.endpoints.deploy_batch("lin-batch", "lin:2", mini_batch_size=7, output_action="summary_only")
    assert changed.keys.primary is None and changed.record.model == "lin:2"
    assert changed.defaults["mini_batch_size"] == 7 and changed.defaults["timeout"] == 120.0
    assert ws.store.get_batch_endpoint("lin-batch").key_hashes == stored.key_hashes, "a change keeps the keys"

    new = ws.endpoints.regenerate_batch_key("lin-batch", "primary")
    hashes = ws.store.get_batch_endpoint("lin-batch").key_hashes
    assert hashes == {"primary": hash_key(new), "secondary": hash_key(ep.keys.secondary)}
    with pytest.raises(InvalidParameter, match="primary"):
        ws.endpoints.regenerate_batch_key("lin-batch", "tertiary")


def test_list_shows_the_definition_and_delete_forgets_it(ws: Any, tmp_path: Path) -> None:
    ws.endpoints.deploy_batch("lin-batch", "lin", target="cpu", error_threshold=3)
    script = tmp_path / "score.py"
    script.write_text("def init():\n    pass\n\ndef run(mini_batch):\n    return mini_batch\n")
    ws.endpoints.deploy_batch("scripted", target="cpu", entry_script=script)
    frame = ws.endpoints.list_batch()
    assert list(frame.name) == ["lin-batch", "scripted"]
    assert frame.set_index("name").loc["lin-batch", "error_threshold"] == 3
    assert frame.set_index("name").loc["scripted", "entry_script"] == "score.py"
    assert frame.last_job_state.isna().all()
    assert ws.store.get_batch_endpoint("scripted").entry_source == script.read_text()
    handle = ws.endpoints.get_batch("scripted")
    assert handle.jobs().empty
    handle.delete()
    with pytest.raises(NotFound):
        ws.endpoints.get_batch("scripted")
    with pytest.raises(NotFound):
        ws.endpoints.delete_batch("scripted")
    assert list(ws.endpoints.list_batch().name) == ["lin-batch"]


def test_bad_definitions_are_refused_before_anything_is_stored(ws: Any, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="Unknown target"):
        ws.endpoints.deploy_batch("x-batch", "lin", target="gpu")
    with pytest.raises(NotFound):
        ws.endpoints.deploy_batch("x-batch", "lin@staging", target="cpu")
    with pytest.raises(InvalidParameter, match="needs a model"):
        ws.endpoints.deploy_batch("x-batch", target="cpu")
    with pytest.raises(InvalidParameter, match="error_threshold"):
        ws.endpoints.deploy_batch("x-batch", "lin", target="cpu", error_threshold=-2)
    with pytest.raises(InvalidParameter, match="output_file"):
        ws.endpoints.deploy_batch("x-batch", "lin", target="cpu", output_file="../out.csv")
    bad = tmp_path / "bad.py"
    bad.write_text("def predict(x):\n    return x\n")
    with pytest.raises(InvalidParameter, match="defines no run"):
        ws.endpoints.deploy_batch("x-batch", "lin", target="cpu", entry_script=bad)
    from jupyter_mlws.models.gate import UntrustedModel

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"not": "a model"}))
    ws.models.register("pickled", path, flavor="pickle")
    with pytest.raises(UntrustedModel):
        ws.endpoints.deploy_batch("x-batch", "pickled", target="cpu")
    assert ws.endpoints.list_batch().empty
    ws.endpoints.deploy_batch("x-batch", "lin", target="cpu")
    with pytest.raises(NotFound):
        ws.endpoints.deploy_batch("x-batch", "nothing")
    assert ws.store.get_batch_endpoint("x-batch").model == "lin", "a refused change writes nothing"


def test_invoke_refuses_bad_overrides_before_queueing(ws: Any) -> None:
    ep = ws.endpoints.deploy_batch("lin-batch", "lin", target="cpu")
    with pytest.raises(InvalidParameter, match="Unknown batch overrides"):
        ep.invoke("data:rows", target="gpu")
    with pytest.raises(InvalidParameter, match="mini_batch_size"):
        ep.invoke("data:rows", mini_batch_size=0)
    with pytest.raises(NotFound):
        ep.invoke("data:no-such-rows")
    assert ws.store.list_jobs() == [] and ws.store.get_batch_endpoint("lin-batch").last_job_id is None
