import * as React from 'react';

import { IJob, IJobLogChunk } from '../api/jobTypes';
import { JobLogTail } from './jobLog';
import { isEnded, jobDuration } from './jobQueue';
import { JobsModel } from './jobsModel';

/**
 * The Jobs tab of the ML Workspace panel: the queue (each job's place in its
 * target's queue), the running jobs and the recently ended ones, each with
 * its state, target, node, attempt, duration and reason; "Cancel" on queued
 * and running jobs, "Open run" (the job's run in the run view) and "Log",
 * which shows the job's output live under it.
 *
 * Who calls what: `WorkspacePanel` renders `JobsView` inside a `UseSignal`
 * on `JobsModel.changed`; the model polls while the tab is shown (see
 * jobsModel.ts). Everything renders as text: job names and output are user
 * input, never HTML.
 */

export interface IJobsViewProps {
  model: JobsModel;
  onOpenRun: (runId: string) => void;
}

/** The output, stderr marked, with a line where a new attempt begins; kept scrolled to the end while it was there. */
function JobLog({ tail, job }: { tail: JobLogTail; job: IJob }): JSX.Element {
  const shown = React.useRef<HTMLPreElement>(null);
  const atEnd = React.useRef(true);
  React.useLayoutEffect(() => {
    if (shown.current && atEnd.current) {
      shown.current.scrollTop = shown.current.scrollHeight;
    }
  }, [tail.chunks]);
  const onScroll = (e: React.UIEvent<HTMLPreElement>): void => {
    const el = e.currentTarget;
    atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
  };
  const parts: JSX.Element[] = [];
  let attempt: number | null = null;
  tail.chunks.forEach((chunk: IJobLogChunk) => {
    if (chunk.attempt !== attempt && (attempt !== null || chunk.attempt > 1)) {
      parts.push(
        <span key={`attempt-${chunk.cursor}`} className="jp-mlws-log-attempt">
          {`── attempt ${chunk.attempt} ──\n`}
        </span>
      );
    }
    attempt = chunk.attempt;
    parts.push(
      <span key={chunk.cursor} className={chunk.stream === 'stderr' ? 'jp-mlws-log-stderr' : undefined}>
        {chunk.text}
      </span>
    );
  });
  let empty = '';
  if (parts.length === 0) {
    empty = !tail.loaded
      ? 'Reading the output…'
      : job.state === 'queued'
        ? 'Waiting in the queue: the output shows here once the job runs.'
        : isEnded(job)
          ? 'The job wrote nothing.'
          : 'No output yet.';
  }
  return (
    <div className="jp-mlws-job-log">
      {tail.error !== null && (
        <div className="jp-mlws-inline-error" role="alert">
          {tail.error}
        </div>
      )}
      {empty ? (
        <p className="jp-mlws-muted">{empty}</p>
      ) : (
        <pre className="jp-mlws-log" ref={shown} onScroll={onScroll} aria-label={`Log of ${job.name}`}>
          {parts}
        </pre>
      )}
    </div>
  );
}

