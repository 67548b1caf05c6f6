"""`GET /runs/{a}/diff/{b}` over real HTTP: the panel's compare view reads this."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from jupyter_server.auth import Authorizer

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


async def test_replay_route_starts_a_replay_whose_run_records_the_verdict(
    api: Api, services, tmp_path
) -> None:
    import asyncio

    from jupyter_mlws import Workspace
    from jupyter_mlws.client.snapshot import take_snapshot

    ws = Workspace(services.location.workspace)
    try:
        with ws.start_run("replays", "printing", tags={"mlws.execution_count": 1}) as run:
            run.log_text("hi\n", "logs/output.txt")
            take_snapshot(run, tmp_path, history=[(1, "print('hi')")])
    finally:
        ws.close()
    started = await api.json("POST", f"/runs/{run.id}/replay", {"timeout": 120}, expect=202)
    assert started["run_id"] == run.id and started["pid"] > 0
    again = await api.call("POST", f"/runs/{run.id}/replay", {})
    assert again.code == 409 and "being replayed already" in error_of(again)["message"]

    search = f"/runs?filter=parent_run_id%20%3D%20'{run.id}'%20and%20source_kind%20%3D%20'replay'"
    for _ in range(1200):  # the replay's process starts a kernel: seconds on a busy machine
        found = (await api.json("GET", search))["runs"]
        if found and found[0]["status"] != "running":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"no finished replay; its log: {open(started['log']).read()[-2000:]}")
    assert found[0]["status"] == "completed" and found[0]["tags"]["mlws.replay.verdict"] == "reproduced"

    missing = await api.call("POST", "/runs/nope/replay", {})
    assert missing.code == 404
    bad = await api.call("POST", f"/runs/{run.id}/replay", {"timeout": -1})
    assert bad.code == 400


class NoKernelsAuthorizer(Authorizer):
    """A shared server's authorizer: everything but running code in kernels."""

    def is_authorized(self, handler: object, user: object, action: str, resource: str) -> bool:
        return resource != "kernels"


class TestReplayNeedsThePermissionToRunCode:
    @pytest.fixture
    def jp_server_config(self, jp_root_dir: Path) -> dict:
        return {
            "ServerApp": {
                "jpserver_extensions": {"jupyter_mlws": True},
                "allow_unauthenticated_access": False,
                "authorizer_class": NoKernelsAuthorizer,
            },
            "MLWorkspaceApp": {"workspace": str(jp_root_dir / "ws"), "serve_endpoints": False},
        }

    async def test_a_user_who_may_write_runs_may_not_replay_them(self, api: Api) -> None:
        run = await api.json(
            "POST", "/runs", {"experiment_name": "replays", "name": "stored code"}, expect=201
        )
        refused = await api.call("POST", f"/runs/{run['run_id']}/replay", {})
        assert refused.code == 403 and "execute code in kernels" in error_of(refused)["message"]
        listed = await api.json("GET", f"/runs?filter=parent_run_id%20%3D%20'{run['run_id']}'")
        assert listed["runs"] == []  # nothing started
