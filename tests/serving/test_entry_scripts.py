"""Azure ML's entry script contract on a real endpoint: `init()` + `run(raw_data)` with the body as
text and the return value as the answer; the typed path for a `run(data: pd.DataFrame)`; the
`entry_script` tag honoured by deploy as by load; the replicas' logs; timeout bounds."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlws.errors import InvalidParameter

from .conftest import Client

AZURE_SCRIPT = """
import json
import os

import numpy as np

COEF = None

def init():
    global COEF
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "coef.json")) as handle:
        COEF = np.array(json.load(handle))
    print("init: loaded", len(COEF), "coefficients")

def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    result = data @ COEF
    print("run: scored", len(data), "rows")
    return result.tolist()
"""

TYPED_SCRIPT = """
import pandas as pd

def init():
    pass

def run(data: pd.DataFrame):
    return (data["x"] * 10).tolist()
"""


def azure_folder(tmp: Path, script_name: str = "score.py") -> Path:
    folder = tmp / "diabetes-model"
    folder.mkdir()
    (folder / "coef.json").write_text(json.dumps([1.0, 2.0, 0.5]))
    (folder / script_name).write_text(AZURE_SCRIPT)
    return folder


def test_run_gets_the_raw_body_and_its_return_value_is_the_answer(ws: Any, manager: Any, tmp_path: Path) -> None:
    ws.models.register("diabetes", azure_folder(tmp_path), trusted=True)
    ep = ws.endpoints.deploy("diabetes-api", model="diabetes:1")
    client = Client(ep.record.port, ep.keys.primary)
    body = json.dumps({"data": [[1, 2, 3], [0.5, 0, -2]]}).encode()
    client.conn.request("POST", "/score", body, {"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {ep.keys.primary}"})
    resp = client.conn.getresponse()
    text = resp.read().decode()
    assert resp.status == 200
    assert json.loads(text) == [6.5, -0.5]  # as run() returned it: no {"predictions": ...}
    assert resp.getheader("X-MLWS-Answer") == "raw"
    assert resp.getheader("X-MLWS-Deployment") == "blue" and resp.getheader("X-MLWS-Version") == "1"
    # the Python client hands the answer back as it is, from a dict or from the text itself
    assert ep.score({"data": [[1, 1, 1]]}) == [3.5]
    assert ep.score('{"data": [[2, 0, 0]]}') == [2.0]
    # a script that raises on a body it cannot read: 500 naming the logs, never a traceback
    status, answer, text = client.score(b'{"rows": []}')
    assert status == 500 and "logs" in answer["message"] and "Traceback" not in text
    # and ws.models.load(...).predict gives the script the same text
    predictor = ws.models.load("diabetes:1")
    assert predictor.raw and predictor.predict('{"data": [[1, 2, 3]]}') == [6.5]


def test_a_run_that_declares_a_dataframe_keeps_the_typed_path(ws: Any, manager: Any, tmp_path: Path) -> None:
    folder = tmp_path / "typed"
    folder.mkdir()
    (folder / "score.py").write_text(TYPED_SCRIPT)
    ws.models.register("typed", folder, example=[{"x": 1.0}], trusted=True)
    ep = ws.endpoints.deploy("typed-api", model="typed:1")
    status, answer, _ = Client(ep.record.port, ep.keys.primary).score([{"x": 1.5}, {"x": 2.0}])
    assert status == 200 and answer["predictions"] == [15.0, 20.0] and answer["version"] == 1
    assert ep.score([{"x": 0.25}]) == [2.5]


def test_the_entry_script_tag_names_the_script_for_deploy_as_for_load(
    ws: Any, manager: Any, tmp_path: Path
) -> None:
    folder = azure_folder(tmp_path, "score_diabetes.py")
    version = ws.models.register("tagged", folder, tags={"entry_script": "score_diabetes.py"}, trusted=True)
    assert version.flavor == "python"  # detected from the tagged script, as load and deploy find it
    assert ws.models.load("tagged:1").predict('{"data": [[1, 0, 0]]}') == [1.0]
    ep = ws.endpoints.deploy("tagged-api", model="tagged:1")
    assert ep.score({"data": [[0, 1, 0]]}) == [2.0]


def test_endpoint_logs_return_what_the_replicas_printed(ws: Any, manager: Any, tmp_path: Path) -> None:
    ws.models.register("logged", azure_folder(tmp_path), trusted=True)
    ep = ws.endpoints.deploy("logged-api", model="logged:1", replicas=2)
    ep.score({"data": [[1, 2, 3]] * 4})
    # Both replicas' lines reach the logs, the one that did not score too (its output is read
    # asynchronously: wait for it, as a user re-reading the logs would).
    deadline = time.monotonic() + 10
    while True:
        text = ep.logs(lines=50)
        inits = [line for line in text.splitlines() if "init: loaded 3 coefficients" in line]
        if "run: scored 4 rows" in text and len(inits) >= 2:
            break
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    assert len(inits) == 2  # one per replica, each stamped with its own pid
    stamps = {line.split(" ", 2)[1] for line in inits}
    assert len(stamps) == 2 and all(s.startswith("[") and s.endswith("]") for s in stamps)
    assert inits[0][:4].isdigit() and inits[0][10] == "T"  # an ISO time first
    assert len(ep.logs(lines=1).splitlines()) == 1
    assert ws.endpoints.logs("logged-api", 5) == ep.logs(5)


@pytest.mark.parametrize("bad", [-1, 0, 0.01, 1e12, float("nan"), float("inf"), True, "30"])
def test_timeout_seconds_out_of_bounds_is_refused_and_nothing_is_stored(
    ws: Any, manager: Any, tmp_path: Path, bad: Any
) -> None:
    ws.models.register("bounded", azure_folder(tmp_path), trusted=True)
    with pytest.raises(InvalidParameter, match="timeout_seconds must be a number of seconds from 0.1 to 600"):
        ws.endpoints.deploy("bounded-api", model="bounded:1", timeout_seconds=bad)
    assert [e.name for e in ws.store.list_endpoints()] == []
