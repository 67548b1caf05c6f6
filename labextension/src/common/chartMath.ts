/**
 * The arithmetic of the charts (no DOM, no uPlot), shared by the panel and the
 * notebook widgets through chartCore.ts. Decisions:
 * - Smoothing is TensorBoard's and W&B's exponential moving average with the
 *   start-up bias removed (`ema`): weight `w` in [0, 0.99], smoothed_i =
 *   last_i / (1 - w^n) with last_i = w * last_{i-1} + (1 - w) * y_i. A gap
 *   (null) stays a gap and does not reset the average. It runs on the points
 *   the chart holds (downsampled by the server), whose min/max picks keep the
 *   spikes; the raw line stays drawn, faint, behind the smoothed one, and the
 *   min/max band (`pointEnvelope`) keeps every spike visible.
 * - The x axis is `step`, `wall_time` (seconds since the epoch, a time axis)
 *   or `relative_time` (seconds since the run started; W&B's "Relative Time").
 * - Grouping (`groupLines`) needs the runs on one x grid (the server's aligned
 *   bins, or `alignLines`); a group's line is the mean over its runs at each
 *   x, its band the min–max (or mean ± one standard deviation) over them.
 * - A log y axis cannot show values <= 0: they become gaps (`positiveOnly`).
 */

export type XAxis = 'step' | 'wall_time' | 'relative_time';
export type Column = (number | null)[];

export const X_AXES: XAxis[] = ['step', 'wall_time', 'relative_time'];
export const X_LABELS: Record<XAxis, string> = {
  step: 'step',
  wall_time: 'wall time',
  relative_time: 'relative time (s)'
};

/** The smoothing weight, clamped to TensorBoard's range [0, 0.99]. */
export function clampSmoothing(weight: number): number {
  return Number.isFinite(weight) ? Math.min(0.99, Math.max(0, weight)) : 0;
}

/** Debiased exponential moving average of `y` with weight `weight` (0: `y` itself). */
export function ema(y: Column, weight: number): Column {
  const w = clampSmoothing(weight);
  if (w === 0) {
    return y;
  }
  const out: Column = new Array(y.length);
  let last = 0;
  // w to the power of the points averaged so far (the debiasing weight), kept as a running product.
  let decay = 1;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v === null || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    last = last * w + (1 - w) * v;
    decay *= w;
    out[i] = last / (1 - decay);
  }
  return out;
}

/** The x column of a line for an axis: steps, seconds since the epoch, or seconds since `startMs`. */
export function xColumn(axis: XAxis, steps: number[], timestampsMs: number[] | undefined, startMs?: number | null): number[] {
  if (axis === 'step' || !timestampsMs || timestampsMs.length !== steps.length) {
    return steps;
  }
  if (axis === 'wall_time') {
    return timestampsMs.map(t => t / 1000);
  }
  const origin = startMs ?? timestampsMs[0] ?? 0;
  return timestampsMs.map(t => (t - origin) / 1000);
}

/**
 * The min/max band of a downsampled line, per point: the lowest and highest
 * value among the points that fall in the same one of `bins` equal x bins.
 */
export function pointEnvelope(x: number[], y: Column, bins: number): { lo: Column; hi: Column } {
  const n = x.length;
  const lo: Column = new Array(n).fill(null);
  const hi: Column = new Array(n).fill(null);
  if (n === 0) {
    return { lo, hi };
  }
  const x0 = x[0];
  const span = x[n - 1] - x0 || 1;
  const count = Math.max(1, Math.floor(bins));
  const binOf = (v: number) => Math.min(count - 1, Math.floor(((v - x0) / span) * count));
  let start = 0;
  while (start < n) {
    const bin = binOf(x[start]);
    let end = start;
    let low = Infinity;
    let high = -Infinity;
    while (end < n && binOf(x[end]) === bin) {
      const v = y[end];
      if (v !== null && Number.isFinite(v)) {
        low = Math.min(low, v);
        high = Math.max(high, v);
      }
      end++;
    }
    for (let i = start; i < end; i++) {
      lo[i] = low === Infinity ? null : low;
      hi[i] = high === -Infinity ? null : high;
    }
    start = end;
  }
  return { lo, hi };
}

/** Values <= 0 (which a log axis cannot place) as gaps. */
export function positiveOnly(y: Column): Column {
  return y.map(v => (v !== null && v > 0 ? v : null));
}

/** True when every column is the same x grid (same length and values). */
export function sameGrid(xs: number[][]): boolean {
  if (xs.length < 2) {
    return true;
  }
  const first = xs[0];
  return xs.every(x => x === first || (x.length === first.length && x.every((v, i) => v === first[i])));
}

/**
 * Lines on different x moved onto their union grid: each line keeps its own
 * points and is null elsewhere (uPlot bridges the gaps). Returns the grid and
 * one column per line, in order.
 */
export function alignLines(lines: { x: number[]; y: Column }[]): { x: number[]; ys: Column[] } {
  if (sameGrid(lines.map(l => l.x))) {
    return { x: lines[0]?.x ?? [], ys: lines.map(l => l.y) };
  }
  const grid = [...new Set(lines.flatMap(l => l.x))].sort((a, b) => a - b);
  const index = new Map(grid.map((v, i) => [v, i]));
  const ys = lines.map(l => {
    const col: Column = new Array(grid.length).fill(null);
    l.x.forEach((v, i) => {
      col[index.get(v) as number] = l.y[i];
    });
    return col;
  });
  return { x: grid, ys };
}

