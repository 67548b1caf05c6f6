"""The stock MLflow client (3.x) against the workspace's model registry: one registry, two front doors.

Each test drives the real `mlflow` package against a real server process, and checks what a user
sees: what MLflow reads back, the exceptions MLflow users catch, the same models and versions in
`ws.models` (with lineage to the run), and what the one loading gate lets `ws.models.load` open.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    x = pd.DataFrame(rng.normal(size=(80, 3)), columns=["a", "b", "c"])
    y = ((x["a"] + 0.5 * x["b"]) > 0).astype(int).to_numpy()
    return x, y


@pytest.fixture(scope="module")
def fitted(data: tuple[pd.DataFrame, np.ndarray]) -> Any:
    from sklearn.linear_model import LogisticRegression

    x, y = data
    return LogisticRegression(C=0.7).fit(x, y)


@pytest.fixture
def client(mlflow: Any) -> Any:
    return mlflow.MlflowClient()


@pytest.fixture
def experiment(mlflow: Any) -> Iterator[str]:
    yield mlflow.set_experiment(unique("registry")).experiment_id


def log(mlflow: Any, model: Any, data: Any, **options: Any) -> tuple[Any, Any]:
    """Log `model` in a fresh run (MLflow 3's logged model); (run, model info)."""
    x, _ = data
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", input_example=x.head(3), **options)
    return run, info


def code_of(err: BaseException) -> str:
    return getattr(err, "error_code", "")


# ----- registering ----------------------------------------------------------------------------------
def test_log_model_with_a_registered_name_is_version_1_of_our_registry_with_lineage(
    mlflow: Any, client: Any, ws: Any, experiment: str, data: Any, fitted: Any
) -> None:
    name = unique("churn")
    run, info = log(mlflow, fitted, data, registered_model_name=name)
    version = ws.models.get(f"{name}:1")
    assert version.source_run_id == run.info.run_id  # lineage to the run that trained it
    assert version.flavor == "mlflow" and "MLmodel" in {f.path for f in version.files}
    assert version.trusted is False and ws.get_run(run.info.run_id).name == run.info.run_name
    assert [c["name"] for c in version.signature["inputs"]] == ["a", "b", "c"]  # from the MLmodel
    assert list(ws.models.list()["name"]).count(name) == 1
    seen = client.get_model_version(name, "1")
    assert (seen.run_id, seen.status, seen.current_stage) == (run.info.run_id, "READY", "None")
    assert seen.source == f"models:/{info.model_id}" and seen.tags == {}
    assert version.tags["mlflow.model_id"] == info.model_id  # MLflow's client does not read it back
    linked = client.get_logged_model(info.model_id).tags["mlflow.modelVersions"]
    assert {"name": name, "version": "1"} in __import__("json").loads(linked)
    # MLflow 3's default sklearn format is skops: it loads through our gate without any trust
    x, _ = data
    assert np.array_equal(ws.models.load(name).predict(x), fitted.predict(x))


def test_register_model_alias_and_pyfunc_load_predict_like_the_model_in_memory(
    mlflow: Any, client: Any, ws: Any, experiment: str, data: Any, fitted: Any
) -> None:
    x, _ = data
    name = unique("scorer")
    run, info = log(mlflow, fitted, data)
    first = mlflow.register_model(info.model_uri, name)  # models:/<model_id>
    second = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)  # MLflow 3 finds the logged model
    assert (first.version, second.version) == ("1", "2")
    client.set_registered_model_alias(name, "champion", "1")
    assert ws.models.get(f"{name}@champion").version == 1  # the alias is ours too
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    for uri in (f"models:/{name}@champion", f"models:/{name}/2", f"models:/{name}/latest"):
        loaded = mlflow.pyfunc.load_model(uri)
        assert np.array_equal(np.asarray(loaded.predict(x)), fitted.predict(x)), uri
    # The version's own files (the registry's blobs), whatever happens to the run's later.
    assert client.get_model_version_download_uri(name, "1") == f"mlflow-artifacts:/registry/{name}/1"
    copy = unique("copy")
    copied = client.copy_model_version(f"models:/{name}@champion", copy)  # same files, same lineage
    assert (copied.version, copied.source, copied.run_id) == ("1", f"models:/{name}/1", run.info.run_id)
    assert ws.models.get(f"{copy}:1").sha256 == ws.models.get(f"{name}:1").sha256