function JobCard({ model, job, now, onOpenRun }: IJobsViewProps & { job: IJob; now: number }): JSX.Element {
  const selected = model.selectedId === job.job_id;
  const position = model.positions.get(job.job_id);
  const error = model.itemErrors.get(job.job_id);
  const tries = job.max_retries > 0 ? `attempt ${job.attempt} of ${job.max_retries + 1}` : `attempt ${job.attempt}`;
  const cancelable = !isEnded(job);
  return (
    <li
      className={`jp-mlws-instance jp-mlws-job${selected ? ' jp-mod-selected' : ''}`}
      aria-label={`Job ${job.name}`}
      data-job-id={job.job_id}
    >
      <div className="jp-mlws-instance-head">
        <button
          className="jp-mlws-linkish jp-mlws-job-name"
          onClick={() => model.toggle(job.job_id)}
          aria-expanded={selected}
          title={`${job.job_id} (${job.kind} job): ${selected ? 'hide' : 'show'} its log`}
        >
          {job.name}
        </button>
        <span className={`jp-mlws-status jp-mlws-status-${job.state}`} aria-label="State">
          {job.state}
        </span>
      </div>
      <div className="jp-mlws-job-facts">
        {position !== undefined && (
          <span aria-label="Position" title={`Place in the queue of ${job.target}`}>
            #{position} in queue
          </span>
        )}
        <span aria-label="Target">on {job.target}</span>
        {job.node && (
          <span aria-label="Node" className="jp-mlws-job-node">
            node {job.node}
          </span>
        )}
        <span aria-label="Attempt">{tries}</span>
        <span aria-label="Duration">{jobDuration(job, now)}</span>
        {job.exit_code !== null && job.exit_code !== undefined && (
          <span aria-label="Exit code">exit {job.exit_code}</span>
        )}
      </div>
      {job.state_reason && job.state_reason !== job.state && (
        <div className="jp-mlws-run-reason" aria-label="Reason">
          {job.state_reason}
        </div>
      )}
      <div className="jp-mlws-instance-actions jp-mlws-job-actions">
        <button
          className="jp-mod-styled jp-mlws-small"
          onClick={() => model.toggle(job.job_id)}
          aria-expanded={selected}
        >
          {selected ? 'Hide log' : 'Log'}
        </button>
        <button
          className="jp-mod-styled jp-mlws-small"
          onClick={() => onOpenRun(job.run_id)}
          title="Show the job's run (params, metrics, outputs) in the main area"
        >
          Open run
        </button>
        {cancelable && (
          <button
            className="jp-mod-styled jp-mod-warn jp-mlws-small"
            onClick={() => void model.cancel(job.job_id)}
            disabled={job.cancel_requested}
            aria-label={`Cancel ${job.name}`}
            title={job.state === 'queued' ? 'Take the job out of the queue' : 'Stop the job (its whole process tree)'}
          >
            {job.cancel_requested ? 'Canceling…' : 'Cancel'}
          </button>
        )}
      </div>
      {error && (
        <div className="jp-mlws-inline-error" role="alert">
          {error}
        </div>
      )}
      {selected && model.tail && <JobLog tail={model.tail} job={job} />}
    </li>
  );
}

function JobList(props: IJobsViewProps & { title: string; jobs: IJob[]; empty: string; now: number }): JSX.Element {
  const { title, jobs, empty, ...rest } = props;
  return (
    <section className="jp-mlws-job-group" aria-label={title}>
      <h4>
        {title} <span className="jp-mlws-count">{jobs.length}</span>
      </h4>
      {jobs.length === 0 ? (
        <p className="jp-mlws-muted">{empty}</p>
      ) : (
        <ul className="jp-mlws-instance-list">
          {jobs.map(job => (
            <JobCard key={job.job_id} job={job} {...rest} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** The Jobs tab's content. */
export function JobsView({ model, onOpenRun }: IJobsViewProps): JSX.Element {
  const now = Date.now();
  const { queued, running, recent } = model.groups;
  const common = { model, onOpenRun, now };
  return (
    <section className="jp-mlws-compute jp-mlws-jobs" aria-label="Jobs">
      <div className="jp-mlws-toolbar">
        <h3>Jobs</h3>
      </div>
      {model.error !== null && (
        <div className="jp-mlws-error" role="alert">
          <p>{model.error}</p>
        </div>
      )}
      {model.jobs === null ? (
        model.error === null && <div className="jp-mlws-loading">Loading jobs…</div>
      ) : model.jobs.size === 0 ? (
        <p className="jp-mlws-muted">
          No jobs yet. Submit one to a cluster with <code>ws.jobs.submit(command=[...], target=...)</code> or{' '}
          <code>jupyter mlws jobs submit</code>.
        </p>
      ) : (
        <>
          <JobList {...common} title="Queued jobs" jobs={queued} empty="The queue is empty." />
          <JobList {...common} title="Running jobs" jobs={running} empty="No job is running." />
          <JobList {...common} title="Recent jobs" jobs={recent} empty="No job has ended yet." />
        </>
      )}
    </section>
  );
}
