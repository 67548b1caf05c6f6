import { ISignal, Signal } from '@lumino/signaling';

import { MLWorkspaceAPI } from '../api/client';
import { IRunModel } from '../api/types';
import { toNumber } from '../common/charts';
import { FINAL_STATUSES } from './runformat';
import { ISweepTrial } from './sweepParallel';

/**
 * The state of the run view's Sweep section (runSweep.tsx) for a sweep's
 * parent run (docs/sweeps.md): its trials (the child runs tagged
 * `mlws.sweep.id`), each trial's objective by step and the parent's
 * `best_<objective>` by trials ended.
 *
 * Decisions:
 * - The trials come from one search (`tags.`mlws.sweep.id` = '<run id>'`,
 *   in the sweep's experiment), in `Sweep.trials()`'s order (`bestFirst`).
 * - Histories are read once in full (downsampled to `MAX_POINTS`) and then
 *   only the points after their cursor, and only for trials that were live
 *   at the last refresh (or whose status changed since): an ended trial
 *   costs nothing more.
 * - Live while the sweep's run is queued or running: a refresh every
 *   `LIVE_MS`, never two at once, paused while the browser tab is hidden;
 *   one more refresh when the run ends. Errors are kept as text (`error`) and
 *   the next refresh tries again.
 */

const LIVE_MS = 1000;
const MAX_POINTS = 500;
const MAX_TRIALS = 1000;

/** An objective history: aligned steps and values, and the cursor to read on from. */
export interface ICurve {
  x: number[];
  y: (number | null)[];
  cursor: number;
}

/** True for a sweep's parent run. */
export function isSweepRun(run: IRunModel): boolean {
  return run.tags?.['mlws.job.kind'] === 'sweep' || run.source_kind === 'sweep';
}

/** The searched parameters of a sweep run: `search_space.<name>` params, name → distribution text. */
export function sweepSpace(run: IRunModel): Record<string, string> {
  const space: Record<string, string> = {};
  for (const [key, value] of Object.entries(run.params ?? {})) {
    if (key.startsWith('search_space.')) {
      space[key.slice('search_space.'.length)] = value;
    }
  }
  return space;
}

/**
 * As `Sweep.trials()` orders them: the completed trials best first by the goal, then the others
 * (running, stopped, failed) by their last value; no value last; ties in trial order.
 */
export function bestFirst(trials: ISweepTrial[], goal: string): ISweepTrial[] {
  const sign = goal === 'minimize' ? 1 : -1;
  const done = (t: ISweepTrial) => (t.status === 'completed' ? 0 : 1);
  return [...trials].sort((a, b) => {
    if (done(a) !== done(b)) {
      return done(a) - done(b);
    }
    if (a.value === null || b.value === null) {
      if (a.value !== b.value) {
        return a.value === null ? 1 : -1;
      }
    } else if (a.value !== b.value) {
      return sign * (a.value - b.value);
    }
    return (a.trial ?? Infinity) - (b.trial ?? Infinity);
  });
}

function live(status: string): boolean {
  return status === 'queued' || status === 'running';
}

export class SweepViewModel {
  constructor(
    private readonly _api: MLWorkspaceAPI,
    run: IRunModel
  ) {
    this._run = run;
    this.objective = run.tags?.['mlws.sweep.objective'] ?? run.params?.objective ?? '';
    this.goal = run.tags?.['mlws.sweep.goal'] ?? run.params?.goal ?? 'maximize';
    document.addEventListener('visibilitychange', this._onVisibility);
  }

  readonly objective: string;
  readonly goal: string;
  trials: ISweepTrial[] = [];
  curves = new Map<string, ICurve>();
  best: ICurve = { x: [], y: [], cursor: 0 };
  error: string | null = null;
  /** True once the first refresh answered. */
  loaded = false;

  get run(): IRunModel {
    return this._run;
  }

  get space(): Record<string, string> {
    return sweepSpace(this._run);
  }

  get bestRunId(): string | null {
    return this._run.tags?.['mlws.sweep.best_run'] ?? null;
  }

  get changed(): ISignal<SweepViewModel, void> {
    return this._changed;
  }

