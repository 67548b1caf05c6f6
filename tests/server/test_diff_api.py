"""`GET /runs/{a}/diff/{b}` over real HTTP: the panel's compare view reads this."""

from __future__ import annotations

import json
import uuid

from .api_helpers import Api, error_of


async def test_diff_route_answers_every_part(api: Api) -> None:
    ids = []
    for lr, log in (("0.1", "loss 0.5\n"), ("0.2", "loss 0.4\n")):
        run = await api.json("POST", "/runs", {"experiment_name": "diff", "name": f"lr {lr}"}, expect=201)
        rid = run["run_id"]
        batch = {
            "params": {"lr": lr, "epochs": "3"},
            "metrics": [{"key": "loss", "value": float(log[5:]), "step": 0}],
        }
        await api.json("PUT", f"/runs/{rid}/batches/{uuid.uuid4().hex}", batch)
        put = await api.call("PUT", f"/runs/{rid}/artifacts/logs/output.txt", raw=log.encode())
        assert put.code in (200, 201), put.body
        ids.append(rid)
    a, b = ids
    got = await api.json("GET", f"/runs/{a}/diff/{b}")
    assert got["identical"] is False and (got["run_a"], got["run_b"]) == (a, b)
    assert got["parts"]["params"] == [{"key": "lr", "a": "0.1", "b": "0.2", "change": "changed"}]
    assert got["parts"]["metrics"][0]["parts_at_step"] == 0
    [log_row] = got["parts"]["artifacts"]
    assert log_row["path"] == "logs/output.txt" and "-loss 0.5\n+loss 0.4\n" in log_row["diff"]
    assert any("has no code snapshot" in note for note in got["notes"])
    same = await api.json("GET", f"/runs/{a}/diff/{a}")
    assert same["identical"] is True and json.dumps(same)

    missing = await api.call("GET", f"/runs/{a}/diff/nope")
    assert missing.code == 404 and "nope" in error_of(missing)["message"]
    anonymous = await api.client.fetch(f"{api.base}/runs/{a}/diff/{b}", raise_error=False)
    assert anonymous.code in (401, 403)
