import { ISignal, Signal } from '@lumino/signaling';

import { MLWorkspaceAPI } from '../api/client';
import { IJobLogChunk } from '../api/jobTypes';
import { message } from '../common/polling';

/** How often a live job's output is asked for: the issue wants the tail ≤ 500 ms behind. */
export const LOG_POLL_MS = 500;
/** After a failed read, the next one waits this long (doubling up to `MAX_BACKOFF_MS`). */
const MAX_BACKOFF_MS = 8000;
/** The tail keeps about this many characters; older output is dropped (the run's log artifact has it all). */
const MAX_CHARS = 200_000;

/**
 * The live log tail of one job, as the Jobs tab shows it under the selected
 * job: `GET /jobs/{id}/logs?since=<cursor>` every `LOG_POLL_MS` while the
 * job may still write (queued or running), appending what came; once the job
 * ended, one last read picks up the rest and the polling stops.
 *
 * Who calls what: `JobsModel` makes one per selected job, calls `follow()`
 * after each refresh of the job list (with whether the job can still write
 * and whether the tab is shown) and `dispose()` when another job is selected.
 * The view renders `chunks`, re-rendered on `changed`.
 *
 * Decisions: one read in flight at a time (the next is scheduled when it
 * answers, so a slow server is never asked twice at once); nothing is read
 * while the browser tab is hidden; the kept text is bounded (`MAX_CHARS`).
 */
export class JobLogTail {
  constructor(
    private readonly _api: MLWorkspaceAPI,
    readonly jobId: string
  ) {
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  /** The output read so far, oldest first (the newest `MAX_CHARS` of it). */
  chunks: IJobLogChunk[] = [];
  /** True once a first read answered. */
  loaded = false;
  /** The last read's error, or null. */
  error: string | null = null;

  /** Emitted when `chunks`, `loaded` or `error` change. */
  get changed(): ISignal<JobLogTail, void> {
    return this._changed;
  }

  /**
   * Poll while `live` (the job is queued or running) and `shown`; when the
   * job has ended, read once more (the end of its output) and stop.
   */
  follow(live: boolean, shown: boolean): void {
    if (!live && (this._live || !this.loaded)) {
      this._pendingFinal = true; // the job just ended (or was never read): read its end once
    }
    this._live = live;
    this._shown = shown;
    if (!shown || this._isDisposed) {
      this._clearTimer();
      return;
    }
    if (live || this._pendingFinal) {
      this._schedule(0);
    }
  }

  dispose(): void {
    this._isDisposed = true;
    this._clearTimer();
    document.removeEventListener('visibilitychange', this._onVisibility);
    Signal.clearData(this);
  }

  private async _read(): Promise<void> {
    this._reading = true;
    this._pendingFinal = false;
    const hadError = this.error !== null;
    try {
      const answer = await this._api.jobLogs(this.jobId, this._cursor);
      if (this._isDisposed) {
        return;
      }
      this._cursor = answer.cursor;
      if (answer.chunks.length > 0) {
        this._append(answer.chunks);
      }
      this.error = null;
      this._delay = LOG_POLL_MS;
      if (answer.chunks.length > 0 || !this.loaded || hadError) {
        this.loaded = true;
        this._changed.emit();
      }
    } catch (reason) {
      if (this._isDisposed) {
        return;
      }
      this.error = message(reason);
      this.loaded = true;
      this._pendingFinal = this._pendingFinal || !this._live; // the end is still to be read
      this._delay = Math.min(this._delay * 2, MAX_BACKOFF_MS);
      this._changed.emit();
    } finally {
      this._reading = false;
    }
    if (this._live || this._pendingFinal) {
      this._schedule(this._pendingFinal && this.error === null ? 0 : this._delay);
    }
  }

  private _append(chunks: IJobLogChunk[]): void {
    const all = this.chunks.concat(chunks);
    let size = all.reduce((sum, c) => sum + c.text.length, 0);
    let drop = 0;
    while (size > MAX_CHARS && drop < all.length - 1) {
      size -= all[drop].text.length;
      drop += 1;
    }
    this.chunks = drop ? all.slice(drop) : all;
  }

  private _schedule(delay: number): void {
    if (this._reading) {
      return; // the read in flight schedules the next one
    }
    this._clearTimer();
    if (!this._shown || this._isDisposed || document.visibilityState === 'hidden') {
      return;
    }
    this._timer = window.setTimeout(() => {
      this._timer = null;
      void this._read();
    }, delay);
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _onVisibility = (): void => {
    if (this._live || this._pendingFinal) {
      this._schedule(0);
    }
  };

  private _cursor = 0;
  private _live = false;
  private _pendingFinal = false;
  private _shown = false;
  private _reading = false;
  private _isDisposed = false;
  private _delay = LOG_POLL_MS;
  private _timer: number | null = null;
  private _changed = new Signal<JobLogTail, void>(this);
}
