import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IErrorBody, IExperimentModel, IRunModel, IWorkspaceInfo } from './types';

/** The REST root under the server's base URL. */
export const API_ROOT = 'mlws/api/v1';

/** An answer from the server that was not a success, or no answer at all. */
export class MLWorkspaceAPIError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly code: string
  ) {
    super(message);
    this.name = 'MLWorkspaceAPIError';
  }
}

/**
 * The one module of the front end that talks to the server.
 *
 * Every request goes through `request()`, which joins the URL under the
 * server's base URL, sends Jupyter's credentials (token or cookie + XSRF)
 * through `ServerConnection`, and turns error bodies `{error, message}` into
 * `MLWorkspaceAPIError`s.
 */
export class MLWorkspaceAPI {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** `GET /info`: where the workspace is and what backs it. */
  info(): Promise<IWorkspaceInfo> {
    return this.request<IWorkspaceInfo>('info');
  }

  /** `GET /runs/{run_id}`: one run; an unknown id rejects with status 404. */
  getRun(runId: string): Promise<IRunModel> {
    return this.request<IRunModel>(`runs/${encodeURIComponent(runId)}`);
  }

  /** `GET /experiments/{experiment_id}` */
  getExperiment(experimentId: number): Promise<IExperimentModel> {
    return this.request<IExperimentModel>(`experiments/${encodeURIComponent(String(experimentId))}`);
  }

  async request<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
    const url = URLExt.join(this.serverSettings.baseUrl, API_ROOT, endpoint);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.serverSettings);
    } catch (reason) {
      throw new MLWorkspaceAPIError(
        `The Jupyter server could not be reached: ${String(reason)}`,
        null,
        'network_error'
      );
    }
    const text = await response.text();
    let body: unknown = undefined;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    if (!response.ok) {
      const err = body as Partial<IErrorBody> | undefined;
      const message =
        err?.message ??
        (response.status === 404
          ? 'The jupyter_mlws server extension is not answering (404). Is it installed and enabled? Check `jupyter server extension list`.'
          : `The server answered ${response.status} ${response.statusText}.`);
      throw new MLWorkspaceAPIError(message, response.status, err?.error ?? 'http_error');
    }
    return body as T;
  }
}
