"""The pieces of `%%mlrun` that need no kernel: the output tee, the card, `--log-vars`, the saved
notebook's cell ids, and the background finalizer with `Workspace.settle` ("read your writes")."""

from __future__ import annotations

import io
import json
import sys
import threading
import time

import numpy as np
import pytest

import jupyter_mlws as mlws
from jupyter_mlws.client import finalizer as finalizer_module
from jupyter_mlws.client.finalizer import Finalizer
from jupyter_mlws.client.finalizer import submit as submit_background
from jupyter_mlws.notebook.capture import OutputCapture
from jupyter_mlws.notebook.card import CardFacts, card_bundle, format_duration
from jupyter_mlws.notebook.mlrun import classify_vars, parse_names, parse_pairs
from jupyter_mlws.notebook.session import SavedCells


class TestOutputCapture:
    def test_the_user_sees_everything_and_the_log_keeps_a_copy(self, monkeypatch) -> None:
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)
        capture = OutputCapture()
        capture.start()
        try:
            print("one")
            print("two", file=sys.stderr)
            sys.stdout.writelines(["a", "b\n"])
            assert sys.stdout.getvalue() == "one\nab\n"  # the real stream's own API still answers
        finally:
            capture.stop()
        print("after")
        assert sys.stdout is out and sys.stderr is err
        assert out.getvalue() == "one\nab\nafter\n" and err.getvalue() == "two\n"
        assert capture.text() == "one\ntwo\nab\n"

    def test_streams_are_restored_when_the_cell_raises(self, monkeypatch) -> None:
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        capture = OutputCapture()
        with pytest.raises(KeyboardInterrupt):
            capture.start()
            try:
                raise KeyboardInterrupt
            finally:
                capture.stop()
        assert sys.stdout is out

    def test_the_log_is_capped_with_a_note_but_the_cell_shows_all(self, monkeypatch) -> None:
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        capture = OutputCapture(max_chars=10)
        capture.start()
        try:
            sys.stdout.write("0123456")
            sys.stdout.write("789abcdef")
            sys.stdout.write("more")
        finally:
            capture.stop()
        assert out.getvalue() == "0123456789abcdefmore"
        text = capture.text()
        assert text.startswith("0123456789\n")
        assert "capped at 10 characters; 10 more characters of output were not stored" in text


class TestCard:
    def test_user_text_is_escaped_and_the_link_names_the_run(self) -> None:
        facts = CardFacts("abc123", "<img src=x onerror=alert(1)>", "exp & <b>", "failed", 3.0, "Boom: <x>")
        bundle = card_bundle(facts)
        html = bundle["text/html"]
        assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "exp &amp; &lt;b&gt;" in html and "Boom: &lt;x&gt;" in html
        assert '<a class="mlws-run-link" data-mlws-run="abc123" href="#">Open in ML Workspace</a>' in html
        assert 'data-status="failed"' in html and "<script" not in html
        assert bundle["text/plain"].startswith("mlws run <img src=x onerror=alert(1)> [failed] 3.00 s")

    def test_durations_read_naturally(self) -> None:
        assert format_duration(None) == "\u2014"
        assert format_duration(0.0421) == "0.04 s"
        assert format_duration(12.34) == "12.3 s"
        assert format_duration(245) == "4 min 05 s"
        assert format_duration(7380) == "2 h 03 min"


class TestOptions:
    def test_key_value_pairs(self) -> None:
        from IPython.core.error import UsageError

        assert parse_pairs(["a=1", "b=x=y", "c="], "-t") == {"a": "1", "b": "x=y", "c": ""}
        for bad in ("novalue", "=x"):
            with pytest.raises(UsageError, match="-t expects key=value"):
                parse_pairs([bad], "-t")
        assert parse_names(" a, b.c ,") == ["a", "b.c"]
        with pytest.raises(UsageError, match="variable names"):
            parse_names("a, 1b")

    def test_log_vars_sorts_values_by_kind(self) -> None:
        namespace = {
            "f": np.float32(0.5),
            "i": np.int64(3),
            "flag": np.bool_(False),
            "nan": float("nan"),
            "text": "short",
            "frame": {"a": 1},
        }
        metrics, params, notes = classify_vars(["f", "i", "flag", "nan", "text", "frame", "gone"], namespace)
        assert metrics["f"] == 0.5 and metrics["i"] == 3.0 and np.isnan(metrics["nan"])
        assert params == {"flag": "False", "text": "short"}
        assert any("frame is a dict" in n for n in notes) and any("gone is not defined" in n for n in notes)


def test_saved_cells_give_ids_in_notebook_order(tmp_path) -> None:
    path = tmp_path / "nb.ipynb"
    cells = [
        {"cell_type": "code", "id": "a", "source": ["x = 1\n", "y = 2"], "metadata": {}, "outputs": []},
        {"cell_type": "markdown", "id": "m", "source": "x = 1\ny = 2", "metadata": {}},
        {"cell_type": "code", "id": "b", "source": "print(x)", "metadata": {}, "outputs": []},
        {"cell_type": "code", "id": "c", "source": "print(x)", "metadata": {}, "outputs": []},
    ]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    saved = SavedCells(str(path))
    assert saved.find("x = 1\ny = 2") == "a"
    assert saved.find("print(x)") == "b"
    assert saved.find("print(x)") == "c"  # the same source again: the next cell down
    assert saved.find("print(y)") is None
    assert SavedCells(str(tmp_path / "missing.ipynb")).find("x") is None


