import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IMLWorkspace } from './tokens';
import { workspaceIcon } from './icons';

/** The id of the sidebar widget: tests and layout restoration rely on it. */
export const SIDEBAR_ID = 'mlws-sidebar';

interface IRowProps {
  label: string;
  value: string;
}

function Row({ label, value }: IRowProps): JSX.Element {
  return (
    <div className="jp-mlws-row">
      <dt className="jp-mlws-label">{label}</dt>
      <dd className="jp-mlws-value" title={value}>
        {value}
      </dd>
    </div>
  );
}

/** Renders the workspace model; holds no state of its own. */
function WorkspaceView({ workspace }: { workspace: IMLWorkspace }): JSX.Element {
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
    <dl className="jp-mlws-info" aria-label="Workspace information">
      <Row label="Workspace" value={info.workspace} />
      <Row label="Store" value={`${info.store_kind} · ${info.store_url}`} />
      <Row label="Artifacts" value={info.artifact_url} />
      <Row label="Version" value={info.version} />
    </dl>
  );
}

/**
 * The "ML Workspace" panel in the left sidebar.
 *
 * For now it shows where the workspace lives; experiments, runs, compute,
 * models and endpoints grow into it as those capabilities land.
 */
export class WorkspacePanel extends ReactWidget {
  constructor(private readonly _workspace: IMLWorkspace) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-mlws-panel');
    this.title.icon = workspaceIcon;
    this.title.caption = 'ML Workspace';
  }

  protected onAfterShow(): void {
    void this._workspace.refresh();
  }

  render(): JSX.Element {
    return (
      <div className="jp-mlws-panel-body">
        <header className="jp-mlws-header">
          <h2>ML Workspace</h2>
        </header>
        <UseSignal signal={this._workspace.changed}>
          {() => <WorkspaceView workspace={this._workspace} />}
        </UseSignal>
      </div>
    );
  }
}
