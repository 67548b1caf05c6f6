import { ISignal, Signal } from '@lumino/signaling';

import { MLWorkspaceAPI } from './api/client';
import { IComputeInstance, IComputeInstanceBody } from './api/computeTypes';

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
 * - Polled every `POLL_MS` only while active and the browser tab is visible;
 *   errors back off (doubling, up to `MAX_BACKOFF_MS`); a successful answer
 *   returns to the normal pace. Live events refresh at once in between.
 */

export const POLL_MS = 2000;
const MAX_BACKOFF_MS = 30000;

export class ComputeModel {
  constructor(readonly api: MLWorkspaceAPI) {
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /** Emitted whenever what the views show changes. */
  get changed(): ISignal<ComputeModel, void> {
    return this._changed;
  }

  /** Emitted after this page created, changed or deleted an instance (kernelspecs changed on the server). */
  get instancesChanged(): ISignal<ComputeModel, void> {
    return this._instancesChanged;
  }

  /** Instances by name, or null before the first answer. */
  instances: IComputeInstance[] | null = null;
  /** The last error of a refresh, or null. */
  error: string | null = null;
  /** Errors of the last delete or keep-alive, by instance name or kernel id (shown next to them). */
  itemErrors = new Map<string, string>();

  get active(): boolean {
    return this._active;
  }

  /** Start (or stop) polling: only while the Compute tab is shown. */
  setActive(active: boolean): void {
    if (active === this._active) {
      return;
    }
    this._active = active;
    this._schedule(0);
  }

  dispose(): void {
    document.removeEventListener('visibilitychange', this._onVisibility);
    this._active = false;
    this._clearTimer();
    Signal.clearData(this);
  }

  async refresh(): Promise<void> {
    const ticket = ++this._ticket;
    try {
      const list = await this.api.listComputeInstances();
      if (ticket !== this._ticket) {
        return;
      }
      this.instances = list.instances;
      this.error = null;
      this._delay = POLL_MS;
    } catch (reason) {
      if (ticket !== this._ticket) {
        return;
      }
      this.error = message(reason);
      this._delay = Math.min(this._delay * 2, MAX_BACKOFF_MS);
    }
    this._changed.emit();
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
      this._changed.emit();
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

  private _schedule(delay: number): void {
    this._clearTimer();
    if (!this._active || document.visibilityState === 'hidden') {
      return;
    }
    this._timer = window.setTimeout(async () => {
      this._timer = null;
      await this.refresh();
      this._schedule(this._delay);
    }, delay);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _onVisibility = (): void => {
    this._schedule(0);
  };

  private _active = false;
  private _delay = POLL_MS;
  private _timer: number | null = null;
  private _ticket = 0;
  private _changed = new Signal<ComputeModel, void>(this);
  private _instancesChanged = new Signal<ComputeModel, void>(this);
}

export function message(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
