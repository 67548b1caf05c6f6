import { ISignal, Signal } from '@lumino/signaling';

/**
 * The polling shared by the state objects of the Compute, Jobs, Models and
 * Endpoints tabs (compute/computeModel.ts, jobs/jobsModel.ts,
 * models/modelsModel.ts, endpoints/endpointsModel.ts): a `refresh()` every
 * `POLL_MS` (or the subclass's `pollMs`) while the tab is the shown tab of a
 * visible panel and the browser tab is visible;
 * failures back off (doubling, up to `MAX_BACKOFF_MS`) and a success returns
 * to the normal pace.
 *
 * Who calls what: `WorkspacePanel` calls `setActive()`; subclasses implement
 * `load()` (one refresh; throw to report an error) and call `emitChanged()`
 * after their own operations. An answer that arrives after a newer refresh
 * started is dropped (`ticket`), so a slow answer never overwrites a newer one.
 */

export const POLL_MS = 2000;
const MAX_BACKOFF_MS = 30000;

export abstract class PolledState {
  /** `pollMs`: the pace while all goes well (the Jobs tab polls faster than the others). */
  constructor(protected readonly pollMs: number = POLL_MS) {
    this._delay = pollMs;
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /** Emitted whenever what the views show changes. */
  get changed(): ISignal<this, void> {
    return this._changed as unknown as ISignal<this, void>;
  }

  /** The last error of a refresh, or null. */
  error: string | null = null;

  get active(): boolean {
    return this._active;
  }

  /** Start (or stop) polling: only while the tab is shown. */
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

  /** Load once; the views are told either way. */
  async refresh(): Promise<void> {
    const ticket = ++this._ticket;
    try {
      const apply = await this.load();
      if (ticket !== this._ticket) {
        return;
      }
      apply();
      this.error = null;
      this._delay = this.pollMs;
    } catch (reason) {
      if (ticket !== this._ticket) {
        return;
      }
      this.error = message(reason);
      this._delay = Math.min(this._delay * 2, MAX_BACKOFF_MS);
    }
    this._changed.emit();
  }

  /** Fetch what the tab shows; resolve to a function that stores it (called only if still current). */
  protected abstract load(): Promise<() => void>;

  protected emitChanged(): void {
    this._changed.emit();
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
  private _delay: number;
  private _timer: number | null = null;
  private _ticket = 0;
  private _changed = new Signal<PolledState, void>(this);
}

export function message(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