def test_a_version_registered_through_ws_models_is_seen_by_mlflow(
    mlflow: Any, client: Any, ws: Any, tmp_path: Path, fitted: Any
) -> None:
    from mlflow.exceptions import MlflowException

    from jupyter_mlws.models import save_sklearn

    name = unique("ours")
    ws.models.register(name, save_sklearn(fitted, tmp_path / "model"), description="from a notebook")
    ws.models.set_alias(name, "prod", 1)
    model = client.get_registered_model(name)
    assert (model.description, model.aliases, [v.version for v in model.latest_versions]) == (
        "", {"prod": "1"}, ["1"])
    assert client.get_model_version(name, "1").description == "from a notebook"
    # Its files are in our registry only (no run holds them), and MLflow downloads them all the same.
    got = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/1", dst_path=str(tmp_path / "got")))
    ours = Path(ws.models.download(f"{name}:1", tmp_path / "ours"))
    files = sorted(p.relative_to(ours).as_posix() for p in ours.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(got).as_posix() for p in got.rglob("*") if p.is_file())
    assert all((got / f).read_bytes() == (ours / f).read_bytes() for f in files)
    # Read-only: a version's files cannot be overwritten or deleted through the proxy.
    base = f"{mlflow.get_tracking_uri()}/api/2.0/mlflow-artifacts/artifacts/registry/{name}/1/{files[0]}"
    auth = {"Authorization": f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}"}
    for method in ("PUT", "DELETE"):
        refused = requests.request(method, base, data=b"evil", headers=auth, timeout=30)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    missing = requests.get(f"{base}.nope", headers=auth, timeout=30)
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    again = Path(ws.models.download(f"{name}:1", tmp_path / "again"))
    assert (again / files[0]).read_bytes() == (ours / files[0]).read_bytes()
    with pytest.raises(MlflowException) as err:
        client.get_model_version_download_uri(name, "2")
    assert code_of(err.value) == "RESOURCE_DOES_NOT_EXIST"


# ----- tags, aliases, rename, update, delete -------------------------------------------------------
def test_tags_and_aliases_set_get_and_delete(
    mlflow: Any, client: Any, ws: Any, experiment: str, data: Any, fitted: Any
) -> None:
    from mlflow.exceptions import MlflowException

    name = unique("tagged")
    client.create_registered_model(name, tags={"team": "risk"}, description="scores churn")
    _, info = log(mlflow, fitted, data)
    client.create_model_version(name, info.model_uri, tags={"data": "2024-q1"}, model_id=info.model_id)
    client.set_registered_model_tag(name, "owner", "ada")
    client.set_model_version_tag(name, "1", "validated", "yes")
    client.set_registered_model_alias(name, "staging", "1")
    model = client.get_registered_model(name)
    assert model.tags == {"team": "risk", "owner": "ada"} and model.aliases == {"staging": "1"}
    version = client.get_model_version(name, "1")
    assert version.tags == {"data": "2024-q1", "validated": "yes"} and version.aliases == ["staging"]
    ours = ws.models.get(f"{name}@staging")
    assert ours.tags["validated"] == "yes" and ours.tags["mlflow.model_id"] == info.model_id
    assert ws.models.model(name).tags == {"team": "risk", "owner": "ada"}

    client.delete_registered_model_tag(name, "team")
    client.delete_model_version_tag(name, "1", "data")
    client.delete_registered_model_alias(name, "staging")
    client.delete_registered_model_alias(name, "staging")  # already gone: no error, as in MLflow
    assert client.get_registered_model(name).tags == {"owner": "ada"}
    assert client.get_model_version(name, "1").tags == {"validated": "yes"}
    assert ws.models.model(name).aliases == {}
    with pytest.raises(MlflowException) as err:
        client.get_model_version_by_alias(name, "staging")
    assert code_of(err.value) == "RESOURCE_DOES_NOT_EXIST"
    for bad in ("latest", "v2", "Has Space"):
        with pytest.raises(MlflowException) as err:
            client.set_registered_model_alias(name, bad, "1")
        assert code_of(err.value) == "INVALID_PARAMETER_VALUE", bad


