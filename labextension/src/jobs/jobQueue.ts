import { IJob } from '../api/jobTypes';
import { formatDuration } from '../runs/runformat';

/**
 * How the Jobs tab orders and describes jobs; pure functions over the
 * `GET /jobs` answers (jobs/jobsModel.ts calls them after each refresh).
 */

/** States a job ends in; a job in one of them has nothing left to cancel or tail. */
export const ENDED_STATES = ['completed', 'failed', 'canceled', 'killed'];

export function isEnded(job: IJob): boolean {
  return ENDED_STATES.includes(job.state);
}

/** The queue's order, as the server's dispatcher takes jobs: higher priority first, then first in. */
function queueOrder(a: IJob, b: IJob): number {
  return b.priority - a.priority || a.submitted_ns - b.submitted_ns;
}

/** The jobs of the Jobs tab's three lists, each in the order shown. */
export interface IJobGroups {
  /** Queued jobs by target, each target's in queue order. */
  queued: IJob[];
  /** Running jobs, the longest running first. */
  running: IJob[];
  /** Ended jobs, the last ended first. */
  recent: IJob[];
}

export function groupJobs(jobs: readonly IJob[], recentCount: number): IJobGroups {
  const queued = jobs
    .filter(j => j.state === 'queued')
    .sort((a, b) => a.target.localeCompare(b.target) || queueOrder(a, b));
  const running = jobs
    .filter(j => j.state === 'running')
    .sort((a, b) => (a.started_time ?? 0) - (b.started_time ?? 0));
  const recent = jobs
    .filter(isEnded)
    .sort((a, b) => (b.ended_time ?? b.submitted_time) - (a.ended_time ?? a.submitted_time))
    .slice(0, recentCount);
  return { queued, running, recent };
}

/** Each queued job's place in its target's queue, from 1. */
export function queuePositions(jobs: readonly IJob[]): Map<string, number> {
  const positions = new Map<string, number>();
  const byTarget = new Map<string, IJob[]>();
  for (const job of jobs) {
    if (job.state === 'queued') {
      byTarget.set(job.target, [...(byTarget.get(job.target) ?? []), job]);
    }
  }
  for (const queue of byTarget.values()) {
    queue.sort(queueOrder).forEach((job, i) => positions.set(job.job_id, i + 1));
  }
  return positions;
}

/** "waiting 3.2 s", "running 1 min 4 s", "took 12 s" (times from the server, `now` from the client). */
export function jobDuration(job: IJob, now: number): string {
  if (job.state === 'queued') {
    return `waiting ${formatDuration(now - job.submitted_time)}`;
  }
  if (job.started_time === null || job.started_time === undefined) {
    return job.ended_time ? `ended after ${formatDuration(job.ended_time - job.submitted_time)} in the queue` : '';
  }
  const end = job.ended_time ?? now;
  return `${job.ended_time ? 'took' : 'running'} ${formatDuration(end - job.started_time)}`;
}
