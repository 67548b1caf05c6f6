import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { RunBody } from './runBody';
import { RunDetails } from './runDetails';
import { RunReplay } from './runReplay';
import { isSweepRun, RunSweep } from './runSweep';
import { RunViewModel } from './runViewModel';

/**
 * The main-area run view (`mlws:open-run`): its state is `RunViewModel`
 * (runViewModel.ts), the side column `RunDetails` (runDetails.tsx), the rest
 * `RunBody` (runBody.tsx: charts, log, artifacts, code); a sweep's run
 * also the trials above them (runSweep.tsx); a finished run that is not
 * itself a replay the Replay section (runReplay.tsx).
 */

export interface IRunPageProps {
  model: RunViewModel;
  onGoToCell?: (notebookPath: string, cellId: string | null) => void;
  /** Show a data version the run read in the panel's Data tab. */
  onOpenData?: (name: string, version: number) => void;
  /** Open another run (a sweep's trial) in its own run view. */
  onOpenRun?: (runId: string) => void;
}

/** The whole run view (main area): details, params, charts, log, artifacts, code. */
export function RunPage({ model, onGoToCell, onOpenData, onOpenRun }: IRunPageProps): JSX.Element {
  const run = model.run;
  return (
    <section className="jp-mlws-runview" aria-label={run ? `Run ${run.name}` : 'Run'}>
      {model.error !== null && (
        <div className="jp-mlws-error" role="alert">
          <strong>The run {model.runId} could not be shown.</strong>
          <p>{model.error}</p>
          <button className="jp-mod-styled jp-mod-accept" onClick={() => void model.reload()}>
            Try again
          </button>
        </div>
      )}
      {model.loading && <div className="jp-mlws-loading">Loading run {model.runId}…</div>}
      {run !== null && (
        <div className="jp-mlws-runpage-columns">
          <div className="jp-mlws-runpage-side">
            <RunDetails model={model} run={run} onGoToCell={onGoToCell} onOpenData={onOpenData} />
          </div>
          <div className="jp-mlws-runpage-main">
            {isSweepRun(run) && <RunSweep workspace={model.workspace} run={run} onOpenRun={onOpenRun} />}
            <RunBody workspace={model.workspace} run={run} />
            {run.status !== 'running' && run.status !== 'queued' && run.source_kind !== 'replay' && (
              <RunReplay workspace={model.workspace} run={run} onOpenRun={onOpenRun} />
            )}
          </div>
        </div>
      )}
    </section>
  );
}

/** The content of the main-area run widget (`mlws:open-run`). */
export class RunWidget extends ReactWidget {
  constructor(
    readonly model: RunViewModel,
    private readonly _actions: Omit<IRunPageProps, 'model'> = {}
  ) {
    super();
    this.addClass('jp-mlws-runpage');
    void model.reload();
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <RunPage model={this.model} {...this._actions} />}
      </UseSignal>
    );
  }
}
