import { ISignal, Signal } from '@lumino/signaling';

import { MLWorkspaceAPIError } from '../api/client';
import { IRunEvent, IRunModel } from '../api/types';
import { IMLWorkspace } from '../tokens';

/**
 * The run view of the sidebar panel: one run's name, live status, timing,
 * source, params, tags and latest metrics.
 *
 * Opened by the `mlws:open-run` command (the run card of a `%%mlrun` cell
 * links to it). Decisions:
 * - The model fetches through `IMLWorkspace.api` (the one API client) and
 *   refetches the whole run when a run event for it arrives (status changed,
 *   metrics appended, or a `resync`). Reloads are coalesced: while one request
 *   is in flight, further events mark the run stale and one more request
 *   follows, so a burst of metric events costs at most two requests and the
 *   last answer is never older than the last event.
 * - The experiment's name is fetched once per experiment id (a run's GET does
 *   not carry it).
 * - Errors (an unknown run answers 404) are shown in the view as the
 *   server's message, in a `role="alert"` box; the view never throws.
 * - A running run's duration ticks every second on the client; finished runs
 *   show `end - start`.
 * - Everything is rendered as text: names, params and tags are user input.
 */
export class RunViewModel {
  constructor(
    private readonly _workspace: IMLWorkspace,
    readonly runId: string
  ) {
    this.workspace = _workspace;
    _workspace.runEvents.connect(this._onRunEvent, this);
  }

  /** The workspace the run is read from. */
  readonly workspace: IMLWorkspace;

  /** The run as last fetched, or null before the first answer (or after a 404). */
  get run(): IRunModel | null {
    return this._run;
  }

  /** The name of the run's experiment, or null while unknown. */
  get experimentName(): string | null {
    return this._experimentName;
  }

  /** The last error met while fetching the run, or null. */
  get error(): string | null {
    return this._error;
  }

  /** True until the first answer (run or error) arrived. */
  get loading(): boolean {
    return this._run === null && this._error === null;
  }

  /** Emitted whenever `run`, `experimentName` or `error` changes. */
  get changed(): ISignal<RunViewModel, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._workspace.runEvents.disconnect(this._onRunEvent, this);
    Signal.clearData(this);
  }

  /** Fetch the run again (coalesced with a request already in flight). */
  reload(): Promise<void> {
    if (this._inFlight !== null) {
      this._stale = true;
      return this._inFlight;
    }
    this._inFlight = this._load().finally(() => {
      this._inFlight = null;
      if (this._stale && !this._isDisposed) {
        this._stale = false;
        void this.reload();
      }
    });
    return this._inFlight;
  }

  private async _load(): Promise<void> {
    const api = this._workspace.api;
    try {
      const run = await api.getRun(this.runId);
      if (this._isDisposed) {
        return;
      }
      if (run.experiment_id !== this._experimentId) {
        this._experimentId = run.experiment_id;
        this._experimentName = null;
        try {
          this._experimentName = (await api.getExperiment(run.experiment_id)).name;
        } catch {
          // The experiment's id stays visible; its name is a nicety.
        }
      }
      this._run = run;
      this._error = null;
    } catch (reason) {
      if (reason instanceof MLWorkspaceAPIError && reason.status === 404) {
        this._run = null;
      }
      this._error = reason instanceof Error ? reason.message : String(reason);
    }
    if (!this._isDisposed) {
      this._changed.emit();
    }
  }

  private _onRunEvent(_: IMLWorkspace, event: IRunEvent): void {
    if (event.run_id === this.runId || event.action === 'resync') {
      void this.reload();
    }
  }

  private _run: IRunModel | null = null;
  private _experimentId: number | null = null;
  private _experimentName: string | null = null;
  private _error: string | null = null;
  private _inFlight: Promise<void> | null = null;
  private _stale = false;
  private _isDisposed = false;
  private _changed = new Signal<RunViewModel, void>(this);
}
