import { IRunModel } from '../api/types';
import { columnLabel, columnValue, compareValues } from './runColumns';
import { isSweepRun } from './sweepModel';

/**
 * The rows of the runs table (runsTable.tsx): runs folded under their parent
 * run, optionally in groups by a param or tag. Decisions:
 * - Parent ▸ children: any run whose parent (`parent_run_id`, or for an older
 *   sweep trial its `mlws.sweep.id` tag) is among the loaded runs is shown
 *   under it, one level further in: a sweep's trials, a job's or a batch's
 *   child runs, a nested run of a notebook, to any depth. The parent's row
 *   folds them (the folded parents are `collapsed`).
 * - Only loaded runs are folded, in the table's order: a tree sits where its
 *   top run sorts, the children of a run in that same order. A run whose
 *   parent is not loaded (a later page, a filter that leaves it out, another
 *   group) is an ordinary row. A parent loop (which the store should never
 *   hold) is cut where it closes: every run is shown once.
 * - Groups (`groupBy` = `params.<key>` or `tags.<key>`): one group per value
 *   among the loaded runs, ordered by value (numbers as numbers), runs that
 *   lack the key last in "(none)". Each group counts its loaded runs and
 *   folds (`collapsedGroups`, by `groupId`). Runs fold under their parent
 *   only inside one group: a sweep without the param does not pull its
 *   trials out of their groups.
 */

export interface IRunRow {
  run: IRunModel;
  /** 0 for a top run, 1 for its children, 2 for theirs, ... */
  depth: number;
  /** The run's children among the loaded runs of its group (0 for a leaf). */
  children: number;
  /** A parent whose children are shown under it. */
  expanded: boolean;
  /** A sweep's children are its trials (the fold button says so). */
  sweep: boolean;
}

export interface IRunGroup {
  /** The value of the group-by key, null for the runs without it. */
  value: string | null;
  /** "lr = 0.01", or "(none)". */
  label: string;
  /** Loaded runs in the group, children included. */
  count: number;
  expanded: boolean;
  id: string;
}

/** A group's header (none when the table is not grouped) and its rows. */
export interface IRunSection {
  group: IRunGroup | null;
  rows: IRunRow[];
}

/** The parent a run is shown under, if one is named. */
function parentId(run: IRunModel): string | null {
  return run.parent_run_id ?? run.tags?.['mlws.sweep.id'] ?? null;
}

/** `runs` in order, each loaded run's children under it unless `collapsed` has it. */
export function foldRuns(runs: readonly IRunModel[], collapsed: ReadonlySet<string>): IRunRow[] {
  const ids = new Set(runs.map(r => r.run_id));
  const children = new Map<string, IRunModel[]>();
  const isChild = new Set<string>();
  for (const run of runs) {
    const parent = parentId(run);
    if (parent !== null && parent !== run.run_id && ids.has(parent)) {
      children.set(parent, [...(children.get(parent) ?? []), run]);
      isChild.add(run.run_id);
    }
  }
  const rows: IRunRow[] = [];
  const placed = new Set<string>();
  const hide = (run: IRunModel): void => {
    placed.add(run.run_id);
    for (const child of children.get(run.run_id) ?? []) {
      if (!placed.has(child.run_id)) {
        hide(child);
      }
    }
  };
  const place = (run: IRunModel, depth: number): void => {
    placed.add(run.run_id);
    const kids = (children.get(run.run_id) ?? []).filter(c => !placed.has(c.run_id));
    const expanded = kids.length > 0 && !collapsed.has(run.run_id);
    rows.push({ run, depth, children: kids.length, expanded, sweep: isSweepRun(run) });
    for (const kid of kids) {
      if (placed.has(kid.run_id)) {
        continue;
      }
      if (expanded) {
        place(kid, depth + 1);
      } else {
        hide(kid);
      }
    }
  };
  for (const run of runs) {
    if (!isChild.has(run.run_id) && !placed.has(run.run_id)) {
      place(run, 0);
    }
  }
  // Runs left over sit on a parent loop: each is shown once, from where the loop is entered.
  for (const run of runs) {
    if (!placed.has(run.run_id)) {
      place(run, 0);
    }
  }
  return rows;
}

const NONE_ID = '\u0000none';

/** The id a group folds by. */
export function groupId(value: string | null): string {
  return value ?? NONE_ID;
}

/** The table's sections: one without a header, or one per value of `groupBy`. */
export function sectionRuns(
  runs: readonly IRunModel[],
  groupBy: string | null,
  collapsedGroups: ReadonlySet<string>,
  collapsedParents: ReadonlySet<string>
): IRunSection[] {
  if (groupBy === null) {
    return [{ group: null, rows: foldRuns(runs, collapsedParents) }];
  }
  const members = new Map<string | null, IRunModel[]>();
  for (const run of runs) {
    const raw = columnValue(run, groupBy);
    const value = raw === undefined ? null : String(raw);
    members.set(value, [...(members.get(value) ?? []), run]);
  }
  const values = [...members.keys()].sort((a, b) =>
    a === null ? 1 : b === null ? -1 : compareValues(a, b)
  );
  const name = columnLabel(groupBy).replace(/^(params|tags)\./, '');
  return values.map(value => {
    const inGroup = members.get(value) ?? [];
    const id = groupId(value);
    const expanded = !collapsedGroups.has(id);
    return {
      group: {
        value,
        label: value === null ? '(none)' : `${name} = ${value}`,
        count: inGroup.length,
        expanded,
        id
      },
      rows: expanded ? foldRuns(inGroup, collapsedParents) : []
    };
  });
}
