/**
 * How the runs browser (browserModel.ts) speaks the server's run search
 * grammar: the `order_by` entries of a sort, and the filter that asks
 * whether one run matches the user's filter.
 */

/** The runs table's sort: a column (`name`, `status`, `start_time`, `end_time` or `metrics.<key>`). */
export interface ISort {
  column: string;
  desc: boolean;
}

function metricOrderKey(key: string): string {
  return /^[A-Za-z0-9_.\-/]+$/.test(key) ? `metrics.${key}` : `metrics.\`${key.replace(/`/g, '')}\``;
}

/** The `order_by` entries of a sort; ties fall back to the newest start. */
export function orderBy(sort: ISort): string[] {
  const { column, desc } = sort;
  const field = column.startsWith('metrics.') ? metricOrderKey(column.slice(8)) : column;
  const entries = [`${field} ${desc ? 'desc' : 'asc'}`];
  if (column !== 'start_time') {
    entries.push('start_time desc');
  }
  return entries;
}

/** The filter that matches one run only if it also matches `filter`. */
export function oneRunFilter(runId: string, filter: string): string {
  return `run_id = '${runId.replace(/[^0-9a-zA-Z]/g, '')}' and (${filter})`;
}
