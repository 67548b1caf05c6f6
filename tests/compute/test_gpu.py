"""GPU assignment of compute-instance kernels, through the detection path.

Without GPU hardware, detection is driven by a stand-in for NVIDIA's `nvidia-smi` put first
on PATH (`fake-hardware/nvidia-smi`, a shell script printing what the real tool prints for
`--query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits`). NVML is made
absent for those tests so that the `nvidia-smi` path is the one taken. Real kernels then
show `CUDA_VISIBLE_DEVICES` as assigned. On a machine with a real GPU, the last test starts
a 1-GPU kernel and asks the CUDA driver inside it how many devices it sees; elsewhere it
is skipped with the reason.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlws.compute import resources
from jupyter_mlws.compute.resources import GPU_LEDGER, ResourceUnavailable

from .conftest import Instances

FAKE_GPUS = (
    "0, GPU-11111111-2222-3333-4444-555555555555, NVIDIA A100-SXM4-40GB, 40960\n"
    "1, GPU-66666666-7777-8888-9999-000000000000, NVIDIA A100-SXM4-40GB, 40960\n"
)


@pytest.fixture
def fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two fake GPUs, reported by a stand-in `nvidia-smi` first on PATH (no NVML)."""
    folder = tmp_path / "fake-hardware"
    folder.mkdir()
    calls = folder / "calls.log"
    tool = folder / "nvidia-smi"
    tool.write_text(
        "#!/bin/sh\n"
        "# Stand-in for NVIDIA's nvidia-smi (test hardware): two A100s.\n"
        f'echo "$@" >> "{calls}"\n'
        'if [ "$1" != "--query-gpu=index,uuid,name,memory.total" ]; then exit 2; fi\n'
        f"printf '{FAKE_GPUS.replace(chr(10), chr(92) + 'n')}'\n"
    )
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{__import__('os').environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setitem(sys.modules, "pynvml", None)  # NVML absent: `import pynvml` fails
    resources.clear_gpu_cache()
    yield calls
    resources.clear_gpu_cache()


def test_detection_reads_nvidia_smi(fake_nvidia_smi: Path) -> None:
    gpus = resources.detect_gpus()
    assert [(g.index, g.name, g.memory_mib) for g in gpus] == [(0, "NVIDIA A100-SXM4-40GB", 40960)] * 1 + [
        (1, "NVIDIA A100-SXM4-40GB", 40960)
    ]
    assert gpus[1].uuid == "GPU-66666666-7777-8888-9999-000000000000"
    resources.detect_gpus()  # cached: the tool ran once
    assert fake_nvidia_smi.read_text().splitlines() == [
        "--query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits"
    ]


def test_gpu_kernels_get_different_gpus_and_others_see_none(
    instances: Instances, fake_nvidia_smi: Path
) -> None:
    name = instances.define("gpu-one", gpus=1, memory="1GiB")
    first, second = instances.start(name), instances.start(name)
    env = "__import__('os').environ"
    seen = {first.value(f"{env}['CUDA_VISIBLE_DEVICES']"), second.value(f"{env}['CUDA_VISIBLE_DEVICES']")}
    assert seen == {"0", "1"}
    assert first.value(f"{env}['CUDA_DEVICE_ORDER']") == "PCI_BUS_ID"
    # a GPU kernel has the watchdog but no address-space limit (CUDA reserves huge address ranges)
    resource_ = "__import__('resource')"
    assert (
        first.value(f"{resource_}.getrlimit({resource_}.RLIMIT_AS)[0] == {resource_}.RLIM_INFINITY") is True
    )
    assert first.manager.provisioner.limits.memory_bytes == 1024**3
    # an instance without GPUs on a GPU machine sees none
    cpu_only = instances.start(instances.define("cpu-only", cpus=1))
    assert cpu_only.value(f"{env}['CUDA_VISIBLE_DEVICES']") == ""
    for kernel in (first, second, cpu_only):
        kernel.close()
    instances.kernels.clear()
    assert GPU_LEDGER.usage() == {}


def test_asking_for_more_gpus_than_detected_fails_clearly(
    instances: Instances, fake_nvidia_smi: Path
) -> None:
    err = instances.start_fails(instances.define("gpu-three", gpus=3))
    assert isinstance(err, ResourceUnavailable)
    assert str(err) == (
        "Compute instance 'gpu-three' cannot start a kernel: it asks for 3 GPUs but this machine has 2 "
        "available to kernels (GPUs detected)"
    )
    assert GPU_LEDGER.usage() == {}


def test_a_server_limited_to_one_gpu_hands_out_only_that_one(
    instances: Instances, fake_nvidia_smi: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-66666666-7777-8888-9999-000000000000")
    kernel = instances.start(instances.define("gpu-one", gpus=1))
    assert kernel.value("__import__('os').environ['CUDA_VISIBLE_DEVICES']") == "1"
    err = instances.start_fails(instances.define("gpu-two", gpus=2))
    assert "asks for 2 GPUs but this machine has 1 available" in str(err)


CUDA_COUNT = """
import ctypes
cuda = ctypes.CDLL("libcuda.so.1")
count = ctypes.c_int()
assert cuda.cuInit(0) == 0
assert cuda.cuDeviceGetCount(ctypes.byref(count)) == 0
print(count.value)
"""


def test_a_real_gpu_is_assigned_to_a_gpu_kernel(instances: Instances) -> None:
    resources.clear_gpu_cache()
    gpus = resources.detect_gpus()
    if not gpus:
        pytest.skip("no GPU on this machine: neither NVML (pynvml) nor nvidia-smi on PATH found one")
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        pytest.skip("a GPU is listed but the CUDA driver library (libcuda.so.1) cannot be loaded")
    kernel = instances.start(instances.define("real-gpu", gpus=1, memory="4GiB"))
    assigned = kernel.value("__import__('os').environ['CUDA_VISIBLE_DEVICES']")
    assert assigned in {str(gpu.index) for gpu in gpus}
    assert kernel.ok(CUDA_COUNT).strip() == "1"  # the CUDA driver inside sees exactly the one assigned
    if len(gpus) > 1:
        other = instances.start(instances.define("real-gpu", gpus=1))
        assert other.value("__import__('os').environ['CUDA_VISIBLE_DEVICES']") != assigned
