"""Compute-instance kernels from their kernelspecs: what the kernel sees, from any Jupyter client.

Real kernels started by jupyter_client from `mlws-<name>` kernelspecs (our provisioner is
found through its entry point): CPU affinity and thread-count variables inside the kernel,
the workspace and instance name in its environment, `%%mlrun` without `%load_ext`, runs
recorded on the instance, a user's own PYTHONSTARTUP kept, CPUs handed out least-used,
a clear error for an instance this machine cannot hold, and nbclient running a notebook.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mlws.compute.provisioner import InstanceProvisioner
from jupyter_mlws.compute.resources import CPU_LEDGER, THREAD_VARS, ResourceUnavailable

from .conftest import Instances, wait_for


def test_the_provisioner_is_registered_with_jupyter_client() -> None:
    found = {
        ep.name: ep for ep in importlib.metadata.entry_points(group="jupyter_client.kernel_provisioners")
    }
    assert found["mlws-instance"].load() is InstanceProvisioner


def test_kernel_gets_its_cpus_threads_workspace_and_the_extension(instances: Instances) -> None:
    name = instances.define("cpu-one", cpus=1, memory="1GiB", env={"MY_SETTING": "on"})
    kernel = instances.start(name)
    allowed = sorted(os.sched_getaffinity(0))
    kernel.ok("import os")
    cpus = kernel.value("sorted(os.sched_getaffinity(0))")
    assert len(cpus) == 1 and cpus[0] in allowed
    env = kernel.value("dict(os.environ)")
    assert {var: env.get(var) for var in THREAD_VARS} == {var: "1" for var in THREAD_VARS}
    assert env["MLWS_COMPUTE_TARGET"] == "cpu-one"
    assert env["MLWS_WORKSPACE"] == str(instances.workspace)
    assert env["MLWS_INSTANCE_CPUS"] == "1" and env["MLWS_MEMORY_LIMIT"] == str(1024**3)
    assert env["MY_SETTING"] == "on"
    # the extension is loaded without %load_ext: a %%mlrun cell records a run on this instance
    out = kernel.ok(
        "%%mlrun -e compute -n on-instance\nimport jupyter_mlws as mlws\nprint(mlws.active_run().id)"
    )
    # the kernel ends the run in the background: wait for its final state
    (info,) = wait_for(lambda: _ended(instances.runs("compute")), what="the run to end")
    assert info.run_id == out.strip().splitlines()[-1]
    assert (info.compute_target, info.status.value) == ("cpu-one", "completed")


def test_an_instance_env_overrides_thread_counts_and_a_user_startup_file_still_runs(
    instances: Instances, tmp_path: Path
) -> None:
    startup = tmp_path / "mine.py"
    startup.write_text("MY_STARTUP_RAN = True\n")
    name = instances.define("threads", cpus=1, env={"OMP_NUM_THREADS": "3"})
    kernel = instances.start(name, env={"PYTHONSTARTUP": str(startup)})
    assert kernel.value("MY_STARTUP_RAN") is True
    assert kernel.value("__import__('os').environ['OMP_NUM_THREADS']") == "3"
    assert kernel.value("__import__('os').environ['MKL_NUM_THREADS']") == "1"
    assert "mlrun" in kernel.value("list(get_ipython().magics_manager.magics['cell'])")
    # a startup file named in the instance's env is handed on the same way
    other = tmp_path / "instance-startup.py"
    other.write_text("INSTANCE_STARTUP_RAN = True\n")
    named = instances.start(instances.define("startup", env={"PYTHONSTARTUP": str(other)}))
    assert named.value("INSTANCE_STARTUP_RAN") is True
    assert "mlrun" in named.value("list(get_ipython().magics_manager.magics['cell'])")


def test_two_one_cpu_kernels_run_on_different_cpus(instances: Instances) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    name = instances.define("pair", cpus=1)
    first, second = instances.start(name), instances.start(name)
    first_cpus = first.value("sorted(__import__('os').sched_getaffinity(0))")
    second_cpus = second.value("sorted(__import__('os').sched_getaffinity(0))")
    if len(allowed) >= 2:
        assert first_cpus != second_cpus
    assert set(first_cpus + second_cpus) <= set(allowed)
    # an instance without a CPU count is not pinned and sets no thread counts
    free = instances.start(instances.define("unpinned"))
    assert free.value("sorted(__import__('os').sched_getaffinity(0))") == allowed
    assert free.value("__import__('os').environ.get('OMP_NUM_THREADS')") is None
    # shutting kernels down gives their CPUs back
    for kernel in (first, second, free):
        kernel.close()
    instances.kernels.clear()
    assert CPU_LEDGER.usage() == {}


def test_an_instance_this_machine_cannot_hold_fails_with_a_clear_message(instances: Instances) -> None:
    # A definition made on a bigger machine (kernelspecs travel with the data dir):
    # write it as the spec module would, with more CPUs than this machine has.
    name = instances.define("big", cpus=1)
    spec_file = instances.folder / "jupyter-data" / "kernels" / name / "kernel.json"
    spec = json.loads(spec_file.read_text())
    wanted = len(os.sched_getaffinity(0)) + 62
    spec["metadata"]["kernel_provisioner"]["config"]["instance"]["cpus"] = wanted
    spec_file.write_text(json.dumps(spec))
    err = instances.start_fails(name)
    assert isinstance(err, ResourceUnavailable)
    assert str(err) == (
        f"Compute instance 'big' cannot start a kernel: it asks for {wanted} CPUs but this machine "
        f"has {len(os.sched_getaffinity(0))} available to kernels (its CPU affinity set)"
    )
    assert CPU_LEDGER.usage() == {}
    # a kernelspec whose provisioner config lost its instance says so
    del spec["metadata"]["kernel_provisioner"]["config"]["instance"]
    spec_file.write_text(json.dumps(spec))
    err = instances.start_fails(name)
    assert "its provisioner config names no compute instance" in str(err)


def test_a_restarted_kernel_keeps_its_limits(instances: Instances) -> None:
    kernel = instances.start(instances.define("restart", cpus=1, memory="1GiB"))
    before = kernel.pid
    kernel.run(kernel.manager.restart_kernel(now=True))
    kernel.client.wait_for_ready(timeout=60)
    assert kernel.pid != before
    assert len(kernel.value("__import__('os').sched_getaffinity(0)")) == 1
    assert sum(CPU_LEDGER.usage().values()) == 1


def test_nbclient_runs_a_notebook_on_an_instance(instances: Instances) -> None:
    name = instances.define("nb", cpus=1, memory="1GiB")
    nb = new_notebook(
        cells=[
            new_code_cell(
                "import os\nprint(os.environ['MLWS_COMPUTE_TARGET'], len(os.sched_getaffinity(0)))"
            ),
            new_code_cell("%%mlrun -e notebooks -n from-nbclient\nprint('trained')"),
        ]
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MLWS_WORKSPACE", "MLWS_RUN_ID", "PYTHONSTARTUP")}
    client = NotebookClient(
        nb, kernel_name=name, timeout=60, resources={"metadata": {"path": str(instances.folder)}}
    )
    client.execute(env=env)
    assert nb.cells[0].outputs[0]["text"] == "nb 1\n"
    assert "trained" in "".join(o.get("text", "") for o in nb.cells[1].outputs)
    nbformat.validate(nb)
    runs = wait_for(lambda: _ended(instances.runs("notebooks")), what="the run to end")
    assert [(r.name, r.compute_target, r.status.value) for r in runs] == [
        ("from-nbclient", "nb", "completed")
    ]


def _ended(runs: list) -> list | None:
    """`runs` once every one of them has ended."""
    return runs if runs and all(run.status.is_terminal for run in runs) else None


def test_instance_kernels_talk_over_encrypted_zmq_and_print_no_plain_tcp_warning(
    instances: Instances, tmp_path: Path
) -> None:
    """The kernel's ZMQ sockets use CurveZMQ keys jupyter_client provisions (nothing else on
    this machine can read its messages off its ports), so ipykernel prints no "running over TCP
    without encryption" warning — which a notebook starting an instance kernel (example 05)
    showed in its cells. The starter below is such a client: its stderr is the kernel's."""
    import subprocess
    import sys

    name = instances.define("sealed", cpus=1)
    script = tmp_path / "starter.py"
    script.write_text(
        "from jupyter_client.manager import start_new_kernel\n"
        f"km, kc = start_new_kernel(kernel_name={name!r})\n"
        "info = km.get_connection_info()\n"
        "reply = kc.execute_interactive('x = 6 * 7', timeout=60)\n"
        "print(bool(info.get('curve_publickey')), bool(info.get('curve_secretkey')), reply['content']['status'])\n"
        "kc.stop_channels()\n"
        "km.shutdown_kernel(now=True)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MLWS_RUN_ID", "PYTHONSTARTUP")}
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "ok"]
    assert "without encryption" not in done.stderr, done.stderr[-2000:]
