/**
 * Shapes of the `/mlws/api/v1` responses.
 *
 * Hand-written for the foundation's one route; the REST API issue replaces
 * this file with types generated from the server's OpenAPI document.
 */

/** `GET /mlws/api/v1/info` */
export interface IWorkspaceInfo {
  /** Where the workspace lives: a folder path, or the store URL for remote stores. */
  workspace: string;
  /** The package version running in the server. */
  version: string;
  /** The metadata store kind: `sqlite`, `postgresql` or `rest`. */
  store_kind: string;
  /** The metadata store URL with any password removed. */
  store_url: string;
  /** The artifact store location (a folder or an fsspec URL). */
  artifact_url: string;
}

/** The JSON body of every error answer. */
export interface IErrorBody {
  error: string;
  message: string;
}
