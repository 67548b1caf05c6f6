"""Model files: what `collect` refuses (S2), and `materialize` re-hashing every use (S6)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from jupyter_mlws.entities import ModelFile
from jupyter_mlws.errors import InvalidParameter
from jupyter_mlws.models import ModelIntegrityError
from jupyter_mlws.models.files import collect, manifest_sha256, materialize


@pytest.mark.catalogue("S2")
def test_collect_refuses_links_out_and_special_files(tmp_path, skops_file):
    outside = tmp_path / "secret.txt"
    outside.write_text("do not read")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.skops").write_bytes(skops_file.read_bytes())
    (folder / "inside.skops").symlink_to(folder / "model.skops")  # a link inside: stored as the file
    assert [rel for rel, _ in collect(folder)] == ["inside.skops", "model.skops"]

    (folder / "weights.bin").symlink_to(outside)
    with pytest.raises(InvalidParameter, match=r"'weights\.bin' is a link that leaves the model folder"):
        collect(folder)
    (folder / "weights.bin").unlink()
    (folder / "data").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(InvalidParameter, match="'data' is a link to a folder outside"):
        collect(folder)
    (folder / "data").unlink()
    os.mkfifo(folder / "pipe")
    with pytest.raises(InvalidParameter, match="'pipe' is not a regular file"):
        collect(folder)
    (folder / "pipe").unlink()
    (folder / ".mlws-part-x").write_text("")
    with pytest.raises(InvalidParameter):
        collect(folder)


def test_manifest_digest_is_order_free_and_content_bound():
    a = ModelFile("a.txt", 1, "0" * 64)
    b = ModelFile("b/c.bin", 2, "1" * 64)
    assert manifest_sha256([a, b]) == manifest_sha256([b, a])
    assert manifest_sha256([a, b]) != manifest_sha256([a, dataclasses.replace(b, sha256="2" * 64)])


@pytest.mark.catalogue("S6")
def test_tampered_blob_is_refused_and_a_tampered_cache_is_rebuilt(ws, skops_file, features, logreg, tmp_path):
    version = ws.models.register("churn", skops_file)
    folder = materialize(ws.artifact_store, version, ws.models.cache_root)
    assert folder == ws.models.cache_root / version.sha256

    # Someone edits the cached copy, or plants a module next to it: rebuilt from the blobs on next use.
    (folder / "model.skops").write_bytes(b"edited")
    (folder / "sitecustomize.py").write_text("raise SystemExit")
    assert np.array_equal(ws.models.load("churn").predict(features), logreg.predict(features))
    assert sorted(p.name for p in folder.iterdir()) == ["model.skops"]

    # The stored blob itself changes: fail closed, nothing loaded, no cache left behind.
    blob = next(p for p in (tmp_path / "ws").rglob(version.files[0].sha256) if "blobs" in p.parts)
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    (folder / "model.skops").write_bytes(b"edited again")
    with pytest.raises(ModelIntegrityError, match="does not hash to its manifest digest"):
        ws.models.load("churn")
    assert not folder.exists() and not any(ws.models.cache_root.iterdir())
    assert ModelIntegrityError.http_status == 409


@pytest.mark.catalogue("S2", "S6")
def test_altered_manifest_and_escaping_paths_are_refused(ws, skops_file, tmp_path):
    version = ws.models.register("churn", skops_file)
    cache = tmp_path / "cache"
    other = dataclasses.replace(version.files[0], sha256="f" * 64)
    with pytest.raises(ModelIntegrityError, match="does not hash to the recorded sha256"):
        materialize(ws.artifact_store, dataclasses.replace(version, files=(other,)), cache)
    for bad in ("../x", "/etc/passwd", "a/../../x", ".mlws-part-1/x"):
        files = (dataclasses.replace(version.files[0], path=bad),)
        crafted = dataclasses.replace(version, files=files, sha256=manifest_sha256(files))
        with pytest.raises(InvalidParameter):
            materialize(ws.artifact_store, crafted, cache)
    assert not (tmp_path / "x").exists() and not cache.exists()  # refused before any write


@pytest.mark.catalogue("S6")
def test_cache_symlink_swap_is_not_followed(ws, skops_file, tmp_path):
    version = ws.models.register("churn", skops_file)
    folder = materialize(ws.artifact_store, version, ws.models.cache_root)
    outside = tmp_path / "outside.skops"
    outside.write_bytes(skops_file.read_bytes())
    (folder / "model.skops").unlink()
    (folder / "model.skops").symlink_to(outside)
    again = materialize(ws.artifact_store, version, ws.models.cache_root)
    assert again == folder and not (again / "model.skops").is_symlink()


@pytest.mark.catalogue("S6")
def test_materialize_refuses_unknown_blob(ws, skops_file, tmp_path):
    from jupyter_mlws.errors import NotFound

    version = ws.models.register("churn", skops_file)
    files = (ModelFile("model.skops", 3, "e" * 64),)
    ghost = dataclasses.replace(version, files=files, sha256=manifest_sha256(files))
    with pytest.raises(NotFound):
        materialize(ws.artifact_store, ghost, tmp_path / "cache")
    assert not any((tmp_path / "cache").iterdir())


@pytest.mark.catalogue("S6")
def test_concurrent_materialize_ends_with_one_verified_copy(ws, skops_file):
    """N replicas starting at once: each gets the same complete folder, no staging folder is left."""
    from concurrent.futures import ThreadPoolExecutor

    version = ws.models.register("churn", skops_file)
    root = ws.models.cache_root
    with ThreadPoolExecutor(6) as pool:
        folders = list(pool.map(lambda _: materialize(ws.artifact_store, version, root), range(6)))
    assert set(folders) == {root / version.sha256}
    assert [p.name for p in root.iterdir()] == [version.sha256]
    assert (root / version.sha256 / "model.skops").read_bytes() == skops_file.read_bytes()
