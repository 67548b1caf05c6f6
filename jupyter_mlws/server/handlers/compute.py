"""`/mlws/api/v1/compute/...`: compute instances, their kernels and their events.

- `GET/POST /compute/instances`, `GET/PATCH/DELETE /compute/instances/{name}`
- `GET /compute/kernels`, `POST /compute/kernels/{kernel_id}/keepalive`
- `GET /compute/events?instance=&kernel_id=&kind=&limit=`

Decisions: the rules of a definition live in `compute.spec.validate_instance`
(one place, shared with `ws.compute` and the CLI); the body models here only
type the fields, so a wrong type is a pydantic 400 and a broken rule a 400 with
the spec's message. `memory` is accepted as text ("2GiB") or bytes and answered
both ways (`memory_bytes`, and `memory` for people). PATCH changes only the
fields it names; `null` removes a limit. Create, update and delete record a
compute event (the server pushes it to browsers as `changed`) and write or
remove the kernelspec under the `ComputeManager`'s lock; an instance with
running kernels cannot be deleted (409), so no kernel is left without its
definition. Usage and idle shutdown come from the `ComputeManager`
(`server/compute.py`, its idle clocks in `server/idle_shutdown.py`), which
only runs for a local store: without it these routes answer 503.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from ...compute import spec
from ...entities import ComputeEvent, ComputeInstance
from ...errors import Conflict, InvalidParameter, Unavailable
from .base import MLWSHandler, route

MAX_EVENTS = 1000
_TAGS = ("compute",)


class KernelUsage(BaseModel):
    """A running kernel of a compute instance and what it uses now (times in ms since the epoch)."""

    kernel_id: str
    instance: str
    kernelspec: str
    pid: int | None = Field(None, description="The kernel's process (its children are counted too).")
    execution_state: str = Field(description="idle, busy, starting, dead, ...")
    started: int | None = Field(None, description="When the kernel process started.")
    uptime_s: float
    cpu_percent: float = Field(
        description="Of one CPU, summed over the kernel's process tree (100 = one CPU)."
    )
    rss_bytes: int
    memory_limit_bytes: int | None = None
    cpus: int | None = None
    last_activity: int
    idle_shutdown_at: int | None = Field(None, description="When idle shutdown stops it if nothing happens.")
    notebook_path: str | None = None


class ComputeInstanceModel(BaseModel):
    """A compute instance: a named kernel size, offered as the kernelspec `mlws-<name>`."""

    name: str
    cpus: int | None = Field(
        None, description="CPUs the kernel may use (affinity, thread variables); null: all."
    )
    memory_bytes: int | None = Field(None, description="Memory limit; null: none.")
    memory: str | None = Field(None, description="The memory limit for people, e.g. '2 GiB'.")
    gpus: int = 0
    idle_shutdown_minutes: float | None = Field(
        None, description="Idle kernels stop after this; null or 0: never."
    )
    env: dict[str, str] = Field(default_factory=dict)
    python: str | None = Field(None, description="Another Python to run the kernel with; null: the server's.")
    description: str = ""
    created_time: int
    updated_time: int
    kernelspec: str
    kernels: list[KernelUsage] = Field(
        default_factory=list, description="Its kernels running on this server."
    )


class ComputeInstanceList(BaseModel):
    instances: list[ComputeInstanceModel]


_NAME_HELP = "Lowercase letters, digits and '-', starting with a letter or digit, at most 63 characters."
_MEMORY_HELP = "A size such as '2GiB', '512MiB', '1.5GB', or bytes; null: no limit."


class CreateComputeInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description=_NAME_HELP)
    cpus: StrictInt | None = None
    memory: str | StrictInt | None = Field(None, description=_MEMORY_HELP)
    gpus: StrictInt = 0
    idle_shutdown_minutes: StrictFloat | StrictInt | None = None
    env: dict[str, str] | None = None
    python: str | None = None
    description: str = ""


class UpdateComputeInstance(BaseModel):
    """Only the fields given change; `null` removes a limit."""

    model_config = ConfigDict(extra="forbid")
    cpus: StrictInt | None = None
    memory: str | StrictInt | None = Field(None, description=_MEMORY_HELP)
    gpus: StrictInt | None = None
    idle_shutdown_minutes: StrictFloat | StrictInt | None = None
    env: dict[str, str] | None = None
    python: str | None = None
    description: str | None = None


class KernelUsageList(BaseModel):
    kernels: list[KernelUsage]


class KeepAlive(BaseModel):
    kernel_id: str
    idle_shutdown_at: int | None = Field(
        None, description="The new shutdown time (ms); null: never shut down."
    )


class ComputeEventModel(BaseModel):
    """Something that happened to a compute instance or one of its kernels."""

    event_id: int
    target: str = Field(description="The instance's name.")
    kind: str = Field(
        description="created, updated, deleted, kernel_started, kernel_stopped, idle_warning, "
        "idle_shutdown, keep_alive or limit_stopped."
    )
    time: int
    kernel_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ComputeEventList(BaseModel):
    events: list[ComputeEventModel]


class ComputeEventsQuery(BaseModel):
    instance: str | None = None
    kernel_id: str | None = None
    kind: str | None = None
    after_id: int | None = Field(None, description="Only events recorded after this one.")
    limit: int = Field(100, ge=1, le=MAX_EVENTS)


def _definition(**given: Any) -> ComputeInstance:
    return spec.validate_instance(**given)


def _changed(current: ComputeInstance, given: dict[str, Any]) -> ComputeInstance:
    return spec.apply_changes(current, **given)


class ComputeHandler(MLWSHandler):
    """What the compute handlers share: the manager, and instances answered with their kernels."""

    auth_resource = "mlws:compute"

    @property
    def compute(self) -> Any:
        manager = self.settings.get("mlws_compute")
        if manager is None:
            self.services.store  # noqa: B018  (a remote workspace: its own 503 message)
            raise Unavailable(
                "Compute instances are not running on this server (the compute manager is off)."
            )
        return manager

    async def answer(self, instances: list[ComputeInstance]) -> list[ComputeInstanceModel]:
        """The instances as answered: each with its kernels running on this server."""
        usages = await self.compute.kernel_usages()
        return [
            ComputeInstanceModel(
                **instance.to_dict(),
                memory=spec.format_bytes(instance.memory_bytes) if instance.memory_bytes else None,
                kernelspec=instance.kernelspec,
                kernels=[KernelUsage(**u) for u in usages if u["instance"] == instance.name],
            )
            for instance in instances
        ]

    async def write_instance(self, instance: ComputeInstance, status: int = 200) -> None:
        """Answer one instance, with its kernels."""
        self.write_model((await self.answer([instance]))[0], status=status)

    async def write_kernelspec(self, instance: ComputeInstance) -> None:
        await self.services.run(spec.write_kernelspec, instance, self.services.location.workspace)

    async def record_change(
        self, manager: Any, kind: str, name: str, instance: ComputeInstance | None
    ) -> None:
        """After a change made here: its compute event (the manager pushes it to browsers as
        `changed`), and the manager's copy of the definitions (None: deleted)."""
        details = spec.changed_fields(instance) if instance is not None else None
        await self.services.run(self.services.store.record_compute_event, name, kind, details=details)
        if instance is None:
            manager.instances.pop(name, None)
        else:
            manager.instances[name] = instance


