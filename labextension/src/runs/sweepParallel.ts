/**
 * The parallel-coordinates chart of a sweep: one vertical axis per searched
 * parameter and one for the objective, one line per trial through its values.
 *
 * Plain DOM (SVG), no React: the run view's Sweep section (runSweep.tsx) and
 * the notebook widget `SweepDetails` (widgets-src/sweep_details.js, bundled
 * by esbuild from this file) draw the same chart. Decisions:
 * - An axis's kind comes from the search space's text (the sweep run's
 *   `search_space.<name>` params): `choice(...)` is categorical, its
 *   categories in the order written; `loguniform`, `qloguniform` and
 *   `lognormal` are log-scaled; the other distributions linear. A parameter
 *   without a known distribution is linear when every value reads as a
 *   number, else categorical (categories sorted).
 * - Numeric axes span the values the trials took (not the space's bounds):
 *   the lines use the whole height.
 * - Params arrive as text (as stored): a category is matched by that text,
 *   so `choice(1e-05)` and a trial's "1e-05" agree.
 * - Colour says the objective: from orange (worst) through purple to blue
 *   (best), by the goal. A trial stopped early is a dashed grey line, one that never logged
 *   the objective a dotted grey line that ends at the last parameter axis.
 *   The best trial is drawn last and thicker.
 * - Text colours are JupyterLab's theme variables (SVG takes `var(...)`), so
 *   a theme switch needs no redraw.
 */

/** A parameter's value as the API gives it (text), or as the widget has it. */
export type ParamValue = string | number | boolean | null;

/** One trial of a sweep, as the Sweep section and the widget show it. */
export interface ISweepTrial {
  trial: number | null;
  run_id: string;
  name: string;
  status: string;
  /** The objective's latest value, null when none (or not finite). */
  value: number | null;
  /** Why it stopped, failed or ended, in words ('' when nothing to say). */
  reason: string;
  /** Stopped by the early-termination policy. */
  stopped: boolean;
  params: Record<string, ParamValue>;
}

export interface IAxis {
  name: string;
  kind: 'linear' | 'log' | 'category';
  /** The categories, top to bottom (category axes only). */
  categories: string[];
  min: number;
  max: number;
}

/** Worst, middle and best: orange, purple, blue (apart from the stopped grey on both themes). */
const SHADES: [number, number, number][] = [
  [255, 127, 14],
  [148, 103, 189],
  [31, 119, 180]
];
const STOPPED = 'var(--jp-ui-font-color3, #9e9e9e)';
const INK = 'var(--jp-ui-font-color1, #222)';
const MUTED = 'var(--jp-ui-font-color2, #666)';
const RULE = 'var(--jp-border-color1, #bdbdbd)';
const SVG = 'http://www.w3.org/2000/svg';

const LOG_KINDS = ['loguniform', 'qloguniform', 'lognormal'];

/** The arguments of `choice(...)` as the trials' texts: quoted strings unquoted, the rest as written. */
export function choiceValues(args: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: string | null = null;
  let quoted = false;
  for (let i = 0; i < args.length; i++) {
    const c = args[i];
    if (quote !== null) {
      if (c === '\\' && i + 1 < args.length) {
        current += args[++i];
      } else if (c === quote) {
        quote = null;
      } else {
        current += c;
      }
    } else if (c === "'" || c === '"') {
      quote = c;
      quoted = true;
      current = ''; // the blank after the comma
    } else if (c === ',') {
      out.push(quoted ? current : current.trim());
      current = '';
      quoted = false;
    } else if (!quoted && c !== '[' && c !== ']') {
      current += c;
    }
  }
  if (quoted || current.trim()) {
    out.push(quoted ? current : current.trim());
  }
  return out;
}

function text(value: ParamValue | undefined): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  if (typeof value === 'boolean') {
    return value ? 'True' : 'False';
  }
  return String(value);
}

