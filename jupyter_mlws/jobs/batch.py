"""The driver of a batch-scoring job: mini-batches to the cluster's workers, one output, exactly once.

Who runs it: a batch job (`ws.jobs.batch_score`, a batch endpoint's invoke) is a job of kind
"batch"; its dispatcher runs this driver in a thread of its own process (`jobs/batch_dispatch.py`),
with the dispatcher's Dask client: no process to start, no second connection, and it outlives the
loss or the restart of any node. A cancel sets `stop`; the driver cancels its mini-batches.

What the driver does:
1. Plans the mini-batches: the data version's files in path order, `mini_batch_size` files each; or
   the rows of a DataFrame input, `mini_batch_size` rows each.
2. Connects to the cluster's scheduler and submits `batch_work.score_mini_batch` once per
   mini-batch (Dask places them and its adaptive scaling adds nodes for them).
3. Takes each mini-batch's answer once: the first answer for an index is kept, any later one (a
   worker Dask thought lost that answered after all) is dropped, so every input row is in the
   output exactly once, also when a worker dies (Dask runs its tasks again elsewhere) or a
   mini-batch is retried. A mini-batch that raised, or ran past `timeout` (its worker is restarted:
   a thread cannot be stopped, a process can), is submitted again up to `max_retries` times; then
   all its items have failed.
4. Counts failed items (a file that could not be read or scored, or rows an entry script did not
   return); past `error_threshold` (-1: never) it stops: outstanding mini-batches are canceled.
5. Logs progress into the batch's run as it goes (`batch.mini_batches_done`,
   `batch.mini_batches_failed`, `batch.items_failed`, `batch.rows`, `batch.rows_per_s`). The
   output (`append_row`) is streamed into the run's artifacts as `outputs/<output_file>` while the
   batch runs: a part goes in, under one header, once every mini-batch before it is settled, so its
   writing and hashing overlap the scoring, and the whole is committed at the end. A batch that
   stopped early drops it and writes `outputs/predictions.partial.csv` instead (kept, and named so
   nobody takes it for the whole). Then `outputs/failures.csv` (mini_batch, item, error, attempts)
   and `outputs/batch_summary.json`, uploaded with the job's log as any job's `outputs/`.
"""

from __future__ import annotations

import csv
import json
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .batch_watch import CHECKED, Timeouts, check_key, checked_lately, drain

#: Seconds between two progress writes into the run.
PROGRESS_SECONDS = 1.0
#: Answers kept in memory up to this many bytes; the others wait in part files.
HOLD_BYTES = 256 * 1024 * 1024
#: Failures named in the job's reason (all of them are in outputs/failures.csv).
REASON_FAILURES = 3


