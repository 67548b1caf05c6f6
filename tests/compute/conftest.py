"""Real compute-instance kernels for the tests: kernelspecs in a tmp Jupyter data dir.

`instances` writes kernelspecs `mlws-<name>` with `compute.spec.write_kernelspec` (as the
server does) into a fresh `$JUPYTER_DATA_DIR`, and starts kernels from them with
jupyter_client's `AsyncKernelManager(kernel_name="mlws-<name>")`, which finds our
provisioner through its entry point. Each kernel runs in the test's folder with the
workspace `<tmp>/ws`; the test reads that workspace through its own store.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir

from jupyter_mlws.compute.spec import validate_instance, write_kernelspec
from jupyter_mlws.store.factory import open_store

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Reply:
    stdout: str = ""
    error: str = ""  # traceback text, ANSI colours removed
    ename: str = ""


class InstanceKernel:
    """A kernel started from an instance's kernelspec, with a blocking client (a tiny frontend)."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, kernel_name: str, folder: Path, env: dict[str, str]
    ) -> None:
        self.loop = loop
        self.kernel_id = str(uuid.uuid4())
        # named as jupyter_server names it, so the kernel can tell its own id
        connection_file = os.path.join(jupyter_runtime_dir(), f"kernel-{self.kernel_id}.json")
        os.makedirs(os.path.dirname(connection_file), exist_ok=True)
        self.manager = AsyncKernelManager(
            kernel_name=kernel_name, kernel_id=self.kernel_id, connection_file=connection_file
        )
        self.run(self.manager.start_kernel(env=env, cwd=str(folder)))
        self.client = BlockingKernelClient()
        self.client.load_connection_info(self.manager.get_connection_info())
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    @property
    def pid(self) -> int:
        return self.manager.provisioner.pid

    @property
    def alive(self) -> bool:
        return bool(self.run(self.manager.is_alive()))

    def execute(self, code: str, timeout: float = 60) -> Reply:
        """Run a cell; collect stdout and the error until the kernel is idle."""
        msg_id = self.client.execute(code)
        reply = Reply()
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                pytest.fail(f"no answer from the kernel within {timeout} s for {code!r}")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                reply.stdout += content["text"]
            elif kind == "error":
                reply.ename = content["ename"]
                reply.error = ANSI.sub("", "\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return reply

    def send(self, code: str) -> None:
        """Send a cell without waiting for it (it may never answer: the kernel is stopped)."""
        self.client.execute(code)

    def ok(self, code: str, timeout: float = 60) -> str:
        reply = self.execute(code, timeout)
        assert reply.ename == "", reply.error
        return reply.stdout

    def value(self, expression: str) -> Any:
        """`expression` evaluated in the kernel (its repr read back with `eval`)."""
        return eval(self.ok(f"print(repr({expression}))").strip())

    def close(self) -> None:
        self.client.stop_channels()
        if self.alive:
            self.run(self.manager.shutdown_kernel(now=True))
        else:
            self.run(self.manager.cleanup_resources())


class Instances:
    """Define instances (kernelspecs) and start kernels from them; everything is stopped at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.workspace = folder / "ws"
        self.kernels: list[InstanceKernel] = []
        self.loop = asyncio.new_event_loop()

    def define(self, name: str, **sizes: Any) -> str:
        """Write kernelspec `mlws-<name>`; returns its kernel name."""
        instance = validate_instance(name, **sizes)
        write_kernelspec(instance, str(self.workspace))
        return instance.kernelspec

    def start(self, kernel_name: str, env: dict[str, str] | None = None) -> InstanceKernel:
        launch_env = {**os.environ, **(env or {})}
        for name in ("MLWS_RUN_ID", "MLWS_WORKSPACE", "PYTHONSTARTUP", "MLWS_USER_PYTHONSTARTUP"):
            if name not in (env or {}):
                launch_env.pop(name, None)
        kernel = InstanceKernel(self.loop, kernel_name, self.folder, launch_env)
        self.kernels.append(kernel)
        return kernel

    def start_fails(self, kernel_name: str) -> Exception:
        """Starting a kernel of `kernel_name` fails: the error."""
        manager = AsyncKernelManager(kernel_name=kernel_name)
        try:
            self.loop.run_until_complete(manager.start_kernel(cwd=str(self.folder)))
        except Exception as err:
            return err
        self.loop.run_until_complete(manager.shutdown_kernel(now=True))
        pytest.fail(f"a kernel of {kernel_name} started")

    def store(self):
        """The test's own view of the workspace (a second process on the same SQLite file)."""
        return open_store(f"sqlite:///{self.workspace / 'mlws.db'}")

    def runs(self, experiment: str) -> list[Any]:
        """RunInfo of every run of `experiment`, oldest first."""
        store = self.store()
        try:
            found = store.get_experiment_by_name(experiment)
            if found is None:
                return []
            infos = list(store.search_runs([found.experiment_id]).runs)
        finally:
            store.close()
        return sorted(infos, key=lambda info: info.start_time or 0)

    def close(self) -> None:
        for kernel in self.kernels:
            try:
                kernel.close()
            except Exception:
                pass
        self.loop.close()


@pytest.fixture
def instances(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Instances]:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    found = Instances(tmp_path)
    try:
        yield found
    finally:
        found.close()


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