function numeric(value: ParamValue | undefined): number | null {
  const t = text(value);
  if (t === null || t.trim() === '') {
    return null;
  }
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

function span(values: number[], log: boolean): [number, number] {
  const usable = values.filter(v => Number.isFinite(v) && (!log || v > 0));
  if (usable.length === 0) {
    return [0, 1];
  }
  return [Math.min(...usable), Math.max(...usable)];
}

/** The axes of the chart: one per parameter of `space` (in its order), then the objective. */
export function sweepAxes(space: Record<string, string>, objective: string, trials: ISweepTrial[]): IAxis[] {
  const names = Object.keys(space);
  for (const t of trials) {
    for (const name of Object.keys(t.params)) {
      if (!names.includes(name)) {
        names.push(name);
      }
    }
  }
  const axes: IAxis[] = names.map(name => {
    const written = (space[name] ?? '').trim();
    const match = /^(\w+)\s*\(([\s\S]*)\)$/.exec(written);
    const kind = match?.[1] ?? '';
    const taken = trials.map(t => text(t.params[name])).filter((v): v is string => v !== null);
    const numbers = trials.map(t => numeric(t.params[name])).filter((v): v is number => v !== null);
    const allNumbers = taken.length > 0 && numbers.length === taken.length;
    if (kind === 'choice' || (!match && !allNumbers)) {
      const listed = kind === 'choice' ? choiceValues(match?.[2] ?? '') : [];
      const extra = [...new Set(taken.filter(v => !listed.includes(v)))].sort((a, b) =>
        a.localeCompare(b, undefined, { numeric: true })
      );
      return { name, kind: 'category', categories: [...listed, ...extra], min: 0, max: 1 };
    }
    const log = LOG_KINDS.includes(kind);
    const [min, max] = span(numbers, log);
    return { name, kind: log ? 'log' : 'linear', categories: [], min, max };
  });
  const values = trials.map(t => t.value).filter((v): v is number => v !== null && Number.isFinite(v));
  const [min, max] = span(values, false);
  axes.push({ name: objective, kind: 'linear', categories: [], min, max });
  return axes;
}

/** Where `value` sits on `axis`: 0 at the bottom, 1 at the top; null when it has no place there. */
export function position(axis: IAxis, value: ParamValue | undefined): number | null {
  if (axis.kind === 'category') {
    const index = axis.categories.indexOf(text(value) ?? '\u0000');
    if (index < 0) {
      return null;
    }
    return axis.categories.length === 1 ? 0.5 : 1 - index / (axis.categories.length - 1);
  }
  const n = numeric(value);
  if (n === null || (axis.kind === 'log' && n <= 0)) {
    return null;
  }
  const [lo, hi, v] = axis.kind === 'log' ? [Math.log(axis.min), Math.log(axis.max), Math.log(n)] : [axis.min, axis.max, n];
  return hi > lo ? (v - lo) / (hi - lo) : 0.5;
}

/** A number as a short label: 6 significant digits, exponent form when very large or small. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) {
    return v.toExponential(2);
  }
  return String(Number(v.toPrecision(4)));
}

function ticks(axis: IAxis): [number, string][] {
  if (axis.kind === 'category') {
    const every = Math.max(1, Math.ceil(axis.categories.length / 8));
    return axis.categories
      .map(c => [position(axis, c) ?? 0, c] as [number, string])
      .filter((_, i) => i % every === 0);
  }
  if (axis.max <= axis.min) {
    return [[0.5, shortNumber(axis.min)]];
  }
  const middle = axis.kind === 'log' ? Math.sqrt(axis.min * axis.max) : (axis.min + axis.max) / 2;
  return [
    [0, shortNumber(axis.min)],
    [0.5, shortNumber(middle)],
    [1, shortNumber(axis.max)]
  ];
}

/** The line colour of an objective value: orange for the worst, blue for the best. */
function shade(axis: IAxis, value: number, maximize: boolean): string {
  const t = axis.max > axis.min ? (value - axis.min) / (axis.max - axis.min) : 1;
  const good = maximize ? t : 1 - t;
  const [from, to] = good < 0.5 ? [SHADES[0], SHADES[1]] : [SHADES[1], SHADES[2]];
  const k = good < 0.5 ? good * 2 : (good - 0.5) * 2;
  const mix = from.map((f, i) => Math.round(f + (to[i] - f) * k));
  return `rgb(${mix.join(', ')})`;
}

function node<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    el.setAttribute(name, String(value));
  }
  el.append(...children);
  return el;
}

export interface IParallelInput {
  space: Record<string, string>;
  objective: string;
  goal: string;
  trials: ISweepTrial[];
  /** The run id of the best trial, drawn thicker. */
  bestRunId?: string | null;
}

function describe(t: ISweepTrial, objective: string): string {
  const params = Object.entries(t.params)
    .map(([k, v]) => `${k}=${text(v) ?? '–'}`)
    .join(', ');
  const value = t.value === null ? 'no value' : shortNumber(t.value);
  const trial = t.trial === null ? t.name : `Trial ${t.trial}`;
  return `${trial}: ${params} → ${objective} ${value}` + (t.stopped ? ' (stopped early)' : '');
}

/** The chart in `host`; `update()` redraws it (also when the host's width changes). */
export class ParallelChart {
  constructor(
    private readonly host: HTMLElement,
    private readonly height = 240
  ) {
    this.resize = new ResizeObserver(() => {
      if (this.input && Math.abs((this.host.clientWidth || 0) - this.drawnWidth) > 4) {
        this.draw();
      }
    });
    this.resize.observe(host);
  }

  update(input: IParallelInput): void {
    this.input = input;
    this.draw();
  }

