/**
 * Names for the shapes of the `/compute` part of the `/mlws/api/v1` API,
 * and the live compute event.
 *
 * The REST shapes are aliases into `schema.ts`, generated from the server's
 * pydantic models (`jlpm gen:api`), so the compiler checks the client
 * against the server. Request bodies are `Partial`: the generator marks
 * fields with defaults as required, but the server fills them in (and a
 * PATCH names only what changes). The live event travels on Jupyter's event
 * bus, not through the REST API, so it is written here after
 * `ComputeLiveEvent` in jupyter_mlws/server/compute.py.
 */
import { components } from './schema';

type Schemas = components['schemas'];

/** A compute instance with its running kernels (`GET /compute/instances/{name}`). */
export type IComputeInstance = Schemas['ComputeInstanceModel'];

/** `GET /compute/instances` */
export type IComputeInstanceList = Schemas['ComputeInstanceList'];

/** One running kernel of an instance, with its usage (times in ms since the epoch). */
export type IKernelUsage = Schemas['KernelUsage'];

/** `GET /compute/kernels` */
export type IKernelUsageList = Schemas['KernelUsageList'];

/** Body of `POST /compute/instances` (name required there) and of `PATCH /compute/instances/{name}` (no name). */
export type IComputeInstanceBody = Partial<Schemas['CreateComputeInstance']>;

/** `POST /compute/kernels/{kernel_id}/keepalive` */
export type IKeepAlive = Schemas['KeepAlive'];

/** `GET /compute/events` */
export type IComputeEventList = Schemas['ComputeEventList'];

/** The event-bus schema id of live compute events (see jupyter_mlws/server/compute.py). */
export const COMPUTE_EVENT_SCHEMA_ID = 'https://events.jupyter.org/jupyter_mlws/compute/v1';

/** A live compute event pushed on Jupyter's event bus. */
export interface IComputeEvent {
  action: 'idle_warning' | 'idle_shutdown' | 'limit_stopped' | 'kernel_started' | 'kernel_stopped' | 'changed';
  instance: string;
  kernel_id: string | null;
  reason: string | null;
  /** `idle_warning`: when the kernel will be shut down (ms since the epoch) */
  shutdown_at: number | null;
}
