"""Backends for the store contract suite: a SQLite file per test, a fresh PostgreSQL database
(`tests/services.py`: one throwaway cluster per session), and a live server for the REST store.

`store_url` is parametrised over `BACKENDS`; adding a backend is one entry there plus a fixture
that yields its URL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

BACKENDS = ["sqlite", "postgresql", "rest"]


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
