"""`ws.jobs.batch_score(...)`: batch inference on a cluster, as Azure ML's ParallelRunStep and batch
endpoints do it, without their duplicated rows and buried errors.

Who calls it: users, and batch endpoints (`ws.endpoints.deploy_batch(...).invoke(...)`, the REST
route `POST /batch-endpoints/{name}/jobs`). The job it queues runs the driver `jobs/batch.py`,
which fans mini-batches out to the cluster's workers (`jobs/batch_work.py`).

Everything is checked here, before anything is stored (bad input is a clear error, nothing half
made): the model reference, a code-running model that is not trusted, the input (a data asset
"data:name[:v]", a folder, file or glob, or a DataFrame), an empty input, `mini_batch_size` (>= 1),
`error_threshold` (>= -1), `max_retries`, `timeout`, `output_action`, the output file's name, and
— for the model's own predict on CSV files — the first file's header against the model's
signature (the missing columns named).

Decisions (docs/batch.md says the same for users):
- A folder, file or glob is registered as a data asset first (named `<model>-batch-input`, a new
  version only when the bytes changed), so the batch's run records exactly what it read, and the
  nodes materialize it from the workspace as any data input: a remote cluster reads it too.
- A DataFrame is shipped as Parquet in the run (`inputs/rows`); `mini_batch_size` then counts rows.
- Defaults are Azure ML's batch deployment's: 10 items per mini-batch, `error_threshold=-1` (any
  number of failed items tolerated), 3 retries per mini-batch, 30 s per mini-batch,
  `append_row` into `predictions.csv`.
- The job itself (the driver) is retried once when its node is lost; a retry is a new run.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParameter, NotFound
from .jobs import JobHandle, queue_job

if TYPE_CHECKING:
    import pandas as pd

    from .jobs import Jobs

OUTPUT_ACTIONS = ("append_row", "summary_only")
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
#: Largest entry script accepted (it travels with every mini-batch).
MAX_SCRIPT_BYTES = 1024 * 1024


class BatchJob(JobHandle):
    """A batch-scoring job: a job, plus its predictions, failures and summary once it ended."""

    def predictions(self, timeout: float | None = None) -> pd.DataFrame:
        """The output table (`outputs/<output_file>`, or the partial one of a batch that stopped)."""
        import pandas as pd

        summary = self.summary(timeout)
        if not summary.get("output"):
            raise NotFound(f"Batch job {self.id} wrote no output table (output_action='summary_only').")
        with self._jobs.workspace.artifact_store.open(self.record.run_id, summary["output"]) as handle:
            try:
                return pd.read_csv(handle)
            except pd.errors.EmptyDataError:  # no mini-batch gave a row: not even a header
                return pd.DataFrame()

    def failures(self, timeout: float | None = None) -> pd.DataFrame:
        """One row per failed item: mini_batch, item (a file, or 'row N'), error, count, attempts."""
        import pandas as pd

        self.wait(timeout)
        store = self._jobs.workspace.artifact_store
        try:
            with store.open(self.record.run_id, "outputs/failures.csv") as handle:
                return pd.read_csv(handle)
        except (NotFound, FileNotFoundError):
            return pd.DataFrame(columns=["mini_batch", "item", "error", "count", "attempts"])

    def summary(self, timeout: float | None = None) -> dict[str, Any]:
        """Counts of the batch: mini_batches(_done/_failed), items_failed, rows, seconds, stopped, output."""
        import json

        self.wait(timeout)
        store = self._jobs.workspace.artifact_store
        try:
            with store.open(self.record.run_id, "outputs/batch_summary.json") as handle:
                return dict(json.loads(handle.read()))
        except (NotFound, FileNotFoundError):
            job = self.record
            raise RuntimeError(
                f"Batch job {self.id} ended {job.state} before it summed up: {job.state_reason}"
            ) from None


def batch_score(
    jobs: Jobs,
    model: str | None = None,
    inputs: Any = None,
    *,
    target: str | None = None,
    mini_batch_size: int = 10,
    error_threshold: int = -1,
    max_retries: int = 3,
    timeout: Any = 30,
    output_action: str = "append_row",
    output_file: str = "predictions.csv",
    entry_script: str | os.PathLike[str] | None = None,
    experiment: str | None = None,
    name: str | None = None,
    input_name: str | None = None,
    tags: dict[str, Any] | None = None,
    priority: int = 0,
) -> BatchJob:
    """Queue a batch-scoring job (see the module docstring); returns at once."""
    from ..jobs import submit as sub
    from .workspace import default_experiment_name

    workspace = jobs.workspace
    if model is None and entry_script is None:
        raise InvalidParameter("Name a model (model='diabetes@production') or an entry_script, or both.")
    version = workspace.models.get(model) if model is not None else None
    if version is not None:
        _check_trust(version)
    script = _read_script(entry_script) if entry_script is not None else None
    size = _whole(
        mini_batch_size, "mini_batch_size", 1, 10**7, "the number of files (or rows) per mini-batch"
    )
    threshold = _whole(error_threshold, "error_threshold", -1, 10**12, "failed items tolerated, -1 for any")
    retries = _whole(max_retries, "max_retries", 0, 100, "retries of a failed mini-batch")
    seconds = sub.parse_timeout(timeout)
    if seconds is None:
        raise InvalidParameter("timeout is the longest one mini-batch may run (seconds or '5m'), not None.")
    if output_action not in OUTPUT_ACTIONS:
        raise InvalidParameter(f"output_action is one of {', '.join(OUTPUT_ACTIONS)}, not {output_action!r}.")
    if (
        not isinstance(output_file, str)
        or not _OUTPUT_NAME.match(output_file)
        or output_file.endswith(".partial.csv")
    ):
        raise InvalidParameter(
            f"output_file is a plain file name such as 'predictions.csv', not {output_file!r}."
        )
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) >= 2**31:
        raise InvalidParameter(f"priority is an integer (higher runs first), not {priority!r}.")
    cluster = jobs._cluster(target)
    label = version.name if version is not None else "entry-script"
    with tempfile.TemporaryDirectory(prefix="mlws-batch-") as scratch:
        mode, job_inputs, data = _resolve_inputs(
            workspace, inputs, input_name or f"{label}-batch-input", Path(scratch)
        )
        if version is not None and script is None:
            if data is not None:
                _check_columns(workspace, version, data)
            else:
                _check_frame(version, inputs)
        batch = {
            "mode": mode,
            "data": data and {"name": data.name, "version": data.version},
            "model": version and {"name": version.name, "version": version.version},
            "entry_script": script,
            "mini_batch_size": size,
            "error_threshold": threshold,
            "max_retries": retries,
            "timeout_seconds": seconds,
            "output_action": output_action,
            "output_file": output_file,
        }
        params = {
            "model": f"{version.name}:{version.version}" if version is not None else "",
            "mini_batch_size": size,
            "error_threshold": threshold,
            "max_retries": retries,
            "timeout": int(seconds) if float(seconds).is_integer() else seconds,
            "output_action": output_action,
            "entry_script": script["name"] if script else "",
        }
        run_tags = {**(tags or {}), "mlws.batch": "1"}
        if version is not None:  # the registry's lineage: which runs scored with this version
            run_tags["mlws.batch.model"] = f"{version.name}:{version.version}"
        record = queue_job(
            workspace,
            kind="batch",
            name=name or f"batch {label}",
            target=cluster.name,
            experiment=experiment or default_experiment_name(),
            spec={
                "resources": {"cpus": 0},  # the driver waits; the mini-batches take the cluster's slots
                "timeout_seconds": None,
                "environment_variables": {},
                "batch": batch,
            },
            code=None,
            inputs=job_inputs,
            params=params,
            payload=None,
            priority=priority,
            max_retries=1,
            tags=run_tags,
        )
    jobs._dispatch(record.job_id)
    return BatchJob(jobs, record)


def _whole(value: Any, what: str, low: int, high: int, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameter(f"{what} is a whole number from {low} to {high} ({meaning}), not {value!r}.")
    return value


def _check_trust(version: Any) -> None:
    from ..models.flavors import CODE_FLAVORS
    from ..models.gate import UntrustedModel

    if version.flavor in CODE_FLAVORS and not version.trusted:
        raise UntrustedModel(
            f"Model {version.name!r} version {version.version} is a {version.flavor} model: loading it runs "
            f"code from its files, and it is not trusted. Review it, then ws.models.trust('{version.name}:"
            f"{version.version}')."
        )


def _read_script(path: str | os.PathLike[str]) -> dict[str, str]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise InvalidParameter(f"The entry script {os.fspath(path)!r} does not exist.")
    if file.stat().st_size > MAX_SCRIPT_BYTES:
        raise InvalidParameter(f"The entry script {file.name!r} is over {MAX_SCRIPT_BYTES} bytes.")
    source = file.read_text()
    try:
        compile(source, file.name, "exec")
    except SyntaxError as err:
        raise InvalidParameter(f"The entry script {file.name!r} does not compile: {err}") from None
    if not re.search(r"^def run\s*\(", source, re.MULTILINE):
        raise InvalidParameter(f"The entry script {file.name!r} defines no run(mini_batch).")
    return {"name": file.name, "source": source}


def _resolve_inputs(
    workspace: Any, inputs: Any, input_name: str, scratch: Path
) -> tuple[str, dict[str, dict[str, Any]], Any]:
    """(mode, the job's inputs, the data version or None) for what `inputs` names."""
    import pandas as pd

    if isinstance(inputs, pd.DataFrame):
        if inputs.empty:
            raise InvalidParameter("The input DataFrame has no rows: nothing to score.")
        frame = inputs.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
        file = scratch / "rows.parquet"
        frame.to_parquet(file)
        return "rows", {"rows": {"local": file}}, None
    if not isinstance(inputs, (str, os.PathLike)):
        raise InvalidParameter(
            "inputs is a data asset ('data:name' or 'data:name:2'), a folder, file or glob, or a DataFrame; "
            f"not {type(inputs).__name__}."
        )
    text = os.fspath(inputs)
    if text.startswith("data:"):
        version = workspace.data.get(text)
    elif "://" in text or set("*?[") & set(text) or os.path.exists(os.path.expanduser(text)):
        version = workspace.data.register(input_name, text, description=f"batch input from {text}")
    else:
        try:
            version = workspace.data.get(text)
        except (NotFound, InvalidParameter):
            raise NotFound(f"{text!r} is neither a data asset nor a file, folder or glob here.") from None
    if not version.files:
        raise InvalidParameter(f"The data asset {version.ref} holds no files: nothing to score.")
    return "files", {"data": {"data": version.name, "version": version.version, "ref": version.ref}}, version


def _check_columns(workspace: Any, version: Any, data: Any) -> None:
    """The first CSV file's header against the model's signature: the missing columns named."""
    inputs = (version.signature or {}).get("inputs")
    first = min(data.files, key=lambda f: f.path)
    if not inputs or Path(first.path).suffix.lower() not in (".csv", ".tsv", ".txt"):
        return
    import csv
    import io

    with workspace.artifact_store.open_blob(first.sha256) as handle:
        head = handle.read(64 * 1024).decode("utf-8", errors="replace")
    line = head.splitlines()[0] if head else ""
    sep = "\t" if first.path.lower().endswith(".tsv") else ","
    columns = next(csv.reader(io.StringIO(line), delimiter=sep), [])
    missing = [c["name"] for c in inputs if c["name"] not in columns]
    if missing:
        raise InvalidParameter(
            f"Model {version.name}:{version.version} takes the columns {[c['name'] for c in inputs]}; "
            f"{data.ref}'s file {first.path!r} has {columns}: missing {missing}."
        )


def _check_frame(version: Any, frame: Any) -> None:
    """A DataFrame's columns against the model's signature: the missing ones named."""
    inputs = (version.signature or {}).get("inputs")
    if not inputs:
        return
    have = [str(c) for c in frame.columns]
    missing = [c["name"] for c in inputs if c["name"] not in have]
    if missing:
        raise InvalidParameter(
            f"Model {version.name}:{version.version} takes the columns {[c['name'] for c in inputs]}; "
            f"the DataFrame has {have}: missing {missing}."
        )
