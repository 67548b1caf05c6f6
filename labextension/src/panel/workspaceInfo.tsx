import * as React from 'react';

import { Row } from '../common/components';
import { IMLWorkspace } from '../tokens';

/** The workspace summary of the Experiments tab; renders the workspace model, holds no state of its own. */
export function WorkspaceView({ workspace }: { workspace: IMLWorkspace }): JSX.Element {
  const info = workspace.info;
  if (workspace.error !== null) {
    return (
      <div className="jp-mlws-error" role="alert">
        <strong>The ML workspace server extension is not answering.</strong>
        <p>{workspace.error}</p>
        <button className="jp-mod-styled jp-mod-accept" onClick={() => void workspace.refresh()}>
          Try again
        </button>
      </div>
    );
  }
  if (info === null) {
    return <div className="jp-mlws-loading">Connecting to the workspace…</div>;
  }
  return (
    <>
      {!info.ready && (
        <div className="jp-mlws-error" role="alert">
          <strong>The workspace's stores are not serving.</strong>
          <p>{info.problem ?? 'The server is still starting.'}</p>
        </div>
      )}
      <dl className="jp-mlws-info" aria-label="Workspace information">
        <Row label="Workspace" value={info.workspace} />
        <Row label="Store" value={`${info.store_kind} · ${info.store_url}`} />
        <Row label="Artifacts" value={info.artifact_url} />
        <Row label="Version" value={info.version} />
      </dl>
    </>
  );
}
