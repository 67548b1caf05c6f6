import * as React from 'react';

import { MLWorkspaceAPI } from '../api/client';
import { JobLogTail } from './jobLog';

/** The run view shows at most this many of the attempt's last lines. */
const LINES = 200;

export interface IJobRunLogProps {
  api: MLWorkspaceAPI;
  /** The job whose run is shown (the run's `mlws.job.id` tag). */
  jobId: string;
  /** The run's attempt (`mlws.job.attempt`): each attempt of a job is a run of its own. */
  attempt: number;
  /** True while the run is queued or running: the output is then read every 500 ms. */
  live: boolean;
}

/**
 * The Log section of the run view for a job's run: the attempt's output,
 * live while the job runs (the same reads as the Jobs tab: jobs/jobLog.ts),
 * instead of the `logs/output.txt` artifact a `%%mlrun` cell writes.
 *
 * Who calls it: `RunBody` (runs/runBody.tsx) when the run carries the tag
 * `mlws.job.id`. Rendered as text.
 */
export function JobRunLog({ api, jobId, attempt, live }: IJobRunLogProps): JSX.Element {
  const [tail, setTail] = React.useState<JobLogTail | null>(null);
  const [, setVersion] = React.useState(0);
  React.useEffect(() => {
    const made = new JobLogTail(api, jobId);
    made.changed.connect(() => setVersion(v => v + 1));
    setTail(made);
    return () => made.dispose();
  }, [api, jobId]);
  React.useEffect(() => {
    tail?.follow(live, true);
  }, [tail, live]);
  if (tail === null || !tail.loaded) {
    return <p className="jp-mlws-muted">Reading the job's output…</p>;
  }
  const lines = tail.chunks
    .filter(chunk => chunk.attempt === attempt)
    .map(chunk => chunk.text)
    .join('')
    .split('\n');
  const text = lines.slice(-LINES - 1).join('\n');
  return (
    <>
      {tail.error !== null && (
        <div className="jp-mlws-inline-error" role="alert">
          {tail.error}
        </div>
      )}
      {text.trim() === '' ? (
        <p className="jp-mlws-muted">{live ? 'No output yet.' : 'The job wrote nothing.'}</p>
      ) : (
        <pre className="jp-mlws-code jp-mlws-log" aria-label="Job output">
          {text}
        </pre>
      )}
    </>
  );
}
