import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';

import { MLWorkspaceAPI } from './api/client';
import { IRunEvent, IWorkspaceInfo } from './api/types';

/**
 * The workspace service that the main plugin provides.
 *
 * Later plugins (runs table, compute, registry, endpoints) require this token
 * instead of talking to the server themselves: it owns the one API client and
 * the last known workspace information.
 */
export interface IMLWorkspace {
  /** The one client of the `/mlws/api/v1` REST API. */
  readonly api: MLWorkspaceAPI;
  /** The last workspace information fetched, or null before the first answer. */
  readonly info: IWorkspaceInfo | null;
  /** The last error met while asking the server, or null. */
  readonly error: string | null;
  /** Emitted whenever `info` or `error` changes. */
  readonly changed: ISignal<IMLWorkspace, void>;
  /**
   * Live run activity pushed by the server (run created, status changed, metrics
   * appended), relayed from Jupyter's event bus. Views refresh what they show.
   */
  readonly runEvents: ISignal<IMLWorkspace, IRunEvent>;
  /** Ask the server again; resolves once `info`/`error` are updated. */
  refresh(): Promise<void>;
}

export const IMLWorkspace = new Token<IMLWorkspace>(
  'jupyter-mlws:IMLWorkspace',
  'The ML workspace: its REST client and the workspace information.'
);
