import * as React from 'react';

import { IRunModel } from '../api/types';
import { IMLWorkspace } from '../tokens';
import { formatMetric, KNOWN_STATUSES } from './runformat';
import { SweepLines } from './sweepLines';
import { SweepViewModel } from './sweepModel';
import { ParallelChart, ISweepTrial } from './sweepParallel';

export { isSweepRun } from './sweepModel';

/**
 * The run view's "Sweep" section (runview.tsx) for a sweep's parent run
 * (tag `mlws.job.kind` = "sweep"; docs/sweeps.md): the trials table (best
 * first; a trial's name opens its run), the best value so far by trial, the
 * objective of every trial by step (a trial stopped early is dashed grey
 * with an ✕ at its last point) and the parallel coordinates of the
 * parameters and the objective. Live while the sweep runs
 * (sweepModel.ts); the charts are sweepLines.ts and sweepParallel.ts, the
 * same the `SweepDetails` notebook widget draws.
 */

function useModel(workspace: IMLWorkspace, run: IRunModel): SweepViewModel {
  const model = React.useMemo(() => new SweepViewModel(workspace.api, run), [workspace, run.run_id]);
  const [, setVersion] = React.useState(0);
  React.useEffect(() => {
    const changed = () => setVersion(v => v + 1);
    model.changed.connect(changed);
    void model.refresh();
    return () => model.dispose();
  }, [model]);
  React.useEffect(() => model.setRun(run), [model, run]);
  return model;
}

