import { IRunModel } from '../api/types';
import { isSweepRun } from './sweepModel';

/**
 * The rows of the runs table (runsTable.tsx) with a sweep's trials grouped
 * under their sweep: the sweep's row opens and closes the group, its trials
 * follow it one level in. Decisions:
 * - Only loaded runs are grouped, in the table's order (the server's sort):
 *   the group sits where its sweep sorts, its trials in that same order.
 * - A trial whose sweep is not among the loaded rows (a later page, or a
 *   filter that leaves the sweep out) is shown as an ordinary row.
 * - Every other run is left as it was: same place, no group.
 */

export interface IRunRow {
  run: IRunModel;
  /** 0: an ordinary run or a sweep; 1: a trial shown under its sweep. */
  depth: 0 | 1;
  /** A sweep's trials among the loaded runs (0 for every other row). */
  trials: number;
  /** A sweep whose trials are shown under it. */
  expanded: boolean;
}

/** The table's rows: `runs` in order, each loaded sweep's trials under it unless `collapsed` has it. */
export function groupRuns(runs: IRunModel[], collapsed: ReadonlySet<string>): IRunRow[] {
  const sweeps = new Set(runs.filter(isSweepRun).map(r => r.run_id));
  const trials = new Map<string, IRunModel[]>();
  for (const run of runs) {
    const parent = run.parent_run_id ?? run.tags?.['mlws.sweep.id'];
    if (parent && sweeps.has(parent) && parent !== run.run_id) {
      trials.set(parent, [...(trials.get(parent) ?? []), run]);
    }
  }
  const grouped = new Set([...trials.values()].flat().map(r => r.run_id));
  const rows: IRunRow[] = [];
  for (const run of runs) {
    if (grouped.has(run.run_id)) {
      continue;
    }
    const children = trials.get(run.run_id) ?? [];
    const expanded = children.length > 0 && !collapsed.has(run.run_id);
    rows.push({ run, depth: 0, trials: children.length, expanded });
    if (expanded) {
      rows.push(...children.map(child => ({ run: child, depth: 1 as const, trials: 0, expanded: false })));
    }
  }
  return rows;
}
