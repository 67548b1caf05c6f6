import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IRunEvent } from '../api/types';
import { workspaceIcon } from '../common/icons';
import { ClustersSection } from '../compute/clusters';
import { ComputeView } from '../compute/compute';
import { ComputeModel } from '../compute/computeModel';
import { DataView } from '../data/data';
import { DataTabModel } from '../data/dataModel';
import { EndpointsView } from '../endpoints/endpoints';
import { EndpointsTabModel } from '../endpoints/endpointsModel';
import { JobsView } from '../jobs/jobs';
import { JobsModel } from '../jobs/jobsModel';
import { ILineageActions, ModelsView } from '../models/models';
import { ModelsTabModel } from '../models/modelsModel';
import { WorkspaceBrowser } from '../runs/browser';
import { BrowserModel } from '../runs/browserModel';
import { IMLWorkspace } from '../tokens';
import { Activity } from './activity';
import { PanelTab, TabBar } from './tabs';
import { WorkspaceView } from './workspaceInfo';

/** How many live events the activity list keeps. */
const ACTIVITY_SIZE = 8;

/** The id of the sidebar widget: tests and layout restoration rely on it. */
export const SIDEBAR_ID = 'mlws-sidebar';

/** What the panel asks its plugin to do (open main-area views). */
export interface IPanelActions {
  openRun: (runId: string) => void;
  compareRuns: (runIds: string[]) => void;
  /** Opens an experiment's Charts view. */
  openCharts?: (experimentId: number) => void;
}

/**
 * The "ML Workspace" panel in the left sidebar, with six tabs:
 * - Experiments: the workspace browser (experiments, then an experiment's
 *   runs table, live), the workspace summary and the live activity. Runs and
 *   comparisons open in the main area.
 * - Compute: the compute instances and their running kernels (compute/compute.tsx),
 *   then the clusters with their nodes, queue and node events (compute/clusters.tsx).
 * - Jobs: the job queue, running and recent jobs, a live log tail, cancel (jobs/jobs.tsx).
 * - Data: the data assets (data/data.tsx): versions, files, and the runs that read each version.
 * - Models: the model registry (models/models.tsx): versions, aliases, lineage.
 * - Endpoints: the scoring endpoints (endpoints/endpoints.tsx): state, traffic, keys, Try it.
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
    this.jobs = new JobsModel(_workspace.api);
    this.data = new DataTabModel(_workspace.api);
    this.models = new ModelsTabModel(_workspace.api);
    this.endpoints = new EndpointsTabModel(_workspace.api);
    _workspace.runEvents.connect(this._onRunEvent, this);
  }

  /** The experiments / runs browser shown at the top of the panel. */
  readonly browser: BrowserModel;

  /** The compute instances of the Compute tab (live compute events refresh it, see compute/computeEvents.ts). */
  readonly compute: ComputeModel;

  /** The jobs of the Jobs tab. */
  readonly jobs: JobsModel;

  /** The data assets of the Data tab. */
  readonly data: DataTabModel;

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

  /**
   * Show a data version in the Data tab (the newest when `version` is null),
   * opened, with its files and readers: the `mlws:open-data` command, from
   * the run view's Data section.
   */
  openData(name: string, version: number | null): Promise<void> {
    this.tab = 'data';
    return this.data.reveal(name, version);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._workspace.runEvents.disconnect(this._onRunEvent, this);
    this.browser.dispose();
    this.compute.dispose();
    this.jobs.dispose();
    this.data.dispose();
    this.models.dispose();
    this.endpoints.dispose();
    super.dispose();
  }

  private _syncPolling(): void {
    this.compute.setActive(this.isVisible && this._tab === 'compute');
    this.jobs.setActive(this.isVisible && this._tab === 'jobs');
    this.data.setActive(this.isVisible && this._tab === 'data');
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
              onCharts={this._actions.openCharts}
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
            <UseSignal signal={this.compute.changed}>
              {() => (
                <>
                  <ComputeView model={this.compute} />
                  <ClustersSection model={this.compute} />
                </>
              )}
            </UseSignal>
          </div>
        );
      case 'jobs':
        return (
          <div role="tabpanel" id="mlws-tabpanel-jobs" key="jobs">
            <UseSignal signal={this.jobs.changed}>
              {() => <JobsView model={this.jobs} onOpenRun={this._actions.openRun} />}
            </UseSignal>
          </div>
        );
      case 'data':
        return (
          <div role="tabpanel" id="mlws-tabpanel-data" key="data">
            <UseSignal signal={this.data.changed}>
              {() => <DataView model={this.data} onOpenRun={this._actions.openRun} />}
            </UseSignal>
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
