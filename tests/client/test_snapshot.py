"""Code snapshots as a user of `%%mlrun` meets them: what is taken, what it costs, how it comes back.

Real SQLite workspace, real files, real artifact store (local folder, and memory:// for the blob
methods); nothing is mocked.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import nbformat
import pytest

from jupyter_mlws.client.snapshot import (
    execution_order_warning,
    restore_snapshot,
    snapshot_files,
    take_snapshot,
)
from jupyter_mlws.errors import InvalidParameter, NotFound
from jupyter_mlws.repro.history import history_script
from jupyter_mlws.store.artifacts import open_artifact_store


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_project(root: Path) -> dict[str, bytes]:
    """A small project folder; returns the files a snapshot should hold, by relative path."""
    files = {
        "train.py": b"print('train')\n",
        "analysis.ipynb": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n',
        "pkg/__init__.py": b"",
        "pkg/model.py": b"W = 3\n" * 50,
        "conf/params.yaml": b"lr: 0.1\n",
        "assets/logo.bin": bytes(range(256)) * 40,
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    # what the default ignores leave out
    for rel in (
        ".git/config",
        "__pycache__/model.cpython-311.pyc",
        "pkg/stale.pyc",
        ".ipynb_checkpoints/analysis-checkpoint.ipynb",
        ".venv/lib/site.py",
        "node_modules/x/index.js",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"ignored")
    return files


def blob_files(ws) -> list[Path]:
    folder = ws.artifact_store.root / "blobs"
    return sorted(p for p in folder.glob("*/*") if p.is_file()) if folder.exists() else []


# ----- the blob store ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_blobs_are_stored_once_by_content_and_read_back(kind: str, tmp_path: Path) -> None:
    import uuid

    url = str(tmp_path / "art") if kind == "local" else f"memory://blobs-{uuid.uuid4().hex}"
    store = open_artifact_store(url)
    data = b"model weights " * 1000
    info = store.put_blob(io.BytesIO(data))
    assert (info.path, info.size, info.sha256) == (sha(data), len(data), sha(data))
    assert store.has_blob(sha(data)) and not store.has_blob(sha(b"other"))
    with store.open_blob(sha(data)) as handle:
        assert handle.read() == data
    # the same bytes again: the same blob; with the digest given, the source is not even read
    assert store.put_blob(io.BytesIO(data)) == info

    class Unreadable(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise AssertionError("an existing blob must not read its source")

    assert store.put_blob(Unreadable(), sha256=sha(data)) == info
    # bytes that do not match the announced digest are refused and nothing is stored
    with pytest.raises(InvalidParameter, match="nothing was stored"):
        store.put_blob(io.BytesIO(b"tampered"), sha256=sha(b"expected"))
    assert not store.has_blob(sha(b"tampered")) and not store.has_blob(sha(b"expected"))
    with pytest.raises(NotFound):
        store.open_blob(sha(b"missing"))
    for bad in ("../../etc/passwd", "A" * 64, sha(data)[:63], sha(data) + "/x"):
        with pytest.raises(InvalidParameter):
            store.has_blob(bad)
        with pytest.raises(InvalidParameter):
            store.open_blob(bad)
    # no run id can name the blob folder
    with pytest.raises(InvalidParameter):
        store.list("blobs")
    if kind == "local":
        leftovers = [p for p in (tmp_path / "art" / "blobs").rglob("*") if p.name.startswith(".mlws-")]
        assert leftovers == []


# ----- taking a snapshot ---------------------------------------------------------------------------


def test_snapshot_stores_the_project_by_content_and_dedups(ws, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    files = make_project(root)
    run = ws.start_run("first")
    result = take_snapshot(run, root, notebook_path="analysis.ipynb")
    assert (result.files, result.bytes, result.skipped, result.warnings) == (
        len(files),
        sum(len(d) for d in files.values()),
        None,
        [],
    )
    assert result.new_blobs == len({sha(d) for d in files.values()})
    table = run.snapshot()
    assert sorted(table["path"]) == sorted(files)
    for row in table.itertuples():
        assert row.sha256 == sha(files[row.path]) and row.size == len(files[row.path])
        with ws.artifact_store.open_blob(row.sha256) as handle:
            assert sha(handle.read()) == row.sha256  # what is stored is what was hashed
    stored = blob_files(ws)
    assert len(stored) == result.new_blobs
    assert all(sha(p.read_bytes()) == p.name for p in stored)
    # the run records only a manifest and the history, as ordinary artifacts
    assert list(run.artifacts()["path"]) == ["snapshot/history.py", "snapshot/manifest.json"]
    assert "mlws.snapshot.warning" not in run.tags

    # unchanged tree: no new blob; one changed file: exactly one new blob
    again = take_snapshot(ws.start_run("second"), root)
    assert (again.files, again.new_blobs) == (len(files), 0)
    assert blob_files(ws) == stored
    (root / "pkg" / "model.py").write_bytes(b"W = 4\n")
    third = take_snapshot(ws.start_run("third"), root)
    assert third.new_blobs == 1 and len(blob_files(ws)) == len(stored) + 1
    assert list(snapshot_files(run)["sha256"]) == list(table["sha256"])  # the first run is unchanged


def test_mlwsignore_and_workspace_inside_the_project_are_left_out(tmp_path: Path, monkeypatch) -> None:
    import jupyter_mlws as mlws

    root = tmp_path / "proj"
    files = make_project(root)
    (root / "data").mkdir()
    (root / "data" / "big.csv").write_bytes(b"1,2\n" * 1000)
    (root / "data" / "keep.csv").write_bytes(b"a,b\n")
    (root / "outputs").mkdir()
    (root / "outputs" / "model.pt").write_bytes(b"weights")
    (root / ".mlwsignore").write_text(
        "# data and outputs are not code\ndata/*.csv\n!data/keep.csv\noutputs/\n*.ipynb\n"
    )
    monkeypatch.delenv("MLWS_WORKSPACE", raising=False)
    ws = mlws.Workspace(root / "tracking")  # a workspace folder inside the project
    try:
        run = ws.start_run("ignored")
        result = take_snapshot(run, root, notebook_path=str(root / "analysis.ipynb"))
        paths = set(run.snapshot()["path"])
        run.end()
    finally:
        ws.close()
    # the notebook stays in although "*.ipynb" is ignored: the notebook as saved is always taken
    assert paths == set(files) | {".mlwsignore", "data/keep.csv"}
    assert result.files == len(paths)
    assert not any(p.startswith(("tracking", "data/big", "outputs", ".git", ".venv")) for p in paths)


def test_symlinks_never_lead_out_of_the_project(ws, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    make_project(root)
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "private.py").write_text("KEY = 1")
    (root / "leak.txt").symlink_to(secret)
    (root / "leakdir").symlink_to(outside, target_is_directory=True)
    (root / "alias.py").symlink_to(root / "train.py")  # a link inside the project: its content
    (root / "loop").symlink_to(root, target_is_directory=True)  # no endless walk
    os.mkfifo(root / "pipe")  # a special file is skipped (reading it would block forever)
    run = ws.start_run("links")
    result = take_snapshot(run, root)
    paths = set(run.snapshot()["path"])
    assert "alias.py" in paths
    assert not {"leak.txt", "pipe"} & paths
    assert not any(p.startswith(("leakdir", "loop")) for p in paths)
    restored = run.restore_snapshot(tmp_path / "restored")
    assert (restored / "alias.py").read_bytes() == (root / "train.py").read_bytes()
    assert not (restored / "alias.py").is_symlink()
    assert result.warnings == []


def test_over_the_cap_nothing_is_stored_and_the_message_says_why_and_how(
    ws, tmp_path: Path, monkeypatch
) -> None:
    root = tmp_path / "proj"
    make_project(root)
    (root / "data").mkdir()
    (root / "data" / "huge.bin").write_bytes(b"\0" * (3 * 1024 * 1024))
    run = ws.start_run("too big")
    result = take_snapshot(run, root, max_bytes=2 * 1024 * 1024)
    assert result.files == 0 and result.new_blobs == 0 and blob_files(ws) == []
    message = result.skipped
    assert message is not None
    for part in ("3.0 MiB", "2.0 MiB", "data/", ".mlwsignore", "--no-snapshot", "MLWS_SNAPSHOT_MAX_MB"):
        assert part in message, part
    assert run.tags["mlws.snapshot.warning"].startswith("Code snapshot skipped")
    table = run.snapshot()
    assert table.empty and table.attrs["skipped"] == message
    with pytest.raises(NotFound, match="no code snapshot"):
        run.restore_snapshot(tmp_path / "nothing")
    assert "# In[" not in run.workspace.artifact_store.open(run.id, "snapshot/history.py").read().decode()

    # the file cap, set through the environment, stops the walk early
    for i in range(30):
        (root / "many" / f"f{i}.txt").parent.mkdir(exist_ok=True)
        (root / "many" / f"f{i}.txt").write_text(str(i))
    monkeypatch.setenv("MLWS_SNAPSHOT_MAX_FILES", "10")
    monkeypatch.setenv("MLWS_SNAPSHOT_MAX_MB", "50")
    counted = take_snapshot(ws.start_run("too many"), root)
    assert counted.skipped is not None and "more than 10 files" in counted.skipped
    assert "MLWS_SNAPSHOT_MAX_FILES" in counted.skipped and blob_files(ws) == []


def test_restore_reproduces_the_files_byte_for_byte(ws, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    files = make_project(root)
    files["empty.txt"] = b""
    (root / "empty.txt").write_bytes(b"")
    files["naïve café.py"] = "x = 'ü'\n".encode()
    (root / "naïve café.py").write_bytes(files["naïve café.py"])
    run = ws.start_run("restore")
    take_snapshot(run, root, history=[(1, "import os"), (2, "x = 1")])
    dest = restore_snapshot(run, tmp_path / "restored")
    assert dest == tmp_path / "restored"
    got = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    history = got.pop("history.py")
    assert got == files
    assert b"# In[2]:\nx = 1" in history


def test_restore_refuses_a_tampered_manifest_or_blob(ws, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    make_project(root)
    run = ws.start_run("tampered")
    take_snapshot(run, root)
    store = ws.artifact_store
    manifest = json.loads(store.open(run.id, "snapshot/manifest.json").read())
    good = manifest["files"][0]
    # a path that climbs out of the destination
    manifest["files"] = [{"path": "../escaped.py", "size": good["size"], "sha256": good["sha256"]}]
    store.put_bytes(run.id, json.dumps(manifest).encode(), "snapshot/manifest.json")
    with pytest.raises(InvalidParameter):
        run.restore_snapshot(tmp_path / "dest1")
    assert not (tmp_path / "escaped.py").exists()
    # a blob whose bytes were changed behind the store
    manifest["files"] = [good]
    store.put_bytes(run.id, json.dumps(manifest).encode(), "snapshot/manifest.json")
    blob = store.root / "blobs" / good["sha256"][:2] / good["sha256"]
    blob.write_bytes(b"evil")
    with pytest.raises(InvalidParameter, match="sha256"):
        run.restore_snapshot(tmp_path / "dest2")
    assert not (tmp_path / "dest2" / good["path"]).exists()


def test_names_the_store_cannot_restore_safely_are_reported(ws, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "ok.py").write_text("1")
    (root / "notes#1.txt").write_text("x")
    run = ws.start_run("names")
    result = take_snapshot(run, root)
    assert list(run.snapshot()["path"]) == ["ok.py"]
    assert len(result.warnings) == 1 and "notes#1.txt" in result.warnings[0]
    assert "notes#1.txt" in run.tags["mlws.snapshot.warning"]


def test_a_run_without_a_snapshot_says_so(ws) -> None:
    run = ws.start_run("plain")
    with pytest.raises(NotFound, match="no code snapshot"):
        run.snapshot()


# ----- history and execution order ---------------------------------------------------------------


def test_history_is_a_replayable_script(ws, tmp_path: Path) -> None:
    history = [
        (1, "import math\nvalues = []"),
        (2, "%matplotlib inline\nfor i in range(3):\n    !echo hi\n    values.append(i)"),
        (3, "files = !ls\ntext = '''\n%d items\n'''"),
        (4, "%%mlrun -e demo\nvalues.append(math.pi)"),
        (5, "%%bash\necho not python"),
        (6, "def broken(:"),
        (7, "%config Application.log_level = \\\n    'WARN'\nlen?\nprint(len(values))"),
    ]
    script = history_script(history, "abc123")
    compile(script, "history.py", "exec")  # the whole script compiles
    assert [line for line in script.splitlines() if line.startswith("# In[")] == [
        f"# In[{n}]:" for n in range(1, 8)
    ]
    assert "# [mlws] IPython syntax, not replayed: %matplotlib inline" in script
    assert "    pass  # [mlws] IPython syntax, not replayed: !echo hi" in script
    assert "# [mlws] IPython syntax, not replayed: files = !ls" in script
    assert "\n%d items\n" in script  # a '%' inside a string is left alone
    assert "values.append(math.pi)" in script and "# echo not python" in script
    assert "# def broken(:" in script
    assert "    # [mlws] IPython syntax, not replayed: 'WARN'" in script  # a continued magic line
    assert "# [mlws] IPython syntax, not replayed: len?" in script
    # replaying it runs every Python line
    out = io.StringIO()
    from contextlib import redirect_stdout

    with redirect_stdout(out):
        exec(compile(script, "history.py", "exec"), {})
    assert out.getvalue() == "4\n"

    run = ws.start_run("history")
    root = tmp_path / "proj"
    root.mkdir()
    take_snapshot(run, root, history=history)
    stored = ws.artifact_store.open(run.id, "snapshot/history.py").read().decode()
    assert stored == script.replace("abc123", run.id)


def write_notebook(path: Path, sources: list[str]) -> list[str]:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.cells.insert(1, nbformat.v4.new_markdown_cell("# notes"))
    nbformat.write(nb, path)
    return [cell.id for cell in nb.cells]


def test_out_of_order_execution_is_detected_and_recorded(ws, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    notebook = root / "exp.ipynb"
    ids = write_notebook(notebook, ["a = 1", "b = a + 1", "c = b + 1"])  # cells 1, 3, 4 are code
    assert execution_order_warning(notebook, [ids[0], ids[2], ids[2], ids[3]]) is None
    assert execution_order_warning(notebook, [ids[0], "unsaved-cell", ids[3]]) is None
    warning = execution_order_warning(notebook, [ids[0], ids[3], ids[2]])
    assert warning == (
        f"Cells ran out of notebook order: cell 3 (id {ids[2]}) ran after cell 4; "
        "replay history.py, not the notebook, to reproduce."
    )
    missing = execution_order_warning(root / "Untitled.ipynb", [ids[0]])
    assert missing is not None and "no saved copy" in missing

    run = ws.start_run("out of order")
    result = take_snapshot(run, root, notebook_path="exp.ipynb", order_warning=warning)
    assert result.warnings == [warning]
    assert run.tags["mlws.snapshot.warning"] == warning
    assert run.snapshot().attrs["warnings"] == [warning]
    assert list(run.snapshot()["path"]) == ["exp.ipynb"]


def test_snapshots_work_with_a_remote_artifact_store(tmp_path: Path, monkeypatch) -> None:
    import uuid

    import jupyter_mlws as mlws

    monkeypatch.delenv("MLWS_WORKSPACE", raising=False)
    ws = mlws.Workspace(tmp_path / "ws", artifact_url=f"memory://snap-{uuid.uuid4().hex}")
    root = tmp_path / "proj"
    files = make_project(root)
    try:
        with ws.start_run("one") as one:
            first = take_snapshot(one, root)
        with ws.start_run("two") as run:
            second = take_snapshot(run, root)
        dest = run.restore_snapshot(tmp_path / "restored")
    finally:
        ws.close()
    assert first.new_blobs == len({sha(d) for d in files.values()}) and second.new_blobs == 0
    assert {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == {
        **files,
        "history.py": (dest / "history.py").read_bytes(),
    }
