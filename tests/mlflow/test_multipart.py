"""MLflow's multipart artifact uploads through our proxy (`server/mlflow_api/multipart.py`).

The stock client uploads a file in parts when `server-info` offers it and the file is past
`MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE` (lowered here so a few MiB do): the parts go to
this server's part route with the caller's own credential, and the file appears whole, or not
at all.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import tracking_uri

MiB = 1024 * 1024


def _api(server: Any) -> str:
    return f"{tracking_uri(server)}/api/2.0"


def _auth(server: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token}"}


def _staged(server: Any) -> list[Path]:
    uploads = server.root_dir / ".mlws" / "uploads"
    return [p for p in uploads.rglob("*") if p.is_file()] if uploads.exists() else []


@pytest.fixture
def run(mlflow: Any) -> Any:
    # an experiment of this server: MLflow keeps the last set_experiment of an earlier module's
    # server in a global, which names an experiment this server does not have
    mlflow.set_experiment("multipart")
    with mlflow.start_run() as active:
        yield active


def test_a_large_file_goes_up_in_parts_and_comes_back_whole(
    server: Any, mlflow: Any, ws: Any, run: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MiB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(MiB))
    parts: list[str] = []
    real_put = requests.put

    def put(url: str, *args: Any, **kwargs: Any) -> Any:  # MLflow's client PUTs each part with requests.put
        parts.append(url)
        return real_put(url, *args, **kwargs)

    monkeypatch.setattr(requests, "put", put)
    data = os.urandom(3 * MiB + 12345)
    source = tmp_path / "weights.bin"
    source.write_bytes(data)

    mlflow.log_artifact(str(source), artifact_path="big")

    assert len(parts) == 4 and all("/mlflow-artifacts/mpu/part/" in p for p in parts), parts
    back = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="big/weights.bin"))
    assert back.read_bytes() == data
    ours = ws.get_run(run.info.run_id).artifacts().set_index("path")
    assert ours.loc["big/weights.bin", "sha256"] == hashlib.sha256(data).hexdigest()
    assert _staged(server) == [], "staged parts left behind"


def _create(server: Any, run: Any, num_parts: Any, folder: str = "", **headers: str) -> requests.Response:
    where = f"{run.info.experiment_id}/{run.info.run_id}/artifacts" + (f"/{folder}" if folder else "")
    return requests.post(
        f"{_api(server)}/mlflow-artifacts/mpu/create/{where}",
        json={"path": "part.bin", "num_parts": num_parts},
        headers=headers or _auth(server),
        timeout=30,
    )


def _finish(server: Any, run: Any, action: str, body: dict[str, Any]) -> requests.Response:
    where = f"{run.info.experiment_id}/{run.info.run_id}/artifacts"
    return requests.post(
        f"{_api(server)}/mlflow-artifacts/mpu/{action}/{where}",
        json={"path": "part.bin", **body},
        headers=_auth(server),
        timeout=30,
    )


def _listed(ws: Any, run: Any) -> set[str]:
    return set(ws.get_run(run.info.run_id).artifacts()["path"])


@pytest.mark.catalogue("C7")
def test_an_incomplete_or_wrong_part_list_stores_nothing_and_abort_cleans_up(
    server: Any, ws: Any, run: Any
) -> None:
    created = _create(server, run, 2)
    assert created.status_code == 200, created.text
    upload = created.json()
    credentials = upload["credentials"]
    assert [c["part_number"] for c in credentials] == [1, 2]
    first = requests.put(
        credentials[0]["url"], data=b"a" * 1000, headers=credentials[0]["headers"], timeout=30
    )
    assert first.status_code == 200, first.text
    etag = first.headers["ETag"]
    assert etag.strip('"') == hashlib.sha256(b"a" * 1000).hexdigest()

    # A part missing, or an ETag the server never gave: a clear 400, and no artifact appears.
    missing = _finish(
        server,
        run,
        "complete",
        {"upload_id": upload["upload_id"], "parts": [{"part_number": 1, "etag": etag}]},
    )
    assert missing.status_code == 400 and missing.json()["error_code"] == "INVALID_PARAMETER_VALUE", (
        missing.text
    )
    second = requests.put(
        credentials[1]["url"], data=b"b" * 10, headers=credentials[1]["headers"], timeout=30
    )
    assert second.status_code == 200, second.text
    wrong = _finish(
        server,
        run,
        "complete",
        {
            "upload_id": upload["upload_id"],
            "parts": [{"part_number": 1, "etag": etag}, {"part_number": 2, "etag": "x"}],
        },
    )
    assert wrong.status_code == 400 and "ETag" in wrong.json()["message"], wrong.text
    assert "part.bin" not in _listed(ws, run)

    # Abort removes the staged parts; the upload is gone for complete and for parts.
    assert _finish(server, run, "abort", {"upload_id": upload["upload_id"]}).status_code == 200
    assert _staged(server) == []
    gone = _finish(
        server,
        run,
        "complete",
        {
            "upload_id": upload["upload_id"],
            "parts": [{"part_number": 1, "etag": etag}, {"part_number": 2, "etag": second.headers["ETag"]}],
        },
    )
    assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", gone.text
    late = requests.put(credentials[0]["url"], data=b"c", headers=credentials[0]["headers"], timeout=30)
    assert late.status_code == 404, late.text
    assert "part.bin" not in _listed(ws, run) and _staged(server) == []


def test_parts_are_authenticated_and_bad_requests_are_refused(server: Any, ws: Any, run: Any) -> None:
    created = _create(server, run, 1).json()
    part = created["credentials"][0]
    anonymous = requests.put(part["url"], data=b"x", timeout=30)
    assert anonymous.status_code == 403, anonymous.text
    wrong_token = requests.put(part["url"], data=b"x", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong_token.status_code == 403, wrong_token.text
    past_the_end = requests.put(part["url"][:-1] + "2", data=b"x", headers=part["headers"], timeout=30)
    assert past_the_end.status_code == 400, past_the_end.text
    for bad in (0, -1, 10_001, "many", True):
        refused = _create(server, run, bad)
        assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE", (
            bad,
            refused.text,
        )
    # P1: the file's folder cannot leave the run's artifacts.
    escaping = _create(server, run, 1, folder="../../other")
    assert escaping.status_code == 400, escaping.text
    # Authenticated another way (the token in the URL, no Authorization header): no credential
    # to give the parts, so "not implemented", which MLflow's client answers by PUTting the file whole.
    where = f"{run.info.experiment_id}/{run.info.run_id}/artifacts"
    no_header = requests.post(
        f"{_api(server)}/mlflow-artifacts/mpu/create/{where}?token={server.token}",
        json={"path": "part.bin", "num_parts": 1},
        timeout=30,
    )
    assert no_header.status_code == 501 and no_header.json()["error_code"] == "NOT_IMPLEMENTED", (
        no_header.text
    )
    assert _finish(server, run, "abort", {"upload_id": created["upload_id"]}).status_code == 200
    assert "part.bin" not in _listed(ws, run) and _staged(server) == []


def test_two_completes_at_once_store_the_file_once_and_the_second_is_not_found(
    server: Any, ws: Any, run: Any
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    upload = _create(server, run, 1).json()
    part = upload["credentials"][0]
    data = os.urandom(2 * MiB)
    etag = requests.put(part["url"], data=data, headers=part["headers"], timeout=30).headers["ETag"]
    body = {"upload_id": upload["upload_id"], "parts": [{"part_number": 1, "etag": etag}]}
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: _finish(server, run, "complete", body), range(2)))
    assert sorted(a.status_code for a in answers) == [200, 404], [a.text for a in answers]
    stored = ws.get_run(run.info.run_id).artifacts().set_index("path")
    assert stored.loc["part.bin", "sha256"] == hashlib.sha256(data).hexdigest()
    assert _staged(server) == []
