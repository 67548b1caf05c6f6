"""Schema versions: v1 -> v2 upgrade with backfill (U1), backups (U2), schema == models (U3),
newer or foreign databases refused without writes (U4), one creation under concurrency (C4)."""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from jupyter_mlws.errors import IncompatibleStore
from jupyter_mlws.store.factory import open_store
from jupyter_mlws.store.sql.engine import normalise_url
from jupyter_mlws.store.sql.migrate import KNOWN_REVISIONS, MIGRATIONS_DIR
from jupyter_mlws.store.sql.schema import HEAD_REVISION, SCHEMA_VERSION, metadata

V1_TABLES = ["experiments", "runs", "params", "tags", "metrics"]
T0 = 1_700_000_000_000


def _alembic_config(conn):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def make_v1_database(url: str) -> None:
    """Build a schema-v1 workspace from the v1 migration and fill it the way v1 code did."""
    from alembic import command

    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0001")
        conn.execute(
            text("INSERT INTO experiments (name, created_time, last_update_time) VALUES ('old', :t, :t)"),
            {"t": T0},
        )
        for pk, run_id in ((1, "a" * 32), (2, "b" * 32)):
            conn.execute(
                text(
                    "INSERT INTO runs (run_id, experiment_id, name, status, source_kind, compute_target, "
                    "start_time, end_time, created_time) "
                    "VALUES (:rid, 1, :name, 'completed', 'api', 'local', "
                    ":t, :t, :t)"
                ),
                {"rid": run_id, "name": f"run{pk}", "t": T0},
            )
            assert conn.execute(text("SELECT id FROM runs WHERE run_id = :r"), {"r": run_id}).scalar() == pk
            conn.execute(text("INSERT INTO params (run, key, value) VALUES (:pk, 'lr', '0.01')"), {"pk": pk})
            conn.execute(text("INSERT INTO tags (run, key, value) VALUES (:pk, 'team', 'a')"), {"pk": pk})
        rows = [
            (1, "loss", 0, T0, 0.9, 0),
            (1, "loss", 2, T0, 0.4, 0),
            (1, "loss", 1, T0 + 5, 0.6, 0),
            (1, "acc", 3, T0, None, 1),
            (2, "loss", 7, T0, 0.0, 2),
            (2, "loss", 7, T0 + 1, 0.3, 0),
        ]
        for row in rows:
            conn.execute(
                text(
                    "INSERT INTO metrics (run, key, step, timestamp_ms, value, value_kind) "
                    "VALUES (:r, :k, :s, :t, :v, :kind)"
                ),
                dict(zip(("r", "k", "s", "t", "v", "kind"), row, strict=False)),
            )
    engine.dispose()


def _snapshot(url: str, tables: list[str]) -> dict[str, list[tuple]]:
    """Every row of `tables`, with the columns each had at the first snapshot of `url` (later
    revisions add columns)."""
    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        snap = {}
        for t in tables:
            columns = _V1_COLUMNS.setdefault((url, t), [c["name"] for c in inspect(conn).get_columns(t)])
            listed = ", ".join(columns)
            snap[t] = sorted(tuple(r) for r in conn.execute(text(f"SELECT {listed} FROM {t}")).fetchall())
    engine.dispose()
    return snap


_V1_COLUMNS: dict[tuple[str, str], list[str]] = {}


@pytest.mark.catalogue("U1", "U2")
def test_upgrade_from_v1_keeps_every_row_and_backfills_latest(sql_url: str) -> None:
    make_v1_database(sql_url)
    before = _snapshot(sql_url, V1_TABLES)
    with open_store(sql_url) as store:
        assert store.describe()["schema_version"] == SCHEMA_VERSION
        assert _snapshot(sql_url, V1_TABLES) == before
        latest = store.get_run("a" * 32).data.metrics
        assert latest["loss"] == 0.4 and math.isnan(latest["acc"])
        assert store.get_run("b" * 32).data.metrics == {"loss": 0.3}
        assert store.get_run("a" * 32).data.params == {"lr": "0.01"}
        assert list(store.get_metric_history("a" * 32, "loss").steps) == [0, 1, 2]
        run = store.create_run(1, name="new")  # v2 tables work after the upgrade
        store.log_metric(run.info.run_id, "loss", 1.0, 0, T0)
    if sql_url.startswith("sqlite"):
        db = Path(normalise_url(sql_url).database)
        backup = db.with_name("mlws.db.bak-v1")
        assert backup.exists()
        with sqlite3.connect(backup) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0001",)]
            assert conn.execute("SELECT count(*) FROM metrics").fetchone() == (6,)


