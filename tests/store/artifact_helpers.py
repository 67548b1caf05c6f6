"""Helpers shared by the artifact and bundle tests: stores under test, tree snapshots, test sources."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from pathlib import Path

import fsspec

from jupyter_mlws.store.artifacts import ArtifactStore, open_artifact_store


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under a folder (not following links): file contents, link targets, folders."""
    tree: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            full = Path(dirpath, name)
            key = str(full.relative_to(folder))
            if full.is_symlink():
                tree[key] = "link->" + os.readlink(full)
            elif full.is_dir():
                tree[key] = "dir"
            else:
                tree[key] = full.read_bytes()
    return tree


class Env:
    """A store plus a way to see its raw contents and everything around it."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.tmp = tmp
        self.outside = tmp / "outside"
        self.outside.mkdir()
        (self.outside / "sentinel.txt").write_bytes(b"do not touch")
        if kind == "memory":
            self.url = f"memory://mlws-test-{uuid.uuid4().hex}/artifacts"
            self.fs = fsspec.filesystem("memory")
            self.store: ArtifactStore = open_artifact_store(self.url)
            self.mem_root = self.url[len("memory:/") :]
        else:
            self.root = tmp / "ws" / "artifacts"
            self.url = self.root.as_uri() if kind == "file-url" else str(self.root)
            self.store = open_artifact_store(self.url)

    def raw_names(self) -> list[str]:
        """Every stored name under the root, hidden ones included (what is on the disk / in the bucket)."""
        if self.kind == "memory":
            return sorted(p[len(self.mem_root) + 1 :] for p in self.fs.find(self.mem_root))
        if not self.root.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if not p.is_dir())

    def outside_snapshot(self) -> object:
        """The world outside the store's root: the temp folder minus the root, or the other memory keys."""
        if self.kind == "memory":
            return sorted(p for p in self.fs.find("/") if not p.startswith(self.mem_root + "/")), snapshot(
                self.outside
            )
        everything = snapshot(self.tmp)
        return {k: v for k, v in everything.items() if not k.startswith("ws")}

    def close(self) -> None:
        if self.kind == "memory" and self.fs.exists(self.mem_root):
            self.fs.rm(self.mem_root, recursive=True)


class ChunkRecorder(io.RawIOBase):
    """A source that yields `total` pseudo-random bytes and records every read size asked of it."""

    def __init__(self, total: int, fail_after: int | None = None, error: BaseException | None = None) -> None:
        self.data = os.urandom(total)
        self.pos = 0
        self.sizes: list[int] = []
        self.fail_after = fail_after
        self.error = error or RuntimeError("source died mid-stream")

    def read(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise self.error
        end = len(self.data) if size < 0 else self.pos + size
        chunk = self.data[self.pos : end]
        self.pos += len(chunk)
        return chunk
