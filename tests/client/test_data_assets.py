"""`ws.data` on a folder workspace (issue 16, item 1): register a folder, a glob, a file or an fsspec
URL; versions count up only when the files change; references; a verified local copy; bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import jupyter_mlws as mlws
from jupyter_mlws.errors import InvalidParameter, NotFound


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> mlws.Workspace:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    (data / "2024").mkdir(parents=True)
    (data / "a.csv").write_text("x,y\n1,2\n")
    (data / "b.csv").write_text("x,y\n3,4\n")
    (data / "notes.txt").write_text("not a table")
    (data / "2024" / "c.csv").write_text("x,y\n5,6\n")
    return mlws.Workspace(str(tmp_path / "ws"))


def test_a_folder_a_glob_and_a_file_become_versions_stored_once(ws: mlws.Workspace, tmp_path: Path) -> None:
    folder = ws.data.register("batch-data", path="data/", description="all of it", tags={"team": "a"})
    assert folder.ref == "batch-data:1" and folder.description == "all of it" and folder.tags == {"team": "a"}
    assert [f.path for f in folder.files] == ["2024/c.csv", "a.csv", "b.csv", "notes.txt"]
    again = ws.data.register("batch-data", path=tmp_path / "data")
    assert again.version == 1 and again.sha256 == folder.sha256, "the same files make no new version"
    tables = ws.data.register("batch-data", path="data/**/*.csv")
    assert tables.version == 2 and [f.path for f in tables.files] == ["2024/c.csv", "a.csv", "b.csv"]
    single = ws.data.register("one-file", path="data/a.csv")
    assert [f.path for f in single.files] == ["a.csv"]
    blobs = (
        {f.sha256 for f in folder.files} | {f.sha256 for f in tables.files} | {f.sha256 for f in single.files}
    )
    assert len(blobs) == 4, "each distinct content is one blob"
    assert ws.data.get("batch-data").version == 2
    assert ws.data.get("batch-data@latest").version == 2
    assert ws.data.get("batch-data:1").sha256 == folder.sha256
    assert ws.data.get("data:batch-data:1").version == 1
    listed = ws.data.list()
    assert list(listed.name) == ["batch-data", "one-file"] and list(listed.latest_version) == [2, 1]
    assert list(ws.data.versions("batch-data").files) == [4, 3]
    assert list(ws.data.files("batch-data:2").path) == ["2024/c.csv", "a.csv", "b.csv"]


def test_a_version_comes_back_as_a_verified_folder_and_a_download(ws: mlws.Workspace, tmp_path: Path) -> None:
    version = ws.data.register("batch-data", path="data/*.csv")
    local = ws.data.path("batch-data")
    assert sorted(p.name for p in local.iterdir()) == ["a.csv", "b.csv"]
    (local / "a.csv").chmod(0o644)
    (local / "a.csv").write_text("tampered")
    assert (ws.data.path("batch-data") / "a.csv").read_text() == "x,y\n1,2\n", "an edited copy is rebuilt"
    out = ws.data.download(version.ref, tmp_path / "copy")
    assert (out / "b.csv").read_text() == "x,y\n3,4\n"


def test_an_fsspec_url_is_read_once_and_stored(ws: mlws.Workspace) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    memory.pipe("/bucket/prefix/part-0.csv", b"x\n1\n")
    memory.pipe("/bucket/prefix/nested/part-1.csv", b"x\n2\n")
    try:
        whole = ws.data.register("remote", path="memory://bucket/prefix/")
        assert [f.path for f in whole.files] == ["nested/part-1.csv", "part-0.csv"]
        some = ws.data.register("remote-top", path="memory://bucket/prefix/*.csv")
        assert [f.path for f in some.files] == ["part-0.csv"]
        assert (ws.data.path("remote") / "nested" / "part-1.csv").read_bytes() == b"x\n2\n"
    finally:
        memory.rm("/bucket", recursive=True)


def test_bad_input_is_refused_clearly(ws: mlws.Workspace, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    cases = [
        ({"name": "x", "path": "data/*.parquet"}, NotFound, "matches no files"),
        ({"name": "x", "path": "missing/"}, NotFound, "missing/"),
        ({"name": "x", "path": "empty"}, InvalidParameter, "holds no files"),
        ({"name": "bad/name", "path": "data/"}, InvalidParameter, "bad/name"),
        ({"name": "x", "path": "memory://nowhere/at/all"}, NotFound, "Nothing at"),
    ]
    for given, error, words in cases:
        with pytest.raises(error, match=words.replace("*", r"\*")):
            ws.data.register(**given)
    assert ws.data.list().empty
    with pytest.raises(NotFound):
        ws.data.get("nothing")
    with pytest.raises(InvalidParameter, match="name:version"):
        ws.data.get("x:latest")
