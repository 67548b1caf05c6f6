import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IRunModel } from '../api/types';
import { IMLWorkspace } from '../tokens';
import { RunDiffSections } from './compareDiff';
import { useRunEventsVersion } from './runEventsVersion';
import { RunsCharts } from './runsCharts';

/**
 * Compare 2+ runs (main area, command `mlws:compare-runs`): one chart per
 * metric with a line per run (runsCharts.tsx: one grid per metric from the
 * server, the view's smoothing, x axis, log scale and grouping), and the
 * params that differ between the runs (a param missing from a run counts as
 * differing; identical params are left out, and counted). Two runs also get
 * their code, cells, environment and outputs compared (`compareDiff.tsx`).
 */

/** Params whose values are not the same in every run, sorted by key. */
export function differingParams(runs: IRunModel[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    Object.keys(run.params ?? {}).forEach(k => keys.add(k));
  }
  return [...keys]
    .filter(key => new Set(runs.map(r => (r.params ?? {})[key] ?? '\u0000missing')).size > 1)
    .sort();
}

function Compare({ workspace, runIds }: { workspace: IMLWorkspace; runIds: string[] }): JSX.Element {
  const [runs, setRuns] = React.useState<IRunModel[] | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  // Events of compared runs refresh the view (coalesced to one per second).
  const version = useRunEventsVersion(workspace, runIds);
  React.useEffect(() => {
    let live = true;
    (async () => {
      const fetched = await Promise.all(runIds.map(id => workspace.api.getRun(id)));
      if (!live) {
        return;
      }
      setRuns(fetched);
    })().catch(reason => live && setError(reason instanceof Error ? reason.message : String(reason)));
    return () => {
      live = false;
    };
  }, [runIds.join(','), version]);

  if (error !== null) {
    return (
      <div className="jp-mlws-error" role="alert">
        <strong>The runs could not be compared.</strong>
        <p>{error}</p>
      </div>
    );
  }
  if (runs === null) {
    return <div className="jp-mlws-loading">Loading {runIds.length} runs…</div>;
  }
  const diff = differingParams(runs);
  const allParams = new Set(runs.flatMap(r => Object.keys(r.params ?? {})));
  const same = allParams.size - diff.length;
  return (
    <section className="jp-mlws-compare" aria-label="Run comparison">
      <h3 className="jp-mlws-run-title">Comparing {runs.length} runs</h3>
      <section className="jp-mlws-run-section" aria-labelledby="jp-mlws-param-diff">
        <h4 id="jp-mlws-param-diff">Params that differ</h4>
        {diff.length === 0 ? (
          <p className="jp-mlws-muted">All params are the same.</p>
        ) : (
          <div className="jp-mlws-table-scroll">
            <table className="jp-mlws-grid" aria-label="Param diff">
              <thead>
                <tr>
                  <th scope="col">Param</th>
                  {runs.map(r => (
                    <th scope="col" key={r.run_id} title={r.run_id}>
                      {r.name}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {diff.map(key => (
                  <tr key={key}>
                    <th scope="row">{key}</th>
                    {runs.map(r => (
                      <td key={r.run_id}>{(r.params ?? {})[key] ?? '—'}</td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {same > 0 && (
          <p className="jp-mlws-muted">
            {same} param{same === 1 ? ' is' : 's are'} the same in every run.
          </p>
        )}
      </section>
      <RunsCharts workspace={workspace} runs={runs} version={version} />
      {runs.length === 2 && (
        <RunDiffSections workspace={workspace} runA={runs[0].run_id} runB={runs[1].run_id} version={version} />
      )}
    </section>
  );
}

/** The content of the main-area compare widget. */
export class CompareWidget extends ReactWidget {
  constructor(
    private readonly _workspace: IMLWorkspace,
    readonly runIds: string[]
  ) {
    super();
    this.addClass('jp-mlws-runpage');
  }

  render(): JSX.Element {
    return <Compare workspace={this._workspace} runIds={this.runIds} />;
  }
}
