"""Experiments, runs, batches and metric history over real HTTP (pytest-jupyter)."""

from __future__ import annotations

import json
import math
import uuid

import pytest

from .api_helpers import Api, error_of


async def test_experiment_lifecycle(api: Api) -> None:
    created = await api.json("POST", "/experiments", {"name": "churn"}, expect=201)
    assert created["name"] == "churn" and isinstance(created["experiment_id"], int)
    listed = await api.json("GET", "/experiments")
    assert [e["name"] for e in listed["experiments"]] == ["churn"]
    eid = created["experiment_id"]
    renamed = await api.json("PATCH", f"/experiments/{eid}", {"name": "churn-v2"})
    assert renamed["name"] == "churn-v2"
    assert (await api.json("GET", f"/experiments/{eid}"))["name"] == "churn-v2"
    await api.json("DELETE", f"/experiments/{eid}", expect=204)
    missing = await api.call("GET", f"/experiments/{eid}")
    assert missing.code == 404 and error_of(missing)["error"] == "not_found"


@pytest.mark.catalogue("P9")
async def test_duplicate_and_bad_experiment_names_are_clear_4xx(api: Api) -> None:
    await api.json("POST", "/experiments", {"name": "dup"}, expect=201)
    again = await api.call("POST", "/experiments", {"name": "dup"})
    assert again.code == 409 and error_of(again)["error"] == "already_exists"
    # NFD twin of an NFC name collides too (P9)
    await api.json("POST", "/experiments", {"name": "caf\u00e9"}, expect=201)
    twin = await api.call("POST", "/experiments", {"name": "cafe\u0301"})
    assert twin.code == 409
    for bad in ["", " padded ", "a\u200bb", "x" * 257, "a/../b"]:
        response = await api.call("POST", "/experiments", {"name": bad})
        assert response.code == 400, bad
        assert error_of(response)["error"] == "invalid_parameter"
    too_long = await api.call("POST", "/experiments", {"name": "x" * 257})
    assert "256" in error_of(too_long)["message"]
    assert [e["name"] for e in (await api.json("GET", "/experiments"))["experiments"]] == ["dup", "caf\u00e9"]


async def test_deleting_an_experiment_with_runs_is_refused(api: Api) -> None:
    run = await api.json("POST", "/runs", {"experiment_name": "keep"}, expect=201)
    refused = await api.call("DELETE", f"/experiments/{run['experiment_id']}")
    assert refused.code == 409
    assert (await api.json("GET", f"/runs/{run['run_id']}"))["run_id"] == run["run_id"]


@pytest.mark.catalogue("P8")
async def test_run_logging_and_search(api: Api) -> None:
    run = await api.json(
        "POST", "/runs", {"experiment_name": "exp", "name": "baseline", "tags": {"team": "a"}}, expect=201
    )
    rid = run["run_id"]
    assert run["status"] == "running" and run["tags"] == {"team": "a"}
    batch = {
        "metrics": [{"key": "loss", "value": 1.0 / (s + 1), "step": s} for s in range(50)]
        + [
            {"key": "odd", "value": v, "step": i}
            for i, v in enumerate(["NaN", "Infinity", "-Infinity", -0.0])
        ],
        "params": {"lr": "0.01"},
        "tags": {"stage": "dev"},
    }
    result = await api.json("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", batch)
    assert result["applied"] is True
    got = await api.json("GET", f"/runs/{rid}")
    assert got["params"] == {"lr": "0.01"} and got["tags"] == {"team": "a", "stage": "dev"}
    assert got["metrics"]["loss"] == 1.0 / 50 and got["metrics"]["odd"] == -0.0
    history = await api.json("GET", f"/runs/{rid}/metrics/odd")
    assert history["values"][:3] == ["NaN", "Infinity", "-Infinity"]
    assert math.copysign(1.0, history["values"][3]) == -1.0
    done = await api.json("PATCH", f"/runs/{rid}", {"status": "completed"})
    assert done["status"] == "completed" and done["end_time"] is not None
    page = await api.json(
        "GET", "/runs?filter=" + "metrics.loss%20%3C%200.1%20and%20params.lr%20%3D%20'0.01'"
    )
    assert [r["run_id"] for r in page["runs"]] == [rid]
    none = await api.json("GET", "/runs?filter=" + "params.lr%20%3D%20'0.5'")
    assert none["runs"] == []
    bad = await api.call("GET", "/runs?filter=metrics.loss%20%3C%3C%201")
    assert bad.code == 400 and error_of(bad)["error"] == "invalid_parameter"


