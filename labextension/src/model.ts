import { ISignal, Signal } from '@lumino/signaling';

import { MLWorkspaceAPI } from './api/client';
import { IRunEvent, IWorkspaceInfo } from './api/types';
import { IMLWorkspace } from './tokens';

/**
 * The state behind the `IMLWorkspace` token: the last workspace information
 * and the last error. Views listen to `changed`; they never fetch themselves.
 */
export class WorkspaceModel implements IMLWorkspace {
  constructor(readonly api: MLWorkspaceAPI) {}

  get info(): IWorkspaceInfo | null {
    return this._info;
  }

  get error(): string | null {
    return this._error;
  }

  get changed(): ISignal<IMLWorkspace, void> {
    return this._changed;
  }

  get runEvents(): ISignal<IMLWorkspace, IRunEvent> {
    return this._runEvents;
  }

  /** Called by the main plugin for each run event the server pushes. */
  relayRunEvent(event: IRunEvent): void {
    this._runEvents.emit(event);
  }

  async refresh(): Promise<void> {
    try {
      this._info = await this.api.info();
      this._error = null;
    } catch (reason) {
      this._info = null;
      this._error = reason instanceof Error ? reason.message : String(reason);
    }
    this._changed.emit();
  }

  private _info: IWorkspaceInfo | null = null;
  private _error: string | null = null;
  private _changed = new Signal<IMLWorkspace, void>(this);
  private _runEvents = new Signal<IMLWorkspace, IRunEvent>(this);
}
