import * as React from 'react';

import { IRunModel } from '../api/types';
import { IMLWorkspace } from '../tokens';

/**
 * The run view's Replay section: a button that starts `run.replay()` on the
 * server (`POST /runs/{id}/replay`, a process of its own), and the replays of
 * this run so far, newest first: the child runs of kind `replay` with their
 * verdict, first diverging cell and likely cause (tags `mlws.replay.*`,
 * jupyter_mlws/client/replaying.py). While one runs the list is polled.
 */

const POLL_MS = 2000;

export function replayFilter(runId: string): string {
  return `parent_run_id = '${runId.replace(/'/g, "''")}' and source_kind = 'replay'`;
}

export function RunReplay({
  workspace,
  run,
  onOpenRun
}: {
  workspace: IMLWorkspace;
  run: IRunModel;
  onOpenRun?: (runId: string) => void;
}): JSX.Element {
  const [replays, setReplays] = React.useState<IRunModel[]>([]);
  const [starting, setStarting] = React.useState(false);
  const [error, setError] = React.useState<string | null>(null);
  const [tick, setTick] = React.useState(0);
  const pending = starting || replays.some(r => r.status === 'running' || r.status === 'queued');
  React.useEffect(() => {
    let live = true;
    workspace.api
      .searchRuns({ filter: replayFilter(run.run_id), orderBy: ['start_time desc'], limit: 5 })
      .then(page => live && setReplays(page.runs))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [run.run_id, tick]);
  React.useEffect(() => {
    if (!pending) {
      return;
    }
    const timer = window.setInterval(() => setTick(t => t + 1), POLL_MS);
    return () => window.clearInterval(timer);
  }, [pending]);
  const start = async (): Promise<void> => {
    setError(null);
    setStarting(true);
    try {
      await workspace.api.replayRun(run.run_id);
      // the replay's run appears within a few seconds (its process starts a kernel first)
      window.setTimeout(() => setStarting(false), 15_000);
    } catch (reason) {
      setStarting(false);
      setError(reason instanceof Error ? reason.message : String(reason));
    }
  };
  return (
    <section className="jp-mlws-run-section" aria-label="Replay">
      <h4>Replay</h4>
      <p className="jp-mlws-muted">
        Re-execute this run's cells in a fresh kernel from its code snapshot and compare them with what was recorded.
      </p>
      <button className="jp-mod-styled jp-mod-accept" disabled={pending} onClick={() => void start()}>
        {pending ? 'Replaying…' : 'Replay'}
      </button>
      {error !== null && (
        <p className="jp-mlws-error" role="alert">
          The replay could not start: {error}
        </p>
      )}
      {replays.length > 0 && (
        <ul className="jp-mlws-replays" aria-label="Replays of this run">
          {replays.map(replay => {
            const tags = replay.tags ?? {};
            const verdict = tags['mlws.replay.verdict'] ?? (replay.status === 'running' ? 'running…' : replay.status);
            return (
              <li key={replay.run_id} data-verdict={tags['mlws.replay.verdict'] ?? ''}>
                <strong className={`jp-mlws-replay-${tags['mlws.replay.verdict'] ?? 'pending'}`}>{verdict}</strong>
                {tags['mlws.replay.first_diverging_cell'] && (
                  <span> · first diverging cell {tags['mlws.replay.first_diverging_cell']}</span>
                )}
                {tags['mlws.replay.cause'] && <span> · likely cause: {tags['mlws.replay.cause']}</span>}
                {replay.status === 'failed' && replay.status_reason && <span> · {replay.status_reason}</span>}{' '}
                {onOpenRun && (
                  <button className="jp-mlws-linkish" onClick={() => onOpenRun(replay.run_id)}>
                    Open
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
