"""The kernel provisioner of compute instances (`mlws-instance`, entry point group
`jupyter_client.kernel_provisioners`).

Who calls this: jupyter_client's `KernelManager`, for every kernel started from an
instance's kernelspec `mlws-<name>` (`compute.spec.kernelspec_json` names this provisioner
and passes the instance and workspace as its config). So it works from any Jupyter client:
jupyter_server/JupyterLab, nbclient, papermill, `jupyter console`. The hooks, in the order
`KernelManager` calls them:

- `pre_launch`: takes CPUs (least-used of this process's affinity set) and GPUs (detected,
  least-used) from the process-local ledgers, builds the kernel's environment and the
  child setup; a request the machine cannot meet fails here with a clear message;
- `launch_kernel`: starts the kernel (LocalProvisioner's `Popen`, with our `preexec_fn`:
  CPU affinity, `RLIMIT_AS`, the cgroup v2 move where delegated), then the RSS watchdog;
- `poll`/`wait`/`send_signal`: LocalProvisioner's;
- `terminate`/`kill`/`cleanup`: stop the watchdog and give the CPUs/GPUs back (`cleanup`
  runs on shutdown and between the halves of a restart, whose `pre_launch` takes again).

The kernel's environment, in order (later wins): the launch env; MLWS_WORKSPACE,
MLWS_COMPUTE_TARGET, MLWS_INSTANCE_CPUS, MLWS_MEMORY_LIMIT; PYTHONSTARTUP →
`notebook/kernel_startup.py` (the IPython extension loads without `%load_ext`; a user's own
PYTHONSTARTUP, from the launch env or the instance's env, is handed on as
MLWS_USER_PYTHONSTARTUP and runs after it); the thread-count variables; the CUDA variables;
the instance's own env.

Decisions: the launch path imports no store (SQLAlchemy) and reads nothing but the
kernelspec: a limit stop opens the store (`compute.limits`). Resource bookkeeping lives in
module-level ledgers (`compute.resources`), never in class attributes. A memory limit
without cgroup v2 is `RLIMIT_AS` (limit + `address_space_headroom`, see
`resources.DEFAULT_AS_HEADROOM`) plus the watchdog; GPU kernels get the watchdog only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import Dict, Float, Integer, Unicode

from ..entities import ComputeInstance
from . import resources
from .limits import KernelLimits, stop_for_limit
from .resources import CPU_LEDGER, GPU_LEDGER, ResourceUnavailable
from .watchdog import DEFAULT_INTERVAL, RssWatchdog

KERNEL_STARTUP = str(Path(__file__).resolve().parent.parent / "notebook" / "kernel_startup.py")


def _curve_ready(python: str | None) -> bool:
    """Whether an instance kernel's ZMQ transport can be encrypted (CurveZMQ, provisioned by
    jupyter_client as `transport_encryption="required"`): pyzmq built with curve, and the
    kernel runs this interpreter's ipykernel, which reads curve keys from its connection file.
    Encrypted, nothing on this machine can read a kernel's messages off its ports, and
    ipykernel no longer prints "Kernel is running over TCP without encryption" — which landed
    in the cells of a notebook that started an instance kernel (fd-level output capture). A
    kernel on another interpreter (`python=` of the instance) keeps jupyter_client's default."""
    import sys

    if python and os.path.realpath(python) != os.path.realpath(sys.executable):
        return False
    try:
        import zmq
        from ipykernel.kernelapp import IPKernelApp
    except ImportError:
        return False
    return bool(zmq.has("curve")) and IPKernelApp.class_traits().get("curve_secretkey") is not None


