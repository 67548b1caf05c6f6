"""Schema fuzz of the whole REST API (issue 4): schemathesis generates requests from the
OpenAPI document the server serves — valid and invalid — and no input may produce a 5xx,
an answer that is not JSON, or a change to data already stored."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from jupyter_mlws.server.openapi import build_openapi

pytestmark = [pytest.mark.slow, pytest.mark.catalogue("P10")]

schema = schemathesis.openapi.from_dict(build_openapi())
EXAMPLES = int(os.environ.get("MLWS_FUZZ_EXAMPLES", "40"))


@pytest.fixture
def seeded(live_server):
    """A run with data that no fuzzed request is allowed to change."""
    store = live_server.services.store
    experiment = store.create_experiment("precious")
    run_id = store.create_run(experiment.experiment_id, name="keep-me", tags={"t": "v"}).info.run_id
    store.log_batch(run_id, metrics=[("m", 0.5, s, 1_700_000_000_000 + s) for s in range(20)], params={"p": "1"})
    live_server.services.artifacts.put_bytes(run_id, b"artifact-bytes", "a.txt")

    def snapshot() -> tuple:
        record = store.get_run(run_id)
        history = store.get_metric_history(run_id, "m")
        return (record.data.params, record.data.tags, record.data.metrics, list(history.values),
                live_server.services.artifacts.open(run_id, "a.txt").read(),
                [e.name for e in store.list_experiments() if e.experiment_id == experiment.experiment_id])

    before = snapshot()
    yield run_id
    assert snapshot() == before, "a fuzzed request changed stored data"


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_breaks_the_api(case, live_server, seeded) -> None:
    if case.path_parameters and "run_id" in case.path_parameters and case.method.upper() in ("DELETE", "PATCH"):
        # Never aim destructive calls at the seeded run: deleting it on purpose is allowed.
        if case.path_parameters["run_id"] == seeded:
            return
    # The generated security header would be a random bearer token: use the server's.
    case.headers = {**(case.headers or {}), "Authorization": f"token {live_server.token}"}
    response = case.call(base_url=live_server.url)
    assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query}: {response.status_code}"
    assert response.status_code != 403, "the token was refused: the fuzz would test nothing"
    if response.content:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith(("application/json", "application/octet-stream", "image/")), (
            case.method, case.formatted_path, content_type
        )
