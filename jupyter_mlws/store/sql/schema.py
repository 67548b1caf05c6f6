"""The SQL schema at the head revision, as SQLAlchemy Core tables.

The SQL store queries these tables; the Alembic scripts in
`store/migrations/versions/` build the same schema step by step, and a test
checks that the two agree (RELIABILITY U3). Change both together: add a new
migration, then update this file.

Design notes:
- runs have an internal integer key `id` (used by params/tags/metrics, so a
  metric row stores 8 bytes instead of a 32-character uuid) and the public
  uuid `run_id`; the integer never leaves the store.
- a metric value is `value` plus `value_kind` (see `validation.encode_value`):
  SQLite stores NaN as NULL and loses the sign of -0.0.
- `latest_metrics` keeps, per run and key, the point with the largest
  (step, timestamp): search and run tables read it instead of the history.
- times are integer milliseconds since the Unix epoch (UTC).
- room for later tables (models, model_versions, compute_targets, jobs,
  endpoints) is simply the next migration.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

HEAD_REVISION = "0010"
SCHEMA_VERSION = int(HEAD_REVISION)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("artifact_location", Text, nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    # MLflow's soft delete (schema v10): "active" or "deleted"; a deleted experiment keeps its name.
    Column("lifecycle_stage", String(16), nullable=False, server_default="active"),
    UniqueConstraint("name"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_reason", Text, nullable=True),
    Column("source_kind", String(32), nullable=False),
    Column("compute_target", String(256), nullable=False),
    Column("notebook_path", Text, nullable=True),
    Column("cell_id", String(256), nullable=True),
    Column("parent_run_id", String(32), nullable=True),
    Column("user_name", String(256), nullable=True),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("heartbeat_time", BigInteger, nullable=True),
    Column("created_time", BigInteger, nullable=False),
    # Who owns the run while it is running (schema v4): the server's supervisor ends a run
    # `killed` when its process (pid on host) or its kernel is gone.
    Column("host", String(256), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("kernel_id", String(64), nullable=True),
    Column("lifecycle_stage", String(16), nullable=False, server_default="active"),
    UniqueConstraint("run_id"),
    Index(None, "experiment_id", "start_time"),
    Index(None, "parent_run_id"),
)

params = Table(
    "params",
    metadata,
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run", "key"),
)

tags = Table(
    "tags",
    metadata,
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run", "key"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("value", Double, nullable=True),
    Column("value_kind", SmallInteger, nullable=False),
    Index(None, "run", "key", "step"),
)

# The metric history again, packed for reading: per (run, key) a few chunks, each holding
# little-endian int64 steps, int64 timestamps and float64 values (raw IEEE bits, so NaN and
# -0.0 need no flag here) for `points` points. Written in the same transaction as `metrics`
# by `sql/metrics.py`; a small last chunk is extended instead of adding a new one, so a
# series logged point by point still reads as a handful of blobs. `metrics` stays the
# row-wise truth (and what SQL queries use); this table makes a 1M-point read one blob scan.
metric_chunks = Table(
    "metric_chunks",
    metadata,
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("chunk", Integer, nullable=False),
    Column("points", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    PrimaryKeyConstraint("run", "key", "chunk"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("value", Double, nullable=True),
    Column("value_kind", SmallInteger, nullable=False),
    PrimaryKeyConstraint("run", "key"),
)

# Batch ids already applied per run: a retried `log_batch(batch_id=...)` writes nothing twice.
applied_batches = Table(
    "applied_batches",
    metadata,
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("batch_id", String(64), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("run", "batch_id"),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("run", "path"),
)

# What changed, in order: one row per run created, per run update (status, name, tags,
# params) and per batch of metrics. The server's event watcher reads it past a cursor to push
# live updates to the browser (`seq` is an indexed, ever-growing key); old rows are pruned.
RUN_CREATED, RUN_UPDATED, RUN_METRICS = 1, 2, 3
run_changes = Table(
    "run_changes",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", SmallInteger, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
)

# Every cell execution the recorder saw (schema v4): what ran, for how long, how it ended and
# the run it belonged to (NULL when none was active; deleting the run deletes its rows).
cell_executions = Table(
    "cell_executions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=True),
    Column("kernel_id", String(64), nullable=True),
    Column("notebook_path", Text, nullable=True),
    Column("cell_id", String(256), nullable=True),
    Column("execution_count", Integer, nullable=True),
    Column("source", Text, nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("duration_ms", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Index(None, "run"),
    Index(None, "notebook_path", "start_time"),
)

# Compute targets (schema v5): today compute instances. The definition is one JSON document
# (`config`: ComputeInstance.to_dict() less name and times), so later kinds (clusters) need no
# new columns. Events outlive their target (no foreign key): a deleted instance keeps its history.
compute_targets = Table(
    "compute_targets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("config", Text, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    UniqueConstraint("name"),
)

compute_events = Table(
    "compute_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Column("kernel_id", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    Column("details", Text, nullable=True),
    Index(None, "target", "id"),
)

# The model registry (schema v6). A version's files are content-addressed blobs of the artifact
# store; the row keeps their manifest (`files`, JSON) and its digest (`sha256`). Lineage names the
# source run by its public id, without a foreign key: deleting a run keeps the models made from it.
models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    # The highest version number ever given: numbers are never reused after a delete.
    Column("last_version", Integer, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    UniqueConstraint("name"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", Integer, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("flavor", String(32), nullable=False),
    Column("files", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("signature", Text, nullable=True),
    Column("environment", Text, nullable=True),
    Column("source_run_id", String(64), nullable=True),
    Column("source_path", Text, nullable=True),
    Column("trusted", Boolean, nullable=False),
    Column("trusted_types", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    UniqueConstraint("model", "version"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", Integer, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("alias", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("model", "alias"),
)

# Scoring endpoints (schema v6): the definition (`config`, JSON: deployments, replicas, host,
# port, key hashes, limits, description, tags) changes rarely; state, owner and stats often.
endpoints = Table(
    "endpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("config", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_reason", Text, nullable=True),
    Column("owner", String(256), nullable=True),
    Column("owner_heartbeat", BigInteger, nullable=True),
    Column("stats", Text, nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    UniqueConstraint("name"),
)

# Jobs (schema v7, issue 15): the persistent queue. A job is a run per attempt (`run_id`: the
# current attempt's run); `spec` is the submitted definition (JSON: command or notebook or
# function payload, code snapshot run, inputs, environment variables, resources, timeout);
# `submitted_ns` orders the queue (FIFO within priority). `owner` is the dispatcher that took the
# job (a row of `job_dispatchers`, whose heartbeat says it is alive).
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("target", String(64), nullable=False),
    Column("experiment_id", Integer, nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_reason", Text, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("max_retries", Integer, nullable=False),
    Column("spec", Text, nullable=False),
    Column("owner", String(256), nullable=True),
    Column("node", String(256), nullable=True),
    Column("pid", Integer, nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
    Column("submitted_ns", BigInteger, nullable=False),
    Column("submitted_time", BigInteger, nullable=False),
    Column("started_time", BigInteger, nullable=True),
    Column("ended_time", BigInteger, nullable=True),
    UniqueConstraint("job_id"),
    Index(None, "state", "priority", "submitted_ns"),
)

# A job's output as it is printed: chunks in arrival order; `id` is the `since` cursor.
job_logs = Table(
    "job_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(32), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("stream", String(8), nullable=False),
    Column("text", Text, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
    Index(None, "job_id", "id"),
)

# The processes that dispatch jobs (a Jupyter server, or a script with no server to hand its jobs
# to): a heartbeat every few seconds; a job whose owner's heartbeat lapsed is taken over.
job_dispatchers = Table(
    "job_dispatchers",
    metadata,
    Column("id", String(256), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("heartbeat", BigInteger, nullable=False),
    PrimaryKeyConstraint("id"),
)

# Data assets (schema v8, issue 16): versioned like models. A version's files are blobs of the
# artifact store; the row keeps their manifest (`files`, JSON) and its digest (`sha256`).
data_assets = Table(
    "data_assets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("last_version", Integer, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    UniqueConstraint("name"),
)

data_versions = Table(
    "data_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("asset", Integer, ForeignKey("data_assets.id", ondelete="CASCADE"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("files", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("source", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("source_run_id", String(64), nullable=True),
    Column("created_time", BigInteger, nullable=False),
    UniqueConstraint("asset", "version"),
)

# Batch endpoints (schema v9, issue 16): a model reference (resolved at each invoke), a cluster, the
# settings of the jobs it starts (`defaults`, JSON, with the entry script's name and source), the
# sha256 of its two keys (`key_hashes`, JSON) and the job its last invoke started.
batch_endpoints = Table(
    "batch_endpoints",
    metadata,
    Column("name", String(64), nullable=False),
    Column("model", String(300), nullable=True),
    Column("target", String(64), nullable=False),
    Column("defaults", Text, nullable=False),
    Column("key_hashes", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("last_job_id", String(32), nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("name"),
)

# Experiment tags (schema v10, MLflow's set-experiment-tag); deleting the experiment deletes them.
experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

# What a run read and made (schema v10, MLflow's log-inputs and log-outputs): one JSON object per
# row, in the order recorded. `digest` is the sha256 of the canonical JSON, so the same item
# recorded twice for a run and direction is stored once (the unique constraint decides, also
# between concurrent writers) without indexing the payload itself.
run_io = Table(
    "run_io",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    UniqueConstraint("run", "direction", "digest"),
)

# MLflow 3 logged models (schema v10): a model with its own id in an experiment, optionally made
# by a run (named by its public id without a foreign key, as the registry's lineage is). Params
# and tags are JSON objects; rows are soft-deleted (`lifecycle_stage`). Deleting the experiment
# deletes its logged models.
logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(64), nullable=False),
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(256), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("model_type", String(256), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Column("status", String(16), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("tags", Text, nullable=False),
    Column("params", Text, nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    PrimaryKeyConstraint("model_id"),
    Index(None, "experiment_id", "creation_timestamp"),
)
