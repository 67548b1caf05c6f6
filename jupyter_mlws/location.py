"""Where a workspace lives: resolve a folder or URL into store + artifact URLs.

Used by the server extension (with the server's root dir as the base) and by
code in kernels (with the current directory as the base). Pure standard
library, so importing it costs nothing in a kernel.

Rules (what an MLflow user expects from `MLFLOW_TRACKING_URI`):
- an explicit workspace argument wins, then `$MLWS_WORKSPACE`, then
  `<base_dir>/.mlws`;
- a folder workspace is embedded: SQLite at `<folder>/mlws.db` and artifacts
  in `<folder>/artifacts`, each overridable by its own URL;
- an `http(s)://` workspace is another server's REST API (kind `rest`);
- with no workspace argument, `$MLWS_STORE_URL` and `$MLWS_ARTIFACT_URL` override the stores
  (a server on PostgreSQL + S3 hands them to its kernels with `$MLWS_WORKSPACE`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from .errors import InvalidParameter

WORKSPACE_ENV = "MLWS_WORKSPACE"
#: A server whose stores are not the folder's own (PostgreSQL, S3) hands its kernels these.
STORE_URL_ENV = "MLWS_STORE_URL"
ARTIFACT_URL_ENV = "MLWS_ARTIFACT_URL"
DEFAULT_FOLDER = ".mlws"

_STORE_KINDS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "http": "rest",
    "https": "rest",
}


@dataclass(frozen=True)
class WorkspaceLocation:
    """A resolved workspace: what it is called and where its two stores are."""

    workspace: str
    store_url: str
    artifact_url: str

    @property
    def store_kind(self) -> str:
        """`sqlite`, `postgresql` or `rest`, from the store URL's scheme."""
        scheme = urlsplit(self.store_url).scheme.split("+", 1)[0].lower()
        return _STORE_KINDS[scheme]

    @property
    def is_local(self) -> bool:
        """True when the workspace is a folder on this machine."""
        return self.store_kind != "rest" and not _is_url(self.workspace)

    def describe(self) -> dict[str, str]:
        """A JSON-ready summary that never contains a password."""
        return {
            "workspace": self.workspace,
            "store_kind": self.store_kind,
            "store_url": redact_url(self.store_url),
            "artifact_url": redact_url(self.artifact_url),
        }


def resolve_location(
    workspace: str | os.PathLike[str] | None = None,
    *,
    store_url: str | None = None,
    artifact_url: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> WorkspaceLocation:
    """Resolve a workspace from arguments, `$MLWS_WORKSPACE`, or the default.

    `base_dir` anchors relative folders (the server passes its root dir; in a
    kernel it defaults to the current directory).
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    if workspace is None:
        # The environment describes one workspace: the folder and, for a team's, its stores.
        store_url = store_url or os.environ.get(STORE_URL_ENV) or None
        artifact_url = artifact_url or os.environ.get(ARTIFACT_URL_ENV) or None
    raw = os.fspath(workspace) if workspace is not None else os.environ.get(WORKSPACE_ENV, "")
    raw = raw.strip()
    if not raw:
        raw = DEFAULT_FOLDER

    if _is_url(raw):
        scheme = urlsplit(raw).scheme.lower()
        if scheme not in ("http", "https"):
            raise InvalidParameter(
                f"Workspace {redact_url(raw)!r} has an unsupported scheme {scheme!r}: "
                "use a folder path or an http(s):// URL of a jupyter_mlws server."
            )
        root, _ = server_url(raw)
        store = store_url or root
        artifacts = artifact_url or root
    else:
        folder = Path(raw).expanduser()
        if not folder.is_absolute():
            folder = base / folder
        root = os.path.abspath(folder)
        store = store_url or f"sqlite:///{root}/mlws.db"
        artifacts = artifact_url or os.path.join(root, "artifacts")

    scheme = urlsplit(store).scheme.split("+", 1)[0].lower()
    if scheme not in _STORE_KINDS:
        raise InvalidParameter(
            f"Store URL {redact_url(store)!r} is not supported: use sqlite:///PATH, "
            "postgresql://USER@HOST/DB or an http(s):// URL."
        )
    return WorkspaceLocation(workspace=root, store_url=store, artifact_url=artifacts)


def server_url(url: str) -> tuple[str, str | None]:
    """A server's base URL and the token a pasted link carries, if any.

    People paste what the browser shows: ``http://host:8888/lab?token=abc`` or, under
    JupyterHub, ``https://hub/user/alice/lab/tree/x.ipynb``. The base URL ends before the
    ``/lab`` (or ``/tree``) segment; the query and fragment go (the token is returned, never
    kept in the URL, so it is never printed with it).
    """
    parts = urlsplit(url.strip())
    token = None
    for name, value in parse_qsl(parts.query):
        if name == "token" and value:
            token = value
    segments = parts.path.split("/")
    for i, segment in enumerate(segments):
        if segment in ("lab", "tree", "notebooks") and i > 0 and segments[i - 1] != "user":
            segments = segments[:i]
            break
    path = "/".join(segments).rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, "", "")), token


def redact_url(url: str) -> str:
    """Replace the password of a URL (if any) by `***` for display and logs."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo = f"{parts.username}:***@" if parts.username else "***@"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, userinfo + host, parts.path, parts.query, parts.fragment))


def _is_url(value: str) -> bool:
    scheme = urlsplit(value).scheme
    # A Windows drive letter ("C:/x") is not a URL scheme.
    return "://" in value and len(scheme) > 1
