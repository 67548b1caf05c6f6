"""A compute instance's memory limit, with real kernels (RELIABILITY K8).

- Gradual growth past the limit (a `%%mlrun` cell touching 64 MiB chunks): the watchdog
  stops the kernel, the run in it ends `killed` with the reason, a `limit_stopped` event
  is recorded with the same reason, and no process of the kernel is left.
- One allocation far past the limit: a MemoryError at once (the address-space limit),
  shown with a line naming the instance and its limit; the kernel keeps working.
- An instance without a memory limit has no address-space limit.
"""

from __future__ import annotations

import re

import psutil
import pytest

from jupyter_mlws.compute.resources import DEFAULT_AS_HEADROOM
from jupyter_mlws.notebook import memory

from .conftest import Instances, wait_for

MiB = 1024**2
REASON = re.compile(r"^memory limit exceeded: RSS (\d+) MiB > 512 MiB limit of compute instance mem-small$")

GROW = """%%mlrun -e limits -n grow
import time
chunks = []
for _ in range(40):
    chunks.append(bytearray(64 * 1024 * 1024))  # zero-filled: every page touched
    time.sleep(0.05)
print("still alive")
"""


@pytest.mark.catalogue("K8")
def test_growing_past_the_limit_stops_the_kernel_and_ends_its_run(instances: Instances) -> None:
    kernel = instances.start(instances.define("mem-small", cpus=1, memory="512MiB"))
    kernel.ok("import os")
    pid = kernel.pid
    kernel.send(GROW)
    wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
        timeout=30,
        what="the kernel to be stopped",
    )
    wait_for(lambda: not kernel.alive, timeout=10, what="the kernel manager to see the kernel gone")
    assert kernel.manager.provisioner.stopped_reason is not None
    assert REASON.match(kernel.manager.provisioner.stopped_reason)

    (run,) = instances.runs("limits")
    assert run.status.value == "killed" and run.compute_target == "mem-small"
    found = REASON.match(run.status_reason or "")
    assert found, run.status_reason
    assert 512 < int(found.group(1)) < 512 + 4 * 64  # caught within a few chunks of the limit

    store = instances.store()
    try:
        (event,) = store.list_compute_events("mem-small", kind="limit_stopped")
    finally:
        store.close()
    assert event.reason == run.status_reason
    assert event.kernel_id == kernel.kernel_id
    assert event.details["memory_limit_bytes"] == 512 * MiB and event.details["runs"] == [run.run_id]
    assert pid in event.details["pids"]
    assert not any(
        psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        for p in event.details["pids"]
    )


@pytest.mark.catalogue("K8")
def test_one_huge_allocation_is_a_memory_error_naming_the_instance(instances: Instances) -> None:
    kernel = instances.start(instances.define("mem-small", memory="512MiB"))
    limit = kernel.value("__import__('resource').getrlimit(__import__('resource').RLIMIT_AS)")
    assert limit == (512 * MiB + DEFAULT_AS_HEADROOM,) * 2
    reply = kernel.execute("data = bytearray(8 * 1024**3)")
    assert reply.ename == "MemoryError"
    assert "data = bytearray(8 * 1024**3)" in reply.error  # the normal traceback is there
    assert reply.error.rstrip().splitlines()[-1] == memory.limit_message("mem-small", 512 * MiB)
    assert "compute instance 'mem-small' has a memory limit of 512 MiB" in reply.error
    # the same inside a %%mlrun cell, whose run fails with the MemoryError
    in_run = kernel.execute("%%mlrun -e limits -n huge\ndata = bytearray(8 * 1024**3)")
    assert in_run.ename == "MemoryError"
    assert in_run.error.rstrip().splitlines()[-1] == memory.limit_message("mem-small", 512 * MiB)
    (run,) = wait_for(lambda: [r for r in instances.runs("limits") if r.status.is_terminal], what="the run")
    assert run.status.value == "failed" and run.compute_target == "mem-small"
    # the kernel goes on, and other errors look as usual
    assert kernel.ok("print(sum(range(10)))") == "45\n"
    other = kernel.execute("1 / 0")
    assert other.ename == "ZeroDivisionError" and "memory limit" not in other.error
    assert kernel.alive


def test_an_instance_without_a_memory_limit_has_no_address_space_limit(instances: Instances) -> None:
    kernel = instances.start(instances.define("no-limit", cpus=1))
    resource_ = "__import__('resource')"
    assert (
        kernel.value(f"{resource_}.getrlimit({resource_}.RLIMIT_AS)[0] == {resource_}.RLIM_INFINITY") is True
    )
    assert kernel.value("__import__('os').environ.get('MLWS_MEMORY_LIMIT')") is None
    assert memory.install(None) is False