def test_update_rename_and_delete_reach_our_registry(
    mlflow: Any, client: Any, ws: Any, experiment: str, data: Any, fitted: Any
) -> None:
    from mlflow.exceptions import MlflowException

    name, new_name = unique("old"), unique("new")
    _, info = log(mlflow, fitted, data, registered_model_name=name)
    mlflow.register_model(info.model_uri, name)
    client.update_registered_model(name, description="v2 is better")
    client.update_model_version(name, "2", description="retrained")
    assert ws.models.model(name).description == "v2 is better"
    assert ws.models.get(f"{name}:2").description == "retrained"

    client.rename_registered_model(name, new_name)
    renamed = client.get_registered_model(new_name)
    assert renamed.name == new_name and {v.version for v in renamed.latest_versions} == {"2"}
    assert ws.models.get(f"{new_name}:1").source_run_id == ws.models.get(f"{new_name}:2").source_run_id
    with pytest.raises(MlflowException) as err:
        client.get_registered_model(name)
    assert code_of(err.value) == "RESOURCE_DOES_NOT_EXIST"

    client.delete_model_version(new_name, "1")
    assert list(ws.models.versions(new_name)["version"]) == [2]
    client.delete_registered_model(new_name)
    assert new_name not in set(ws.models.list()["name"])
    with pytest.raises(MlflowException) as err:
        client.get_model_version(new_name, "2")
    assert code_of(err.value) == "RESOURCE_DOES_NOT_EXIST"


