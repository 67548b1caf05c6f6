import { MLWorkspaceAPI } from '../api/client';
import { IJob } from '../api/jobTypes';
import { message, PolledState } from '../common/polling';
import { JobLogTail } from './jobLog';
import { groupJobs, IJobGroups, isEnded, queuePositions } from './jobQueue';

/** The Jobs tab refreshes every second while shown: queue positions and states move fast. */
export const JOBS_POLL_MS = 1000;
/** How many ended jobs the "Recent" list shows. */
export const RECENT_JOBS = 20;
/** At most this many queued and running jobs are read per refresh. */
const ACTIVE_LIMIT = 1000;
/** The newest jobs read for the "Recent" list (queued and running ones are among them). */
const RECENT_READ = 100;

/** How far a job has come: its attempt, then queued < running < ended. */
function progress(job: IJob): number {
  return job.attempt * 3 + (isEnded(job) ? 2 : job.state === 'running' ? 1 : 0);
}

/**
 * The state behind the panel's Jobs tab: the queue (with each queued job's
 * position in its target's queue), the running jobs, the recently ended
 * ones, the selected job with its live log tail, and cancel.
 *
 * Who calls what:
 * - `WorkspacePanel` calls `setActive(true)` while the Jobs tab is the shown
 *   tab of a visible panel; the list is then polled every `JOBS_POLL_MS`
 *   (there are no job events on Jupyter's event bus), and the selected job's
 *   log every 500 ms while it runs (jobs/jobLog.ts).
 * - The React view (jobs.tsx) displays the model and calls `select` and
 *   `cancel`; it never fetches.
 *
 * Decisions: two requests per refresh, `GET /jobs?state=queued,running` (so
 * a long queue is never cut off by the newest ended jobs) and `GET
 * /jobs?limit=…` for the recent ones; positions are computed here in the
 * dispatcher's order (priority, then first in) because the API has none.
 */
export class JobsModel extends PolledState {
  constructor(readonly api: MLWorkspaceAPI) {
    super(JOBS_POLL_MS);
  }

  /** Every job read, by id, or null before the first answer. */
  jobs: Map<string, IJob> | null = null;
  /** The three lists shown. */
  groups: IJobGroups = { queued: [], running: [], recent: [] };
  /** Queued jobs' places in their target's queue, from 1. */
  positions = new Map<string, number>();
  /** Errors of the last cancel, by job id (shown in the job's card). */
  itemErrors = new Map<string, string>();

  /** The selected job's id, or null. */
  get selectedId(): string | null {
    return this._tail?.jobId ?? null;
  }

  /** The selected job's log tail, or null. */
  get tail(): JobLogTail | null {
    return this._tail;
  }

  /** Select a job (its log tail starts), or close the selected one with null. */
  select(jobId: string | null): void {
    if (jobId === this.selectedId) {
      return;
    }
    if (this._tail) {
      this._tail.dispose();
      this._tail = null;
    }
    if (jobId !== null) {
      this._tail = new JobLogTail(this.api, jobId);
      this._tail.changed.connect(() => this.emitChanged(), this);
      this._followTail();
    }
    this.emitChanged();
  }

  /** Toggle: selecting the selected job closes it. */
  toggle(jobId: string): void {
    this.select(this.selectedId === jobId ? null : jobId);
  }

  setActive(active: boolean): void {
    super.setActive(active);
    this._followTail();
  }

  /** `POST /jobs/{id}/cancel`; a refusal is kept in `itemErrors`; the list is read again either way. */
  async cancel(jobId: string): Promise<void> {
    this.itemErrors.delete(jobId);
    try {
      const job = await this.api.cancelJob(jobId);
      this.jobs?.set(job.job_id, job);
    } catch (reason) {
      this.itemErrors.set(jobId, message(reason));
    }
    await this.refresh();
  }

  dispose(): void {
    this._tail?.dispose();
    this._tail = null;
    super.dispose();
  }

  protected async load(): Promise<() => void> {
    const [active, recent] = await Promise.all([
      this.api.listJobs({ states: ['queued', 'running'], limit: ACTIVE_LIMIT }),
      this.api.listJobs({ limit: RECENT_READ })
    ]);
    return () => {
      const jobs = new Map<string, IJob>();
      // A job that moved on between the two answers is in both: the later record wins.
      for (const job of [...active.jobs, ...recent.jobs]) {
        const other = jobs.get(job.job_id);
        jobs.set(job.job_id, other && progress(other) > progress(job) ? other : job);
      }
      // A selected job that no list holds any more (old, ended) stays as last read.
      const selected = this.selectedId ? this.jobs?.get(this.selectedId) : undefined;
      if (selected && !jobs.has(selected.job_id)) {
        jobs.set(selected.job_id, selected);
      }
      this.jobs = jobs;
      const all = [...jobs.values()];
      this.groups = groupJobs(all, RECENT_JOBS);
      this.positions = queuePositions(all);
      this._followTail();
    };
  }

  /** The tail polls while its job can still write and the tab is shown. */
  private _followTail(): void {
    if (!this._tail) {
      return;
    }
    const job = this.jobs?.get(this._tail.jobId);
    this._tail.follow(job === undefined || !isEnded(job), this.active);
  }

  private _tail: JobLogTail | null = null;
}