class BatchDriver:
    """One attempt of a batch job (see the module docstring)."""

    def __init__(
        self,
        spec: dict[str, Any],
        folder: Path,
        workspace: Any,
        client: Any,
        say: Callable[[str, str], None],
        stop: threading.Event,
    ) -> None:
        self.spec = spec
        self.folder = folder
        self.workspace = workspace
        self.store = workspace.store
        self.client = client
        self.say = say  # say(stream, text): a line of the job's log
        self.stop = stop
        self.stop_reason: str | None = None
        self.run_id = spec["run_id"]
        self.parts = folder / "job" / "parts"
        self.parts.mkdir(parents=True, exist_ok=True)
        self.columns: list[str] | None = None
        self.accepted: dict[int, tuple[bytes | Path, int]] = {}
        self.upload: Any = None  # the output being streamed into the run (`_open_stream`)
        self.held = 0
        self.failed_batches: dict[int, str] = {}
        self.failures: list[dict[str, Any]] = []
        self.items_failed = 0
        self.rows = 0
        self.tries: dict[int, int] = {}
        self.began = time.monotonic()
        self._last_progress = 0.0
        self._step = 0

    # ----- plan ----------------------------------------------------------------------------------
    def plan(self) -> list[tuple[int, Any]]:
        size = int(self.spec["mini_batch_size"])
        if self.spec["mode"] == "files":
            data = self.spec["data"]
            version = self.store.get_data_version(data["name"], int(data["version"]))
            paths = sorted(f.path for f in version.files)
            chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
        else:
            frame = self._frame()
            chunks = [frame.iloc[i : i + size] for i in range(0, len(frame), size)]
        return list(enumerate(chunks))

    def _frame(self) -> Any:
        import pandas as pd

        self.workspace.artifacts.download(self.spec["inputs_run"], "inputs/rows", self.folder)
        return pd.read_parquet(self.folder / "inputs" / "rows" / "rows.parquet")

    def items_of(self, chunk: Any) -> list[str]:
        if self.spec["mode"] == "files":
            return list(chunk)
        return [f"row {i}" for i in chunk.index]

    # ----- run -----------------------------------------------------------------------------------
    def run(self) -> int:
        """Score every mini-batch (see the module docstring); 0 when the batch completed, else 1
        with the reason in `job/error.txt` (and `stop_reason` for a stop asked from outside)."""
        from .batch_work import check_model, score_mini_batch

        context = {
            "workspace": self.spec["workspace"],
            "mode": self.spec["mode"],
            "data": self.spec.get("data"),
            "model": self.spec.get("model"),
            "entry_script": self.spec.get("entry_script"),
            "append_row": self.spec["output_action"] == "append_row",
        }
        client = self.client
        model = self.spec.get("model")
        if model and not self.spec.get("entry_script") and not checked_lately(client, model):
            try:  # once, on a worker (where it stays loaded): a model that cannot load fails the batch once
                client.submit(check_model, context, pure=False).result()
                CHECKED[check_key(client, model)] = time.monotonic()
            except Exception as err:
                return self._give_up(
                    f"could not load model {model['name']}:{model['version']}: {_words(err)}"
                )
        plan = self.plan()
        total = len(plan)
        chunks = dict(plan)
        unit = "files" if self.spec["mode"] == "files" else "rows"
        self.say("stdout", f"batch: {total} mini-batches of up to {self.spec['mini_batch_size']} {unit}\n")
        finished: queue.Queue[Any] = queue.Queue()
        futures: dict[Any, int] = {}

        def key(index: int) -> str:
            attempt = self.tries.get(index, 0) + 1
            self.tries[index] = attempt
            return f"mlws-batch-{self.spec['job_id'][:12]}-{self.spec['attempt']}-{index}-{attempt}"

        def track(future: Any, index: int) -> None:
            futures[future] = index
            future.add_done_callback(finished.put)

        def submit(index: int) -> None:  # a retry
            track(
                client.submit(score_mini_batch, context, index, chunks[index], key=key(index), pure=False),
                index,
            )

        stopped: str | None = None
        timeouts = Timeouts(client, float(self.spec["timeout_seconds"]), self.say)
        self._open_stream()
        try:
            order = list(chunks)  # all at once: one message to the scheduler, as `client.map` is
            keys = [key(index) for index in order]
            mapped = client.map(
                score_mini_batch,
                [context] * len(order),
                order,
                [chunks[i] for i in order],
                key=keys,
                pure=False,
            )
            for future, index in zip(mapped, order, strict=True):
                track(future, index)
            while futures:
                done = drain(finished, PROGRESS_SECONDS)
                for future in done:
                    index = futures.pop(future, None)
                    if index is None:
                        continue  # canceled after a timeout: settled already
                    self._settle(future, index, chunks, submit)
                for future, why in timeouts.expired(futures):
                    index = futures.pop(future)
                    self._retry_or_fail(index, chunks, submit, why)
                self._stream(total)
                stopped = self._over_threshold()
                if self.stop.is_set():
                    stopped = self.stop_reason or "stopped"
                self._progress(total)
                if stopped:
                    client.cancel(list(futures))
                    futures.clear()
        except BaseException:
            self._close_stream(commit=False)
            raise
        finally:
            timeouts.close()
        self._progress(total, force=True)
        return self._finish(total, stopped)

    def _settle(self, future: Any, index: int, chunks: dict[int, Any], submit: Callable[[int], None]) -> None:
        error = self._take(future, index)
        if error is not None:
            self._retry_or_fail(index, chunks, submit, error)

    def _retry_or_fail(
        self, index: int, chunks: dict[int, Any], submit: Callable[[int], None], error: str
    ) -> None:
        if self.tries[index] <= int(self.spec["max_retries"]):
            self.say(
                "stdout", f"batch: mini-batch {index} attempt {self.tries[index]} failed, retried: {error}\n"
            )
            submit(index)
        else:
            self._fail_batch(index, chunks[index], error)

    def _give_up(self, reason: str) -> int:
        (self.folder / "job" / "error.txt").write_text(reason)
        self.say("stderr", f"batch: {reason}\n")
        return 1

    def _take(self, future: Any, index: int) -> str | None:
        """Keep a finished mini-batch's answer (once); the error in words when it raised."""
        if future.status != "finished":
            try:
                err = future.exception(timeout=5)
            except Exception as other:  # canceled, or the scheduler forgot it
                err = other
            return _words(err)
        answer = future.result()
        if index in self.accepted or index in self.failed_batches:
            return None  # an answer for a mini-batch already settled: dropped (exactly once)
        if answer["rows"]:
            if self.columns is None:
                self.columns = answer["columns"]
            elif answer["columns"] != self.columns:
                first = self.columns
                return (
                    f"ValueError: its columns {answer['columns']} differ from the first mini-batch's {first}"
                )
        part: bytes | Path = answer["csv"]
        if self.held + len(answer["csv"]) > HOLD_BYTES:  # past what is kept in memory: to a file
            part = self.parts / f"{index:08d}.csv"
            part.write_bytes(answer["csv"])
        else:
            self.held += len(answer["csv"])
        self.accepted[index] = (part, answer["rows"])
        self.rows += answer["rows"]
        for failure in answer["failed"]:
            self.failures.append({"mini_batch": index, **failure, "attempts": self.tries[index]})
            self.items_failed += int(failure.get("count", 1))
        return None

    def _fail_batch(self, index: int, chunk: Any, error: str) -> None:
        self.failed_batches[index] = error
        items = self.items_of(chunk)
        for item in items:
            self.failures.append({"mini_batch": index, "item": item, "error": error, "count": 1,
                                  "attempts": self.tries[index]})  # fmt: skip
        self.items_failed += len(items)
        self.say("stdout", f"batch: mini-batch {index} failed after {self.tries[index]} attempts: {error}\n")

    def _over_threshold(self) -> str | None:
        threshold = int(self.spec["error_threshold"])
        if threshold < 0 or self.items_failed <= threshold:
            return None
        named = "; ".join(f"{f['item']}: {f['error']}" for f in self.failures[:REASON_FAILURES])
        more = len(self.failures) - REASON_FAILURES
        return f"{self.items_failed} items failed, more than error_threshold={threshold}: {named}" + (
            f" (and {more} more in outputs/failures.csv)" if more > 0 else ""
        )

    def _progress(self, total: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_SECONDS:
            return
        self._last_progress = now
        self._step += 1
        stamp = int(time.time() * 1000)
        elapsed = max(now - self.began, 1e-6)
        values = {
            "batch.mini_batches_done": len(self.accepted),
            "batch.mini_batches_failed": len(self.failed_batches),
            "batch.mini_batches_total": total,
            "batch.items_failed": self.items_failed,
            "batch.rows": self.rows,
            "batch.rows_per_s": self.rows / elapsed,
        }
        try:
            self.store.log_batch(
                self.run_id, metrics=[(k, float(v), self._step, stamp) for k, v in values.items()]
            )
        except Exception as err:  # progress is best effort; the summary at the end is not
            self.say("stderr", f"batch: could not record progress: {err}\n")

    # ----- the end -------------------------------------------------------------------------------
    # ----- the output, streamed ---------------------------------------------------------------------
    def _open_stream(self) -> None:
        """Start `outputs/<output_file>` in the run's artifacts: the parts go into it, in order, as
        soon as all before them are settled, so its writing and hashing overlap the scoring."""
        self.streamed = 0  # mini-batches settled and, when they had rows, written
        self.header_written = False
        if self.spec["output_action"] == "append_row":
            path = f"outputs/{self.spec['output_file']}"
            self.upload = self.workspace.artifacts.begin_upload(self.run_id, path)

    def _stream(self, total: int) -> None:
        while self.upload is not None and self.streamed < total:
            index = self.streamed
            if index in self.accepted:
                part, rows = self.accepted[index]
                if rows:
                    if not self.header_written:
                        self.upload.write(_csv_line(self.columns or []).encode())
                        self.header_written = True
                    self._copy(part, self.upload)
            elif index not in self.failed_batches:
                return  # not settled yet: the parts after it wait
            self.streamed += 1

    def _close_stream(self, commit: bool) -> None:
        """Commit the streamed output (every mini-batch settled) or drop it (a batch that stopped:
        its partial output is written under another name)."""
        from ..entities import ArtifactRecord

        upload, self.upload = self.upload, None
        if upload is None:
            return
        if not commit:
            upload.abort()
            return
        try:
            if not self.header_written and self.columns is not None:
                upload.write(_csv_line(self.columns).encode())
            info = upload.commit()
        except BaseException:
            upload.abort()
            raise
        self.store.record_artifact(self.run_id, ArtifactRecord(info.path, info.size, info.sha256))

    @staticmethod
    def _copy(part: bytes | Path, upload: Any) -> None:
        if isinstance(part, bytes):
            upload.write(part)
            return
        with open(part, "rb") as source:
            while block := source.read(1024 * 1024):
                upload.write(block)

    def _write_output(self, artifact_path: str) -> None:
        """The parts in mini-batch order under one header, written straight into the run's
        artifacts (the partial output of a batch that stopped)."""
        from ..entities import ArtifactRecord

        upload = self.workspace.artifacts.begin_upload(self.run_id, artifact_path)
        try:
            if self.columns is not None:
                upload.write(_csv_line(self.columns).encode())
            for index in sorted(self.accepted):
                self._copy(self.accepted[index][0], upload)
            info = upload.commit()
        except BaseException:
            upload.abort()
            raise
        self.store.record_artifact(self.run_id, ArtifactRecord(info.path, info.size, info.sha256))

    def _finish(self, total: int, stopped: str | None) -> int:
        outputs = self.folder / "outputs"
        outputs.mkdir(exist_ok=True)
        name = self.spec["output_file"]
        if self.spec["output_action"] == "append_row":
            if stopped:  # what was streamed is dropped; the partial output gets its own name
                self._close_stream(commit=False)
                self._write_output("outputs/predictions.partial.csv")
            else:
                self._stream(total)
                self._close_stream(commit=True)
        if self.failures:
            with open(outputs / "failures.csv", "w", newline="") as handle:
                writer = csv.DictWriter(handle, ["mini_batch", "item", "error", "count", "attempts"])
                writer.writeheader()
                writer.writerows(sorted(self.failures, key=lambda f: (f["mini_batch"], f["item"])))
        seconds = time.monotonic() - self.began
        summary = {
            "mini_batches": total,
            "mini_batches_done": len(self.accepted),
            "mini_batches_failed": len(self.failed_batches),
            "items_failed": self.items_failed,
            "rows": self.rows,
            "seconds": round(seconds, 3),
            "rows_per_s": round(self.rows / max(seconds, 1e-6), 1),
            "stopped": stopped,
            "output": None if self.spec["output_action"] != "append_row" else
            f"outputs/{name if not stopped else 'predictions.partial.csv'}",
        }  # fmt: skip
        (outputs / "batch_summary.json").write_text(json.dumps(summary, indent=1))
        self.say("stdout", f"batch: {summary['rows']} rows from {summary['mini_batches_done']} of {total} "
                 f"mini-batches in {seconds:.2f} s; {_items(self.items_failed)} failed\n")  # fmt: skip
        if stopped:
            return self._give_up(f"stopped: {stopped}" if self.stop.is_set() else stopped)
        return 0


def _csv_line(values: list[str]) -> str:
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _words(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).strip()[:400]}"
