import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IRunEvent } from './api/types';
import { Row } from './components';
import { ComputeView } from './compute';
import { ComputeModel } from './computeModel';
import { EndpointsView } from './endpoints';
import { EndpointsTabModel } from './endpointsModel';
import { workspaceIcon } from './icons';
import { BrowserModel, WorkspaceBrowser } from './browser';
import { ILineageActions, ModelsView } from './models';
import { ModelsTabModel } from './modelsModel';
import { FINAL_STATUSES } from './runformat';
import { IMLWorkspace } from './tokens';

/** How many live events the activity list keeps. */
const ACTIVITY_SIZE = 8;

/** A run's line: an event carries the run's status as it is now, and an ended run's status wins. */
function describe(event: IRunEvent): string {
  if (event.status && FINAL_STATUSES.includes(event.status)) {
    return event.status;
  }
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

/** What the panel asks its plugin to do (open main-area views). */
export interface IPanelActions {
  openRun: (runId: string) => void;
  compareRuns: (runIds: string[]) => void;
}

/** The panel's tabs. */
export type PanelTab = 'experiments' | 'compute' | 'models' | 'endpoints';

const TABS: [PanelTab, string][] = [
  ['experiments', 'Experiments'],
  ['compute', 'Compute'],
  ['models', 'Models'],
  ['endpoints', 'Endpoints']
];

/** The tab bar; the arrow keys move between tabs (the WAI-ARIA tabs pattern). */
function TabBar({ current, onSelect }: { current: PanelTab; onSelect: (tab: PanelTab) => void }): JSX.Element {
  const onKeyDown = (e: React.KeyboardEvent): void => {
    if (e.key !== 'ArrowRight' && e.key !== 'ArrowLeft') {
      return;
    }
    const index = TABS.findIndex(([tab]) => tab === current);
    const next = TABS[(index + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length][0];
    onSelect(next);
    document.getElementById(`mlws-tab-${next}`)?.focus();
  };
  return (
    <div className="jp-mlws-tabs" role="tablist" aria-label="ML Workspace views" onKeyDown={onKeyDown}>
      {TABS.map(([tab, label]) => (
        <button
          key={tab}
          role="tab"
          id={`mlws-tab-${tab}`}
          tabIndex={current === tab ? 0 : -1}
          aria-selected={current === tab}
          aria-controls={`mlws-tabpanel-${tab}`}
          className={`jp-mlws-tab${current === tab ? ' jp-mod-current' : ''}`}
          onClick={() => onSelect(tab)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

/**
 * The "ML Workspace" panel in the left sidebar, with four tabs:
 * - Experiments: the workspace browser (experiments, then an experiment's
 *   runs table, live), the workspace summary and the live activity. Runs and
 *   comparisons open in the main area.
 * - Compute: the compute instances and their running kernels (compute.tsx),
 *   polled only while that tab of a visible panel is shown.
 * - Models: the model registry (models.tsx): versions, aliases, lineage.
 * - Endpoints: the scoring endpoints (endpoints.tsx): state, traffic, keys, Try it.
 * Each tab's state object polls only while its tab of a visible panel is shown.
 */
export class WorkspacePanel extends ReactWidget {
  constructor(
    private readonly _workspace: IMLWorkspace,
    private readonly _actions: IPanelActions
  ) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-mlws-panel');
    this.title.icon = workspaceIcon;
    this.title.caption = 'ML Workspace';
    this.browser = new BrowserModel(_workspace);
    this.browser.changed.connect(() => this.update(), this);
    this.compute = new ComputeModel(_workspace.api);
    this.models = new ModelsTabModel(_workspace.api);
    this.endpoints = new EndpointsTabModel(_workspace.api);
    _workspace.runEvents.connect(this._onRunEvent, this);
  }

  /** The experiments / runs browser shown at the top of the panel. */
  readonly browser: BrowserModel;

  /** The compute instances of the Compute tab (live compute events refresh it, see computeEvents.ts). */
  readonly compute: ComputeModel;

  /** The registered models of the Models tab. */
  readonly models: ModelsTabModel;

  /** The endpoints of the Endpoints tab. */
  readonly endpoints: EndpointsTabModel;

  /** The tab shown. */
  get tab(): PanelTab {
    return this._tab;
  }

  set tab(tab: PanelTab) {
    if (tab === this._tab) {
      return;
    }
    this._tab = tab;
    this._syncPolling(); // the shown tab refreshes at once, then every 2 s while shown
    this.update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._workspace.runEvents.disconnect(this._onRunEvent, this);
    this.browser.dispose();
    this.compute.dispose();
    this.models.dispose();
    this.endpoints.dispose();
    super.dispose();
  }

  private _syncPolling(): void {
    this.compute.setActive(this.isVisible && this._tab === 'compute');
    this.models.setActive(this.isVisible && this._tab === 'models');
    this.endpoints.setActive(this.isVisible && this._tab === 'endpoints');
  }

  private _tab: PanelTab = 'experiments';

  /** The Models tab's lineage links: a run opens in the main area, an experiment in the Experiments tab. */
  private _lineageActions: ILineageActions = {
    onOpenRun: runId => this._actions.openRun(runId),
    onOpenExperiment: experimentId => {
      this.browser.openExperiment(experimentId);
      this.tab = 'experiments';
    }
  };

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

  protected onAfterHide(): void {
    this._syncPolling();
  }

  protected onAfterShow(): void {
    this._syncPolling();
    void this._workspace.refresh();
    if (this.browser.experimentId === null) {
      void this.browser.loadExperiments();
    } else {
      void this.browser.reloadRuns();
    }
  }

  /**
   * The shown tab's panel. Each is keyed by its tab: React must not reuse one
   * tab's `UseSignal` (which connects to its signal once, on mount) for another.
   */
  private _renderTab(): JSX.Element {
    switch (this._tab) {
      case 'experiments':
        return (
          <div role="tabpanel" id="mlws-tabpanel-experiments" key="experiments">
            <WorkspaceBrowser
              model={this.browser}
              onOpenRun={this._actions.openRun}
              onCompare={this._actions.compareRuns}
            />
            <UseSignal signal={this._workspace.changed}>
              {() => <WorkspaceView workspace={this._workspace} />}
            </UseSignal>
            <Activity events={this._activity} />
          </div>
        );
      case 'compute':
        return (
          <div role="tabpanel" id="mlws-tabpanel-compute" key="compute">
            <UseSignal signal={this.compute.changed}>{() => <ComputeView model={this.compute} />}</UseSignal>
          </div>
        );
      case 'models':
        return (
          <div role="tabpanel" id="mlws-tabpanel-models" key="models">
            <UseSignal signal={this.models.changed}>
              {() => <ModelsView model={this.models} actions={this._lineageActions} />}
            </UseSignal>
          </div>
        );
      case 'endpoints':
        return (
          <div role="tabpanel" id="mlws-tabpanel-endpoints" key="endpoints">
            <UseSignal signal={this.endpoints.changed}>{() => <EndpointsView model={this.endpoints} />}</UseSignal>
          </div>
        );
    }
  }

  render(): JSX.Element {
    return (
      <div className="jp-mlws-panel-body">
        <header className="jp-mlws-header">
          <h2 tabIndex={-1}>ML Workspace</h2>
        </header>
        <TabBar current={this._tab} onSelect={tab => (this.tab = tab)} />
        {this._renderTab()}
      </div>
    );
  }
}
