"""Which files a code snapshot takes: the walk of the folder, the ignore rules and the caps.

Who calls it: `client/snapshot.py` (`take_snapshot`), which stores what `TreeWalk` found. The rules
(see that module's docstring and docs/snapshots.md): `DEFAULT_IGNORES`, then ``<root>/.mlwsignore``
(gitignore syntax through pathspec), the workspace folder and a local artifact store left out when
inside the root, symbolic links never followed out of the root nor into folders, special files
skipped, names the safe-path helper refuses reported. Cost: one ``scandir`` per folder and one stat
per file; ignore decisions and name checks are memoised per root until ``.mlwsignore`` changes.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter
from ..paths import safe_relative_path

if TYPE_CHECKING:
    from .run import Run

DEFAULT_MAX_MB = 300
DEFAULT_MAX_FILES = 2000
MAX_MB_ENV = "MLWS_SNAPSHOT_MAX_MB"
MAX_FILES_ENV = "MLWS_SNAPSHOT_MAX_FILES"
IGNORE_FILE = ".mlwsignore"
#: Always left out (gitignore syntax); ``.mlwsignore`` lines come after these and may negate them.
DEFAULT_IGNORES = (
    ".git/",
    ".mlws/",
    "__pycache__/",
    ".ipynb_checkpoints/",
    ".venv/",
    "venv/",
    "node_modules/",
    ".local/",
    ".yarn/",
    "*.pyc",
)
_CACHE_LIMIT = 100_000
_NAMES_SHOWN = 5

_lock = threading.Lock()
_rules: dict[str, tuple[Any, Any, dict[str, Any]]] = {}  # root -> (ignore-file stamp, spec, memo)


class TreeWalk:
    """The files under a root that a snapshot takes: {relative path: (path to read, stat)}."""

    def __init__(self, root: str, excluded: set[str], file_cap: int) -> None:
        self.root = root
        self.excluded = excluded
        self.file_cap = file_cap
        self.files: dict[str, tuple[str, os.stat_result]] = {}
        self.over_count = False
        self.refused: list[str] = []
        self.unreadable: list[str] = []
        self.spec, self.memo = _ignore_rules(root)

    def run(self) -> None:
        stack = [""]
        while stack and not self.over_count:
            prefix = stack.pop()
            try:
                with os.scandir(os.path.join(self.root, prefix) if prefix else self.root) as listing:
                    entries = list(listing)
            except OSError:
                self.unreadable.append(prefix.rstrip("/") or ".")
                continue
            for entry in entries:
                rel = prefix + entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if rel not in self.excluded and not self._ignored(rel + "/"):
                            stack.append(rel + "/")
                    elif not self._ignored(rel):
                        self._add(rel, entry)
                except OSError:
                    self.unreadable.append(rel)
                if self.over_count:
                    return

    def _add(self, rel: str, entry: os.DirEntry[str]) -> None:
        if entry.is_symlink():
            target = os.path.realpath(entry.path)
            if not _inside(target, self.root):
                return  # a link out of the root is never followed
            st = os.stat(target)
            path = target
        else:
            st = entry.stat(follow_symlinks=False)
            path = entry.path
        if not stat.S_ISREG(st.st_mode):
            return  # folders behind links, sockets, fifos, devices
        safe = self._safe_name(rel)
        if safe is None:
            self.refused.append(rel)
            return
        self.files[safe] = (path, st)
        if len(self.files) > self.file_cap:
            self.over_count = True

    def include_notebook(self, notebook_path: str, warnings: list[str]) -> None:
        """Take the notebook file even when an ignore rule matched it; warn when it is outside root."""
        given = Path(notebook_path).expanduser()
        candidates = (
            [given] if given.is_absolute() else [Path(self.root) / given, Path(self.root) / given.name]
        )
        for candidate in candidates:
            if not candidate.is_file():
                continue
            real = os.path.realpath(candidate)
            if not _inside(real, self.root):
                warnings.append(
                    f"The notebook {notebook_path} is outside the snapshot folder {self.root}; "
                    "it is not in the snapshot."
                )
                return
            safe = self._safe_name(Path(real).relative_to(self.root).as_posix())
            if safe is not None and safe not in self.files:
                self.files[safe] = (real, os.stat(real))
            return

    def _ignored(self, rel: str) -> bool:
        hit = self.memo.get(rel)
        if hit is None:
            hit = self.memo[rel] = bool(self.spec.match_file(rel))
        return bool(hit)

    def _safe_name(self, rel: str) -> str | None:
        key = "\0" + rel
        if key not in self.memo:
            try:
                self.memo[key] = safe_relative_path(rel)
            except InvalidParameter:
                self.memo[key] = None
        return self.memo[key]  # type: ignore[no-any-return]

    def warnings(self) -> list[str]:
        found = []
        if self.refused:
            found.append(
                f"{len(self.refused)} file(s) have names the artifact store refuses (':', '#', '?', '*', "
                f"'[', '\\', a leading '~' or '.mlws-') and are not in the snapshot: {_some(self.refused)}."
            )
        if self.unreadable:
            found.append(
                f"{len(self.unreadable)} file(s) or folder(s) could not be read and are not in the "
                f"snapshot: {_some(self.unreadable)}."
            )
        return found


def _inside(path: str, root: str) -> bool:
    """Whether a real path lies strictly under a real root folder."""
    return path.startswith(root.rstrip(os.sep) + os.sep)


def _ignore_rules(root: str) -> tuple[Any, dict[str, Any]]:
    """The default ignores plus ``<root>/.mlwsignore``, compiled once per version of that file."""
    import pathspec

    ignore_file = os.path.join(root, IGNORE_FILE)
    try:
        st = os.stat(ignore_file)
        stamp: Any = (st.st_size, st.st_mtime_ns, st.st_ino)
    except OSError:
        stamp = None
    with _lock:
        cached = _rules.get(root)
        if cached is not None and cached[0] == stamp and len(cached[2]) < _CACHE_LIMIT:
            return cached[1], cached[2]
    lines = list(DEFAULT_IGNORES)
    if stamp is not None:
        with contextlib.suppress(OSError):
            lines += Path(ignore_file).read_text(encoding="utf-8", errors="replace").splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    memo: dict[str, Any] = {}
    with _lock:
        _rules[root] = (stamp, spec, memo)
    return spec, memo


def excluded_folders(run: Run, root: str) -> set[str]:
    """The workspace folder and a local artifact store, as paths relative to `root` when inside it."""
    candidates = []
    location = run.workspace.location
    if location.is_local:
        candidates.append(location.workspace)
    store_root = getattr(run.workspace.artifact_store, "root", None)
    if store_root is not None:
        candidates.append(os.fspath(store_root))
    excluded = set()
    for folder in candidates:
        real = os.path.realpath(folder)
        if _inside(real, root):
            excluded.add(Path(real).relative_to(root).as_posix())
    return excluded


# ----- caps --------------------------------------------------------------------------------------


def snapshot_caps(max_bytes: int | None, max_files: int | None, warnings: list[str]) -> tuple[int, int]:
    if max_bytes is None:
        mb = _env_number(MAX_MB_ENV, DEFAULT_MAX_MB, warnings)
        max_bytes = int(mb * 1024 * 1024)
    if max_files is None:
        max_files = int(_env_number(MAX_FILES_ENV, DEFAULT_MAX_FILES, warnings))
    return max_bytes, max_files


def _env_number(name: str, default: float, warnings: list[str]) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
        if value >= 0:
            return value
    except ValueError:
        pass
    warnings.append(f"${name}={raw!r} is not a non-negative number; the default cap {default:g} was used.")
    return default


def over_cap_message(root: str, walk: TreeWalk, total: int, byte_cap: int, file_cap: int) -> str | None:
    """The message when the snapshot is too big (None when it fits), naming what, the cap and the fix."""
    fix = (
        f"List what is not code (data, outputs, environments) in {os.path.join(root, IGNORE_FILE)} "
        "(gitignore syntax), raise the cap with ${env}, or run the cell with %%mlrun --no-snapshot."
    )
    if walk.over_count or len(walk.files) > file_cap:
        crowded = Counter(rel.split("/", 1)[0] + ("/" if "/" in rel else "") for rel in walk.files)
        top = ", ".join(f"{name} ({count:,})" for name, count in crowded.most_common(3))
        return (
            f"Code snapshot skipped: {root} holds more than {file_cap:,} files, the cap (most under: "
            f"{top}). " + fix.replace("${env}", f"${MAX_FILES_ENV}")
        )
    if total > byte_cap:
        sizes: Counter[str] = Counter()
        for rel, (_, st) in walk.files.items():
            sizes[rel.split("/", 1)[0] + ("/" if "/" in rel else "")] += st.st_size
        top = ", ".join(f"{name} ({_mib(size)})" for name, size in sizes.most_common(3))
        return (
            f"Code snapshot skipped: {root} holds {_mib(total)} in {len(walk.files):,} files, over the "
            f"cap of {_mib(byte_cap)} (largest: {top}). " + fix.replace("${env}", f"${MAX_MB_ENV}")
        )
    return None


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MiB"


def _some(names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:_NAMES_SHOWN])
    return shown + (f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else "")
