"""Backends for the store contract suite: a SQLite file per test and a throwaway PostgreSQL cluster.

`store_url` is parametrised over `BACKENDS`; adding a backend (the REST store
of issue 4) is one entry there plus a fixture that yields its URL.
The PostgreSQL cluster is started once per session from Debian's server
binaries (`initdb`, `pg_ctl`) in a temp dir, listening on 127.0.0.1 and a
socket in that dir, and stopped at the end. Each test gets a fresh database.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BACKENDS = ["sqlite", "postgresql", "rest"]


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A running throwaway PostgreSQL cluster; yields its base URL (no database name)."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin); "
            "`make test` installs them with apt-get install -y postgresql"
        )
    root = Path(tempfile.mkdtemp(prefix="mlws-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, log = root / "data", root / "log"
    port = _free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-o",
                f"-k {root} -h 127.0.0.1 -p {port} -c fsync=off -c max_connections=200",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgresql_url(postgres_server: str) -> str:
    """A fresh, empty database in the session cluster."""
    import psycopg

    name = f"mlws_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_server}/{name}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in a fresh temp folder."""
    return f"sqlite:///{tmp_path}/ws/mlws.db"


@pytest.fixture
def rest_url(live_server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A live jupyter server with the extension (pytest-jupyter, loop in a thread); the REST
    store reads its token from $MLWS_TOKEN."""
    monkeypatch.setenv("MLWS_TOKEN", live_server.token)
    return str(live_server.url)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty store on each backend."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each SQL backend (for schema and migration tests)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def skip_on_rest(store: object, why: str) -> None:
    """Skip a contract test that does not apply over HTTP, saying why."""
    if type(store).__name__ == "RestStore":
        pytest.skip(f"REST store: {why}")


@pytest.fixture
def store(store_url: str):
    """An open store on each backend, closed after the test."""
    from jupyter_mlws.store.factory import open_store

    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
