import { ISignal, Signal } from '@lumino/signaling';

import { MLWorkspaceAPI } from '../api/client';
import { IComputeInstance, IComputeInstanceBody } from '../api/computeTypes';
import { message, PolledState } from '../common/polling';

/**
 * The state behind the panel's Compute tab: the compute instances with
 * their running kernels, the last error, and the instance operations.
 *
 * Who calls what:
 * - `WorkspacePanel` calls `setActive(true)` while the Compute tab is the
 *   shown tab of a visible panel, `setActive(false)` otherwise.
 * - `watchComputeEvents` (computeEvents.ts) calls `refresh()` on live
 *   compute events and listens to `instancesChanged` to refresh the
 *   kernelspecs (so the Launcher shows or hides an instance's card).
 * - The React views (compute.tsx) display the model and call `create`,
 *   `update`, `remove` and `keepAlive`; they never fetch themselves.
 *
 * Decisions:
 * - One request per refresh: `GET /compute/instances` carries each
 *   instance's kernels with their usage, so the kernel rows need no second call.
 * - Polled as every tab is (common/polling.ts); live events refresh at once in between.
 */

export class ComputeModel extends PolledState {
  constructor(readonly api: MLWorkspaceAPI) {
    super();
  }

  /** Emitted after this page created, changed or deleted an instance (kernelspecs changed on the server). */
  get instancesChanged(): ISignal<ComputeModel, void> {
    return this._instancesChanged;
  }

  /** Instances by name, or null before the first answer. */
  instances: IComputeInstance[] | null = null;
  /** Errors of the last delete or keep-alive, by instance name or kernel id (shown next to them). */
  itemErrors = new Map<string, string>();

  /** One request: `GET /compute/instances` carries each instance's kernels with their usage. */
  protected async load(): Promise<() => void> {
    const list = await this.api.listComputeInstances();
    return () => {
      this.instances = list.instances;
    };
  }

  /** `POST /compute/instances`; rejects with the server's message (the form shows it). */
  async create(body: IComputeInstanceBody): Promise<IComputeInstance> {
    const instance = await this.api.createComputeInstance(body);
    this._instancesChanged.emit();
    await this.refresh();
    return instance;
  }

  /** `PATCH /compute/instances/{name}`; rejects with the server's message. */
  async update(name: string, changes: IComputeInstanceBody): Promise<IComputeInstance> {
    const instance = await this.api.updateComputeInstance(name, changes);
    this._instancesChanged.emit();
    await this.refresh();
    return instance;
  }

  /** `DELETE /compute/instances/{name}`; a refusal (409: kernels still run) is kept in `itemErrors`. */
  async remove(name: string): Promise<boolean> {
    this.itemErrors.delete(name);
    try {
      await this.api.deleteComputeInstance(name);
    } catch (reason) {
      this.itemErrors.set(name, message(reason));
      this.emitChanged();
      return false;
    }
    this._instancesChanged.emit();
    await this.refresh();
    return true;
  }

  /** `POST /compute/kernels/{id}/keepalive`: postpone the kernel's idle shutdown. */
  async keepAlive(kernelId: string): Promise<void> {
    this.itemErrors.delete(kernelId);
    try {
      await this.api.keepKernelAlive(kernelId);
    } catch (reason) {
      this.itemErrors.set(kernelId, message(reason));
    }
    await this.refresh();
  }

  private _instancesChanged = new Signal<ComputeModel, void>(this);
}

export { message };
