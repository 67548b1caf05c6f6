import * as React from 'react';

import { IRunModel } from '../api/types';
import { IMLWorkspace } from '../tokens';
import { parseCsv } from './runartifacts';
import { FINAL_STATUSES, formatMetric } from './runformat';

/**
 * The run view's "Batch" section (runs/runDetails.tsx) for the run of a
 * batch-scoring job (tag `mlws.batch` = "1"; docs/batch.md).
 *
 * - Progress is the run's latest `batch.*` metrics, which the driver
 *   (jobs/batch.py) logs while it runs: mini-batches done and failed of the
 *   total, rows and rows per second, failed items. It is live because the
 *   run is: a metrics event reloads the run (runViewModel.ts).
 * - The failed items are the artifact `outputs/failures.csv`, which the
 *   driver writes once, at the end, when items failed. It is read when the
 *   run has ended (a job's artifacts are uploaded before its run is marked
 *   ended); only its first lines are listed, the file has them all.
 * - Everything is text: file names and error messages are the data's.
 */

/** The artifact the driver writes when items failed. */
export const FAILURES_ARTIFACT = 'outputs/failures.csv';
/** At most this many failed items are listed. */
const SHOWN = 50;
/** Of failures.csv only this much is read (the lines shown are at its start). */
const READ_BYTES = 64 * 1024;

/** True for the run of a batch-scoring job. */
export function isBatchRun(run: IRunModel): boolean {
  return run.tags?.['mlws.batch'] === '1';
}

interface IFailure {
  miniBatch: string;
  item: string;
  error: string;
}

interface IFailures {
  items: IFailure[];
  /** The file has more lines than are listed. */
  more: boolean;
}

async function readFailures(workspace: IMLWorkspace, runId: string): Promise<IFailures | null> {
  const listed = await workspace.api.listArtifacts(runId);
  if (!listed.artifacts.some(a => a.path === FAILURES_ARTIFACT)) {
    return null;
  }
  const blob = await (await workspace.api.downloadArtifact(runId, FAILURES_ARTIFACT)).blob();
  const cut = blob.size > READ_BYTES;
  const rows = parseCsv(await blob.slice(0, READ_BYTES).text(), SHOWN + 2);
  const [head, ...body] = rows;
  if (cut && body.length > 0) {
    body.pop(); // it may end mid-line
  }
  const column = (name: string) => (head ?? []).indexOf(name);
  const [batch, item, error] = [column('mini_batch'), column('item'), column('error')];
  return {
    items: body.slice(0, SHOWN).map(r => ({ miniBatch: r[batch] ?? '', item: r[item] ?? '', error: r[error] ?? '' })),
    more: cut || body.length > SHOWN
  };
}

function count(metrics: NonNullable<IRunModel['metrics']>, key: string): number | null {
  const value = metrics[`batch.${key}`];
  return typeof value === 'number' ? value : null;
}

export function RunBatch({ workspace, run }: { workspace: IMLWorkspace; run: IRunModel }): JSX.Element {
  const metrics = run.metrics ?? {};
  const total = count(metrics, 'mini_batches_total');
  const done = count(metrics, 'mini_batches_done') ?? 0;
  const failedBatches = count(metrics, 'mini_batches_failed') ?? 0;
  const itemsFailed = count(metrics, 'items_failed') ?? 0;
  const rows = count(metrics, 'rows') ?? 0;
  const rate = count(metrics, 'rows_per_s');
  const ended = FINAL_STATUSES.includes(run.status);
  const [failures, setFailures] = React.useState<IFailures | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    setFailures(null);
    setError(null);
    if (!ended) {
      return;
    }
    let live = true;
    readFailures(workspace, run.run_id)
      .then(found => live && setFailures(found))
      .catch(reason => live && setError(`The failed items could not be read: ${reason?.message ?? reason}`));
    return () => {
      live = false;
    };
  }, [workspace, run.run_id, ended]);
  const progress: [string, string][] =
    total === null
      ? []
      : [
          ['Mini-batches', `${done} of ${total} done` + (failedBatches > 0 ? ` · ${failedBatches} failed` : '')],
          ['Rows', String(rows) + (rate !== null ? ` · ${formatMetric(Number(rate.toFixed(1)))} rows/s` : '')],
          ['Failed items', String(itemsFailed)]
        ];
  return (
    <section className="jp-mlws-run-section jp-mlws-run-batch" aria-label="Batch">
      <h4>Batch</h4>
      {total === null ? (
        <p className="jp-mlws-muted">{ended ? 'No progress was recorded.' : 'Planning the mini-batches…'}</p>
      ) : (
        <table className="jp-mlws-kv" aria-label="Batch progress">
          <tbody>
            {progress.map(([key, value]) => (
              <tr key={key}>
                <th scope="row">{key}</th>
                <td>{value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {error !== null && (
        <div className="jp-mlws-inline-error" role="alert">
          {error}
        </div>
      )}
      {!ended && itemsFailed > 0 && (
        <p className="jp-mlws-muted">The failed items are listed when the job ends.</p>
      )}
      {failures !== null && failures.items.length > 0 && (
        <>
          <h5>Failed items</h5>
          <ul className="jp-mlws-run-batch-failures" aria-label="Failed items">
            {failures.items.map((f, i) => (
              <li key={i} aria-label={`Failed item ${f.item}`}>
                <code>{f.item}</code> <span className="jp-mlws-muted">mini-batch {f.miniBatch}</span>
                <div className="jp-mlws-run-batch-error" title={f.error}>
                  {f.error}
                </div>
              </li>
            ))}
          </ul>
          {failures.more && <p className="jp-mlws-muted">More in {FAILURES_ARTIFACT} (Artifacts).</p>}
        </>
      )}
    </section>
  );
}
