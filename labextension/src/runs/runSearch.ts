/**
 * How the runs browser (browserModel.ts) speaks the server's run search
 * grammar: the `order_by` entries of a sort, and the filter that asks
 * whether one run matches the user's filter.
 */

/**
 * The runs table's sort: a column (`name`, `status`, `start_time`, `end_time`,
 * `duration`, or `metrics.<key>`, `params.<key>`, `tags.<key>`).
 */
export interface ISort {
  column: string;
  desc: boolean;
}

/** Columns the server cannot order by: the table sorts the loaded runs itself (runColumns.ts). */
export const CLIENT_SORTED = new Set(['duration']);

const KEYED = /^(metrics|params|tags)\.(.+)$/;

/** A column as a field of the grammar: a key with characters outside the bare-key set is quoted. */
function field(column: string): string {
  const keyed = KEYED.exec(column);
  if (!keyed) {
    return column;
  }
  const [, kind, key] = keyed;
  return /^[A-Za-z0-9_.\-/]+$/.test(key) ? `${kind}.${key}` : `${kind}.\`${key.replace(/`/g, '')}\``;
}

/**
 * The `order_by` entries of a sort; ties fall back to the newest start. A
 * column the server cannot sort asks for the default order (newest first).
 */
export function orderBy(sort: ISort): string[] {
  if (CLIENT_SORTED.has(sort.column)) {
    return ['start_time desc'];
  }
  const { column, desc } = sort;
  const entries = [`${field(column)} ${desc ? 'desc' : 'asc'}`];
  if (column !== 'start_time') {
    entries.push('start_time desc');
  }
  return entries;
}

/** The filter that matches one run only if it also matches `filter`. */
export function oneRunFilter(runId: string, filter: string): string {
  return `run_id = '${runId.replace(/[^0-9a-zA-Z]/g, '')}' and (${filter})`;
}
