"""`Workspace` and `Experiment`: the entry points of the Python API (DESIGN.md §5).

`mlws.Workspace()` resolves the workspace (argument, `$MLWS_WORKSPACE`, else
`./.mlws`) with `location.resolve_location`, opens its metadata store with
`store.open_store` and, on first use, its artifact store and the batching
metric logger. The module-level functions in `client/fluent.py` share one
Workspace per location.

Run search returns a pandas DataFrame (see `client/frames.py`); its
`attrs["next_page_token"]` is the token for the next page (None on the last).
Reads (`get_run`, `runs`, and every read of a `Run`) first wait for this
process's pending background work on the run (`settle`; `%%mlrun` ends its
runs on the finalizer thread of `client/finalizer.py`).
"""

from __future__ import annotations

import functools
import getpass
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..entities import Experiment as ExperimentRecord
from ..entities import RunStatus
from ..errors import Conflict, NotFound
from ..location import resolve_location
from ..store.factory import open_store
from .logger import MetricLogger
from .owner import process_owner
from .run import Run

if TYPE_CHECKING:
    import pandas as pd

    from ..repro.diff import RunDiff
    from ..store.artifacts import ArtifactStore
    from ..store.base import MetadataStore
    from .compute import Compute
    from .data import DataAssets
    from .endpoints import Endpoints
    from .jobs import Jobs
    from .models import Models

DEFAULT_EXPERIMENT = "Default"
RUN_ID_ENV = "MLWS_RUN_ID"
COMPUTE_TARGET_ENV = "MLWS_COMPUTE_TARGET"


def default_experiment_name() -> str:
    """The notebook's name when Jupyter tells us (JPY_SESSION_NAME), else `Default`."""
    session = os.environ.get("JPY_SESSION_NAME", "").strip()
    if session:
        stem = os.path.splitext(os.path.basename(session))[0].strip()
        if stem:
            return stem
    return DEFAULT_EXPERIMENT


class Experiment:
    """A handle on one experiment: its runs and a shortcut to start one."""

    def __init__(self, workspace: Workspace, record: ExperimentRecord) -> None:
        self.workspace = workspace
        self.record = record

    @property
    def id(self) -> int:
        """The experiment's id."""
        return self.record.experiment_id

    @property
    def name(self) -> str:
        """The experiment's name (NFC-normalised)."""
        return self.record.name

    def __repr__(self) -> str:
        return f"<Experiment {self.id} {self.name!r}>"

    def start_run(self, name: str | None = None, **options: Any) -> Run:
        """Start a run in this experiment (see `Workspace.start_run`)."""
        return self.workspace.start_run(experiment=self.name, name=name, **options)

    def runs(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 1000,
        page_token: str | None = None,
    ) -> pd.DataFrame:
        """This experiment's runs as a DataFrame."""
        return self.workspace.runs(self.name, filter, order_by, limit, page_token)


