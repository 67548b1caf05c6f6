"""Batch scoring on a real cluster (issue 16): `ws.jobs.batch_score` through a real Jupyter server,
its Dask LocalCluster of two worker processes, and a workspace URL client, as a user runs it.

- 100 one-row CSV files in mini-batches of 5 on 2 nodes: 100 rows, each with its source file and
  row, the predictions the model in memory gives; lineage, parameters and progress on the run.
- A corrupt file: counted, named in the failures and the run; the other 99 rows are there.
- A worker SIGKILLed mid-batch: Dask runs its mini-batch again elsewhere, every row exactly once.
- Past the error threshold: the run fails naming the files; the partial output is kept as such.
- A mini-batch past its timeout: its worker is restarted, the mini-batch fails after its retries.
- A DataFrame in mini-batches of rows; an entry script with init() and run(mini_batch).
- Bad input, refused before anything is queued: an empty input, a glob that matches nothing, files
  whose columns the model's signature does not have (named), mini_batch_size 0, an untrusted model.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pytest

from jupyter_mlws.errors import InvalidParameter, NotFound

from .conftest import CLUSTER, until

pytestmark = pytest.mark.timeout(300)

COLUMNS = ["a", "b", "c"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(16)
    return pd.DataFrame(rng.normal(size=(100, 3)).round(6), columns=COLUMNS)


@pytest.fixture(scope="module")
def model(ws: Any, frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from sklearn.linear_model import LinearRegression

    from jupyter_mlws.models.flavors import save_sklearn

    fitted = LinearRegression().fit(frame, frame.a * 2 - frame.b + 0.5 * frame.c)
    path = save_sklearn(fitted, tmp_path_factory.mktemp("model") / "lin.skops")
    ws.models.register("lin", path, example=frame.head())
    return fitted


@pytest.fixture(scope="module")
def files(frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100 one-row CSV files, f000.csv ... f099.csv."""
    folder = tmp_path_factory.mktemp("batch-files")
    for i in range(len(frame)):
        frame.iloc[[i]].to_csv(folder / f"f{i:03d}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def data(ws: Any, files: Path) -> Any:
    return ws.data.register("batch-data", files)


def _expected(model: Any, frame: pd.DataFrame) -> pd.Series:
    return pd.Series(model.predict(frame), index=[f"f{i:03d}.csv" for i in range(len(frame))])


def test_a_hundred_files_in_mini_batches_on_two_nodes_give_each_row_once_with_provenance(
    ws: Any, model: Any, data: Any, frame: pd.DataFrame
) -> None:
    job = ws.jobs.batch_score(
        "lin:1", "data:batch-data", target=CLUSTER, mini_batch_size=5, experiment="batch"
    )
    job.wait(180)
    assert job.status == "completed", job.reason
    out = job.predictions()
    assert list(out.columns) == ["source_file", "row_index", "prediction"]
    assert len(out) == 100 and out.source_file.is_unique and set(out.row_index) == {0}
    assert list(out.source_file) == sorted(out.source_file)  # assembled in mini-batch order
    expected = _expected(model, frame)
    np.testing.assert_allclose(out.set_index("source_file").prediction[expected.index], expected, rtol=1e-12)
    summary = job.summary()
    assert summary["mini_batches"] == summary["mini_batches_done"] == 20 and summary["items_failed"] == 0
    run = job.run
    assert run.status == "completed"
    assert run.tags["mlws.data.data"] == "batch-data:1" and run.tags["mlws.batch.model"] == "lin:1"
    assert run.params["mini_batch_size"] == "5" and run.params["model"] == "lin:1"
    assert run.metrics["batch.rows"] == 100 and run.metrics["batch.mini_batches_done"] == 20
    history = ws.get_run(run.id).metric_history("batch.mini_batches_done")
    assert len(history) >= 1 and history["value"].iloc[-1] == 20
    assert run.id in set(ws.data.runs("batch-data:1").run_id)
    assert ws.jobs.get(job.id).predictions().equals(out)  # the handle of a listed job reads it too


def test_a_corrupt_file_is_counted_and_named_and_the_rest_is_scored(
    ws: Any, model: Any, files: Path, frame: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "with-corrupt"
    folder.mkdir()
    for i in range(20):
        frame.iloc[[i]].to_csv(folder / f"f{i:03d}.csv", index=False)
    (folder / "f007.csv").write_bytes(b'a,b,c\n1.0,\x00\x01oops,\n"unterminated')
    (folder / "f020.csv").write_text("a,b,c\n")  # a header, no rows: no row, and no failure either
    job = ws.jobs.batch_score(
        "lin", str(folder), target=CLUSTER, mini_batch_size=1, input_name="corrupt-input"
    )
    job.wait(180)
    assert job.status == "completed", job.reason
    failures = job.failures()
    assert list(failures.item) == ["f007.csv"] and failures.mini_batch[0] == 7
    assert failures.error[0]  # the reader's error, in words
    out = job.predictions()
    assert len(out) == 19 and "f007.csv" not in set(out.source_file)
    assert job.run.metrics["batch.items_failed"] == 1
    assert ws.get_run(job.run.id).tags["mlws.data.data"].startswith("corrupt-input:")


def _worker_processes(server_pid: int) -> list[psutil.Process]:
    """The cluster's Dask worker processes: the server's children started by multiprocessing."""
    found = []
    for child in psutil.Process(server_pid).children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass
    return found


#: An entry script whose mini-batches take SLOW seconds, and hang on the file HANG_ON.
SLOW_SCRIPT = """
import os, time
import pandas as pd

def init():
    global started
    started = time.time()

def run(mini_batch):
    time.sleep(SLOW)
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        if name == HANG_ON:
            time.sleep(600)
        rows.append({"file": name, "a": float(pd.read_csv(path).a.iloc[0])})
    return pd.DataFrame(rows)
"""


def _slow_script(path: Path, slow: float, hang_on: str = "") -> Path:
    path.write_text(f"SLOW = {slow!r}\nHANG_ON = {hang_on!r}\n" + SLOW_SCRIPT)
    return path


def test_a_worker_killed_mid_batch_changes_nothing_in_the_output(
    ws: Any, server: Any, data: Any, frame: pd.DataFrame, tmp_path: Path
) -> None:
    script = _slow_script(tmp_path / "slow_score.py", 0.5)
    job = ws.jobs.batch_score(None, "data:batch-data", target=CLUSTER, mini_batch_size=5, entry_script=script)
    run_id = until(lambda: job.refresh().state == "running" and job.record.run_id, 120, "the batch running")

    def progress() -> float:
        return ws.get_run(run_id).metrics.get("batch.mini_batches_done", 0)

    until(lambda: progress() >= 2, 120, "two mini-batches done")
    until(lambda: len(_worker_processes(server.process.pid)) == 2, 60, "two worker processes")
    victim = _worker_processes(server.process.pid)[0]
    os.kill(victim.pid, signal.SIGKILL)
    done_at_kill = progress()
    job.wait(180)
    assert job.status == "completed", job.reason
    assert done_at_kill < 20, "the batch ended before the worker was killed: the test proves nothing"
    out = job.predictions()
    assert list(out.columns) == ["mini_batch", "file", "a"]
    assert len(out) == 100 and out.file.is_unique  # every row exactly once
    assert sorted(out.file) == [f"f{i:03d}.csv" for i in range(100)]
    np.testing.assert_array_equal(out.set_index("file").a[[f"f{i:03d}.csv" for i in range(100)]], frame.a)
    assert (out.groupby("mini_batch").size() == 5).all()


def test_past_the_error_threshold_the_run_fails_naming_the_files_and_keeps_the_partial_output(
    ws: Any, model: Any, frame: pd.DataFrame, tmp_path: Path
) -> None:
    folder = tmp_path / "mostly-bad"
    folder.mkdir()
    for i in range(12):
        frame.iloc[[i]].to_csv(folder / f"f{i:03d}.csv", index=False)
    for bad in ("f003.csv", "f004.csv", "f009.csv"):
        (folder / bad).write_text("x,y\n1,2\n")  # no column the model takes
    job = ws.jobs.batch_score(
        "lin", str(folder), target=CLUSTER, mini_batch_size=2, error_threshold=1, input_name="threshold-input"
    )
    job.wait(180)
    assert job.status == "failed"
    assert "more than error_threshold=1" in job.reason
    assert sum(bad in job.reason for bad in ("f003.csv", "f004.csv", "f009.csv")) >= 2
    assert "no column 'a'" in job.reason
    summary = job.summary()
    assert summary["stopped"] and summary["output"] == "outputs/predictions.partial.csv"
    partial = job.predictions()
    assert partial.source_file.is_unique and not {"f003.csv", "f004.csv", "f009.csv"} & set(
        partial.source_file
    )
    names = set(job.run.artifacts()["path"])
    assert "outputs/predictions.partial.csv" in names
    assert "outputs/predictions.csv" not in names  # nobody takes the partial output for the whole
    failed = set(job.failures().item)
    assert len(failed) >= 2 and failed <= {"f003.csv", "f004.csv", "f009.csv"}


def test_a_mini_batch_past_its_timeout_is_stopped_and_fails_after_its_retries(
    ws: Any, data: Any, tmp_path: Path
) -> None:
    script = _slow_script(tmp_path / "hangs.py", 0.0, hang_on="f060.csv")
    began = time.monotonic()
    job = ws.jobs.batch_score(
        None,
        "data:batch-data",
        target=CLUSTER,
        mini_batch_size=50,
        entry_script=script,
        timeout=3,
        max_retries=0,
    )
    job.wait(180)
    assert job.status == "completed", job.reason
    assert time.monotonic() - began < 120  # not the 600 s the script would hang
    failures = job.failures()
    assert len(failures) == 50 and set(failures.mini_batch) == {1}
    assert failures.error.str.contains("timed out after 3 s").all()
    assert len(job.predictions()) == 50


def test_a_dataframe_in_mini_batches_of_rows(ws: Any, model: Any, frame: pd.DataFrame) -> None:
    given = frame.iloc[:37].copy()
    given["id"] = range(37)  # a column the model does not take: ignored, as an endpoint does
    job = ws.jobs.batch_score("lin:1", given, target=CLUSTER, mini_batch_size=10)
    job.wait(180)
    assert job.status == "completed", job.reason
    out = job.predictions()
    assert list(out.columns) == ["row_index", "prediction"] and list(out.row_index) == list(range(37))
    np.testing.assert_allclose(out.prediction, model.predict(frame.iloc[:37]), rtol=1e-12)
    assert job.summary()["mini_batches"] == 4


def test_an_entry_script_with_init_and_the_model_folder(
    ws: Any, model: Any, data: Any, tmp_path: Path
) -> None:
    script = tmp_path / "score.py"
    script.write_text(
        "import os, pandas as pd\n"
        "def init():\n"
        "    global folder\n"
        "    folder = os.environ['MLWS_MODEL_DIR']\n"
        "def run(mini_batch):\n"
        "    return [{'file': os.path.basename(p), 'model_files': len(os.listdir(folder)),\n"
        "             'model': os.environ['MLWS_MODEL']} for p in mini_batch[:-1]]\n"
    )
    job = ws.jobs.batch_score(
        "lin", "data:batch-data:1", target=CLUSTER, mini_batch_size=25, entry_script=script
    )
    job.wait(180)
    assert job.status == "completed", job.reason
    out = job.predictions()
    assert len(out) == 96 and set(out.model) == {"lin:1"} and (out.model_files >= 1).all()
    failures = job.failures()  # Azure ML's rule: an item the script returned no row for failed
    assert list(failures["count"]) == [1, 1, 1, 1] and "returned 24 rows for 25 items" in failures.error[0]


def test_bad_input_is_refused_before_anything_is_queued(
    ws: Any, model: Any, data: Any, frame: pd.DataFrame, tmp_path: Path
) -> None:
    before = len(ws.jobs.list())
    with pytest.raises(InvalidParameter, match="no rows"):
        ws.jobs.batch_score("lin", frame.iloc[:0], target=CLUSTER)
    with pytest.raises(NotFound, match="matches no files"):
        ws.jobs.batch_score("lin", str(tmp_path / "nothing" / "*.csv"), target=CLUSTER)
    with pytest.raises(InvalidParameter, match="mini_batch_size is a whole number from 1"):
        ws.jobs.batch_score("lin", "data:batch-data", target=CLUSTER, mini_batch_size=0)
    other = tmp_path / "other"
    other.mkdir()
    pd.DataFrame({"a": [1.0], "x": [2.0]}).to_csv(other / "one.csv", index=False)
    with pytest.raises(InvalidParameter, match=r"missing \['b', 'c'\]"):
        ws.jobs.batch_score("lin", str(other), target=CLUSTER, input_name="mismatch-input")
    with pytest.raises(InvalidParameter, match=r"missing \['c'\]"):
        ws.jobs.batch_score("lin", frame[["a", "b"]], target=CLUSTER)
    with pytest.raises(NotFound):
        ws.jobs.batch_score("lin", "data:no-such-data", target=CLUSTER)
    with pytest.raises(NotFound, match="neither a data asset nor a file"):
        ws.jobs.batch_score("lin", "no-such-thing", target=CLUSTER)
    with pytest.raises(InvalidParameter, match="output_action"):
        ws.jobs.batch_score("lin", "data:batch-data", target=CLUSTER, output_action="append_rows")
    with pytest.raises(NotFound, match="Unknown target"):
        ws.jobs.batch_score("lin", "data:batch-data", target="no-such-cluster")
    assert len(ws.jobs.list()) == before


def test_an_untrusted_pickle_model_is_refused_at_submit(ws: Any, data: Any, tmp_path: Path) -> None:
    import pickle

    from jupyter_mlws.models.gate import UntrustedModel

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"not": "a model"}))
    ws.models.register("pickled", path, flavor="pickle")
    with pytest.raises(UntrustedModel, match="trust"):
        ws.jobs.batch_score("pickled", "data:batch-data", target=CLUSTER)


def test_canceling_a_batch_kills_its_driver_and_frees_the_cluster(ws: Any, data: Any, tmp_path: Path) -> None:
    script = _slow_script(tmp_path / "slow.py", 2.0)
    job = ws.jobs.batch_score(None, "data:batch-data", target=CLUSTER, mini_batch_size=1, entry_script=script)
    run_id = until(lambda: job.refresh().state == "running" and job.record.run_id, 120, "the batch running")
    until(lambda: ws.get_run(run_id).metrics.get("batch.mini_batches_done", 0) >= 1, 120, "a mini-batch done")
    job.cancel()
    until(lambda: job.status == "canceled", 30, "the batch canceled")
    assert ws.get_run(run_id).status == "canceled"
    # its 98 remaining mini-batches (2 s each) are not left running: a job gets the cluster at once
    began = time.monotonic()
    after = ws.jobs.submit(command=["python", "-c", "print('next')"], target=CLUSTER)
    after.wait(60)
    assert after.status == "completed" and time.monotonic() - began < 20
