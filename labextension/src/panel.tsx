import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IRunEvent } from './api/types';
import { Row } from './components';
import { workspaceIcon } from './icons';
import { RunView, RunViewModel } from './runview';
import { IMLWorkspace } from './tokens';

/** How many live events the activity list keeps. */
const ACTIVITY_SIZE = 8;

function describe(event: IRunEvent): string {
  switch (event.action) {
    case 'created':
      return `started (${event.status ?? 'running'})`;
    case 'metrics':
      return 'logged metrics';
    case 'updated':
      return event.status ?? 'updated';
    default:
      return 'changed';
  }
}

/** The last run events pushed by the server, newest first (text only: names are user input). */
function Activity({ events }: { events: IRunEvent[] }): JSX.Element {
  return (
    <section className="jp-mlws-activity" aria-label="Run activity">
      <h3>Live activity</h3>
      {events.length === 0 ? (
        <p className="jp-mlws-muted">No run activity since this page opened.</p>
      ) : (
        <ul>
          {events.map((event, i) => (
            <li key={`${event.run_id}-${i}`}>
              <span className="jp-mlws-run-name">{event.name ?? event.run_id.slice(0, 8)}</span>{' '}
              {describe(event)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The id of the sidebar widget: tests and layout restoration rely on it. */
export const SIDEBAR_ID = 'mlws-sidebar';

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

/**
 * The "ML Workspace" panel in the left sidebar.
 *
 * Two views: the workspace summary (where the workspace lives, live run
 * activity) and one run (`showRun`, used by the `mlws:open-run` command);
 * the run view's "Back" returns to the summary. Experiments, runs tables,
 * compute, models and endpoints grow into it as those capabilities land.
 */
export class WorkspacePanel extends ReactWidget {
  constructor(private readonly _workspace: IMLWorkspace) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-mlws-panel');
    this.title.icon = workspaceIcon;
    this.title.caption = 'ML Workspace';
    _workspace.runEvents.connect(this._onRunEvent, this);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._workspace.runEvents.disconnect(this._onRunEvent, this);
    this._runView?.dispose();
    this._runView = null;
    super.dispose();
  }

  /** The id of the run shown, or null while the summary is shown. */
  get shownRunId(): string | null {
    return this._runView?.runId ?? null;
  }

  /** Show one run (fetched now, then kept live by run events). */
  showRun(runId: string): void {
    this._runView?.dispose();
    this._runView = new RunViewModel(this._workspace, runId);
    // The model's changes re-render the panel; disposing the model disconnects.
    this._runView.changed.connect(() => this.update(), this);
    void this._runView.reload();
    this.update();
  }

  /** Back to the workspace summary; focus goes to the panel's heading. */
  showSummary(): void {
    this._runView?.dispose();
    this._runView = null;
    this.update();
    requestAnimationFrame(() => this.node.querySelector<HTMLElement>('.jp-mlws-header h2')?.focus());
  }

  private _onRunEvent(_: IMLWorkspace, event: IRunEvent): void {
    if (event.action === 'resync') {
      return;
    }
    // Several events of one run in a row collapse into the newest.
    const rest = this._activity.filter(e => e.run_id !== event.run_id);
    this._activity = [event, ...rest].slice(0, ACTIVITY_SIZE);
    this.update();
  }

  private _activity: IRunEvent[] = [];
  private _runView: RunViewModel | null = null;

  protected onAfterShow(): void {
    void this._workspace.refresh();
    void this._runView?.reload();
  }

  render(): JSX.Element {
    return (
      <div className="jp-mlws-panel-body">
        <header className="jp-mlws-header">
          <h2 tabIndex={-1}>ML Workspace</h2>
        </header>
        {this._runView !== null ? (
          <RunView model={this._runView} onBack={() => this.showSummary()} />
        ) : (
          <>
            <UseSignal signal={this._workspace.changed}>
              {() => <WorkspaceView workspace={this._workspace} />}
            </UseSignal>
            <Activity events={this._activity} />
          </>
        )}
      </div>
    );
  }
}
