"""The parts behind the provisioner: ledgers, GPU listing, environment, the watchdog, cgroup v2.

Pure units where the part is pure; the watchdog watches a real child process; the cgroup v2
path runs only where a delegated, writable cgroup v2 subtree exists (skipped with the
reason elsewhere: this machine's cgroups are v1 and never touched).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from jupyter_mlws.compute import resources
from jupyter_mlws.compute.limits import limit_reason
from jupyter_mlws.compute.resources import Ledger, ResourceUnavailable
from jupyter_mlws.compute.watchdog import RssWatchdog

from .conftest import Instances, wait_for

MiB = 1024**2


def test_the_ledger_hands_out_the_least_used_and_takes_back() -> None:
    ledger = Ledger("CPU")
    assert ledger.acquire("a", 1, [0, 1, 2, 3]) == [0]
    assert ledger.acquire("b", 2, [0, 1, 2, 3]) == [1, 2]
    assert ledger.acquire("c", 2, [0, 1, 2, 3]) == [0, 3]  # 3 is free, then the least used
    ledger.release("b")
    assert ledger.usage() == {0: 2, 3: 1}
    assert ledger.acquire("a", 1, [0, 1, 2, 3]) == [1]  # taking again replaces what "a" held
    with pytest.raises(
        ResourceUnavailable, match=r"^asks for 5 CPUs but this machine has 4 available to kernels$"
    ):
        ledger.acquire("d", 5, [0, 1, 2, 3])
    for owner in ("a", "c", "never-took"):
        ledger.release(owner)
    assert ledger.usage() == {}


def test_nvidia_smi_rows_and_visible_devices() -> None:
    rows = "1, GPU-b, NVIDIA H100 80GB HBM3, 81559\n0, GPU-a, Tesla T4, 15360\nnot a row\n"
    gpus = resources.parse_nvidia_smi(rows)
    assert [(g.index, g.uuid, g.name, g.memory_mib) for g in gpus] == [
        (0, "GPU-a", "Tesla T4", 15360),
        (1, "GPU-b", "NVIDIA H100 80GB HBM3", 81559),
    ]
    assert resources.allowed_gpus(gpus, None) == gpus
    assert resources.allowed_gpus(gpus, "GPU-b") == [gpus[1]]
    assert resources.allowed_gpus(gpus, "0") == [gpus[0]]
    assert resources.allowed_gpus(gpus, "") == []


def test_environment_and_address_space_rules() -> None:
    assert resources.thread_env(None) == {}
    assert set(resources.thread_env(4).values()) == {"4"} and "OMP_NUM_THREADS" in resources.thread_env(4)
    assert resources.gpu_env([2, 3], True) == {
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
        "CUDA_VISIBLE_DEVICES": "2,3",
    }
    assert resources.gpu_env(None, True)["CUDA_VISIBLE_DEVICES"] == ""
    assert resources.gpu_env(None, False) == {}
    assert resources.address_space_limit(512 * MiB, 0) == 512 * MiB + resources.DEFAULT_AS_HEADROOM
    assert resources.address_space_limit(512 * MiB, 1) is None
    assert resources.address_space_limit(None, 0) is None
    assert resources.child_setup(None, None) is None


def test_the_reason_users_read() -> None:
    assert limit_reason(612 * MiB + 3, 512 * MiB, "cpu-small") == (
        "memory limit exceeded: RSS 612 MiB > 512 MiB limit of compute instance cpu-small"
    )
    assert limit_reason(3 * 1024 * MiB, 2 * 1024 * MiB, "big").endswith(
        "> 2 GiB limit of compute instance big"
    )


def test_the_watchdog_sees_a_child_process_grow_past_the_limit() -> None:
    # the watched process stays small; its child grows (a tree counts as one)
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import time; x = bytearray(160 * 1024 * 1024); time.sleep(60)'])\n"
        "child.wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    breaches: list[tuple[int, list[int]]] = []
    fired = threading.Event()

    def on_breach(rss: int, pids: list[int]) -> None:
        breaches.append((rss, pids))
        fired.set()

    watchdog = RssWatchdog(parent.pid, 128 * MiB, on_breach, interval=0.05).start()
    try:
        assert fired.wait(20), "the watchdog did not fire"
        wait_for(lambda: not watchdog.running, timeout=5, what="the watchdog to end after a breach")
        ((rss, pids),) = breaches
        assert rss > 128 * MiB and parent.pid in pids and len(pids) == 2
        assert watchdog.breached and watchdog.peak >= rss
    finally:
        watchdog.stop()
        for pid in breaches[0][1] if breaches else []:  # the two processes this test started
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_the_watchdog_stays_quiet_under_the_limit_and_stops_when_asked() -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        watchdog = RssWatchdog(process.pid, 512 * MiB, lambda rss, pids: None, interval=0.02).start()
        wait_for(lambda: watchdog.peak > 0, timeout=5, what="a first sample")
        watchdog.stop()
        assert not watchdog.running and not watchdog.breached
        assert 0 < watchdog.peak < 512 * MiB
    finally:
        process.kill()
        process.wait()


def test_cgroup_v2_memory_max_where_delegated(instances: Instances) -> None:
    check = resources.find_cgroup_v2()
    if check.root is None:
        pytest.skip(f"no delegated cgroup v2 subtree to put kernels in: {check.reason}")
    kernel = instances.start(instances.define("cgroup", memory="512MiB"))
    group = Path(f"/proc/{kernel.pid}/cgroup").read_text().strip().split("::", 1)[1]
    assert group.endswith(f"/mlws-kernel-{kernel.kernel_id}")
    folder = check.root / f"mlws-kernel-{kernel.kernel_id}"
    assert (folder / "memory.max").read_text().strip() == str(512 * MiB)
    kernel.close()
    instances.kernels.clear()
    assert not folder.exists()


def test_cgroup_detection_only_reads_and_says_why_not() -> None:
    check = resources.find_cgroup_v2("/nonexistent/mlws-cgroup-root")
    if resources._mount_type(resources.CGROUP_MOUNT) == "cgroup2":
        assert (
            check.root is None
            and "cannot read /nonexistent/mlws-cgroup-root/cgroup.subtree_control" in check.reason
        )
    else:
        assert check.root is None and "not a cgroup v2 hierarchy" in check.reason
