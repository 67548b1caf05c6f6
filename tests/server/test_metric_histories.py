"""`GET /metrics/histories` over real HTTP: many runs' histories on one grid per metric."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from .api_helpers import Api, error_of

T0 = 1_700_000_000_000


async def _run(api: Api, name: str, points: list[tuple[int, float | str, int]], key: str = "loss") -> str:
    run = await api.json("POST", "/runs", {"experiment_name": "grids", "name": name}, expect=201)
    rid = run["run_id"]
    for i in range(0, len(points), 1000):
        columns = {
            "key": [key] * len(points[i : i + 1000]),
            "step": [p[0] for p in points[i : i + 1000]],
            "value": [p[1] for p in points[i : i + 1000]],
            "timestamp": [p[2] for p in points[i : i + 1000]],
        }
        await api.json("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", {"columns": columns})
    return rid


def _query(run_ids: list[str], keys: list[str], **extra: object) -> str:
    parts = [f"run_id={r}" for r in run_ids] + [f"key={k}" for k in keys]
    parts += [f"{k}={v}" for k, v in extra.items()]
    return "/metrics/histories?" + "&".join(parts)


async def test_few_points_come_back_exact_on_the_union_of_steps(api: Api) -> None:
    a = await _run(api, "a", [(0, 1.0, T0), (2, 0.5, T0 + 10)])
    b = await _run(api, "b", [(1, 2.0, T0), (2, "NaN", T0 + 5), (3, 1.5, T0 + 9)])
    got = await api.json("GET", _query([a, b], ["loss", "acc"], bins=100))
    loss, acc = got["metrics"]
    assert loss["key"] == "loss" and loss["binned"] is False
    assert loss["x"] == [0, 1, 2, 3]
    by_run = {r["run_id"]: r for r in loss["runs"]}
    assert by_run[a]["mean"] == [1.0, None, 0.5, None]
    assert by_run[b]["mean"] == [None, 2.0, None, 1.5], "a NaN point is a gap, not a value"
    assert by_run[b]["total_points"] == 3 and by_run[b]["min"] is None
    assert acc == {"key": "acc", "x": [], "binned": False, "runs": []}, "runs without the metric are left out"


async def test_long_histories_are_binned_with_mean_min_and_max_per_bin(api: Api) -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=5000)
    values[1234] = 50.0  # a spike inside one bin survives as that bin's max
    a = await _run(api, "a", [(i, float(v), T0 + i) for i, v in enumerate(values)])
    b = await _run(api, "b", [(i, 1.0, T0 + 1000 + 2 * i) for i in range(0, 5000, 2)])
    got = await api.json("GET", _query([a, b], ["loss"], bins=50))
    (loss,) = got["metrics"]
    assert loss["binned"] is True and len(loss["x"]) == 50
    width = 4999 / 50
    assert loss["x"][0] == pytest.approx(width / 2) and loss["x"][-1] == pytest.approx(4999 - width / 2)
    runs = {r["run_id"]: r for r in loss["runs"]}
    index = np.minimum((np.arange(5000) / width).astype(int), 49)
    for k in (0, 12, 49):
        inside = values[index == k]
        assert runs[a]["mean"][k] == pytest.approx(inside.mean())
        assert runs[a]["min"][k] == pytest.approx(inside.min()) and runs[a]["max"][k] == pytest.approx(
            inside.max()
        )
    assert max(runs[a]["max"]) == 50.0
    assert set(runs[b]["mean"]) == {1.0} and runs[b]["total_points"] == 2500
    # Without bands (a chart of many runs): the same means, no min and max.
    lean = await api.json("GET", _query([a, b], ["loss"], bins=50, bands="false"))
    lean_runs = {r["run_id"]: r for r in lean["metrics"][0]["runs"]}
    assert (
        lean_runs[a]["mean"] == runs[a]["mean"]
        and lean_runs[a]["min"] is None
        and lean_runs[a]["max"] is None
    )
    # By relative time each run starts at 0 (its own start), by wall time they do not.
    rel = await api.json("GET", _query([a, b], ["loss"], bins=50, x="relative_time"))
    assert rel["x_axis"] == "relative_time" and rel["metrics"][0]["x"][0] < 1.0
    wall = await api.json("GET", _query([a, b], ["loss"], bins=50, x="wall_time"))
    assert wall["metrics"][0]["x"][0] == pytest.approx(T0 / 1000, abs=1.0)


async def test_bad_requests_name_the_problem(api: Api) -> None:
    a = await _run(api, "a", [(0, 1.0, T0)])
    for query, words in (
        (_query([a], []), "at least one run_id and one key"),
        (_query([a], ["loss"], x="epoch"), "x must be one of step, wall_time, relative_time"),
        (_query([a], ["loss"], bins=1), "bins must be an integer from 2 to 4000"),
        (_query([a], ["loss"], bands="no"), "bands must be true or false"),
        (_query([a] + [f"{i:032x}" for i in range(200)], ["loss"]), "at most 200 runs"),
    ):
        bad = await api.call("GET", query)
        assert bad.code == 400 and "Content-Type" in bad.headers, (query[:80], bad.code, bad.body[:300])
        assert words in error_of(bad)["message"], (query[:80], error_of(bad))
    missing = await api.call("GET", _query([a, "no-such-run"], ["loss"]))
    assert missing.code == 404 and "no-such-run" in error_of(missing)["message"]
    anonymous = await api.client.fetch(f"{api.base}{_query([a], ['loss'])}", raise_error=False)
    assert anonymous.code in (401, 403)
