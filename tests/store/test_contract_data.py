"""Data assets in every store (issue 16): SQLite, PostgreSQL and REST behave the same.

Over REST a version names blobs the server must already have: the test uploads them first, as
`ws.data.register` does.
"""

from __future__ import annotations

import io
import threading

import pytest

from jupyter_mlws.entities import ModelFile
from jupyter_mlws.errors import InvalidParameter, NotFound
from jupyter_mlws.models.files import manifest_sha256


def _files(store, contents: dict[str, bytes]) -> tuple[tuple[ModelFile, ...], str, int]:
    import hashlib

    files = tuple(
        ModelFile(path, len(data), hashlib.sha256(data).hexdigest())
        for path, data in sorted(contents.items())
    )
    if type(store).__name__ == "RestStore":
        from jupyter_mlws.store.rest_artifacts import RestArtifactStore

        blobs = RestArtifactStore(store)
        for f, data in zip(files, [contents[f.path] for f in files], strict=True):
            blobs.put_blob(io.BytesIO(data), sha256=f.sha256)
    return files, manifest_sha256(files), sum(f.size for f in files)


def test_versions_count_up_and_are_read_back_by_number_or_as_the_newest(store) -> None:
    files, digest, size = _files(store, {"a.csv": b"x,y\n1,2\n", "sub/b.csv": b"x,y\n3,4\n"})
    first = store.create_data_version(
        "batch-data", files=files, sha256=digest, size_bytes=size, source="data/"
    )
    assert (first.name, first.version, first.sha256, first.size_bytes) == ("batch-data", 1, digest, size)
    assert [f.path for f in first.files] == ["a.csv", "sub/b.csv"] and first.source == "data/"
    more, digest2, size2 = _files(store, {"a.csv": b"x,y\n1,2\n", "c.csv": b"x,y\n5,6\n"})
    second = store.create_data_version(
        "batch-data", files=more, sha256=digest2, size_bytes=size2, description="more rows", tags={"k": "v"}
    )
    assert second.version == 2 and second.description == "more rows" and second.tags == {"k": "v"}
    assert store.get_data_version("batch-data").version == 2
    assert store.get_data_version("batch-data", 1).files == first.files
    assert [v.version for v in store.list_data_versions("batch-data")] == [1, 2]
    assets = store.list_data_assets()
    assert [(a.name, a.latest_version) for a in assets] == [("batch-data", 2)]
    with pytest.raises(NotFound):
        store.get_data_version("batch-data", 3)
    with pytest.raises(NotFound):
        store.get_data_version("nothing")
    with pytest.raises(NotFound):
        store.list_data_versions("nothing")


def test_bad_versions_are_refused_and_nothing_is_stored(store) -> None:
    files, digest, size = _files(store, {"a.csv": b"1"})
    with pytest.raises(InvalidParameter):
        store.create_data_version("bad name/with slash", files=files, sha256=digest, size_bytes=size)
    with pytest.raises(InvalidParameter):
        store.create_data_version("empty", files=(), sha256=digest, size_bytes=0)
    assert store.list_data_assets() == []


def test_concurrent_registrations_take_distinct_numbers(store) -> None:
    numbers: list[int] = []
    contents = [{f"{i}.csv": str(i).encode()} for i in range(4)]
    prepared = [_files(store, c) for c in contents]
    barrier = threading.Barrier(4)

    def register(i: int) -> None:
        files, digest, size = prepared[i]
        barrier.wait()
        numbers.append(
            store.create_data_version("shared", files=files, sha256=digest, size_bytes=size).version
        )

    threads = [threading.Thread(target=register, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == [1, 2, 3, 4]
