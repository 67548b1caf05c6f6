"""The batch-endpoint key on a server that requires authentication for everything (issue 16).

pytest-jupyter's server here runs with `allow_unauthenticated_access = False` (tests/conftest.py),
where Jupyter refuses a request with no Jupyter identity before any handler code runs: the invoke
route must still let an endpoint key through, and only that route, and only for its endpoint. The
endpoint is stored directly with a known key and names a model that does not exist, so a request
that passes authentication gets that model's 404 and nothing is queued (a real job over real HTTP:
tests/jobs/test_batch_endpoints.py).
"""

from __future__ import annotations

import json

import pytest

from jupyter_mlws.model_entities import BatchEndpoint
from jupyter_mlws.serving.keys import hash_key, new_key

from .api_helpers import Api, error_of

INVOKE = "/batch-endpoints/gate-batch/jobs"


@pytest.mark.catalogue("A7")
async def test_a_key_opens_the_invoke_route_of_its_endpoint_only(
    jp_serverapp, http_server_client, jp_base_url, api: Api, services
) -> None:
    assert jp_serverapp.allow_unauthenticated_access is False
    key, other = new_key(), new_key()
    hashes = {"primary": hash_key(key), "secondary": hash_key(new_key())}
    services.store.create_batch_endpoint(
        BatchEndpoint("gate-batch", "no-such-model", "cpu", key_hashes=hashes)
    )
    services.store.create_batch_endpoint(
        BatchEndpoint("other-batch", "no-such-model", "cpu", key_hashes={"primary": hash_key(other)})
    )
    anonymous = Api(http_server_client, jp_base_url, {})
    body = {"inputs": "data:rows"}

    def bearer(value: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {value}"}

    answer = await anonymous.call("POST", INVOKE, body, headers=bearer(key))
    assert answer.code == 404 and "no-such-model" in error_of(answer)["message"], "the key let it through"
    answer = await anonymous.call("POST", INVOKE, {"inputs": "/etc"}, headers=bearer(key))
    assert answer.code == 400 and "data asset" in error_of(answer)["message"]
    for wrong in ("nope", other, key[:-1]):
        answer = await anonymous.call("POST", INVOKE, body, headers=bearer(wrong))
        assert answer.code == 401 and error_of(answer)["error"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    answer = await anonymous.call("POST", "/batch-endpoints/no-such-batch/jobs", body, headers=bearer(key))
    assert answer.code == 401
    assert (await anonymous.call("POST", INVOKE, body)).code == 403
    assert (await anonymous.call("POST", INVOKE, body, headers={"Authorization": f"token {key}"})).code == 403
    for method, path in (
        ("GET", "/batch-endpoints"),
        ("GET", "/batch-endpoints/gate-batch"),
        ("GET", INVOKE),
        ("DELETE", "/batch-endpoints/gate-batch"),
        ("POST", "/batch-endpoints/gate-batch/keys/primary"),
        ("GET", "/jobs"),
    ):
        answer = await anonymous.call(method, path, {} if method == "POST" else None, headers=bearer(key))
        assert answer.code == 403, f"{method} {path}: {answer.code}"

    # the Jupyter token works on the same route, and no answer carries key material
    answer = await api.call("POST", INVOKE, body)
    assert answer.code == 404
    shown = await api.json("GET", "/batch-endpoints/gate-batch")
    assert shown["model"] == "no-such-model" and shown["last_job"] is None
    assert hashes["primary"] not in json.dumps(await api.json("GET", "/batch-endpoints"))
    assert (
        services.store.list_jobs() == []
        and services.store.get_batch_endpoint("gate-batch").last_job_id is None
    )