# ----- search, latest versions, stages -------------------------------------------------------------
def test_search_filters_orders_and_pages_like_mlflow(
    mlflow: Any, client: Any, experiment: str, data: Any, fitted: Any
) -> None:
    prefix = unique("search")
    names = [f"{prefix}-{i}" for i in range(5)]
    for i, name in enumerate(names):
        client.create_registered_model(name, tags={"parity": "even" if i % 2 == 0 else "odd"})
    run, info = log(mlflow, fitted, data)
    for name in names[:2]:
        mlflow.register_model(info.model_uri, name)

    found = client.search_registered_models(filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"])
    assert [m.name for m in found] == names[::-1]
    even = client.search_registered_models(filter_string=f"name LIKE '{prefix}%' AND tags.parity = 'even'")
    assert [m.name for m in even] == names[0::2]
    first = client.search_registered_models(filter_string=f"name ILIKE '{prefix.upper()}%'", max_results=2)
    assert [m.name for m in first] == names[:2] and first.token
    rest = client.search_registered_models(
        filter_string=f"name ILIKE '{prefix.upper()}%'", max_results=2, page_token=first.token
    )
    assert [m.name for m in rest] == names[2:4]
    exact = client.search_registered_models(filter_string=f"name = '{names[3]}'")
    assert [m.name for m in exact] == [names[3]]

    by_run = client.search_model_versions(f"run_id = '{run.info.run_id}'")
    assert sorted(v.name for v in by_run) == names[:2]
    assert [v.version for v in client.search_model_versions(f"name = '{names[0]}'")] == ["1"]
    assert mlflow.search_registered_models(filter_string="name = 'no-such-model'") == []


def test_latest_versions_and_the_deprecated_stages_recorded_as_mlflow_does(
    mlflow: Any, client: Any, experiment: str, data: Any, fitted: Any
) -> None:
    name = unique("staged")
    _, info = log(mlflow, fitted, data, registered_model_name=name)
    for _ in range(2):
        mlflow.register_model(info.model_uri, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow 3 warns that stages are deprecated; its server records them
        assert [v.version for v in client.get_latest_versions(name)] == ["3"]
        moved = client.transition_model_version_stage(name, "1", "production")
        client.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
        client.transition_model_version_stage(name, "3", "Staging")
        latest = client.get_latest_versions(name, stages=["Production", "Staging"])
    assert moved.current_stage == "Production"
    assert {(v.version, v.current_stage) for v in latest} == {("2", "Production"), ("3", "Staging")}
    assert client.get_model_version(name, "1").current_stage == "Archived"
    assert {v.version for v in client.get_registered_model(name).latest_versions} == {"1", "2", "3"}


# ----- errors ----------------------------------------------------------------------------------------
@pytest.mark.catalogue("P4")
def test_the_errors_mlflow_users_catch(
    mlflow: Any, client: Any, experiment: str, data: Any, fitted: Any
) -> None:
    from mlflow.exceptions import MlflowException, RestException

    name = unique("dup")
    client.create_registered_model(name)
    with pytest.raises(RestException) as err:
        client.create_registered_model(name)
    assert code_of(err.value) == "RESOURCE_ALREADY_EXISTS"
    other = unique("other")
    client.create_registered_model(other)
    with pytest.raises(MlflowException) as err:
        client.rename_registered_model(other, name)
    assert code_of(err.value) == "RESOURCE_ALREADY_EXISTS"
    for call in (lambda: client.get_registered_model(unique("missing")),
                 lambda: client.get_model_version(name, "7"),
                 lambda: client.delete_registered_model(unique("missing"))):
        with pytest.raises(MlflowException) as err:
            call()
        assert code_of(err.value) == "RESOURCE_DOES_NOT_EXIST"
    run, info = log(mlflow, fitted, data)
    for source, run_id in (("/tmp/some/model", None), ("s3://bucket/model", None),
                           (f"runs:/{run.info.run_id}/no-such-folder", run.info.run_id),
                           (f"runs:/{run.info.run_id}/../../etc", run.info.run_id),
                           (info.model_uri, uuid.uuid4().hex)):
        with pytest.raises(MlflowException) as err:
            client.create_model_version(name, source, run_id=run_id)
        assert code_of(err.value) == "INVALID_PARAMETER_VALUE", source
    with pytest.raises(MlflowException) as err:
        client.create_registered_model("has spaces / slash")
    assert code_of(err.value) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as err:
        client.search_registered_models(filter_string="owner = 'x'")
    assert code_of(err.value) == "INVALID_PARAMETER_VALUE"
    assert client.get_registered_model(name).latest_versions == []  # nothing half-registered


# ----- the loading gate ------------------------------------------------------------------------------
@pytest.mark.catalogue("S1")
def test_a_pickled_mlflow_model_loads_in_our_registry_only_once_trusted(
    mlflow: Any, ws: Any, experiment: str, data: Any, fitted: Any
) -> None:
    from jupyter_mlws.models import UntrustedModel

    x, _ = data
    name = unique("pickled")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow warns that pickle is unsafe: that is the point
        log(mlflow, fitted, data, registered_model_name=name, serialization_format="cloudpickle")
    assert "model.pkl" in {f.path for f in ws.models.get(f"{name}:1").files}
    with pytest.raises(UntrustedModel, match=r"pickle.*not registered as trusted"):
        ws.models.load(name)
    ws.models.trust(f"{name}:1")
    assert np.array_equal(ws.models.load(name).predict(x), fitted.predict(x))
    # MLflow itself loads it as before
    by_mlflow = mlflow.pyfunc.load_model(f"models:/{name}/1")
    assert np.array_equal(np.asarray(by_mlflow.predict(x)), fitted.predict(x))


@pytest.mark.catalogue("S1")
def test_a_python_function_model_with_code_waits_for_trust(mlflow: Any, ws: Any, experiment: str) -> None:
    import mlflow.pyfunc

    from jupyter_mlws.models import UntrustedModel

    class AddN(mlflow.pyfunc.PythonModel):
        """A custom model: MLflow stores it with cloudpickle and loads it with its python loader."""

        def __init__(self, n: int) -> None:
            self.n = n

        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
            return model_input + self.n

    name = unique("pyfunc")
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=AddN(5), registered_model_name=name,
                                input_example=frame)
    with pytest.raises(UntrustedModel, match="MLflow's python loader"):
        ws.models.load(name)
    ws.models.trust(f"{name}:1")
    assert ws.models.load(name).predict(frame)["x"].tolist() == [6.0, 7.0]


@pytest.mark.catalogue("S1")
def test_an_onnx_mlflow_model_loads_in_our_registry_without_trust(
    mlflow: Any, ws: Any, experiment: str
) -> None:
    import mlflow.onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    name = unique("onnx")
    with mlflow.start_run():
        mlflow.onnx.log_model(model, name="model", registered_model_name=name)
    version = ws.models.get(f"{name}:1")
    assert (version.flavor, version.trusted) == ("mlflow", False)
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0], "c": [2.0, 4.0]})
    expected = frame.to_numpy(dtype=np.float32) @ weights
    assert np.allclose(ws.models.load(name).predict(frame), expected)


