import * as React from 'react';

import { IArtifactInfo, IRunModel } from '../api/types';
import { JobRunLog } from '../jobs/jobRunLog';
import { IMLWorkspace } from '../tokens';
import { Artifacts, LOG_LINES, useArtifactText } from './runartifacts';
import { Charts } from './runcharts';

function lastLines(text: string, count: number): string {
  const lines = text.split('\n');
  return lines.length <= count ? text : lines.slice(-count).join('\n');
}

/** Everything the main-area run view shows below the run's details. */
export function RunBody({ workspace, run }: { workspace: IMLWorkspace; run: IRunModel }): JSX.Element {
  const [artifacts, setArtifacts] = React.useState<IArtifactInfo[]>([]);
  const running = run.status === 'running' || run.status === 'queued';
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    let live = true;
    workspace.api
      .listArtifacts(run.run_id)
      .then(list => live && setArtifacts(list.artifacts))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [run.run_id, run.status, tick]);
  // The log is rewritten about once a second while the cell runs.
  React.useEffect(() => {
    if (!running) {
      return;
    }
    const timer = window.setInterval(() => setTick(t => t + 1), 2000);
    return () => window.clearInterval(timer);
  }, [running]);
  const has = (path: string) => artifacts.some(a => a.path === path);
  // A job's run shows the job's own output, live (jobs/jobRunLog.tsx).
  const jobId = run.tags?.['mlws.job.id'];
  const log = useArtifactText(workspace, run.run_id, 'logs/output.txt', has('logs/output.txt'), `${tick}/${run.status}`);
  const cell = useArtifactText(workspace, run.run_id, 'code/cell.py', has('code/cell.py'), run.status);
  const history = useArtifactText(workspace, run.run_id, 'snapshot/history.py', has('snapshot/history.py'), run.status);
  // A %%mlrun cell that read names from cells out of order (jupyter_mlws/repro/order.py).
  const outOfOrder = run.tags?.['mlws.out_of_order'];
  return (
    <>
      <Charts workspace={workspace} run={run} />
      <section className="jp-mlws-run-section" aria-label="Log">
        <h4>Log</h4>
        {jobId ? (
          <JobRunLog
            api={workspace.api}
            jobId={jobId}
            attempt={Number(run.tags?.['mlws.job.attempt'] ?? 1)}
            live={running}
          />
        ) : log === null ? (
          <p className="jp-mlws-muted">No log.</p>
        ) : (
          <pre className="jp-mlws-code jp-mlws-log">{lastLines(log, LOG_LINES)}</pre>
        )}
      </section>
      <Artifacts workspace={workspace} runId={run.run_id} artifacts={artifacts} />
      {(cell !== null || history !== null) && (
        <section className="jp-mlws-run-section" aria-label="Code">
          <h4>Code</h4>
          {outOfOrder && (
            <p className="jp-mlws-warning" role="note" aria-label="Out of order">
              ⚠ The cell read names from cells run out of order: {outOfOrder}
            </p>
          )}
          {cell !== null && (
            <>
              <h5>The cell (code/cell.py)</h5>
              <pre className="jp-mlws-code" aria-label="Cell code">
                {cell}
              </pre>
            </>
          )}
          {history !== null && (
            <details>
              <summary>The kernel's history up to the cell (snapshot/history.py)</summary>
              <pre className="jp-mlws-code" aria-label="Kernel history">
                {history}
              </pre>
            </details>
          )}
        </section>
      )}
    </>
  );
}
