"""Safe unpacking of tar/zip bundles (RELIABILITY P5), each case with a real crafted archive."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from jupyter_mlws.errors import Conflict, InvalidParameter, PayloadTooLarge
from jupyter_mlws.store.bundles import extract_archive

from .artifact_helpers import snapshot

pytestmark = pytest.mark.catalogue("P5")


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


def tar_member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


def make_zip(path: Path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(archive folder, destination, a folder outside the destination with a sentinel file)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel.txt").write_bytes(b"keep")
    archives = tmp_path / "archives"
    archives.mkdir()
    return archives, tmp_path / "dest", outside


def files_in(folder: Path) -> dict[str, bytes]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_safe_tar_extracts_exactly_its_files(world: tuple[Path, Path, Path], mode: str) -> None:
    archives, dest, _ = world
    archive = make_tar(
        archives / "ok.tar",
        [
            (tar_member("./", tarfile.DIRTYPE), None),
            (tar_member("model", tarfile.DIRTYPE), None),
            (tar_member("model/weights.bin"), b"\x00\x01" * 500),
            (tar_member("./model/config.json"), b'{"a": 1}'),
        ],
        mode,
    )
    assert extract_archive(archive, dest) == ["model/config.json", "model/weights.bin"]
    assert files_in(dest) == {"model/config.json": b'{"a": 1}', "model/weights.bin": b"\x00\x01" * 500}


def test_safe_zip_extracts_exactly_its_files(world: tuple[Path, Path, Path]) -> None:
    archives, dest, _ = world
    archive = make_zip(
        archives / "ok.zip", [("code/", b""), ("code/train.py", b"print(1)"), ("README", b"hi")]
    )
    assert extract_archive(archive, dest) == ["README", "code/train.py"]
    assert files_in(dest) == {"README": b"hi", "code/train.py": b"print(1)"}


@pytest.mark.parametrize(
    ("member", "data", "message"),
    [
        (tar_member("../evil.txt"), b"x", "'..' segment"),
        (tar_member("ok/../../evil.txt"), b"x", "'..' segment"),
        (tar_member("/tmp/evil.txt"), b"x", "absolute"),
        (tar_member("..\\evil.txt"), b"x", "backslash"),
        (tar_member("link", tarfile.SYMTYPE, "/etc/passwd"), None, "link"),
        (tar_member("rel-link", tarfile.SYMTYPE, "../outside"), None, "link"),
        (tar_member("hard", tarfile.LNKTYPE, "/etc/passwd"), None, "link"),
        (tar_member("dev", tarfile.CHRTYPE), None, "device"),
        (tar_member("blk", tarfile.BLKTYPE), None, "device"),
        (tar_member("fifo", tarfile.FIFOTYPE), None, "device"),
    ],
)
def test_unsafe_tar_members_are_refused_and_nothing_is_written(
    world: tuple[Path, Path, Path], member: tarfile.TarInfo, data: bytes | None, message: str
) -> None:
    archives, dest, outside = world
    before = snapshot(outside.parent / "outside")
    archive = make_tar(archives / "bad.tar", [(tar_member("first.txt"), b"first"), (member, data)])
    with pytest.raises(InvalidParameter, match=message):
        extract_archive(archive, dest)
    assert files_in(dest) == {}
    assert snapshot(outside) == before
    assert not (archives.parent / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()


def _zip_entry(name: str, file_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (file_type | 0o777) << 16
    info.create_system = 3  # unix, so the mode bits are meaningful
    return info


@pytest.mark.parametrize(
    ("entry", "data", "message"),
    [
        ("../evil.txt", b"x", "'..' segment"),
        ("/abs/evil.txt", b"x", "absolute"),
        ("C:/evil.txt", b"x", "':'"),
        ("..\\evil.txt", b"x", "backslash"),
        (_zip_entry("link", stat.S_IFLNK), b"/etc/passwd", "symlink"),
        (_zip_entry("dev", stat.S_IFCHR), b"", "device"),
    ],
)
def test_unsafe_zip_members_are_refused_and_nothing_is_written(
    world: tuple[Path, Path, Path], entry: str | zipfile.ZipInfo, data: bytes, message: str
) -> None:
    archives, dest, outside = world
    before = snapshot(outside)
    archive = make_zip(archives / "bad.zip", [("first.txt", b"first"), (entry, data)])
    with pytest.raises(InvalidParameter, match=message):
        extract_archive(archive, dest)
    assert files_in(dest) == {}
    assert snapshot(outside) == before


def test_zip_bomb_by_ratio_is_stopped_before_anything_is_written(world: tuple[Path, Path, Path]) -> None:
    archives, dest, _ = world
    archive = make_zip(archives / "bomb.zip", [("ok.txt", b"fine"), ("zeros.bin", bytes(20 * 1024 * 1024))])
    assert archive.stat().st_size * 100 < 20 * 1024 * 1024  # it really is a >100x bomb
    with pytest.raises(PayloadTooLarge, match="zip bomb"):
        extract_archive(archive, dest)
    assert files_in(dest) == {}


def test_tar_gz_bomb_is_stopped_before_anything_is_written(world: tuple[Path, Path, Path]) -> None:
    archives, dest, _ = world
    archive = make_tar(archives / "bomb.tgz", [(tar_member("zeros.bin"), bytes(20 * 1024 * 1024))], "w:gz")
    with pytest.raises(PayloadTooLarge, match="zip bomb"):
        extract_archive(archive, dest)
    assert files_in(dest) == {}


def test_total_size_quota_is_enforced(world: tuple[Path, Path, Path]) -> None:
    archives, dest, _ = world
    archive = make_zip(archives / "big.zip", [("a.bin", os.urandom(3000)), ("b.bin", os.urandom(3000))])
    with pytest.raises(PayloadTooLarge, match="more than 4000 bytes"):
        extract_archive(archive, dest, max_total_bytes=4000)
    assert files_in(dest) == {}
    assert extract_archive(archive, dest, max_total_bytes=6000) == ["a.bin", "b.bin"]


def test_member_count_quota_is_enforced(world: tuple[Path, Path, Path]) -> None:
    archives, dest, _ = world
    archive = make_zip(archives / "many.zip", [(f"f{i}.txt", b"x") for i in range(5)])
    with pytest.raises(PayloadTooLarge, match="more than 3 entries"):
        extract_archive(archive, dest, max_members=3)
    assert files_in(dest) == {}


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_symlink_already_in_dest_cannot_redirect_a_member(world: tuple[Path, Path, Path], kind: str) -> None:
    archives, dest, outside = world
    dest.mkdir()
    (dest / "models").symlink_to(outside)
    before = snapshot(outside)
    if kind == "tar":
        archive = make_tar(archives / "t.tar", [(tar_member("models/sentinel.txt"), b"overwritten!")])
    else:
        archive = make_zip(archives / "t.zip", [("models/sentinel.txt", b"overwritten!")])
    with pytest.raises(InvalidParameter, match="outside"):
        extract_archive(archive, dest)
    assert snapshot(outside) == before


def test_failure_during_extraction_removes_what_it_created(world: tuple[Path, Path, Path]) -> None:
    archives, dest, _ = world
    dest.mkdir()
    (dest / "existing.txt").write_bytes(b"mine")
    archive = make_tar(
        archives / "clash.tar", [(tar_member("a"), b"file"), (tar_member("a/b"), b"under a file")]
    )
    with pytest.raises(Conflict):
        extract_archive(archive, dest)
    assert files_in(dest) == {"existing.txt": b"mine"}


@pytest.mark.parametrize("content", [b"", b"not an archive at all", b"PK\x03\x04 truncated"])
def test_garbage_is_a_clear_error(world: tuple[Path, Path, Path], content: bytes) -> None:
    archives, dest, _ = world
    path = archives / "junk.bin"
    path.write_bytes(content)
    with pytest.raises(InvalidParameter):
        extract_archive(path, dest)
    assert files_in(dest) == {}


def test_corrupt_member_data_is_a_clear_error_and_leaves_nothing(world: tuple[Path, Path, Path]) -> None:
    archives, dest, _ = world
    archive = make_zip(archives / "corrupt.zip", [("a.txt", os.urandom(5000))])
    raw = bytearray(archive.read_bytes())
    raw[60:200] = bytes(140)  # inside the compressed data of a.txt; the headers stay intact
    archive.write_bytes(bytes(raw))
    with pytest.raises(InvalidParameter, match="damaged"):
        extract_archive(archive, dest)
    assert files_in(dest) == {}
