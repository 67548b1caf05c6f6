"""The artifact store, local folder and fsspec (memory://), as a user of log_artifact/download sees it.

RELIABILITY P1 (traversal corpus on every operation, nothing outside the root changes), K6/C7 (failed
or aborted writes leave no visible partial artifact and no litter), streaming in chunks, sha256/size.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jupyter_mlws.errors import Conflict, InvalidParameter, NotFound, Unavailable
from jupyter_mlws.store.artifacts import (
    CHUNK_SIZE,
    TEMP_PREFIX,
    ArtifactInfo,
    ArtifactStore,
    LocalArtifactStore,
    open_artifact_store,
)
from jupyter_mlws.store.artifacts_fsspec import FsspecArtifactStore

from .artifact_helpers import ChunkRecorder, Env, sha, snapshot
from ..core.test_safe_path import TRAVERSAL_CORPUS, TRICKY_PATHS

RUN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
OTHER_RUN = "abcdef0123456789"


@pytest.fixture(params=["local", "file-url", "memory"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    environment = Env(request.param, tmp_path)
    yield environment
    environment.close()


# -- round trips ----------------------------------------------------------------------------------------


def test_put_bytes_file_and_stream_round_trip(env: Env, tmp_path: Path) -> None:
    local = tmp_path / "model.bin"
    local.write_bytes(b"\x00model\xff" * 1000)
    infos = [
        env.store.put_bytes(RUN, b"hello world", "notes.txt"),
        env.store.put_file(RUN, local, "outputs/model.bin"),
        env.store.put_stream(RUN, io.BytesIO(b"streamed"), "./outputs//deep/s.dat"),
    ]
    assert infos == [
        ArtifactInfo("notes.txt", 11, sha(b"hello world")),
        ArtifactInfo("outputs/model.bin", local.stat().st_size, sha(local.read_bytes())),
        ArtifactInfo("outputs/deep/s.dat", 8, sha(b"streamed")),
    ]
    assert env.store.list(RUN) == sorted(infos, key=lambda i: i.path)
    with env.store.open(RUN, "outputs/model.bin") as f:
        assert f.read() == local.read_bytes()
    assert env.store.list(OTHER_RUN) == []


def test_stream_is_read_in_bounded_chunks_and_hashed_exactly(env: Env) -> None:
    source = ChunkRecorder(3 * CHUNK_SIZE + 12345)
    info = env.store.put_stream(RUN, source, "big.bin")
    assert info == ArtifactInfo("big.bin", len(source.data), sha(source.data))
    assert len(source.sizes) >= 4 and all(0 < s <= CHUNK_SIZE for s in source.sizes)
    with env.store.open(RUN, "big.bin") as f:
        assert f.read() == source.data
    assert env.store.list(RUN, "big.bin") == [info]


def test_overwrite_replaces_content_and_digest(env: Env) -> None:
    env.store.put_bytes(RUN, b"v1", "m.txt")
    env.store.put_bytes(RUN, b"version two", "m.txt")
    assert env.store.list(RUN) == [ArtifactInfo("m.txt", 11, sha(b"version two"))]


def test_empty_file_round_trips(env: Env) -> None:
    assert env.store.put_bytes(RUN, b"", "empty") == ArtifactInfo("empty", 0, sha(b""))
    with env.store.open(RUN, "empty") as f:
        assert f.read() == b""


def test_list_prefix_is_a_folder_or_a_file_not_a_string_prefix(env: Env) -> None:
    for path in ["outputs/a.txt", "outputs/sub/b.txt", "outputs2/c.txt", "top.txt"]:
        env.store.put_bytes(RUN, path.encode(), path)
    assert [i.path for i in env.store.list(RUN, "outputs")] == ["outputs/a.txt", "outputs/sub/b.txt"]
    assert [i.path for i in env.store.list(RUN, "outputs/")] == ["outputs/a.txt", "outputs/sub/b.txt"]
    assert [i.path for i in env.store.list(RUN, "top.txt")] == ["top.txt"]
    assert env.store.list(RUN, "out") == []
    assert [i.path for i in env.store.list(RUN, "/")] == [
        "outputs/a.txt",
        "outputs/sub/b.txt",
        "outputs2/c.txt",
        "top.txt",
    ]


def test_download_file_and_folder(env: Env, tmp_path: Path) -> None:
    env.store.put_bytes(RUN, b"A", "outputs/a.txt")
    env.store.put_bytes(RUN, b"B", "outputs/sub/b.txt")
    env.store.put_bytes(RUN, b"C", "other.txt")
    dest = tmp_path / "dl"
    one = env.store.download(RUN, "outputs/sub/b.txt", dest)
    assert one == dest / "outputs/sub/b.txt" and one.read_bytes() == b"B"
    folder = env.store.download(RUN, "outputs", dest)
    assert folder == dest / "outputs"
    assert (folder / "a.txt").read_bytes() == b"A" and not (dest / "other.txt").exists()
    everything = env.store.download(RUN, "", tmp_path / "all")
    assert sorted(str(p.relative_to(everything)) for p in everything.rglob("*") if p.is_file()) == [
        "other.txt",
        "outputs/a.txt",
        "outputs/sub/b.txt",
    ]
    assert not any(p.name.startswith(".mlws-") for p in (tmp_path / "all").rglob("*"))
    with pytest.raises(NotFound):
        env.store.download(RUN, "nothing/here", dest)


@pytest.mark.catalogue("P1")
def test_download_never_writes_outside_dest_through_a_symlink(env: Env, tmp_path: Path) -> None:
    env.store.put_bytes(RUN, b"payload", "outputs/x.txt")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "outputs").symlink_to(env.outside)
    before = snapshot(env.outside)
    with pytest.raises(InvalidParameter, match="symbolic link"):
        env.store.download(RUN, "outputs", dest)
    assert snapshot(env.outside) == before


def test_delete_file_and_folder(env: Env) -> None:
    for path in ["keep.txt", "outputs/a.txt", "outputs/sub/b.txt"]:
        env.store.put_bytes(RUN, b"x", path)
    env.store.delete(RUN, "outputs/sub/b.txt")
    assert [i.path for i in env.store.list(RUN)] == ["keep.txt", "outputs/a.txt"]
    env.store.delete(RUN, "outputs")
    assert [i.path for i in env.store.list(RUN)] == ["keep.txt"]
    assert [n for n in env.raw_names() if "outputs" in n] == []  # sidecars went too
    with pytest.raises(NotFound):
        env.store.delete(RUN, "outputs")


def test_missing_and_wrong_kind_errors(env: Env) -> None:
    env.store.put_bytes(RUN, b"x", "folder/file.txt")
    with pytest.raises(NotFound):
        env.store.open(RUN, "nope.txt")
    with pytest.raises(InvalidParameter, match="folder"):
        env.store.open(RUN, "folder")
    with pytest.raises(Conflict):
        env.store.put_bytes(RUN, b"y", "folder")  # a folder of that name exists
    with pytest.raises(Conflict):
        env.store.put_bytes(RUN, b"y", "folder/file.txt/inner")  # a parent is a file
    with pytest.raises(InvalidParameter, match="bytes"):
        env.store.put_bytes(RUN, "text", "t.txt")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameter, match="'rb'"):
        env.store.put_stream(RUN, io.StringIO("text mode"), "t.txt")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        env.store.put_file(RUN, "/no/such/local/file", "x.txt")
    assert [i.path for i in env.store.list(RUN)] == ["folder/file.txt"]
    assert not [n for n in env.raw_names() if TEMP_PREFIX in n]


@pytest.mark.catalogue("P1")
@pytest.mark.parametrize("run_id", ["../x", "ABC", "a/b", "", ".."])
def test_bad_run_ids_are_refused(env: Env, run_id: str) -> None:
    with pytest.raises(InvalidParameter, match=r"[Rr]un id"):
        env.store.put_bytes(run_id, b"x", "a.txt")
    with pytest.raises(InvalidParameter, match=r"[Rr]un id"):
        env.store.list(run_id)
    assert env.raw_names() == []


# -- traversal corpus on every operation (P1) -----------------------------------------------------------


@pytest.mark.catalogue("P1")
@pytest.mark.parametrize(("path", "fragment"), TRAVERSAL_CORPUS)
def test_traversal_corpus_on_every_operation_changes_nothing(env: Env, path: str, fragment: str) -> None:
    env.store.put_bytes(RUN, b"existing", "existing.txt")
    before_outside = env.outside_snapshot()
    before_inside = env.raw_names()
    operations = [
        lambda: env.store.put_bytes(RUN, b"evil", path),
        lambda: env.store.put_stream(RUN, io.BytesIO(b"evil"), path),
        lambda: env.store.open(RUN, path),
        lambda: env.store.delete(RUN, path),
    ]
    if path.strip("/. ") or ".." in path:  # "", "/", "." are a valid prefix: the whole run
        operations.append(lambda: env.store.list(RUN, path))
        operations.append(lambda: env.store.download(RUN, path, env.tmp / "dl"))
    for operation in operations:
        with pytest.raises(InvalidParameter) as info:
            operation()
        assert fragment in info.value.message
    assert env.outside_snapshot() == before_outside
    assert env.raw_names() == before_inside


@pytest.fixture(scope="module")
def property_stores(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, Path, list[ArtifactStore]]]:
    """A local and a memory store shared by the examples, and a folder outside them with a sentinel."""
    tmp = tmp_path_factory.mktemp("property")
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "sentinel.txt").write_bytes(b"keep")
    memory = open_artifact_store(f"memory://mlws-prop-{uuid.uuid4().hex}")
    yield tmp, outside, [open_artifact_store(tmp / "root"), memory]
    assert isinstance(memory, FsspecArtifactStore)
    memory.fs.rm(memory.url[len("memory:/") :], recursive=True)


@pytest.mark.catalogue("P1", "P2")
@settings(max_examples=150, deadline=None, database=None)
@given(text=st.one_of(TRICKY_PATHS, st.text(max_size=40)))
@example(text="../escaped.txt")
@example(text="out/escaped.txt")
@example(text="dangling/escaped.txt")
@example(text="leak.txt")
def test_property_any_path_is_refused_or_written_inside_the_run(
    property_stores: tuple[Path, Path, list[ArtifactStore]], text: str
) -> None:
    tmp, outside, stores = property_stores
    run = uuid.uuid4().hex  # a fresh run per example, whose folder holds links out of the root
    base = tmp / "root" / run / "artifacts"
    base.mkdir(parents=True)
    (base / "out").symlink_to(outside)
    (base / "leak.txt").symlink_to(outside / "sentinel.txt")
    (base / "dangling").symlink_to(outside / "nothing")
    before = snapshot(outside)
    for store in stores:
        try:
            info = store.put_bytes(run, b"data", text)
        except (InvalidParameter, Conflict):
            continue
        with store.open(run, info.path) as f:
            assert f.read() == b"data"
        assert info in store.list(run, info.path)
        if isinstance(store, LocalArtifactStore):
            written = Path(os.path.realpath(base / info.path))
            assert written.is_relative_to(os.path.realpath(base))
    assert snapshot(outside) == before


# -- failed and aborted writes (K6, C7) ------------------------------------------------------------------


@pytest.mark.catalogue("C7")
@pytest.mark.parametrize(
    "error", [RuntimeError("network dropped"), KeyboardInterrupt(), OSError(errno.ECONNRESET, "reset")]
)
def test_source_failing_mid_stream_leaves_nothing_visible(env: Env, error: BaseException) -> None:
    env.store.put_bytes(RUN, b"old content", "model.bin")
    source = ChunkRecorder(3 * CHUNK_SIZE, fail_after=2 * CHUNK_SIZE, error=error)
    with pytest.raises(type(error)):
        env.store.put_stream(RUN, source, "model.bin")
    with pytest.raises(type(error)):
        env.store.put_stream(RUN, ChunkRecorder(3 * CHUNK_SIZE, 2 * CHUNK_SIZE, error), "new/model.bin")
    assert env.store.list(RUN) == [ArtifactInfo("model.bin", 11, sha(b"old content"))]
    assert not [n for n in env.raw_names() if TEMP_PREFIX in n]


@pytest.mark.catalogue("K6")
@pytest.mark.parametrize("call", ["os.write", "os.fsync", "os.replace"])
@pytest.mark.parametrize("code", [errno.EIO, errno.ENOSPC])
def test_local_disk_errors_become_a_clear_error_and_leave_no_partial(
    tmp_path: Path, call: str, code: int
) -> None:
    store = open_artifact_store(tmp_path / "artifacts")
    store.put_bytes(RUN, b"acknowledged", "model.bin")
    failure = OSError(code, os.strerror(code))
    with mock.patch(call, side_effect=failure), pytest.raises(Unavailable) as info:
        store.put_stream(RUN, ChunkRecorder(2 * CHUNK_SIZE + 7), "model.bin")
    assert os.strerror(code) in info.value.message and "Nothing was stored" in info.value.message
    assert info.value.__cause__ is failure
    with mock.patch(call, side_effect=failure), pytest.raises(Unavailable):
        store.put_bytes(RUN, b"new", "fresh.bin")
    assert store.list(RUN) == [ArtifactInfo("model.bin", 12, sha(b"acknowledged"))]
    on_disk = [p.name for p in (tmp_path / "artifacts").rglob("*") if p.is_file()]
    assert not [n for n in on_disk if n.startswith(TEMP_PREFIX)]
    with store.open(RUN, "model.bin") as f:
        assert f.read() == b"acknowledged"


@pytest.mark.catalogue("K6")
def test_remote_move_failure_leaves_no_partial() -> None:
    url = f"memory://mlws-test-{uuid.uuid4().hex}"
    store = open_artifact_store(url)
    assert isinstance(store, FsspecArtifactStore)
    with (
        mock.patch.object(store.fs, "mv", side_effect=OSError(errno.EIO, "I/O error")),
        pytest.raises(Unavailable),
    ):
        store.put_bytes(RUN, b"data", "a.bin")
    assert store.list(RUN) == []
    assert store.fs.find(url[len("memory:/") :]) == []


@pytest.mark.catalogue("K6")
def test_remote_write_failure_mid_upload_leaves_no_partial() -> None:
    url = f"memory://mlws-test-{uuid.uuid4().hex}"
    store = open_artifact_store(url)
    assert isinstance(store, FsspecArtifactStore)
    real_open = store.fs.open
    opened: list[str] = []

    def open_failing_on_second_write(path: str, mode: str = "rb", **kwargs: object) -> object:
        handle = real_open(path, mode, **kwargs)
        if "w" in mode:
            opened.append(path)
            real_write, calls = handle.write, []

            def write(data: bytes) -> int:
                calls.append(1)
                if len(calls) > 1:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return real_write(data)

            handle.write = write
        return handle

    with (
        mock.patch.object(store.fs, "open", open_failing_on_second_write),
        pytest.raises(Unavailable) as info,
    ):
        store.put_stream(RUN, ChunkRecorder(3 * CHUNK_SIZE), "big.bin")
    assert "No space left" in info.value.message
    assert opened and TEMP_PREFIX in opened[0]  # the bytes went to a temp object, which is gone now
    assert store.list(RUN) == []
    assert store.fs.find(url[len("memory:/") :]) == []


@pytest.mark.catalogue("C7")
def test_leftover_temp_files_from_a_crash_are_never_listed(env: Env) -> None:
    env.store.put_bytes(RUN, b"x", "outputs/real.txt")
    leftover = f"{RUN}/artifacts/outputs/{TEMP_PREFIX}deadbeef"
    if env.kind == "memory":
        env.fs.pipe_file(f"{env.mem_root}/{leftover}", b"half")
    else:
        (env.root / leftover).write_bytes(b"half")
    assert [i.path for i in env.store.list(RUN)] == ["outputs/real.txt"]
    with pytest.raises(InvalidParameter, match="reserved"):
        env.store.open(RUN, f"outputs/{TEMP_PREFIX}deadbeef")


@pytest.mark.parametrize("changed", [b"changed behind our back, longer", b"ORIGINAL"])
def test_list_recomputes_the_digest_when_a_file_changed_behind_the_store(env: Env, changed: bytes) -> None:
    env.store.put_bytes(RUN, b"original", "m.bin")
    env.store.list(RUN)
    key = f"{RUN}/artifacts/m.bin"
    if env.kind == "memory":
        env.fs.pipe_file(f"{env.mem_root}/{key}", changed)
    else:
        (env.root / key).write_bytes(changed)
    assert env.store.list(RUN) == [ArtifactInfo("m.bin", len(changed), sha(changed))]


# -- symlinks inside the root that lead out (local only: fsspec filesystems have none) ------------------


@pytest.fixture
def escaped(tmp_path: Path) -> tuple[LocalArtifactStore, Path, Path]:
    root = tmp_path / "artifacts"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    store = open_artifact_store(root)
    assert isinstance(store, LocalArtifactStore)
    store.put_bytes(RUN, b"fine", "fine.txt")
    base = root / RUN / "artifacts"
    (base / "evil").symlink_to(outside)
    (base / "leak.txt").symlink_to(outside / "secret.txt")
    (base / "inner-link.txt").symlink_to(base / "fine.txt")
    (root / OTHER_RUN).symlink_to(outside)
    return store, outside, tmp_path


@pytest.mark.catalogue("P1")
@pytest.mark.parametrize("path", ["evil", "evil/secret.txt", "evil/new.txt", "leak.txt"])
def test_symlinks_out_of_the_root_are_refused_on_every_operation(
    escaped: tuple[LocalArtifactStore, Path, Path], path: str
) -> None:
    store, outside, tmp = escaped
    before = snapshot(outside)
    for operation in [
        lambda: store.put_bytes(RUN, b"evil", path),
        lambda: store.open(RUN, path),
        lambda: store.list(RUN, path),
        lambda: store.delete(RUN, path),
        lambda: store.download(RUN, path, tmp / "dl"),
    ]:
        with pytest.raises(InvalidParameter, match="symbolic link"):
            operation()
    assert snapshot(outside) == before


@pytest.mark.catalogue("P1")
def test_listing_never_follows_links_out_and_a_linked_run_folder_is_refused(
    escaped: tuple[LocalArtifactStore, Path, Path],
) -> None:
    store, outside, tmp = escaped
    before = snapshot(outside)
    assert [i.path for i in store.list(RUN)] == ["fine.txt", "inner-link.txt"]
    downloaded = store.download(RUN, "", tmp / "dl")
    assert sorted(p.name for p in downloaded.rglob("*")) == ["fine.txt", "inner-link.txt"]
    with pytest.raises(InvalidParameter, match="symbolic link"):
        store.put_bytes(OTHER_RUN, b"x", "a.txt")
    with pytest.raises(InvalidParameter, match="symbolic link"):
        store.list(OTHER_RUN)
    store.delete(RUN, "inner-link.txt")  # removes the link, never what it points to
    assert [i.path for i in store.list(RUN)] == ["fine.txt"]
    assert snapshot(outside) == before


# -- opening stores ---------------------------------------------------------------------------------------


def test_open_artifact_store_picks_the_backend_by_url(tmp_path: Path) -> None:
    assert isinstance(open_artifact_store(str(tmp_path)), LocalArtifactStore)
    assert isinstance(open_artifact_store(tmp_path), LocalArtifactStore)
    via_url = open_artifact_store((tmp_path / "a b").as_uri())
    assert isinstance(via_url, LocalArtifactStore) and via_url.root == tmp_path / "a b"
    assert isinstance(open_artifact_store("memory://x"), FsspecArtifactStore)
    via_fsspec_local = open_artifact_store(f"local://{tmp_path}/l")
    assert isinstance(via_fsspec_local, LocalArtifactStore) and via_fsspec_local.root == tmp_path / "l"
    for bad in ["", "   ", "file://otherhost/share", "nosuchscheme-zz://bucket"]:
        with pytest.raises(InvalidParameter):
            open_artifact_store(bad)


def test_importing_the_package_or_a_local_store_does_not_import_fsspec(tmp_path: Path) -> None:
    code = (
        "import sys, jupyter_mlws\n"
        "assert 'fsspec' not in sys.modules, 'jupyter_mlws imported fsspec'\n"
        "from jupyter_mlws.store.artifacts import open_artifact_store\n"
        f"s = open_artifact_store({str(tmp_path)!r}); s.put_bytes('ab', b'x', 'a'); s.list('ab')\n"
        "assert 'fsspec' not in sys.modules, 'the local store imported fsspec'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