class ComputeInstancesHandler(ComputeHandler):
    @route("List compute instances", response=ComputeInstanceList, errors=(403, 503), tags=_TAGS)
    async def get(self) -> None:
        found = await self.services.run(self.services.store.list_compute_targets)
        self.write_model(ComputeInstanceList(instances=await self.answer(found)))

    @route(
        "Create a compute instance (and its kernelspec)",
        body=CreateComputeInstance,
        response=ComputeInstanceModel,
        status=201,
        errors=(400, 403, 409, 503),
        tags=_TAGS,
    )
    async def post(self) -> None:
        body = self.parse_body(CreateComputeInstance)
        instance = await self.services.run(_definition, **body.model_dump())
        manager, store = self.compute, self.services.store
        async with manager.lock:
            created = await self.services.run(store.create_compute_target, instance)
            await self.write_kernelspec(created)
        await self.record_change(manager, "created", created.name, created)
        await self.write_instance(created, status=201)


class ComputeInstanceHandler(ComputeHandler):
    @route(
        "Get a compute instance", response=ComputeInstanceModel, errors=(403, 404, 503), tags=_TAGS
    )
    async def get(self, name: str) -> None:
        await self.write_instance(await self.services.run(self.services.store.get_compute_target, name))

    @route(
        "Change a compute instance (its kernelspec too; running kernels keep their limits until restarted)",
        body=UpdateComputeInstance,
        response=ComputeInstanceModel,
        errors=(400, 403, 404, 503),
        tags=_TAGS,
    )
    async def patch(self, name: str) -> None:
        given = self.parse_changes(UpdateComputeInstance)
        manager, store = self.compute, self.services.store
        async with manager.lock:
            current = await self.services.run(store.get_compute_target, name)
            wanted = await self.services.run(_changed, current, given)
            updated = await self.services.run(
                store.update_compute_target, name, **spec.changed_fields(wanted)
            )
            await self.write_kernelspec(updated)
        await self.record_change(manager, "updated", name, updated)
        await self.write_instance(updated)

    @route(
        "Delete a compute instance and its kernelspec (refused while its kernels run)",
        status=204,
        errors=(403, 404, 409, 503),
        tags=_TAGS,
    )
    async def delete(self, name: str) -> None:
        manager, store = self.compute, self.services.store
        async with manager.lock:
            await self.services.run(store.get_compute_target, name)  # 404 first
            running = manager.instance_kernels(name)
            if running:
                raise Conflict(
                    f"Compute instance {name!r} has {len(running)} running kernel"
                    f"{'s' if len(running) != 1 else ''}; shut them down first."
                )
            await self.services.run(store.delete_compute_target, name)
            await self.services.run(spec.remove_kernelspec, name)
        await self.record_change(manager, "deleted", name, None)
        self.write_no_content()