  destroy(): void {
    this.resize.disconnect();
    this.host.replaceChildren();
  }

  private draw(): void {
    const input = this.input;
    if (!input) {
      return;
    }
    const width = Math.max(280, this.host.clientWidth || 600);
    this.drawnWidth = this.host.clientWidth || 0;
    const axes = sweepAxes(input.space, input.objective, input.trials);
    const maximize = input.goal !== 'minimize';
    const [top, bottom, left, right] = [30, 14, 64, 64];
    const plotHeight = this.height - top - bottom;
    const step = axes.length > 1 ? (width - left - right) / (axes.length - 1) : 0;
    const xAt = (i: number) => left + i * step;
    const yAt = (p: number) => top + (1 - p) * plotHeight;
    const svg = node('svg', {
      width,
      height: this.height,
      viewBox: `0 0 ${width} ${this.height}`,
      role: 'img',
      'aria-label': `Parallel coordinates: ${axes.map(a => a.name).join(', ')}`,
      class: 'jp-mlws-parallel'
    });
    const objectiveAxis = axes[axes.length - 1];
    const lines = node('g', { fill: 'none' });
    // Stopped and valueless first, then by value from worst to best: the best ends on top.
    const order = [...input.trials].sort((a, b) => {
      const rank = (t: ISweepTrial) => (t.run_id === input.bestRunId ? 3 : t.value === null ? 0 : t.stopped ? 1 : 2);
      const byRank = rank(a) - rank(b);
      if (byRank !== 0 || a.value === null || b.value === null) {
        return byRank;
      }
      return maximize ? a.value - b.value : b.value - a.value;
    });
    for (const t of order) {
      const points: string[] = [];
      axes.forEach((axis, i) => {
        const p = i === axes.length - 1 ? (t.value === null ? null : position(axis, t.value)) : position(axis, t.params[axis.name]);
        if (p !== null) {
          points.push(`${points.length ? 'L' : 'M'}${xAt(i).toFixed(1)},${yAt(p).toFixed(1)}`);
        }
      });
      if (points.length === 0) {
        continue;
      }
      const best = t.run_id === input.bestRunId;
      const stroke = t.stopped || t.value === null ? STOPPED : shade(objectiveAxis, t.value, maximize);
      const path = node(
        'path',
        {
          d: points.join(' '),
          stroke,
          'stroke-width': best ? 3 : 1.6,
          'stroke-opacity': best ? 1 : 0.85,
          class: 'jp-mlws-pc-line',
          'data-trial': t.trial ?? '',
          'data-run-id': t.run_id,
          'data-stopped': String(t.stopped),
          ...(t.stopped ? { 'stroke-dasharray': '5 4' } : t.value === null ? { 'stroke-dasharray': '1 3' } : {})
        },
        node('title', {}, describe(t, input.objective))
      );
      lines.append(path);
    }
    // Axes under the lines, their labels over them (with a halo of the page's colour).
    const rules = node('g', {});
    const labels = node('g', {
      'font-size': 11,
      'font-family': 'var(--jp-ui-font-family, sans-serif)',
      stroke: 'var(--jp-layout-color0, #fff)',
      'stroke-width': 3,
      'paint-order': 'stroke'
    });
    axes.forEach((axis, i) => {
      const x = xAt(i);
      const last = i === axes.length - 1;
      rules.append(node('line', { x1: x, x2: x, y1: top, y2: top + plotHeight, stroke: RULE, 'stroke-width': 1 }));
      const anchor = i === 0 ? 'start' : last ? 'end' : 'middle';
      const title = axis.kind === 'log' ? `${axis.name} (log)` : axis.name;
      const at = { x: i === 0 ? x - 8 : last ? x + 8 : x, y: top - 12, 'text-anchor': anchor, fill: INK };
      labels.append(node('text', { ...at, 'font-weight': last ? 700 : 600 }, title));
      for (const [p, label] of ticks(axis)) {
        const y = yAt(p);
        // The objective's labels right of its axis (the lines arrive from the left).
        const side = last ? 1 : -1;
        rules.append(node('line', { x1: x + 3 * side, x2: x, y1: y, y2: y, stroke: RULE }));
        const shown = label.length > 10 ? `${label.slice(0, 9)}…` : label;
        const at = { x: x + 5 * side, y: y + 4, 'text-anchor': last ? 'start' : 'end', fill: MUTED };
        labels.append(node('text', at, node('title', {}, label), shown));
      }
    });
    svg.append(rules, lines, labels);
    this.host.replaceChildren(svg);
    this.host.dataset.lines = String(lines.childElementCount);
  }

  private input: IParallelInput | null = null;
  private drawnWidth = 0;
  private readonly resize: ResizeObserver;
}
