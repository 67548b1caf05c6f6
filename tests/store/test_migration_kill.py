"""RELIABILITY U2: a process SIGKILLed at each step of the v1 → head upgrade leaves the database
at the old revision or the new one, never between, with every row; the next open completes the
upgrade; on SQLite the backup (`<db>.bak-v1`) exists before the first DDL.

The upgrade runs in a child process that counts the SQL statements it executes inside the
migration (an SQLAlchemy event) and kills itself with SIGKILL right after the chosen one: after
each step's `alembic_version` update (a step boundary) and in the middle of the largest step.
A first child runs the upgrade through and reports where those points are.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from jupyter_mlws.store.factory import open_store
from jupyter_mlws.store.sql.engine import normalise_url
from jupyter_mlws.store.sql.schema import HEAD_REVISION, SCHEMA_VERSION

from .test_migrations import V1_TABLES, _snapshot, make_v1_database

# The child: open the store on `url` (which upgrades it), counting statements inside `_upgrade`.
CHILD = r"""
import json, os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
from jupyter_mlws.store.sql import migrate

url, kill_after = sys.argv[1], int(sys.argv[2])
state = {"on": False, "count": 0, "steps": []}

@event.listens_for(Engine, "after_cursor_execute")
def _count(conn, cursor, statement, parameters, context, executemany):
    if not state["on"]:
        return
    state["count"] += 1
    if "alembic_version" in statement and statement.lstrip().upper().startswith("UPDATE"):
        state["steps"].append(state["count"])
    if state["count"] == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)

upgrade = migrate._upgrade
def counted(conn):
    state["on"] = True
    try:
        upgrade(conn)
    finally:
        state["on"] = False
migrate._upgrade = counted

from jupyter_mlws.store.factory import open_store
with open_store(url) as store:
    pass
print(json.dumps({"count": state["count"], "steps": state["steps"]}))
"""


def _child(url: str, kill_after: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, url, str(kill_after)], capture_output=True, text=True, timeout=120
    )


def _revision(url: str) -> str:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())
    finally:
        engine.dispose()


def _fresh_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    name = uuid.uuid4().hex[:12]
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / name / 'mlws.db'}"
    import psycopg

    server = request.getfixturevalue("postgres_server")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "mlws_{name}"')
    return f"{server}/mlws_{name}"


@pytest.mark.catalogue("U2")
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_kill_at_each_migration_step_leaves_the_old_or_new_revision_and_reopening_completes(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Where the points are: a whole upgrade, counted.
    url = _fresh_url(kind, tmp_path, request)
    make_v1_database(url)
    whole = _child(url, 0)
    assert whole.returncode == 0, whole.stderr[-2000:]
    counted = json.loads(whole.stdout.strip().splitlines()[-1])
    steps = counted["steps"]
    assert len(steps) == SCHEMA_VERSION - 1, steps  # one version update per step after v1
    bounds = [0, *steps]
    widest = max(range(len(steps)), key=lambda i: bounds[i + 1] - bounds[i])
    middle = (bounds[widest] + bounds[widest + 1]) // 2
    # Each step boundary, and the middle of the largest step; PostgreSQL: the first, the middle
    # and the last (each point is a fresh database and a child process).
    points = sorted({*steps, middle} if kind == "sqlite" else {steps[0], middle, steps[-1]})
    for point in points:
        url = _fresh_url(kind, tmp_path, request)
        make_v1_database(url)
        before = _snapshot(url, V1_TABLES)
        killed = _child(url, point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr[-2000:])
        assert _revision(url) in ("0001", HEAD_REVISION), point
        assert _snapshot(url, V1_TABLES) == before, f"rows changed by a kill after statement {point}"
        if kind == "sqlite":
            backup = Path(normalise_url(url).database).with_name("mlws.db.bak-v1")
            assert backup.exists(), "the backup is taken before the first DDL"
            with sqlite3.connect(backup) as conn:
                assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
                assert conn.execute("SELECT count(*) FROM metrics").fetchone() == (6,)
        # The next open completes the upgrade, every row kept and readable.
        with open_store(url) as store:
            assert store.describe()["schema_version"] == SCHEMA_VERSION
            assert store.get_run("a" * 32).data.params == {"lr": "0.01"}
            assert list(store.get_metric_history("a" * 32, "loss").steps) == [0, 1, 2]
        assert _revision(url) == HEAD_REVISION
        assert _snapshot(url, V1_TABLES) == before