class Workspace:
    """One metadata store + one artifact store (see the module docstring)."""

    def __init__(
        self,
        workspace: str | os.PathLike[str] | None = None,
        *,
        store_url: str | None = None,
        artifact_url: str | None = None,
        token: str | None = None,
    ) -> None:
        self.location = resolve_location(workspace, store_url=store_url, artifact_url=artifact_url)
        self.store: MetadataStore
        if self.is_remote:
            from ..store.rest_connect import connect

            self.store = connect(self.location.store_url, token=token or _pasted_token(workspace))
        else:
            self.store = open_store(self.location.store_url)
        self._artifact_store: ArtifactStore | None = None
        self._logger: MetricLogger | None = None
        self._lock = threading.Lock()
        self._experiment_ids_by_name: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"<Workspace {self.location.workspace}>"

    @property
    def is_remote(self) -> bool:
        """True for a workspace opened on a server URL: everything goes through its REST API."""
        return self.location.store_kind == "rest"

    @property
    def artifact_store(self) -> ArtifactStore:
        """The artifact store, opened on first use (the server's, over HTTP, for a workspace URL)."""
        if self._artifact_store is None:
            with self._lock:
                if self._artifact_store is None:
                    self._artifact_store = self._open_artifact_store()
        return self._artifact_store

    def _open_artifact_store(self) -> ArtifactStore:
        if self.is_remote:
            from ..store.rest import RestStore
            from ..store.rest_artifacts import RestArtifactStore

            assert isinstance(self.store, RestStore)
            return RestArtifactStore(self.store)
        from ..store.artifacts import open_artifact_store

        return open_artifact_store(self.location.artifact_url)

    @property
    def logger(self) -> MetricLogger:
        """This workspace's batching metric logger, created on first use."""
        if self._logger is None:
            with self._lock:
                if self._logger is None:
                    self._logger = MetricLogger(self.store)
        return self._logger

    def describe(self) -> dict[str, Any]:
        """Location and store summary (for `info`)."""
        return {**self.location.describe(), "store": self.store.describe()}

    # ----- experiments ---------------------------------------------------------
    def experiment(self, name: str) -> Experiment:
        """The experiment called `name`, created if it does not exist (safe under concurrency)."""
        return Experiment(self, self.store.get_or_create_experiment(name))

    def experiments(self) -> list[Experiment]:
        """Every experiment, oldest first."""
        return [Experiment(self, e) for e in self.store.list_experiments()]

    # ----- runs -----------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """The run with this id (NotFound otherwise), after its pending background work."""
        self.settle(run_id)
        return Run(self, run_id, self.store.get_run_info(run_id))

    def diff(self, run_a: Run | str, run_b: Run | str) -> RunDiff:
        """What run `run_b` did differently from run `run_a` (`repro/diff.py`): a `RunDiff` with a
        DataFrame per part (`.params`, `.metrics`, `.tags`, `.environment`, `.code`, `.cells`,
        `.history`, `.artifacts`), shown as a report in a notebook."""
        from ..repro.diff import diff_runs

        ids = [run.id if isinstance(run, Run) else str(run) for run in (run_a, run_b)]
        for run_id in ids:
            self.settle(run_id)
        self.flush()
        return diff_runs(self.store, self.artifact_store, ids[0], ids[1])

    def _experiment_ids(self, experiment: str | Sequence[str] | None) -> list[int] | None:
        if experiment is None:
            return None
        names = [experiment] if isinstance(experiment, str) else list(experiment)
        ids = []
        for name in names:
            found = self.store.get_experiment_by_name(name)
            if found is not None:
                ids.append(found.experiment_id)
        return ids

    def runs(
        self,
        experiment: str | Sequence[str] | None = None,
        filter: str | None = None,
        order_by: Sequence[str] | None = None,
        limit: int = 1000,
        page_token: str | None = None,
    ) -> pd.DataFrame:
        """Runs as a DataFrame: run_id, experiment, name, status, start_time, end_time, duration,
        params.<k>, metrics.<k> (latest), tags.<k>; newest first unless `order_by` says otherwise."""
        from .frames import runs_frame

        self.settle()
        self.flush()
        table = self.store.search_runs(self._experiment_ids(experiment), filter, order_by, limit, page_token)
        return runs_frame(table)

    def executions(
        self,
        notebook: str | None = None,
        run: Run | str | None = None,
        limit: int = 100,
    ) -> pd.DataFrame:
        """Recorded cell executions, newest first: DataFrame(start_time, duration_ms, status,
        execution_count, cell_id, notebook_path, run_id, error, source). `notebook` is the
        path as the recorder saw it ($JPY_SESSION_NAME); `run` a Run or a run id."""
        import pandas as pd

        self.settle()
        run_id = run.id if isinstance(run, Run) else run
        found = self.store.list_executions(run_id=run_id, notebook_path=notebook, limit=limit)
        columns = ("execution_count", "cell_id", "notebook_path", "run_id", "status", "error", "source")
        frame = pd.DataFrame(
            {
                "start_time": pd.to_datetime([e.start_time for e in found], unit="ms", utc=True),
                "duration_ms": [e.duration_ms for e in found],
                **{name: [getattr(e, name) for e in found] for name in columns},
            }
        )
        return frame

    def start_run(
        self,
        experiment: str | None = None,
        name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        *,
        parent: Run | str | None = None,
        run_id: str | None = None,
        source_kind: str = "api",
        compute_target: str | None = None,
        notebook_path: str | None = None,
        cell_id: str | None = None,
    ) -> Run:
        """Create a running run (or resume `run_id`) and make it this process's active run.

        `compute_target` defaults to the compute instance this kernel runs on
        (`$MLWS_COMPUTE_TARGET`, set by the instance provisioner), else "local".
        """
        from . import lifecycle

        if run_id is not None:
            run = self.get_run(run_id)
            if run.info.status == RunStatus.QUEUED:
                self.store.update_run(run_id, status=RunStatus.RUNNING)
            elif run.info.status.is_terminal:
                raise Conflict(f"Run {run_id} has already ended ({run.info.status.value}); start a new run.")
            if tags:
                run.set_tags(tags)
        else:
            experiment_name = experiment or default_experiment_name()
            parent_id = parent.id if isinstance(parent, Run) else parent
            host, pid, kernel_id = process_owner()
            create = functools.partial(
                self.store.create_run,
                name=name,
                tags=tags,
                parent_run_id=parent_id,
                source_kind=source_kind,
                compute_target=compute_target or os.environ.get(COMPUTE_TARGET_ENV) or "local",
                notebook_path=notebook_path,
                cell_id=cell_id,
                user=_user(),
                host=host,
                pid=pid,
                kernel_id=kernel_id,
            )
            try:
                record = create(self._experiment_id(experiment_name))
            except NotFound:  # the experiment was deleted since we cached its id
                self._experiment_ids_by_name.pop(experiment_name, None)
                record = create(self._experiment_id(experiment_name))
            run = Run(self, record.info.run_id, record.info)
        lifecycle.push(run)
        self.logger.watch(run.id)
        return run

    def _experiment_id(self, name: str) -> int:
        """The id of experiment `name`, created if needed; cached, so a notebook's runs skip the lookup."""
        found = self._experiment_ids_by_name.get(name)
        if found is None:
            found = self._experiment_ids_by_name[name] = self.store.get_or_create_experiment(
                name
            ).experiment_id
        return found

    @functools.cached_property
    def compute(self) -> Compute:
        """Compute instances of this workspace (`ws.compute.create_instance(...)`, DESIGN.md §5)."""
        from .compute import Compute

        return Compute(self)

    @functools.cached_property
    def models(self) -> Models:
        """The model registry (`ws.models.register(...)`, `get("name@alias")`, DESIGN.md §5)."""
        from .models import Models

        return Models(self)

    @functools.cached_property
    def endpoints(self) -> Endpoints:
        """Scoring endpoints (`ws.endpoints.deploy("churn-api", model="churn@production")`)."""
        from .endpoints import Endpoints

        return Endpoints(self)

    @functools.cached_property
    def data(self) -> DataAssets:
        """Data assets (`ws.data.register("batch-data", path="data/*.csv")`, `get("batch-data:2")`)."""
        from .data import DataAssets

        return DataAssets(self)

    @functools.cached_property
    def jobs(self) -> Jobs:
        """Jobs on training clusters (`ws.jobs.submit(command=[...], target="cpu-cluster")`)."""
        from .jobs import Jobs

        return Jobs(self)

    def settle(self, run_id: str | None = None, timeout: float = 60.0) -> bool:
        """Wait until this process's background work for `run_id` (or every run) is done.

        `%%mlrun` ends its run on a background thread (client/finalizer.py); the
        reads of this API call `settle` first, so a user always reads what was
        written. Returns False when `timeout` passed first (the read then sees
        the store as it is). Free when nothing is pending.
        """
        from .finalizer import settle

        return settle(run_id, timeout)

    def flush(self) -> None:
        """Write this process's buffered metric points."""
        if self._logger is not None:
            self._logger.flush()

    def close(self) -> None:
        """Flush and release the stores."""
        if self._logger is not None:
            self._logger.close()
        self.store.close()


def _pasted_token(workspace: str | os.PathLike[str] | None) -> str | None:
    """The token of a pasted `...?token=X` link, else None ($MLWS_TOKEN is the REST store's)."""
    from ..location import WORKSPACE_ENV, server_url

    raw = os.fspath(workspace) if workspace is not None else os.environ.get(WORKSPACE_ENV, "")
    return server_url(raw)[1] if "://" in raw else None


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None