async def test_paging_follows_tokens(api: Api) -> None:
    ids = {
        (await api.json("POST", "/runs", {"experiment_name": "paged"}, expect=201))["run_id"]
        for _ in range(7)
    }
    seen, token = [], None
    while True:
        page = await api.json("GET", "/runs?limit=3" + (f"&page_token={token}" if token else ""))
        seen += [r["run_id"] for r in page["runs"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert sorted(seen) == sorted(ids)


@pytest.mark.catalogue("K7")
async def test_batches_are_idempotent_per_batch_id(api: Api) -> None:
    rid = (await api.json("POST", "/runs", {"experiment_name": "retry"}, expect=201))["run_id"]
    batch_id = uuid.uuid4().hex
    body = {"metrics": [{"key": "m", "value": float(i), "step": i} for i in range(10)]}
    assert (await api.json("PUT", f"/runs/{rid}/batches/{batch_id}", body))["applied"] is True
    assert (await api.json("PUT", f"/runs/{rid}/batches/{batch_id}", body))["applied"] is False
    history = await api.json("GET", f"/runs/{rid}/metrics/m")
    assert history["total_points"] == 10 and history["steps"] == list(range(10))


@pytest.mark.catalogue("P10")
async def test_bad_batches_store_nothing(api: Api) -> None:
    rid = (await api.json("POST", "/runs", {"experiment_name": "bad"}, expect=201))["run_id"]
    ok = {"metrics": [{"key": "m", "value": 1.0, "step": 0}], "params": {"p": "1"}}
    cases = [
        ({"metrics": [{"key": "m", "value": "1.0", "step": 0}]}, 400),  # a string is not a number
        ({"metrics": [{"key": "m", "value": True, "step": 0}]}, 400),  # nor is a bool
        ({"metrics": [{"key": "m", "value": 1.0, "step": -1}]}, 400),  # negative step
        ({"metrics": [{"key": "m", "value": 1.0, "step": 1.5}]}, 400),  # float step
        ({"metrics": [{"key": "m", "value": 1.0, "timestamp": 1_700_000_000}]}, 400),  # seconds, not ms
        ({"metrics": [{"key": "", "value": 1.0}]}, 400),
        ({"params": {"p": "x" * 6001}}, 400),
        ({"metrics": [{"key": "m", "value": 1.0, "step": s} for s in range(1001)]}, 413),
        ({"params": {f"p{i}": "v" for i in range(101)}}, 413),
        ({"unknown": 1}, 400),
    ]
    for body, status in cases:
        response = await api.call("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", body)
        assert response.code == status, (body if len(json.dumps(body)) < 200 else "big", response.body[:300])
        error_of(response)
    mixed_bad = {**ok, "metrics": ok["metrics"] + [{"key": "m2", "value": "NaNx"}]}
    assert (await api.call("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", mixed_bad)).code == 400
    run = await api.json("GET", f"/runs/{rid}")
    assert run["metrics"] == {} and run["params"] == {}
    assert (await api.json("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", ok))["applied"]
    changed = await api.call("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", {"params": {"p": "2"}})
    assert changed.code == 409, "params are immutable once set"
    assert (await api.json("GET", f"/runs/{rid}"))["params"] == {"p": "1"}


@pytest.mark.catalogue("P8", "P10")
async def test_malformed_bodies(api: Api) -> None:
    rid = (await api.json("POST", "/runs", {"experiment_name": "m"}, expect=201))["run_id"]
    path = f"/runs/{rid}/batches/{uuid.uuid4().hex}"
    for raw in [
        b"{",
        b"[1,2",
        b'{"metrics": [{"key": "m", "value": NaN}]}',
        b"\xff\xfe",
        b"[" * 10_000 + b"]" * 10_000,
    ]:
        response = await api.call("PUT", path, raw=raw)
        assert response.code == 400, raw[:30]
        error_of(response)
    for number in (b"1e400", b"-1e400", b"1" + b"0" * 400 + b".5"):  # P8: past a float, not infinity
        response = await api.call("PUT", path, raw=b'{"metrics": [{"key": "m", "value": %s}]}' % number)
        assert response.code == 400 and "outside the range of a 64-bit float" in error_of(response)["message"]
    fine = await api.call("PUT", path, raw=b'{"metrics": [{"key": "big", "value": 1.5e308, "step": 0}]}')
    assert fine.code == 200, fine.body[:300]
    text_plain = await api.call(
        "PUT", path, raw=b'{"params": {"a": "1"}}', headers={"Content-Type": "text/plain"}
    )
    assert text_plain.code == 400
    huge = await api.call("PUT", path, raw=b" " * (5 * 1024 * 1024))
    assert huge.code == 413
    got = await api.json("GET", f"/runs/{rid}")
    assert got["params"] == {} and got["metrics"] == {"big": 1.5e308}  # no infinity stored


async def test_metric_history_downsampled_and_since_cursor(api: Api) -> None:
    rid = (await api.json("POST", "/runs", {"experiment_name": "hist"}, expect=201))["run_id"]
    for start in range(0, 3000, 1000):
        points = [{"key": "loss", "value": math.sin(s / 50), "step": s} for s in range(start, start + 1000)]
        await api.json("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", {"metrics": points})
    small = await api.json("GET", f"/runs/{rid}/metrics/loss?max_points=200")
    assert small["total_points"] == 3000 and 2 <= len(small["steps"]) <= 200
    assert small["steps"][0] == 0 and small["steps"][-1] == 2999
    assert max(small["values"]) > 0.99 and min(small["values"]) < -0.99, "peaks survive downsampling"
    full = await api.json("GET", f"/runs/{rid}/metrics/loss")
    cursor = full["cursor"]
    assert len(full["steps"]) == 3000
    nothing_new = await api.json("GET", f"/runs/{rid}/metrics/loss?since={cursor}")
    assert nothing_new["steps"] == [] and nothing_new["cursor"] == cursor
    await api.json(
        "PUT",
        f"/runs/{rid}/batches/{uuid.uuid4().hex}",
        {"metrics": [{"key": "loss", "value": 0.5, "step": 3000}, {"key": "other", "value": 1, "step": 0}]},
    )
    fresh = await api.json("GET", f"/runs/{rid}/metrics/loss?since={cursor}")
    assert fresh["steps"] == [3000] and fresh["values"] == [0.5] and fresh["cursor"] > cursor
    for bad in ["max_points=1", "max_points=x", "since=-1"]:
        assert (await api.call("GET", f"/runs/{rid}/metrics/loss?{bad}")).code == 400


@pytest.mark.catalogue("K5")
async def test_status_transitions_and_heartbeat(api: Api) -> None:
    rid = (await api.json("POST", "/runs", {"experiment_name": "life"}, expect=201))["run_id"]
    assert (await api.json("PUT", f"/runs/{rid}/heartbeat"))["status"] == "running"
    await api.json("PATCH", f"/runs/{rid}", {"status": "killed", "status_reason": "kernel died"})
    resurrect = await api.call("PATCH", f"/runs/{rid}", {"status": "running"})
    assert resurrect.code == 409
    late = await api.call("PUT", f"/runs/{rid}/heartbeat")
    assert late.code == 409 and "kernel died" in json.loads(late.body)["message"]
    run = await api.json("GET", f"/runs/{rid}")
    assert run["status"] == "killed" and run["status_reason"] == "kernel died"
    assert (await api.call("PATCH", f"/runs/{rid}", {"status": "bogus"})).code == 400


async def test_unknown_ids_are_404(api: Api) -> None:
    for method, path, body in [
        ("GET", "/runs/0123456789abcdef0123456789abcdef", None),
        ("PATCH", "/runs/0123456789abcdef0123456789abcdef", {"name": "x"}),
        ("DELETE", "/runs/0123456789abcdef0123456789abcdef", None),
        ("PUT", f"/runs/0123456789abcdef0123456789abcdef/batches/{uuid.uuid4().hex}", {"params": {"a": "1"}}),
        ("GET", "/runs/0123456789abcdef0123456789abcdef/metrics/loss", None),
        ("GET", "/experiments/999", None),
    ]:
        response = await api.call(method, path, body)
        assert response.code == 404, (method, path, response.code)
        error_of(response)
    assert (await api.call("GET", "/experiments/abc")).code == 400


async def test_delete_run_removes_it(api: Api) -> None:
    rid = (await api.json("POST", "/runs", {"experiment_name": "gone"}, expect=201))["run_id"]
    await api.json("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", {"metrics": [{"key": "m", "value": 1}]})
    await api.json("DELETE", f"/runs/{rid}", expect=204)
    assert (await api.call("GET", f"/runs/{rid}")).code == 404
    assert (await api.json("GET", "/runs"))["runs"] == []


@pytest.mark.catalogue("P3")
async def test_stored_bad_artifact_location_is_not_served(api: Api, services) -> None:
    """RELIABILITY P3, store-then-serve: a bad value written behind the API's back is not passed on."""
    from sqlalchemy import update

    from jupyter_mlws.store.sql.schema import experiments

    created = await api.json(
        "POST", "/experiments", {"name": "loc", "artifact_location": "team/loc"}, expect=201
    )
    assert created["artifact_location"] == "team/loc"
    refused = await api.call("POST", "/experiments", {"name": "evil", "artifact_location": "file:///etc"})
    assert refused.code == 400 and "artifact store" in error_of(refused)["message"]
    store = services.store
    store.write(
        lambda conn: conn.execute(update(experiments).values(artifact_location="../../etc")), "tamper"
    )
    served = await api.json("GET", f"/experiments/{created['experiment_id']}")
    assert served["artifact_location"] is None


async def test_batches_as_columns(api: Api) -> None:
    """The compact form the REST store sends: four aligned columns."""
    rid = (await api.json("POST", "/runs", {"experiment_name": "cols"}, expect=201))["run_id"]
    columns = {
        "key": ["a", "a", "b"],
        "value": [1.5, "NaN", 3],
        "step": [0, 1, 0],
        "timestamp": [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002],
    }
    await api.json("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", {"columns": columns})
    history = await api.json("GET", f"/runs/{rid}/metrics/a")
    assert history["values"] == [1.5, "NaN"] and history["steps"] == [0, 1]
    assert (await api.json("GET", f"/runs/{rid}"))["metrics"] == {"a": "NaN", "b": 3.0}
    ragged = await api.call(
        "PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", {"columns": {**columns, "step": [0, 1]}}
    )
    assert ragged.code == 400 and "same length" in error_of(ragged)["message"]
    n = 600
    mixed = {
        "metrics": [{"key": "c", "value": 1.0, "step": i} for i in range(n)],
        "columns": {
            "key": ["c"] * n,
            "value": [1.0] * n,
            "step": list(range(n, 2 * n)),
            "timestamp": [1_700_000_000_000] * n,
        },
    }
    too_many = await api.call("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", mixed)
    assert too_many.code == 413, "metrics and columns count together toward the 1,000 limit"
    assert "c" not in (await api.json("GET", f"/runs/{rid}"))["metrics"]
