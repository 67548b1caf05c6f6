import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { IErrorBody } from './types';

/**
 * The transport under the API client (client.ts), and the only code of the
 * front end that sends requests: it joins the URL under the server's base
 * URL, sends Jupyter's credentials (token or cookie + XSRF) through
 * `ServerConnection`, and turns error bodies `{error, message}` into
 * `MLWorkspaceAPIError`s.
 */

/** The REST root under the server's base URL. */
export const API_ROOT = 'mlws/api/v1';

/**
 * Jupyter's default `cache: 'no-store'` makes `makeRequest` append a bare
 * timestamp to the query as a cache buster, which the API refuses as an
 * unknown query parameter. URLs with a query ask for `no-cache` instead:
 * the browser revalidates every time, and no extra parameter is sent.
 */
function withCache(url: string, init: RequestInit): RequestInit {
  return url.includes('?') && init.cache === undefined ? { ...init, cache: 'no-cache' } : init;
}

/**
 * A request with a JSON body. `ServerConnection` sets the JSON content type
 * only when it holds a token; a page authenticated by cookie would send
 * `text/plain`, which the API refuses.
 */
export function jsonBody(method: string, body: unknown): RequestInit {
  return { method, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } };
}

/** A query parameter's value; an array repeats the parameter, and undefined, null or '' leave it out. */
export type QueryValue = string | number | null | undefined | readonly string[];

/** `endpoint?a=1&b=x` with the given parameters in order (no `?` when none is left). */
export function withQuery(endpoint: string, params: Record<string, QueryValue>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== undefined && one !== null && one !== '') {
        query.append(name, String(one));
      }
    }
  }
  const text = query.toString();
  return text ? `${endpoint}?${text}` : endpoint;
}

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

/** Sends a request to `endpoint` under the API root; no answer at all rejects as `network_error`. */
export async function send(
  settings: ServerConnection.ISettings,
  endpoint: string,
  init: RequestInit = {}
): Promise<Response> {
  const url = URLExt.join(settings.baseUrl, API_ROOT, endpoint);
  try {
    return await ServerConnection.makeRequest(url, withCache(url, init), settings);
  } catch (reason) {
    throw new MLWorkspaceAPIError(
      `The Jupyter server could not be reached: ${String(reason)}`,
      null,
      'network_error'
    );
  }
}

/** A request whose answer is JSON (or empty); an error answer rejects with its message. */
export async function requestJSON<T>(
  settings: ServerConnection.ISettings,
  endpoint: string,
  init: RequestInit = {}
): Promise<T> {
  const response = await send(settings, endpoint, init);
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

/** A request whose answer is used as it came (a file); an error answer rejects with its message. */
export async function requestRaw(settings: ServerConnection.ISettings, endpoint: string): Promise<Response> {
  const response = await send(settings, endpoint);
  if (!response.ok) {
    let message = `The server answered ${response.status} ${response.statusText}.`;
    let code = 'http_error';
    try {
      const err = (await response.json()) as Partial<IErrorBody>;
      message = err.message ?? message;
      code = err.error ?? code;
    } catch {
      // not JSON: keep the status line
    }
    throw new MLWorkspaceAPIError(message, response.status, code);
  }
  return response;
}