/** A chart object (SweepLines, ParallelChart) living in a div for as long as the component. */
function useChart<T extends { destroy(): void }>(make: (host: HTMLDivElement) => T): [React.RefObject<HTMLDivElement>, T | null] {
  const host = React.useRef<HTMLDivElement>(null);
  const [chart, setChart] = React.useState<T | null>(null);
  React.useEffect(() => {
    if (!host.current) {
      return;
    }
    const made = make(host.current);
    setChart(made);
    return () => made.destroy();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return [host, chart];
}

function StatusCell({ trial }: { trial: ISweepTrial }): JSX.Element {
  const cls = KNOWN_STATUSES.includes(trial.status) ? trial.status : 'other';
  return (
    <span className={`jp-mlws-status jp-mlws-status-${cls}`} data-status={trial.status}>
      {trial.stopped ? '✕ stopped' : trial.status}
    </span>
  );
}

function TrialsTable({
  model,
  onOpenRun
}: {
  model: SweepViewModel;
  onOpenRun?: (runId: string) => void;
}): JSX.Element {
  const names = Object.keys(model.space);
  const best = model.bestRunId;
  return (
    <div className="jp-mlws-table-scroll">
      <table className="jp-mlws-grid jp-mlws-sweep-trials" aria-label="Trials">
        <thead>
          <tr>
            <th scope="col">Trial</th>
            <th scope="col">Status</th>
            <th scope="col">{model.objective}</th>
            {names.map(n => (
              <th key={n} scope="col">
                {n}
              </th>
            ))}
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {model.trials.map(t => (
            <tr
              key={t.run_id}
              aria-label={`Trial ${t.trial ?? t.name}`}
              data-run-id={t.run_id}
              className={t.run_id === best ? 'jp-mlws-sweep-best' : t.stopped ? 'jp-mlws-sweep-stopped' : ''}
            >
              <th scope="row">
                {onOpenRun ? (
                  <button className="jp-mlws-linkish" onClick={() => onOpenRun(t.run_id)} title={`Open run ${t.name}`}>
                    {t.trial ?? t.name}
                  </button>
                ) : (
                  t.trial ?? t.name
                )}
                {t.run_id === best && <span className="jp-mlws-sweep-star"> ★ best</span>}
              </th>
              <td>
                <StatusCell trial={t} />
              </td>
              <td className="jp-mlws-num">{t.value === null ? '—' : formatMetric(t.value)}</td>
              {names.map(n => (
                <td key={n}>{t.params[n] === undefined || t.params[n] === null ? '—' : String(t.params[n])}</td>
              ))}
              <td className="jp-mlws-sweep-reason" title={t.reason}>
                {t.reason}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function summary(model: SweepViewModel): string {
  const run = model.run;
  const params = run.params ?? {};
  const parts = [`${model.trials.length}${params.max_trials ? ` of ${params.max_trials}` : ''} trials`];
  parts.push(`${model.objective} (${model.goal})`);
  if (params.sampling) {
    parts.push(`${params.sampling} sampling`);
  }
  const stopped = model.trials.filter(t => t.stopped).length;
  if (stopped) {
    parts.push(`${stopped} stopped early`);
  }
  const best = model.trials.find(t => t.run_id === model.bestRunId);
  if (best && best.value !== null) {
    parts.push(`best ${formatMetric(best.value)} (trial ${best.trial ?? best.name})`);
  }
  return parts.join(' · ');
}

export function RunSweep({
  workspace,
  run,
  onOpenRun
}: {
  workspace: IMLWorkspace;
  run: IRunModel;
  onOpenRun?: (runId: string) => void;
}): JSX.Element {
  const model = useModel(workspace, run);
  const objective = model.objective;
  const [bestHost, bestChart] = useChart(h => new SweepLines(h, { xLabel: 'trials ended', height: 160, points: true, stepped: true }));
  const [curvesHost, curvesChart] = useChart(h => new SweepLines(h, { xLabel: 'step', height: 240 }));
  const [parallelHost, parallelChart] = useChart(h => new ParallelChart(h, 240));
  React.useEffect(() => {
    bestChart?.update([{ label: `best ${objective}`, x: model.best.x, y: model.best.y }]);
    // Trial order, so colours stay with their trials as the ranking changes.
    const byTrial = [...model.trials].sort((a, b) => (a.trial ?? 0) - (b.trial ?? 0));
    curvesChart?.update(
      byTrial.map(t => {
        const curve = model.curves.get(t.run_id);
        return {
          label: `trial ${t.trial ?? t.name}`,
          x: curve?.x ?? [],
          y: curve?.y ?? [],
          stopped: t.stopped,
          emphasis: t.run_id === model.bestRunId
        };
      })
    );
    parallelChart?.update({
      space: model.space,
      objective,
      goal: model.goal,
      trials: model.trials,
      bestRunId: model.bestRunId
    });
  });
  return (
    <section className="jp-mlws-run-section jp-mlws-run-sweep" aria-label="Sweep">
      <h4>Sweep</h4>
      <p className="jp-mlws-muted" aria-label="Sweep summary">
        {model.loaded ? summary(model) : 'Loading the trials…'}
      </p>
      {model.error !== null && (
        <div className="jp-mlws-inline-error" role="alert">
          {model.error}
        </div>
      )}
      {model.loaded && model.trials.length === 0 ? (
        <p className="jp-mlws-muted">No trials yet.</p>
      ) : (
        <TrialsTable model={model} onOpenRun={onOpenRun} />
      )}
      <div className="jp-mlws-sweep-charts">
        <figure className="jp-mlws-chart" aria-label={`Best ${objective} by trial`}>
          <figcaption>Best {objective} so far, by trials ended</figcaption>
          <div ref={bestHost} className="jp-mlws-chart-canvas" />
        </figure>
        <figure className="jp-mlws-chart" aria-label={`${objective} of every trial by step`}>
          <figcaption>
            {objective} of every trial by step <span className="jp-mlws-muted">(dashed grey ✕: stopped early)</span>
          </figcaption>
          <div ref={curvesHost} className="jp-mlws-chart-canvas" />
        </figure>
        <figure className="jp-mlws-chart" aria-label="Parallel coordinates">
          <figcaption>
            Parameters → {objective}{' '}
            <span className="jp-mlws-muted">(blue: better, orange: worse; dashed grey: stopped early)</span>
          </figcaption>
          <div ref={parallelHost} className="jp-mlws-sweep-parallel" />
        </figure>
      </div>
    </section>
  );
}