@pytest.mark.catalogue("U1")
def test_upgrade_from_v9_keeps_experiments_and_runs_active_and_adds_the_mlflow_tables(sql_url: str) -> None:
    """Schema v10 (MLflow's soft delete, experiment tags, run I/O, logged models) over a v9 workspace."""
    from alembic import command

    parsed = normalise_url(sql_url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0009")
        conn.execute(
            text("INSERT INTO experiments (name, created_time, last_update_time) VALUES ('old', :t, :t)"),
            {"t": T0},
        )
        conn.execute(
            text(
                "INSERT INTO runs (run_id, experiment_id, name, status, source_kind, compute_target, "
                "start_time, end_time, created_time) "
                "VALUES (:rid, 1, 'r', 'completed', 'api', 'local', :t, :t, :t)"
            ),
            {"rid": "c" * 32, "t": T0},
        )
        conn.execute(text("INSERT INTO tags (run, key, value) VALUES (1, 'team', 'a')"))
    engine.dispose()
    with open_store(sql_url) as store:
        assert store.describe()["schema_version"] == SCHEMA_VERSION
        old = store.get_experiment(1)
        assert (old.name, old.lifecycle_stage, old.tags) == ("old", "active", {})
        assert [e.name for e in store.list_experiments()] == ["old"]
        run = store.get_run("c" * 32)
        assert (run.info.lifecycle_stage, run.data.tags) == ("active", {"team": "a"})
        assert [i.run_id for i in store.search_runs().runs] == ["c" * 32]
        store.set_experiment_tag(1, "note", "kept")
        store.delete_tag("c" * 32, "team")
        store.record_run_io("c" * 32, "input", [{"dataset": "d"}])
        model = store.create_logged_model(1, "model", source_run_id="c" * 32)
        store.set_run_lifecycle("c" * 32, "deleted")
        assert store.search_runs().runs == [] and store.get_experiment(1).tags == {"note": "kept"}
        assert store.search_logged_models([1])[0] == [model]
    if sql_url.startswith("sqlite"):
        assert Path(parsed.database).with_name("mlws.db.bak-v9").exists()


@pytest.mark.catalogue("U3")
def test_schema_from_migrations_matches_models_and_reopening_is_idempotent(sql_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    for _ in range(3):
        open_store(sql_url).close()
    engine = create_engine(normalise_url(sql_url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert conn.execute(text("SELECT version_num FROM alembic_version")).fetchall() == [(HEAD_REVISION,)]
    engine.dispose()
    assert diff == []
    scripts = ScriptDirectory(str(MIGRATIONS_DIR))
    assert scripts.get_heads() == [HEAD_REVISION]
    assert [s.revision for s in reversed(list(scripts.walk_revisions()))] == list(KNOWN_REVISIONS)


@pytest.mark.catalogue("U4")
def test_newer_database_is_refused_without_writes(sql_url: str) -> None:
    open_store(sql_url).close()
    engine = create_engine(normalise_url(sql_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    before = _snapshot(sql_url, ["alembic_version", "experiments", "runs"])
    digest = None
    if sql_url.startswith("sqlite"):
        digest = hashlib.sha256(Path(normalise_url(sql_url).database).read_bytes()).hexdigest()
    with pytest.raises(IncompatibleStore, match=r"newer than this jupyter_mlws.*pip install -U") as caught:
        open_store(sql_url)
    assert "0099" in caught.value.message and "nothing was written" in caught.value.message
    assert _snapshot(sql_url, ["alembic_version", "experiments", "runs"]) == before
    if digest is not None:
        assert hashlib.sha256(Path(normalise_url(sql_url).database).read_bytes()).hexdigest() == digest


@pytest.mark.catalogue("U4")
def test_foreign_database_is_refused(sqlite_url: str) -> None:
    path = Path(normalise_url(sqlite_url).database)
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (run_uuid TEXT)")
    with pytest.raises(IncompatibleStore, match="not a jupyter_mlws workspace"):
        open_store(sqlite_url)


def _open_and_report(url: str, queue) -> None:
    try:
        store = open_store(url)
        store.get_or_create_experiment("shared")
        queue.put(store.describe()["schema_version"])
        store.close()
    except Exception as err:
        queue.put(repr(err))


@pytest.mark.catalogue("C4")
@pytest.mark.parametrize("start", ["fresh", "outdated"])
def test_processes_opening_one_database_at_once_create_or_upgrade_the_schema_once(
    sql_url: str, start: str
) -> None:
    """RELIABILITY C4 on SQLite and PostgreSQL: four processes open a fresh (empty) or outdated
    (schema v1, with rows) database at once; the schema is created or upgraded exactly once under
    the migration lock — every process gets the head schema, no error ("duplicate column" or any
    other), the v1 rows are all there, and an upgraded SQLite file has one backup."""
    if start == "outdated":
        make_v1_database(sql_url)
    before = _snapshot(sql_url, V1_TABLES) if start == "outdated" else None
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_open_and_report, args=(sql_url, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    assert results == [SCHEMA_VERSION] * 4
    engine = create_engine(normalise_url(sql_url))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [(HEAD_REVISION,)]
        names = sorted(conn.execute(text("SELECT name FROM experiments")).scalars())
        runs = sorted(conn.execute(text("SELECT run_id FROM runs")).scalars())
    engine.dispose()
    if start == "fresh":
        assert names == ["shared"] and runs == []
    else:
        assert names == ["old", "shared"] and runs == ["a" * 32, "b" * 32]
        after = _snapshot(sql_url, ["params", "tags"])
        assert {t: after[t] for t in ("params", "tags")} == {t: before[t] for t in ("params", "tags")}
    if sql_url.startswith("sqlite"):
        backups = list(Path(normalise_url(sql_url).database).parent.glob("*.bak-v*"))
        assert len(backups) == (0 if start == "fresh" else 1), backups


@pytest.mark.catalogue("C4")
def test_two_servers_starting_at_once_on_an_outdated_database_upgrade_it_once(
    postgresql_url: str, tmp_path: Path
) -> None:
    """RELIABILITY C4 with two real Jupyter servers on one PostgreSQL database at schema v1 (a team's
    workspace after an upgrade of the package): started at the same instant, one migrates while
    the other waits on the migration lock; both then serve the old rows, neither logged an error."""
    import threading

    from ..lab_server import start_lab

    make_v1_database(postgresql_url)
    args = [f"--MLWorkspaceApp.store_url={postgresql_url}"]
    servers: dict[str, object] = {}
    failures: list[str] = []
    go = threading.Barrier(2)

    def start(name: str) -> None:
        go.wait()
        try:
            servers[name] = start_lab(tmp_path / name / "root", tmp_path / name / "state", args, app="server")
        except Exception as err:
            failures.append(f"{name}: {err}")

    threads = [threading.Thread(target=start, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert failures == [], failures
        for server in servers.values():
            found = server.api("/mlws/api/v1/experiments")  # type: ignore[attr-defined]
            assert "old" in [e["name"] for e in found["experiments"]], found
            run = server.api("/mlws/api/v1/runs/" + "a" * 32)  # type: ignore[attr-defined]
            assert run["name"] == "run1" and run["params"] == {"lr": "0.01"}, run
        for server in servers.values():
            log = server.log_path.read_text(errors="replace")  # type: ignore[attr-defined]
            assert "duplicate column" not in log.lower() and "Traceback" not in log, log[-3000:]
    finally:
        for server in servers.values():
            server.stop()  # type: ignore[attr-defined]
    engine = create_engine(normalise_url(postgresql_url))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [(HEAD_REVISION,)]
    engine.dispose()


HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")  # the write lock: what any writer of the workspace holds while it writes
conn.execute("INSERT INTO experiments (name, created_time, last_update_time) VALUES ('held', 1, 1)")
print("HOLDING", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
print("RELEASED", time.time(), flush=True)
"""


@pytest.mark.catalogue("U5")
def test_an_upgrade_waits_for_the_process_that_holds_the_database(sqlite_url: str) -> None:
    """RELIABILITY U5: another process is writing to an outdated workspace (a v1 file) when this
    code opens it; the upgrade is blocked by the write lock (SQLite's migration lock) until that
    process commits, never runs its DDL beside the writer, then completes, and the other process's
    row is kept."""
    import subprocess
    import sys
    import time

    make_v1_database(sqlite_url)
    db = normalise_url(sqlite_url).database
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db, "3"], stdout=subprocess.PIPE, text=True, stderr=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "HOLDING"
        started = time.time()
        with open_store(sqlite_url) as store:
            opened = time.time()
            assert store.describe()["schema_version"] == SCHEMA_VERSION
            assert {e.name for e in store.list_experiments()} >= {"old", "held"}
        out, err = holder.communicate(timeout=30)
    finally:
        holder.kill()
    assert holder.returncode == 0, err
    released = float(out.split("RELEASED")[1])
    assert opened >= released, "the upgrade finished while the other process still held the database"
    assert opened - started >= 2.0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD_REVISION,)]
    assert Path(db).with_name("mlws.db.bak-v1").exists()