/** A line the way the charts take it: one run's (or group's) values on an x column. */
export interface ILineData {
  id: string;
  label: string;
  colour: string;
  x: number[];
  y: Column;
  /** The band's lower and upper edges (min/max of a bucket, or of a group). */
  lo?: Column;
  hi?: Column;
  /** Points stored for this line (more than `y.length` when downsampled). */
  total?: number;
}

/** Series per line in the full layout: the line, its raw values, its band's upper and lower edges. */
export const FULL_LAYOUT = 4;

/**
 * What a chart draws: the x column, then per line its line (smoothed with
 * `weight`) and, in the full layout (`perLine` 4), its raw values (only while
 * smoothing) and its band's upper and lower edges; in the compact layout
 * (`perLine` 1, charts of many lines) the line alone. On one grid
 * (`alignLines` when the lines' x differ); values a log axis cannot show as gaps.
 */
export function drawnColumns(lines: ILineData[], weight: number, log: boolean, perLine = FULL_LAYOUT): Column[] {
  const grid = sameGrid(lines.map(l => l.x));
  const aligned = grid ? null : alignLines(lines);
  const full = perLine !== 1;
  const highs = grid || !full ? null : alignLines(lines.map(l => ({ x: l.x, y: l.hi ?? [] }))).ys;
  const lows = grid || !full ? null : alignLines(lines.map(l => ({ x: l.x, y: l.lo ?? [] }))).ys;
  const x = grid ? lines[0]?.x ?? [] : aligned!.x;
  const n = x.length;
  const none: Column = new Array(n).fill(null);
  const safe = (c: Column | undefined) => (c && c.length === n ? (log ? positiveOnly(c) : c) : none);
  const columns: Column[] = [x];
  lines.forEach((line, i) => {
    const raw = safe(grid ? line.y : aligned!.ys[i]);
    if (perLine === 1) {
      columns.push(weight > 0 ? ema(raw, weight) : raw);
      return;
    }
    const hi = grid ? line.hi : line.hi ? highs![i] : undefined;
    const lo = grid ? line.lo : line.lo ? lows![i] : undefined;
    columns.push(weight > 0 ? ema(raw, weight) : raw, weight > 0 ? raw : none, safe(hi), safe(lo));
  });
  return columns;
}

export type GroupBand = 'minmax' | 'std';

/**
 * Lines grouped by `groupOf(line)`: one line per group, the mean over its
 * lines at each x (lines without a value there are left out), with a min–max
 * or mean ± std band. Lines must share one x grid (see `alignLines`).
 */
export function groupLines(
  lines: ILineData[],
  groupOf: (line: ILineData) => string,
  colourOf: (group: string, index: number) => string,
  band: GroupBand = 'minmax'
): ILineData[] {
  if (!lines.length) {
    return [];
  }
  const { x, ys } = alignLines(lines);
  const groups = new Map<string, Column[]>();
  lines.forEach((line, i) => {
    const g = groupOf(line);
    groups.set(g, [...(groups.get(g) ?? []), ys[i]]);
  });
  return [...groups].map(([group, columns], gi) => {
    const mean: Column = new Array(x.length).fill(null);
    const lo: Column = new Array(x.length).fill(null);
    const hi: Column = new Array(x.length).fill(null);
    for (let i = 0; i < x.length; i++) {
      let sum = 0;
      let sq = 0;
      let n = 0;
      let low = Infinity;
      let high = -Infinity;
      for (const col of columns) {
        const v = col[i];
        if (v !== null && Number.isFinite(v)) {
          sum += v;
          sq += v * v;
          n++;
          low = Math.min(low, v);
          high = Math.max(high, v);
        }
      }
      if (n === 0) {
        continue;
      }
      const m = sum / n;
      mean[i] = m;
      if (band === 'std') {
        const sd = Math.sqrt(Math.max(0, sq / n - m * m));
        lo[i] = m - sd;
        hi[i] = m + sd;
      } else {
        lo[i] = low;
        hi[i] = high;
      }
    }
    return {
      id: `group:${group}`,
      label: `${group} (${columns.length} run${columns.length === 1 ? '' : 's'})`,
      colour: colourOf(group, gi),
      x,
      y: mean,
      lo,
      hi
    };
  });
}

/** A CSV field, quoted when it holds a comma, quote or line break. */
function csvField(value: string | number | null): string {
  if (value === null) {
    return '';
  }
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A table as CSV text (header row, then one row per index of the columns). */
export function toCsv(header: string[], columns: (number | string | null)[][]): string {
  const rows = [header.map(csvField).join(',')];
  const length = Math.max(0, ...columns.map(c => c.length));
  for (let i = 0; i < length; i++) {
    rows.push(columns.map(c => csvField(c[i] ?? null)).join(','));
  }
  return rows.join('\n') + '\n';
}

/** A relative time in seconds as "1h 2m", "3m 4s" or "5.2 s" (axis ticks). */
export function formatSeconds(seconds: number): string {
  const a = Math.abs(seconds);
  const sign = seconds < 0 ? '-' : '';
  if (a < 60) {
    return `${sign}${Number(a.toPrecision(3))} s`;
  }
  const h = Math.floor(a / 3600);
  const m = Math.floor((a % 3600) / 60);
  const s = Math.round(a % 60);
  return h ? `${sign}${h}h ${m}m` : `${sign}${m}m ${s}s`;
}