def call(server: Any, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None
         ) -> tuple[int, Any]:
    """One raw HTTP call to the MLflow API, as any client could make it: (status, JSON answer)."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    from .conftest import tracking_uri

    url = f"{tracking_uri(server)}/api/2.0/mlflow/{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query, doseq=True)
    payload = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, method=method, data=payload)
    request.add_header("Authorization", f"Bearer {server.token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


@pytest.mark.catalogue("P3", "P4", "P9", "P10")
def test_hostile_sources_names_and_values_are_400_and_nothing_is_registered(
    server: Any, mlflow: Any, ws: Any, experiment: str, data: Any, fitted: Any
) -> None:
    """RELIABILITY P3 (sources), P9 (names), P10 (wrong types and sizes) through the registry routes."""
    run, _ = log(mlflow, fitted, data)
    rid = run.info.run_id
    name = unique("target")
    assert call(server, "POST", "registered-models/create", {"name": name})[0] == 200
    sources = ["file:///etc", "http:///#/../../etc", "../../", "mlflow-artifacts:/../", "/etc/passwd",
               f"mlflow-artifacts:/{experiment}/{rid}/artifacts/../../../etc",
               f"mlflow-artifacts:/{experiment}/{rid}/artifacts/model/%2e%2e/%2e%2e/x",
               f"mlflow-artifacts://evil.example/{experiment}/{rid}/artifacts/model",
               f"runs:/{rid}/..%2f..%2fetc", f"runs:/{rid}/a/#/../..", "runs:/../../etc/model",
               "models:/../x", "models:/m-" + "0" * 32, "s3://bucket/model", ""]
    for source in sources:
        status, answer = call(server, "POST", "model-versions/create", {"name": name, "source": source})
        assert (status, answer["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), (source, answer)
    names = ["", " ", "a/../b", "./a", "a/", "my%20model", "my model", "caf\u00e9", "cafe\u0301",
             "\u200bname", "\U0001f600", "x" * 129, "\u202eevil"]
    for bad in names:
        status, answer = call(server, "POST", "registered-models/create", {"name": bad})
        assert (status, answer["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), (bad, answer)
    assert call(server, "POST", "registered-models/create", {"name": "x" * 128})[0] == 200
    wrong = [
        ("POST", "registered-models/create", {"name": unique("t"), "tags": "team=risk"}),
        ("POST", "registered-models/create",
         {"name": unique("t"), "tags": [{"key": "k" * 251, "value": "v"}]}),
        ("POST", "registered-models/set-tag", {"name": name, "key": "k", "value": "v" * 100_000}),
        ("POST", "registered-models/alias", {"name": name, "alias": "prod", "version": "1.5"}),
        ("POST", "model-versions/transition-stage", {"name": name, "version": "1", "stage": "Live"}),
        ("GET", "registered-models/search", {"max_results": "-1"}),
        ("GET", "registered-models/search", {"max_results": "many"}),
        ("GET", "registered-models/search", {"max_results": "1001"}),
        ("GET", "registered-models/search", {"page_token": "not-a-token"}),
        ("GET", "registered-models/search", {"filter": "name = 'a' OR name = 'b'"}),
        ("GET", "registered-models/search", {"filter": "name = '" + "a" * 20_000 + "'"}),
        ("GET", "model-versions/search", {"order_by": ["source DESC"]}),
        ("GET", "model-versions/get", {"name": name, "version": "-1"}),
    ]
    for method, path, fields in wrong:
        body, query = (None, fields) if method == "GET" else (fields, None)
        status, answer = call(server, method, path, body, query)
        assert (status, answer["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), (path, answer)
    assert list(ws.models.versions(name)["version"]) == []  # nothing was registered
    assert not any(n in set(ws.models.list()["name"]) for n in names)
