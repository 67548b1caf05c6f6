"""`ws.compute`: the workspace's compute instances from Python (DESIGN.md §5).

    ws.compute.create_instance("cpu-small", cpus=1, memory="2GiB", gpus=0, idle_shutdown_minutes=60)
    ws.compute.instances()            # DataFrame; instance X is kernelspec "mlws-X"

Creating, changing or deleting an instance writes the store, records the event
and (re)writes its kernelspec in this user's Jupyter data dir, so the kernel
choice appears in JupyterLab's Launcher (after its next kernelspec refresh),
nbclient, papermill and `jupyter console` at once. Deleting an instance does
not stop kernels already running on it (the server's REST API refuses to
delete while any do; from Python the caller decides).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..compute import spec
from ..entities import ComputeInstance

if TYPE_CHECKING:
    import pandas as pd

    from ..store.base import MetadataStore
    from .workspace import Workspace

INSTANCE_COLUMNS = [
    "name",
    "kernelspec",
    "cpus",
    "memory",
    "memory_bytes",
    "gpus",
    "idle_shutdown_minutes",
    "python",
    "env",
    "description",
    "created_time",
    "updated_time",
]
EVENT_COLUMNS = ["event_id", "time", "instance", "kind", "kernel_id", "reason", "details"]


class Compute:
    """Compute instances of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def _store(self) -> MetadataStore:
        return self.workspace.store

    @property
    def _where(self) -> str:
        return self.workspace.location.workspace

    @property
    def _local(self) -> bool:
        """A local store: this process writes the kernelspec and records the event. Through a
        server (REST), the server does both on its own machine."""
        return self.workspace.location.store_kind != "rest"

    def create_instance(
        self,
        name: str,
        cpus: int | None = None,
        memory: str | int | None = None,
        gpus: int = 0,
        idle_shutdown_minutes: float | None = None,
        env: dict[str, str] | None = None,
        python: str | None = None,
        description: str = "",
    ) -> ComputeInstance:
        """Define instance `name` and make `mlws-<name>` a kernel choice; `AlreadyExists` if taken."""
        instance = spec.validate_instance(
            name,
            cpus=cpus,
            memory=memory,
            gpus=gpus,
            idle_shutdown_minutes=idle_shutdown_minutes,
            env=env,
            python=python,
            description=description,
        )
        stored = self._store.create_compute_target(instance)
        if self._local:
            spec.write_kernelspec(stored, self._where)
            self._store.record_compute_event(name, "created", details=spec.changed_fields(stored))
        return stored

    def get_instance(self, name: str) -> ComputeInstance:
        """The definition of instance `name` (`NotFound`)."""
        return self._store.get_compute_target(name)

    def update_instance(self, name: str, **changes: Any) -> ComputeInstance:
        """Change an instance (`cpus=`, `memory=`, `gpus=`, `idle_shutdown_minutes=`, `env=`, ...).

        Kernels started from now on get the new size; running ones keep theirs.
        """
        current = self._store.get_compute_target(name)
        wanted = spec.apply_changes(current, **changes)
        stored = self._store.update_compute_target(name, **spec.changed_fields(wanted))
        if self._local:
            spec.write_kernelspec(stored, self._where)
            self._store.record_compute_event(name, "updated", details=spec.changed_fields(stored))
        return stored

    def delete_instance(self, name: str) -> None:
        """Forget instance `name` and remove its kernel choice (its event history stays)."""
        self._store.delete_compute_target(name)
        if self._local:
            spec.remove_kernelspec(name)
            self._store.record_compute_event(name, "deleted")

    def instances(self) -> pd.DataFrame:
        """One row per instance (columns: INSTANCE_COLUMNS)."""
        import pandas as pd

        rows = []
        for instance in self._store.list_compute_targets():
            row = instance.to_dict()
            row["kernelspec"] = instance.kernelspec
            row["memory"] = spec.format_bytes(instance.memory_bytes) or None
            rows.append(row)
        frame = pd.DataFrame(rows, columns=INSTANCE_COLUMNS)
        for column in ("created_time", "updated_time"):
            frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
        return frame

    def events(
        self, instance: str | None = None, kernel_id: str | None = None, limit: int = 100
    ) -> pd.DataFrame:
        """Recorded compute events, newest first: creations, kernel starts and stops, idle
        shutdowns, keep-alives and limit stops, each with its reason."""
        import pandas as pd

        events = self._store.list_compute_events(instance, kernel_id=kernel_id, limit=limit)
        frame = pd.DataFrame(
            [[e.event_id, e.time, e.target, e.kind, e.kernel_id, e.reason, e.details] for e in events],
            columns=EVENT_COLUMNS,
        )
        frame["time"] = pd.to_datetime(frame["time"], unit="ms", utc=True)
        return frame

    def __repr__(self) -> str:
        return f"<Compute of {self.workspace!r}>"
