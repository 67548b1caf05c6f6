import * as React from 'react';

import { BrowserModel } from './browserModel';

/** The experiments with their run counts; one opens into its runs table (browser.tsx). */
export function ExperimentList({ model }: { model: BrowserModel }): JSX.Element {
  const experiments = model.experiments;
  return (
    <section className="jp-mlws-experiments" aria-label="Experiments">
      <h3>Experiments</h3>
      {experiments === null ? (
        <div className="jp-mlws-loading">Loading experiments…</div>
      ) : experiments.length === 0 ? (
        <p className="jp-mlws-muted">No experiments yet. Start a run with %%mlrun or mlws.start_run().</p>
      ) : (
        <ul className="jp-mlws-experiment-list">
          {experiments.map(e => (
            <li key={e.experiment_id}>
              <button className="jp-mlws-linkish" onClick={() => model.openExperiment(e.experiment_id)}>
                {e.name}
              </button>{' '}
              <span className="jp-mlws-count" aria-label="runs">
                {model.counts.get(e.experiment_id) ?? ''}
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