class ComputeKernelsHandler(ComputeHandler):
    @route(
        "Running kernels of compute instances, with their CPU, memory and uptime",
        response=KernelUsageList,
        errors=(403, 503),
        tags=_TAGS,
    )
    async def get(self) -> None:
        usages = await self.compute.kernel_usages()
        self.write_model(KernelUsageList(kernels=[KernelUsage(**u) for u in usages]))


class KeepAliveHandler(ComputeHandler):
    @route(
        "Keep an idle instance kernel running (restarts its idle clock)",
        response=KeepAlive,
        errors=(403, 404, 503),
        tags=_TAGS,
    )
    async def post(self, kernel_id: str) -> None:
        shutdown_at = await self.compute.keepalive(kernel_id)
        self.write_model(KeepAlive(kernel_id=kernel_id, idle_shutdown_at=shutdown_at))


class ComputeEventsHandler(ComputeHandler):
    @route(
        "Compute events, newest first",
        query=ComputeEventsQuery,
        response=ComputeEventList,
        errors=(400, 403, 503),
        tags=_TAGS,
    )
    async def get(self) -> None:
        unknown = sorted(set(self.request.arguments) - set(ComputeEventsQuery.model_fields))
        if unknown:
            raise InvalidParameter(f"Unknown query parameter(s): {', '.join(unknown)}.")
        given: dict[str, Any] = {name: self.get_query_argument(name) for name in self.request.arguments}
        try:
            limit = int(given.pop("limit", "100"))
        except ValueError:
            raise InvalidParameter(f"limit must be an integer from 1 to {MAX_EVENTS}.") from None
        if not 1 <= limit <= MAX_EVENTS:
            raise InvalidParameter(f"limit must be an integer from 1 to {MAX_EVENTS}, not {limit}.")
        after = given.pop("after_id", None)
        if after is not None:
            if not after.isascii() or not after.isdigit() or len(after) > 18:
                raise InvalidParameter(f"after_id must be a non-negative integer, not {after[:40]!r}.")
            given["after_id"] = int(after)
        target = given.pop("instance", None)
        found: list[ComputeEvent] = await self.services.run(
            self.services.store.list_compute_events, target, **given, limit=limit
        )
        self.write_model(ComputeEventList(events=[ComputeEventModel(**e.to_dict()) for e in found]))