  /** The sweep's run as the run view last fetched it: starts or stops the live refresh. */
  setRun(run: IRunModel): void {
    const ended = FINAL_STATUSES.includes(run.status) && !FINAL_STATUSES.includes(this._run.status);
    this._run = run;
    if (ended) {
      void this.refresh();
    }
    this._schedule();
  }

  /** Read the trials and the new points now (one at a time: a call during one waits for it). */
  refresh(): Promise<void> {
    if (this._inFlight === null) {
      this._inFlight = this._load().finally(() => (this._inFlight = null));
    } else {
      this._again = true;
    }
    return this._inFlight;
  }

  dispose(): void {
    this._disposed = true;
    document.removeEventListener('visibilitychange', this._onVisibility);
    window.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private async _load(): Promise<void> {
    do {
      this._again = false;
      try {
        await this._read();
        this.error = null;
      } catch (reason) {
        this.error = `The sweep's trials could not be read: ${reason instanceof Error ? reason.message : reason}`;
      }
      this.loaded = true;
      if (this._disposed) {
        return;
      }
      this._changed.emit();
    } while (this._again);
  }

  private async _read(): Promise<void> {
    const run = this._run;
    const page = await this._api.searchRuns({
      experimentId: run.experiment_id,
      filter: `tags.\`mlws.sweep.id\` = '${run.run_id}'`,
      limit: MAX_TRIALS
    });
    const names = Object.keys(this.space);
    const trials: ISweepTrial[] = page.runs.map(r => {
      const tags = r.tags ?? {};
      const failed = tags['mlws.sweep.failed'];
      const stopped = tags['mlws.sweep.stopped'];
      const metric = r.metrics?.[this.objective];
      const number = Number(tags['mlws.sweep.trial']);
      return {
        trial: Number.isFinite(number) && tags['mlws.sweep.trial'] !== undefined ? number : null,
        run_id: r.run_id,
        name: r.name,
        status: failed ? 'failed' : r.status,
        value: metric === undefined ? null : toNumber(metric),
        reason: stopped || failed || r.status_reason || '',
        stopped: Boolean(stopped),
        params: Object.fromEntries(names.filter(n => r.params?.[n] !== undefined).map(n => [n, r.params?.[n] ?? null]))
      };
    });
    const reads: Promise<void>[] = [];
    for (const t of trials) {
      const before = this._seen.get(t.run_id);
      if (before === undefined || live(before) || before !== t.status) {
        reads.push(this._readCurve(t.run_id));
      }
      this._seen.set(t.run_id, t.status);
    }
    reads.push(this._readBest());
    await Promise.all(reads);
    this.trials = bestFirst(trials, this.goal);
  }

  private async _readCurve(runId: string): Promise<void> {
    const before = this.curves.get(runId);
    const answer = await this._api.getMetricHistory(runId, this.objective, {
      maxPoints: MAX_POINTS,
      since: before?.cursor
    });
    const y = answer.values.map(toNumber);
    const next = before
      ? { x: [...before.x, ...answer.steps], y: [...before.y, ...y], cursor: answer.cursor }
      : { x: answer.steps, y, cursor: answer.cursor };
    this.curves = new Map(this.curves).set(runId, next);
  }

  private async _readBest(): Promise<void> {
    const answer = await this._api.getMetricHistory(this._run.run_id, `best_${this.objective}`, {
      maxPoints: MAX_POINTS,
      since: this.best.x.length ? this.best.cursor : undefined
    });
    if (answer.steps.length || !this.best.x.length) {
      this.best = {
        x: [...this.best.x, ...answer.steps],
        y: [...this.best.y, ...answer.values.map(toNumber)],
        cursor: answer.cursor
      };
    }
  }

  private _schedule(): void {
    window.clearTimeout(this._timer);
    if (this._disposed || !live(this._run.status) || document.visibilityState === 'hidden') {
      return;
    }
    this._timer = window.setTimeout(async () => {
      await this.refresh();
      this._schedule();
    }, LIVE_MS);
  }

  private _onVisibility = (): void => this._schedule();

  private _run: IRunModel;
  private _seen = new Map<string, string>();
  private _inFlight: Promise<void> | null = null;
  private _again = false;
  private _timer = 0;
  private _disposed = false;
  private _changed = new Signal<SweepViewModel, void>(this);
}
