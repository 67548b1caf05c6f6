import { IRunModel } from '../api/types';
import { formatMetric } from './runformat';
import { CLIENT_SORTED, ISort } from './runSearch';

/**
 * The runs table's columns (runsTable.tsx, chosen in filterBar.tsx's Columns
 * menu): a column is `metrics.<key>`, `params.<key>` or `tags.<key>`, the
 * fixed ones are name, status, start time and duration. Decisions:
 * - The server orders by every column but duration, and by params and tags as
 *   text (stored values are strings): `"10" < "9"`. Once every run is loaded
 *   and a param's or tag's loaded values are all numbers, the table re-sorts
 *   them as numbers, since the loaded rows are then the whole set; duration
 *   (computed) is always sorted here, over the loaded runs only. The header
 *   says which (`sortNote`).
 * - Tags whose keys start with `mlws.` or `mlflow.` are the system's own
 *   (sweep ids, sources, job kinds): left out of the column and group-by
 *   choices, to keep them short. A filter can still use them.
 */

export type ColumnKind = 'metrics' | 'params' | 'tags';

const KEYED = /^(metrics|params|tags)\.(.+)$/s;
const SYSTEM_TAG = /^(mlws|mlflow)\./;

/** `{kind, key}` of a keyed column, null for a fixed one. */
export function columnParts(column: string): { kind: ColumnKind; key: string } | null {
  const match = KEYED.exec(column);
  return match ? { kind: match[1] as ColumnKind, key: match[2] } : null;
}

/** A header's text: a metric by its key (the common case), a param or tag with its kind. */
export function columnLabel(column: string): string {
  const parts = columnParts(column);
  return parts?.kind === 'metrics' ? parts.key : column;
}

/** A run's value in a keyed column: a number for a metric, text for a param or tag. */
export function columnValue(run: IRunModel, column: string): number | string | undefined {
  const parts = columnParts(column);
  if (!parts) {
    return undefined;
  }
  const value = run[parts.kind]?.[parts.key];
  return value === null ? undefined : value;
}

/** A keyed column's cell text. */
export function formatCell(run: IRunModel, column: string): string {
  const value = columnValue(run, column);
  if (value === undefined) {
    return '';
  }
  return typeof value === 'number' ? formatMetric(value) : value;
}

/** The keys of `kind` among `runs`, sorted (system tags left out). */
export function keysOf(runs: readonly IRunModel[], kind: ColumnKind): string[] {
  const keys = new Set<string>();
  for (const run of runs) {
    for (const key of Object.keys(run[kind] ?? {})) {
      if (kind !== 'tags' || !SYSTEM_TAG.test(key)) {
        keys.add(key);
      }
    }
  }
  return [...keys].sort();
}

/** A run's duration in ms now (a running run's grows), or null without a start. */
export function runDuration(run: IRunModel, now: number): number | null {
  if (run.start_time === null || run.start_time === undefined) {
    return null;
  }
  const end = run.end_time ?? (run.status === 'running' ? now : null);
  return end === null ? null : end - run.start_time;
}

function asNumber(text: string | number | undefined): number | null {
  if (typeof text === 'number') {
    return text;
  }
  if (text === undefined || text.trim() === '') {
    return null;
  }
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/** True when every present value is a number (so they order and group as numbers). */
export function allNumeric(values: readonly (string | number | undefined)[]): boolean {
  return values.every(v => v === undefined || asNumber(v) !== null);
}

/**
 * The loaded runs in the order the table shows: the server's, unless the
 * column is sorted here (see the module docstring). Missing values go last.
 */
export function sortLoaded(runs: IRunModel[], sort: ISort, complete: boolean, now: number): IRunModel[] {
  const parts = columnParts(sort.column);
  let key: ((run: IRunModel) => number | null) | null = null;
  if (CLIENT_SORTED.has(sort.column)) {
    key = run => runDuration(run, now);
  } else if (complete && parts && parts.kind !== 'metrics') {
    if (allNumeric(runs.map(r => columnValue(r, sort.column)))) {
      key = run => asNumber(columnValue(run, sort.column));
    }
  }
  if (key === null) {
    return runs;
  }
  const sign = sort.desc ? -1 : 1;
  const keyed = runs.map((run, index) => ({ run, index, value: key!(run) }));
  keyed.sort((a, b) => {
    if (a.value === null || b.value === null) {
      return a.value === b.value ? a.index - b.index : a.value === null ? 1 : -1;
    }
    return (a.value - b.value) * sign || a.index - b.index;
  });
  return keyed.map(k => k.run);
}

/** What a header's sort button says about where its order comes from. */
export function sortNote(column: string): string {
  if (CLIENT_SORTED.has(column)) {
    return 'sorts the loaded runs only (a computed column)';
  }
  const kind = columnParts(column)?.kind;
  if (kind === 'params' || kind === 'tags') {
    return 'the server orders all runs as text; as numbers once every run is loaded and all are numbers';
  }
  return 'the server orders all runs';
}

/** Compare two group or column values: numbers as numbers when both are, else as text. */
export function compareValues(a: string, b: string): number {
  const x = asNumber(a);
  const y = asNumber(b);
  if (x !== null && y !== null) {
    return x - y;
  }
  return a.localeCompare(b, undefined, { numeric: true });
}
