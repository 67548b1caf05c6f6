"""What a cluster's worker does for one mini-batch of a batch-scoring job: `score_mini_batch`.

Who calls it: the batch driver (`jobs/batch.py`) submits `score_mini_batch(context, index, items)`
to the cluster's Dask scheduler once per mini-batch; Dask runs it in a worker process (a node).

Per worker process, once (kept for every later mini-batch of the same job, or of another job with
the same model): the workspace connection (`node_access.open_workspace`), the model version materialized
and loaded through the one loading gate (`models/gate.py: load_model`, so trust is enforced here as
in an endpoint), the entry script's module with its `init()` run, and the data version's verified
local copy. A lock makes the threads of one worker share them.

One mini-batch, file input: each file is read by its suffix (`.csv`, `.tsv`, `.parquet`, `.json`,
`.jsonl`); a file that cannot be read, or lacks a column of the model's signature, is a failed item
(its path and the error, in words) and the others go on. The readable files are scored in one
`predict` call; each output row carries `source_file` and `row_index` (the row within that file).
Tabular input (a DataFrame): the items are its rows and `row_index` their position in it. A
`predict` that raises fails the whole mini-batch attempt (the driver retries it). An entry script
gets the local file paths (or the DataFrame slice) and returns rows; as in Azure ML, items it
returned no row for count as failed, and its rows carry the `mini_batch` they came from.

The answer is CSV text without the header (formatted here, in parallel across workers, not by the
driver) and the header apart, so the driver appends parts without parsing them.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import types
from pathlib import Path
from typing import Any

_lock = threading.RLock()  # a script's build loads its model folder inside it
_loaded: dict[tuple[Any, ...], Any] = {}

#: Suffixes a mini-batch reads as tables when the model's own predict scores them.
READERS = (".csv", ".tsv", ".txt", ".parquet", ".json", ".jsonl")


def score_mini_batch(context: dict[str, Any], index: int, items: Any) -> dict[str, Any]:
    """Score one mini-batch on this worker (see the module docstring)."""
    began = time.perf_counter()
    from .node_access import open_workspace

    workspace = open_workspace(context["workspace"])
    script = _script(workspace, context) if context.get("entry_script") else None
    if context["mode"] == "files":
        root = _data_folder(workspace, context)
        paths = [str(root / rel) for rel in items]
        if script is not None:
            frame, failed = _from_script(script, paths, items, index)
        else:
            frame, failed = _files(_predictor(workspace, context), root, items)
    else:
        if script is not None:
            frame, failed = _from_script(script, items, [str(i) for i in items.index], index)
        else:
            frame, failed = _rows(_predictor(workspace, context), items)
    text = frame.to_csv(index=False, header=False, lineterminator="\n") if context["append_row"] else ""
    return {
        "index": index,
        "columns": [str(c) for c in frame.columns],
        "csv": text.encode(),
        "rows": len(frame),
        "failed": failed,
        "seconds": time.perf_counter() - began,
    }


def executing(dask_worker: Any) -> list[str]:
    """The keys this worker is running now (`Client.run`: the batch driver's timeouts)."""
    return [str(ts.key) for ts in dask_worker.state.executing]


def check_model(context: dict[str, Any]) -> str:
    """Load the batch's model on this worker (kept for its mini-batches): the driver asks once, so
    a model that cannot load fails the batch once, not in every mini-batch."""
    from .node_access import open_workspace

    return repr(_predictor(open_workspace(context["workspace"]), context))


# ----- the model, the script and the data, once per worker -------------------------------------------
def _predictor(workspace: Any, context: dict[str, Any]) -> Any:
    name, version = context["model"]["name"], int(context["model"]["version"])
    return _once(("model", id(workspace), name, version), lambda: _load(workspace, name, version)[0])


def _load(workspace: Any, name: str, version: int) -> tuple[Any, Path]:
    from ..models.files import cache_root, materialize
    from ..models.gate import load_model

    record = workspace.store.get_model_version(name, version)
    folder = materialize(workspace.artifacts, record, cache_root(workspace.location))
    return load_model(folder, record), folder


def _script(workspace: Any, context: dict[str, Any]) -> types.ModuleType:
    source = context["entry_script"]["source"]
    digest = hashlib.sha256(source.encode()).hexdigest()
    model = context.get("model")
    key = ("script", id(workspace), digest, model and model["name"], model and model["version"])

    def build() -> types.ModuleType:
        if model:
            _, folder = _once(
                ("model-folder", id(workspace), model["name"], int(model["version"])),
                lambda: _model_folder(workspace, model["name"], int(model["version"])),
            )
            os.environ["MLWS_MODEL_DIR"] = str(folder)  # as Azure ML's AZUREML_MODEL_DIR
            os.environ["MLWS_MODEL"] = f"{model['name']}:{model['version']}"
        module = types.ModuleType(f"mlws_entry_{digest[:12]}")
        module.__file__ = context["entry_script"]["name"]
        exec(compile(source, context["entry_script"]["name"], "exec"), module.__dict__)  # the user's script
        if not callable(getattr(module, "run", None)):
            raise ValueError(
                f"the entry script {context['entry_script']['name']!r} defines no run(mini_batch)"
            )
        if callable(getattr(module, "init", None)):
            module.init()
        return module

    return _once(key, build)  # type: ignore[no-any-return]


def _model_folder(workspace: Any, name: str, version: int) -> tuple[None, Path]:
    from ..models.files import cache_root, materialize

    record = workspace.store.get_model_version(name, version)
    return None, materialize(workspace.artifacts, record, cache_root(workspace.location))


def _data_folder(workspace: Any, context: dict[str, Any]) -> Path:
    data = context["data"]

    def build() -> Path:
        from ..models.files import cache_root, materialize

        version = workspace.store.get_data_version(data["name"], int(data["version"]))
        return materialize(workspace.artifacts, version, cache_root(workspace.location, "data-cache"))

    return _once(("data", id(workspace), data["name"], int(data["version"])), build)  # type: ignore[no-any-return]


#: Models, scripts and data copies a worker keeps; the oldest is dropped past this.
KEEP = 8


def _once(key: tuple[Any, ...], build: Any) -> Any:
    with _lock:
        if key in _loaded:
            _loaded[key] = _loaded.pop(key)  # the newest used last
        else:
            _loaded[key] = build()
            while len(_loaded) > KEEP:
                _loaded.pop(next(iter(_loaded)))
        return _loaded[key]


# ----- scoring -------------------------------------------------------------------------------------
def read_table(path: str | Path) -> Any:
    """A file of a batch as a DataFrame, by its suffix (CSV when the suffix says nothing)."""
    import pandas as pd

    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    if suffix == ".json":
        return pd.read_json(path)
    return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")


def _columns_of(predictor: Any) -> list[str] | None:
    inputs = (predictor.signature or {}).get("inputs") if predictor.signature else None
    return [c["name"] for c in inputs] if inputs else None


def _files(predictor: Any, root: Path, items: list[str]) -> tuple[Any, list[dict[str, Any]]]:
    import numpy as np
    import pandas as pd

    wanted = _columns_of(predictor)
    frames, names, failed = [], [], []
    for rel in items:
        try:
            frame = read_table(root / rel)
            missing = [c for c in wanted if c not in frame.columns] if wanted is not None else []
            if missing:
                have = [str(c) for c in frame.columns]
                raise ValueError(f"no column {', '.join(map(repr, missing))} (it has {have})")
        except Exception as err:
            failed.append(_failure(rel, _say(err)))
            continue
        frames.append(frame)
        names.append(rel)
    if not frames:
        return pd.DataFrame(columns=["source_file", "row_index", "prediction"]), failed
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    if wanted is not None and list(data.columns) != wanted:
        data = data[wanted]  # the signature's columns, in its order (others dropped, as an endpoint does)
    lengths = [len(f) for f in frames]
    if not len(data):  # header-only files: nothing to predict, nothing failed
        return pd.DataFrame(columns=["source_file", "row_index", "prediction"]), failed
    out = _with_predictions(predictor, data)
    out.insert(0, "row_index", np.concatenate([np.arange(n) for n in lengths]))
    out.insert(0, "source_file", np.repeat(names, lengths))
    return out, failed


def _rows(predictor: Any, rows: Any) -> tuple[Any, list[dict[str, Any]]]:
    wanted = _columns_of(predictor)
    if wanted is not None:
        missing = [c for c in wanted if c not in rows.columns]
        if missing:
            raise ValueError(f"the rows have no column {', '.join(map(repr, missing))}")
        rows = rows[wanted]
    out = _with_predictions(predictor, rows.reset_index(drop=True))
    out.insert(0, "row_index", list(rows.index))
    return out, []


def _with_predictions(predictor: Any, frame: Any) -> Any:
    import numpy as np
    import pandas as pd

    predicted = predictor.predict(frame)
    if isinstance(predicted, pd.DataFrame):
        out = predicted.reset_index(drop=True)
        out.columns = [f"prediction_{c}" for c in out.columns]
    else:
        values = np.asarray(predicted)
        if values.ndim == 2 and values.shape[1] > 1:
            out = pd.DataFrame(values, columns=[f"prediction_{i}" for i in range(values.shape[1])])
        else:
            out = pd.DataFrame({"prediction": values.reshape(len(frame))})
    if len(out) != len(frame):
        raise ValueError(f"the model gave {len(out)} predictions for {len(frame)} rows")
    return out


def _from_script(
    script: types.ModuleType, given: Any, labels: list[str], index: int
) -> tuple[Any, list[dict[str, Any]]]:
    """The entry script's `run(mini_batch)`: rows (a DataFrame, a list of dicts or of values)."""
    import pandas as pd

    result = script.run(given)
    if result is None:
        result = []
    if isinstance(result, pd.DataFrame):
        frame = result.reset_index(drop=True)
    elif isinstance(result, pd.Series):
        frame = result.reset_index(drop=True).to_frame(name=result.name or "result")
    else:
        rows = list(result)
        if rows and all(isinstance(r, dict) for r in rows):
            frame = pd.DataFrame(rows)
        else:
            frame = pd.DataFrame({"result": rows})
    frame.insert(0, "mini_batch", index)
    missing = len(labels) - len(frame)
    if missing > 0:  # Azure ML's rule: an item the script returned no row for has failed
        return frame, [
            _failure(
                f"mini-batch {index}", f"run() returned {len(frame)} rows for {len(labels)} items", missing
            )
        ]
    return frame, []


def _failure(item: str, error: str, count: int = 1) -> dict[str, Any]:
    return {"item": item, "error": error, "count": count}


def _say(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:500]
