import * as React from 'react';

import { IDataVersion } from '../api/dataTypes';
import { formatBytes } from '../compute/compute';
import { formatTime, KNOWN_STATUSES } from '../runs/runformat';
import { IReaders, READERS_LIMIT } from './dataModel';

/**
 * What an opened data version shows under its facts (data.tsx): its files
 * and the runs that read it. Rendered as text only.
 */

/** A version lists at most this many files; the rest are counted. */
export const FILES_SHOWN = 100;

/** The version's files: path and size (the sha256 of each in its tooltip: the sidebar is narrow). */
export function VersionFiles({ version }: { version: IDataVersion }): JSX.Element {
  const shown = version.files.slice(0, FILES_SHOWN);
  const rest = version.files.length - shown.length;
  const ref = `${version.name}:${version.version}`;
  return (
    <div className="jp-mlws-data-files">
      <h5>Files</h5>
      <table className="jp-mlws-kv jp-mlws-data-file-table" aria-label={`Files of ${ref}`}>
        <tbody>
          {shown.map(file => (
            <tr key={file.path} title={`${file.path}\nsha256 ${file.sha256}`}>
              <th scope="row">{file.path}</th>
              <td>{formatBytes(file.size)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rest > 0 && (
        <p className="jp-mlws-muted">
          and {rest} more file{rest === 1 ? '' : 's'} (<code>ws.data.files("{ref}")</code> lists them all)
        </p>
      )}
    </div>
  );
}

/** "Read by": the runs that read the version, newest first; each opens the run view. */
export function VersionReaders({
  readers,
  dataRef,
  onOpenRun
}: {
  readers: IReaders | undefined;
  dataRef: string;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  let body: JSX.Element;
  if (readers === undefined) {
    body = <p className="jp-mlws-loading">Looking for runs…</p>;
  } else if (readers.runs.length === 0) {
    body = (
      <p className="jp-mlws-muted">
        {readers.error === null ? 'No run has read this version yet.' : 'The runs could not be listed.'}
      </p>
    );
  } else {
    body = (
      <ul className="jp-mlws-data-readers" aria-label={`Runs that read ${dataRef}`}>
        {readers.runs.map(run => {
          const status = KNOWN_STATUSES.includes(run.status) ? run.status : 'other';
          return (
            <li key={run.run_id} aria-label={`Run ${run.name}`}>
              <button
                className="jp-mlws-link"
                onClick={() => onOpenRun(run.run_id)}
                title={`Open run ${run.run_id}`}
                aria-label={`Open run ${run.name}`}
              >
                {run.name}
              </button>{' '}
              <span className={`jp-mlws-status jp-mlws-status-${status}`}>{run.status}</span>
              <span className="jp-mlws-muted">
                {run.experiment_name ? ` ${run.experiment_name} · ` : ' '}
                {formatTime(run.start_time)}
              </span>
            </li>
          );
        })}
      </ul>
    );
  }
  return (
    <div className="jp-mlws-data-readers-section">
      <h5>Read by</h5>
      {readers?.error && (
        <div className="jp-mlws-inline-error" role="alert">
          {readers.error}
        </div>
      )}
      {body}
      {readers?.more && <p className="jp-mlws-muted">Showing the newest {READERS_LIMIT} runs.</p>}
    </div>
  );
}