class InstanceProvisioner(LocalProvisioner):
    """Starts a compute instance's kernel on this machine with the instance's limits."""

    instance = Dict(help="The compute instance (ComputeInstance.to_dict()), from the kernelspec.")
    workspace = Unicode("", help="The workspace the instance belongs to (path or URL), from the kernelspec.")
    address_space_headroom = Integer(
        resources.DEFAULT_AS_HEADROOM,
        config=True,
        help="Bytes of address space allowed beyond the memory limit (RLIMIT_AS = limit + headroom).",
    )
    watchdog_interval = Float(DEFAULT_INTERVAL, config=True, help="Seconds between RSS samples.")

    cpus: list[int] | None = None
    gpus: list[int] | None = None
    limits: KernelLimits | None = None
    _watchdog: RssWatchdog | None = None
    _cgroup: Path | None = None
    #: Why the watchdog last stopped a kernel of this provisioner (None: never). It outlives
    #: the automatic restart that jupyter_server's restarter then makes.
    stopped_reason: str | None = None

    @property
    def spec(self) -> ComputeInstance:
        return ComputeInstance.from_dict(dict(self.instance))

    # --- lifecycle -----------------------------------------------------------------------

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Take CPUs/GPUs, then build the command and the environment (see the module docstring)."""
        if not self.instance.get("name"):
            raise ValueError(
                f"kernelspec {self.kernel_spec.display_name!r}: its provisioner config names no "
                "compute instance (rewrite it with `jupyter mlws compute update`)"
            )
        spec = self.spec
        self._release()
        try:
            launch_env = kwargs.get("env") or os.environ
            gpus_detected = self._take(spec, launch_env)
            if "transport_encryption" not in kwargs and _curve_ready(spec.python):
                kwargs["transport_encryption"] = "required"  # see _curve_ready
            kwargs = await super().pre_launch(**kwargs)
            env = kwargs["env"]
            env.update(self._instance_env(spec, env, gpus_detected))
            preexec = self._child_setup(spec)
        except BaseException:
            self._release()
            raise
        if preexec is not None:
            kwargs["preexec_fn"] = preexec
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        """LocalProvisioner's launch (our `preexec_fn` travels in `kwargs`), then the watchdog."""
        try:
            info = await super().launch_kernel(cmd, **kwargs)
        except BaseException:
            self._release()
            raise
        spec = self.spec
        if spec.memory_bytes and self.pid:
            self.limits = KernelLimits(
                instance=spec.name,
                workspace=self.workspace,
                kernel_id=self.kernel_id,
                pid=self.pid,
                pgid=self.pgid,
                memory_bytes=spec.memory_bytes,
            )
            self._watchdog = RssWatchdog(
                self.pid,
                spec.memory_bytes,
                self._on_breach,
                interval=self.watchdog_interval,
                name=self.kernel_id or "",
                log=self.log,
            ).start()
        return info

    async def terminate(self, restart: bool = False) -> None:
        self._stop_watchdog()
        await super().terminate(restart=restart)
        self._release()

    async def kill(self, restart: bool = False) -> None:
        self._stop_watchdog()
        await super().kill(restart=restart)
        self._release()

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        self._stop_watchdog()
        self._release()

    async def get_provisioner_info(self) -> dict[str, Any]:
        """Adds what this kernel holds, so a restarted server can take it again."""
        info = await super().get_provisioner_info()
        info.update(
            {
                "instance": dict(self.instance),
                "workspace": self.workspace,
                "cpus": self.cpus,
                "gpus": self.gpus,
            }
        )
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        await super().load_provisioner_info(provisioner_info)
        self.instance = provisioner_info.get("instance") or self.instance
        self.workspace = provisioner_info.get("workspace") or self.workspace
        owner = self._owner()
        if provisioner_info.get("cpus"):
            self.cpus = CPU_LEDGER.acquire(owner, len(provisioner_info["cpus"]), provisioner_info["cpus"])
        if provisioner_info.get("gpus"):
            self.gpus = GPU_LEDGER.acquire(owner, len(provisioner_info["gpus"]), provisioner_info["gpus"])

    # --- parts ---------------------------------------------------------------------------

    def _owner(self) -> str:
        return self.kernel_id or f"provisioner-{id(self)}"

    def _take(self, spec: ComputeInstance, launch_env: Any) -> bool:
        """Take CPUs and GPUs for `spec`; returns whether this machine has GPUs."""
        owner = self._owner()
        try:
            if spec.cpus:
                self.cpus = CPU_LEDGER.acquire(
                    owner, spec.cpus, resources.allowed_cpus(), why="its CPU affinity set"
                )
            detected = resources.detect_gpus()
            if spec.gpus:
                allowed = resources.allowed_gpus(detected, launch_env.get("CUDA_VISIBLE_DEVICES"))
                self.gpus = GPU_LEDGER.acquire(
                    owner, spec.gpus, [gpu.index for gpu in allowed], why="GPUs detected"
                )
        except ResourceUnavailable as err:
            raise ResourceUnavailable(
                f"Compute instance {spec.name!r} cannot start a kernel: it {err.message}"
            ) from None
        return bool(detected)

    def _instance_env(
        self, spec: ComputeInstance, env: dict[str, str], gpus_detected: bool
    ) -> dict[str, str]:
        ours = {"MLWS_WORKSPACE": self.workspace, "MLWS_COMPUTE_TARGET": spec.name}
        if not self.workspace:
            ours.pop("MLWS_WORKSPACE")
        if spec.cpus:
            ours["MLWS_INSTANCE_CPUS"] = str(spec.cpus)
        if spec.memory_bytes:
            ours["MLWS_MEMORY_LIMIT"] = str(spec.memory_bytes)
        own = dict(spec.env)
        # a startup file of the user's (launch env, or the instance's env) runs after ours
        previous = own.pop("PYTHONSTARTUP", "") or env.get("PYTHONSTARTUP", "")
        if previous and os.path.abspath(previous) != KERNEL_STARTUP:
            ours["MLWS_USER_PYTHONSTARTUP"] = previous
        ours["PYTHONSTARTUP"] = KERNEL_STARTUP
        ours.update(resources.thread_env(spec.cpus))
        ours.update(resources.gpu_env(self.gpus, gpus_detected))
        ours.update(own)
        return ours

    def _child_setup(self, spec: ComputeInstance) -> Any:
        cgroup_procs = None
        if spec.memory_bytes:
            check = resources.find_cgroup_v2(os.environ.get("MLWS_CGROUP_ROOT"))
            if check.root is not None:
                try:
                    self._cgroup = resources.create_kernel_cgroup(
                        check.root, self._owner(), spec.memory_bytes
                    )
                    cgroup_procs = str(self._cgroup / "cgroup.procs")
                except OSError as err:
                    self.log.warning(
                        "cgroup v2 memory limit not applied (%s); using RLIMIT_AS and the watchdog", err
                    )
        address_space = None
        if cgroup_procs is None:
            address_space = resources.address_space_limit(
                spec.memory_bytes, spec.gpus, self.address_space_headroom
            )
        return resources.child_setup(self.cpus, address_space, cgroup_procs)

    def _on_breach(self, rss: int, pids: list[int]) -> None:
        if self.limits is not None:
            self.stopped_reason = stop_for_limit(self.limits, rss, pids, self.log)

    def _stop_watchdog(self) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.stop(timeout=0)

    def _release(self) -> None:
        owner = self._owner()
        CPU_LEDGER.release(owner)
        GPU_LEDGER.release(owner)
        self.cpus = self.gpus = None
        if self._cgroup is not None and resources.remove_kernel_cgroup(self._cgroup):
            self._cgroup = None  # else still busy (the kernel is dying): cleanup tries again