class TestFinalizer:
    def test_settle_waits_for_the_run_s_pending_work(self) -> None:
        finalizer = Finalizer()
        release, done = threading.Event(), []
        finalizer.submit("r1", lambda: (release.wait(30), done.append("r1")))
        finalizer.submit("r2", lambda: done.append("r2"))
        assert finalizer.settle("other", timeout=5)  # nothing pending for it: returns at once
        assert not finalizer.settle("r1", timeout=0.05)  # still blocked
        release.set()
        assert finalizer.settle("r2", timeout=30)
        assert done == ["r1", "r2"] and finalizer.pending() == 0

    def test_a_bounded_drain_abandons_what_is_left(self) -> None:
        finalizer = Finalizer()
        release, events = threading.Event(), []
        finalizer.submit("slow", lambda: release.wait(30), abandon=lambda: events.append("slow abandoned"))
        finalizer.submit(
            "queued", lambda: events.append("queued ran"), abandon=lambda: events.append("queued abandoned")
        )
        assert finalizer.drain(0.05) is False
        assert events == ["slow abandoned", "queued abandoned"]
        release.set()
        assert finalizer.settle(timeout=30) and "queued ran" not in events

    def test_a_failing_job_does_not_stop_the_next(self) -> None:
        finalizer = Finalizer()
        ran = []
        finalizer.submit("a", lambda: 1 / 0)
        finalizer.submit("a", lambda: ran.append(True))
        assert finalizer.settle("a", timeout=30) and ran == [True]

    def test_delayed_work_gives_way_to_the_kernel_s_cells(self, monkeypatch) -> None:
        monkeypatch.setattr(finalizer_module, "LONG_CELL_SECONDS", 60.0)
        finalizer = Finalizer()
        ran = threading.Event()
        finalizer.cell_started()
        finalizer.submit("r", ran.set, delay=0.01)
        assert not ran.wait(0.2)  # a cell runs: the ending waits
        finalizer.cell_started()  # a cell run by that cell (`run_cell` inside a cell)
        finalizer.cell_ended()
        assert not ran.wait(0.1)  # the outer cell still runs
        finalizer.cell_ended()
        assert ran.wait(10)  # quiet for its delay: it runs
        assert finalizer.settle(timeout=10)

    def test_between_its_steps_a_job_waits_for_the_cell_that_started(self, monkeypatch) -> None:
        monkeypatch.setattr(finalizer_module, "LONG_CELL_SECONDS", 60.0)
        finalizer = Finalizer()
        steps: list[str] = []
        first_done, go_on = threading.Event(), threading.Event()

        def job() -> None:
            steps.append("one")
            first_done.set()
            go_on.wait(10)
            finalizer.give_way()
            steps.append("two")

        finalizer.submit("r", job, delay=0.01)
        assert first_done.wait(10)
        finalizer.cell_started()
        go_on.set()
        time.sleep(0.2)
        assert steps == ["one"]
        finalizer.give_way()  # any other thread: returns at once
        finalizer.cell_ended()
        assert finalizer.settle(timeout=10) and steps == ["one", "two"]

    def test_a_long_cell_a_backlog_or_a_reader_let_the_work_run(self, monkeypatch) -> None:
        monkeypatch.setattr(finalizer_module, "LONG_CELL_SECONDS", 0.05)
        finalizer = Finalizer()
        ran = threading.Event()
        finalizer.cell_started()
        finalizer.submit("long", ran.set, delay=0.01)
        assert ran.wait(10)  # the cell has run longer than LONG_CELL_SECONDS
        finalizer.cell_ended()

        monkeypatch.setattr(finalizer_module, "LONG_CELL_SECONDS", 60.0)
        finalizer.cell_started()
        started = time.monotonic()
        finalizer.submit("read", lambda: None, delay=0.01)
        assert finalizer.settle("read", timeout=10) and time.monotonic() - started < 5  # someone reads it

        monkeypatch.setattr(finalizer_module, "BACKLOG_SECONDS", 0.0)
        ran.clear()
        finalizer.submit("backlog", ran.set, delay=0.01)
        assert ran.wait(10)  # too much work waiting: no more giving way
        finalizer.cell_ended()


def test_reads_of_the_python_api_wait_for_background_writes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLWS_WORKSPACE", str(tmp_path / "ws"))
    ws = mlws.Workspace()
    run = ws.start_run(experiment="bg")
    from jupyter_mlws.client import lifecycle

    lifecycle.forget(run)
    release = threading.Event()

    def finish() -> None:
        release.wait(30)
        run.set_tag("written", "later")
        run.log_output("background log\n")
        ws.store.end_run(run.id, "completed")

    submit_background(run.id, finish)
    reader: dict[str, object] = {}
    thread = threading.Thread(
        target=lambda: reader.update(
            tags=ws.get_run(run.id).tags, status=run.status, logs=run.logs(), runs=list(ws.runs()["status"])
        )
    )
    thread.start()
    release.set()
    thread.join(60)
    assert reader["tags"]["written"] == "later"
    assert (reader["status"], reader["logs"], reader["runs"]) == (
        "completed",
        "background log\n",
        ["completed"],
    )
    ws.close()


def test_loading_the_extension_imports_no_store_code() -> None:
    """Workspace kernels load the extension at start: it must not pull in SQLAlchemy or pandas."""
    import subprocess

    code = (
        "import sys, json\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.run_line_magic('load_ext', 'jupyter_mlws')\n"
        "assert shell.find_cell_magic('mlrun') and shell.find_line_magic('mlws')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'pandas', 'jupyter_server', 'tornado', 'dask'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
