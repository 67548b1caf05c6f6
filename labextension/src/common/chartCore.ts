import uPlot from 'uplot';

import {
  clampSmoothing,
  Column,
  ema,
  formatSeconds,
  ILineData,
  positiveOnly,
  sameGrid,
  alignLines,
  toCsv,
  X_AXES,
  X_LABELS,
  XAxis
} from './chartMath';

/**
 * The one chart of the workspace: the panel (React, charts.tsx) and the
 * notebook widgets (widgets-src/chart.js, bundled by esbuild) both draw
 * through `ChartView`, so a widget and the panel show the same thing.
 * Framework-free DOM and uPlot (canvas; no DOM per point). Decisions:
 * - Each line is four uPlot series in a fixed layout: the line (smoothed when
 *   smoothing > 0), its raw values drawn faint behind it (empty at 0), and the
 *   upper and lower edges of its band (a downsampled series' min/max, or a
 *   group's spread), filled by a uPlot band. The layout never changes with
 *   the smoothing weight, so moving the slider only recomputes the averages
 *   and calls `setData` (no rebuild).
 * - The legend lists the lines only; clicking an entry hides or shows the line
 *   with its raw line and band, in every chart of the view (`ChartSync`, by
 *   line id), and the choice survives new data.
 * - The charts of one view share a `ChartSync`: the crosshair follows the
 *   mouse in all of them (uPlot's cursor sync), a zoom (drag a window) applies
 *   to all, and "Reset zoom" (or a double-click) resets all.
 * - View-wide settings (smoothing, x axis, log y) come from `ChartControls`;
 *   a chart's own "log" button overrides the view's log setting for it.
 * - PNG export draws the title, the plot canvas and the legend onto one canvas
 *   with the theme's background; CSV export writes x and, per line, the raw and
 *   (when smoothing) the smoothed values.
 * - Colours of axes, grid and text are JupyterLab's theme variables, read when
 *   uPlot draws; a theme switch redraws.
 */

export interface IChartSettings {
  x: XAxis;
  /** EMA weight, 0 (none) to 0.99. */
  smoothing: number;
  logY: boolean;
}

export const DEFAULT_SETTINGS: IChartSettings = { x: 'step', smoothing: 0, logY: false };

/** Theme variable at `node` (read at draw time: a canvas cannot use `var(...)`). */
export function themeValue(node: Element, name: string, fallback: string): string {
  return getComputedStyle(node).getPropertyValue(name).trim() || fallback;
}

/** A number for a legend or tooltip: 6 significant digits, exponent beyond 1e6 or below 1e-3. */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) {
    return '–';
  }
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) {
    return v.toExponential(3);
  }
  return String(Number(v.toPrecision(6)));
}

/** Tick spacings for steps: whole numbers only (1, 2, 5, 10, 20, 50, ...), never "0.2". */
export const STEP_INCREMENTS = Array.from({ length: 16 }, (_, e) => [1, 2, 5].map(m => m * 10 ** e)).flat();

/** A colour with alpha (`#rrggbb` -> `rgba(...)`). */
export function withAlpha(colour: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(colour);
  if (!m) {
    return colour;
  }
  const [r, g, b] = [m[1], m[2], m[3]].map(h => parseInt(h, 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | undefined> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined) {
      node.setAttribute(name, value);
    }
  }
  node.append(...children);
  return node;
}

/** The charts of one view: crosshair, zoom and hidden lines kept in step. */
export class ChartSync {
  readonly key = `mlws-sync-${Math.random().toString(36).slice(2)}`;
  readonly charts = new Set<ChartView>();
  /** Line ids the user hid from a legend. */
  readonly hidden = new Set<string>();
  private _busy = false;

  /** Applies an x window (null: reset) from `source` to the other charts. */
  zoom(source: ChartView, window: [number, number] | null): void {
    if (this._busy) {
      return;
    }
    this._busy = true;
    try {
      for (const chart of this.charts) {
        if (chart !== source) {
          chart.applyZoom(window, false);
        }
      }
    } finally {
      this._busy = false;
    }
  }

  /** A line shown or hidden from a legend: the same in every chart. */
  toggle(source: ChartView, id: string, show: boolean): void {
    if (show) {
      this.hidden.delete(id);
    } else {
      this.hidden.add(id);
    }
    if (this._busy) {
      return;
    }
    this._busy = true;
    try {
      for (const chart of this.charts) {
        if (chart !== source) {
          chart.showLine(id, show);
        }
      }
    } finally {
      this._busy = false;
    }
  }
}

export interface IChartViewOptions {
  title: string;
  height?: number;
  sync?: ChartSync;
  /** Called with the x window the user zoomed to, or null when zoom is reset. */
  onZoom?: (window: [number, number] | null) => void;
  /** When given, the header has a pin button; called with the new pinned state. */
  onPin?: (pinned: boolean) => void;
  pinned?: boolean;
  /** Reports the drawable width once known (for `max_points`). */
  onWidth?: (width: number) => void;
}

const PER_LINE = 4; // line, raw, upper edge, lower edge

/** One chart: a header (title, log, reset zoom, PNG, CSV, pin), the uPlot canvas, a legend. */
export class ChartView {
  readonly node: HTMLElement;
  readonly plotHost: HTMLDivElement;
  private _plot: uPlot | null = null;
  private _lines: ILineData[] = [];
  private _settings: IChartSettings = { ...DEFAULT_SETTINGS };
  private _logOverride: boolean | null = null;
  private _signature = '';
  private _zoom: [number, number] | null = null;
  private _title: HTMLElement;
  private _note: HTMLElement;
  private _logButton: HTMLButtonElement;
  private _resetButton: HTMLButtonElement;
  private _pinButton: HTMLButtonElement | null = null;
  private _resize: ResizeObserver;
  private _theme: MutationObserver;
  private _sync: ChartSync;
  private _ownSync: boolean;
  private _x: number[] = [];
  private _empty: HTMLElement;

  constructor(
    readonly host: HTMLElement,
    readonly options: IChartViewOptions
  ) {
    this._ownSync = !options.sync;
    this._sync = options.sync ?? new ChartSync();
    this._sync.charts.add(this);
    this._title = el('span', { class: 'mlws-chart-title' }, options.title);
    this._note = el('span', { class: 'mlws-chart-note' });
    this._logButton = this._button('log', 'Logarithmic y axis for this chart', () => this.setLogOverride(!this.logY));
    this._logButton.setAttribute('aria-pressed', 'false');
    this._resetButton = this._button('reset zoom', 'Reset zoom (all charts of this view)', () => this.resetZoom());
    this._resetButton.disabled = true;
    const png = this._button('PNG', 'Download this chart as PNG', () => this.downloadPng());
    const csv = this._button('CSV', 'Download the lines of this chart as CSV', () => this.downloadCsv());
    const tools = el('span', { class: 'mlws-chart-tools' }, this._logButton, this._resetButton, png, csv);
    if (options.onPin) {
      this._pinButton = this._button('☆', `Pin ${options.title}`, () => this.setPinned(!this.pinned, true));
      this.setPinned(!!options.pinned, false);
      tools.append(this._pinButton);
    }
    const header = el('div', { class: 'mlws-chart-header' }, this._title, this._note, tools);
    this.plotHost = el('div', { class: 'mlws-chart-plot' });
    this._empty = el('div', { class: 'mlws-chart-empty' }, 'No points yet.');
    const name = options.title ? `Chart of ${options.title}` : undefined;
    this.node = el('figure', { class: 'mlws-chart', 'aria-label': name }, header, this._empty, this.plotHost);
    (this.node as unknown as { mlwsChart: ChartView }).mlwsChart = this;
    host.append(this.node);
    this._resize = new ResizeObserver(() => {
      const w = this.width();
      if (this._plot && Math.abs(w - this._plot.width) > 4) {
        this._plot.setSize({ width: w, height: this.height });
      }
    });
    this._resize.observe(this.plotHost);
    this._theme = new MutationObserver(() => this._plot?.redraw(false));
    this._theme.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light'] });
  }

  get height(): number {
    return this.options.height ?? 220;
  }

  get pinned(): boolean {
    return this._pinButton?.getAttribute('aria-pressed') === 'true';
  }

  get plot(): uPlot | null {
    return this._plot;
  }

  get lines(): ILineData[] {
    return this._lines;
  }

  get settings(): IChartSettings {
    return this._settings;
  }

  get logY(): boolean {
    return this._logOverride ?? this._settings.logY;
  }

  get zoomWindow(): [number, number] | null {
    return this._zoom;
  }

  width(): number {
    return Math.max(200, this.plotHost.clientWidth || this.host.clientWidth || 480);
  }

  setTitle(title: string, note = ''): void {
    this._title.textContent = title;
    this._note.textContent = note;
  }

  setPinned(pinned: boolean, notify: boolean): void {
    if (!this._pinButton) {
      return;
    }
    this._pinButton.textContent = pinned ? '★' : '☆';
    this._pinButton.setAttribute('aria-pressed', String(pinned));
    this._pinButton.title = `${pinned ? 'Unpin' : 'Pin'} ${this.options.title}`;
    this._pinButton.setAttribute('aria-label', this._pinButton.title);
    if (notify) {
      this.options.onPin?.(pinned);
    }
  }

  setLogOverride(log: boolean | null): void {
    this._logOverride = log;
    this._render(true);
  }

  /** New view settings; a smoothing change alone only recomputes the data. */
  setSettings(settings: Partial<IChartSettings>): void {
    const before = this._settings;
    this._settings = { ...before, ...settings, smoothing: clampSmoothing(settings.smoothing ?? before.smoothing) };
    const rebuild = before.x !== this._settings.x || before.logY !== this._settings.logY;
    if (before.x !== this._settings.x) {
      this._zoom = null;
    }
    this._render(rebuild);
  }

  /** New lines (data); the chart is rebuilt only when the set of lines changed. */
  setLines(lines: ILineData[]): void {
    this._lines = lines;
    this._render(false);
  }

  private _button(text: string, title: string, onClick: () => void): HTMLButtonElement {
    const b = el('button', { type: 'button', class: 'mlws-chart-button', title, 'aria-label': title }, text);
    b.addEventListener('click', onClick);
    return b;
  }

  /** The aligned data uPlot draws: x, then per line [line, raw, upper, lower]. */
  private _data(): uPlot.AlignedData {
    const lines = this._lines;
    const w = this._settings.smoothing;
    const log = this.logY;
    const grid = sameGrid(lines.map(l => l.x));
    const aligned = grid ? null : alignLines(lines);
    const bands = grid ? null : alignLines(lines.map(l => ({ x: l.x, y: l.hi ?? [] }))).ys;
    const lows = grid ? null : alignLines(lines.map(l => ({ x: l.x, y: l.lo ?? [] }))).ys;
    this._x = grid ? lines[0]?.x ?? [] : aligned!.x;
    const n = this._x.length;
    const none: Column = new Array(n).fill(null);
    const columns: Column[] = [];
    lines.forEach((line, i) => {
      const raw = grid ? line.y : aligned!.ys[i];
      const hi = grid ? line.hi : line.hi ? bands![i] : undefined;
      const lo = grid ? line.lo : line.lo ? lows![i] : undefined;
      const safe = (c: Column | undefined) => (c && c.length === n ? (log ? positiveOnly(c) : c) : none);
      const shown = safe(raw);
      columns.push(w > 0 ? ema(shown, w) : shown, w > 0 ? shown : none, safe(hi), safe(lo));
    });
    return [this._x, ...columns] as uPlot.AlignedData;
  }

  private _render(rebuild: boolean): void {
    const lines = this._lines;
    const points = lines.reduce((n, l) => n + l.y.length, 0);
    this.node.dataset.points = String(points);
    this.node.dataset.lines = String(lines.length);
    this.node.dataset.smoothing = String(this._settings.smoothing);
    this.node.dataset.x = this._settings.x;
    this.node.dataset.logY = String(this.logY);
    this._logButton.setAttribute('aria-pressed', String(this.logY));
    if (!lines.length || !points) {
      this._destroyPlot();
      this._empty.hidden = false;
      return;
    }
    this._empty.hidden = true;
    const signature = [this._settings.x, this.logY, ...lines.map(l => `${l.id}\u0001${l.label}\u0001${l.colour}`)].join('\u0000');
    const data = this._data();
    if (this._plot && !rebuild && signature === this._signature) {
      this._plot.setData(data, this._zoom === null);
      if (this._zoom) {
        this._plot.setScale('x', { min: this._zoom[0], max: this._zoom[1] });
      }
      return;
    }
    this._destroyPlot();
    this._signature = signature;
    this._plot = new uPlot(this._options(), data, this.plotHost);
    this._afterBuild();
    this.options.onWidth?.(this._plot.width);
  }

  private _options(): uPlot.Options {
    const node = this.node;
    const xAxis = this._settings.x;
    const font = `12px ${themeValue(node, '--jp-ui-font-family', 'sans-serif')}`;
    const ink = () => themeValue(node, '--jp-ui-font-color1', '#222');
    const axis = (): uPlot.Axis => ({
      stroke: ink,
      font,
      labelFont: font,
      grid: { stroke: () => themeValue(node, '--jp-border-color2', '#e0e0e0'), width: 1 },
      ticks: { stroke: () => themeValue(node, '--jp-border-color1', '#bdbdbd'), width: 1 }
    });
    const fitLabels: uPlot.Axis.Size = (u, values, axisIdx, cycleNum) => {
      const a = u.axes[axisIdx];
      if (cycleNum > 1) {
        return (a as unknown as { _size: number })._size;
      }
      const longest = (values ?? []).reduce((x, v) => (v.length > x.length ? v : x), '');
      u.ctx.font = a.font?.[0] ?? font;
      const text = longest ? u.ctx.measureText(longest).width / devicePixelRatio : 0;
      return Math.ceil((a.ticks?.size ?? 10) + (a.gap ?? 5) + text + 6);
    };
    const xAxisOptions: uPlot.Axis = { ...axis(), label: X_LABELS[xAxis], labelSize: 22 };
    if (xAxis === 'step') {
      xAxisOptions.incrs = STEP_INCREMENTS;
    } else if (xAxis === 'relative_time') {
      xAxisOptions.values = (_u, splits) => splits.map(formatSeconds);
    }
    const yAxis: uPlot.Axis = {
      ...axis(),
      size: fitLabels,
      values: (_u, splits) => {
        const labels = splits.map(v => (v === null ? '' : formatValue(v)));
        this.node.dataset.yTicks = labels.join('|');
        return labels;
      }
    };
    const series: uPlot.Series[] = [{ label: X_LABELS[xAxis], value: (_u, v) => (v === null ? '–' : this._formatX(v)) }];
    const bands: uPlot.Band[] = [];
    const hidden = this._sync.hidden;
    this._lines.forEach((line, i) => {
      const base = 1 + i * PER_LINE;
      const show = !hidden.has(line.id);
      series.push(
        { label: line.label, stroke: line.colour, width: 1.5, spanGaps: true, show, points: { show: false }, value: (_u, v) => formatValue(v) },
        { label: `${line.label} (raw)`, stroke: withAlpha(line.colour, 0.28), width: 1, spanGaps: true, show, points: { show: false } },
        { label: `${line.label} (max)`, stroke: 'transparent', width: 1, spanGaps: true, show, points: { show: false } },
        { label: `${line.label} (min)`, stroke: 'transparent', width: 1, spanGaps: true, show, points: { show: false } }
      );
      bands.push({ series: [base + 2, base + 3], fill: withAlpha(line.colour, 0.15) });
    });
    return {
      width: this.width(),
      height: this.height,
      scales: { x: { time: xAxis === 'wall_time' }, y: this.logY ? { distr: 3, log: 10 } : {} },
      axes: [xAxisOptions, yAxis],
      series,
      bands,
      legend: { show: true, live: true },
      cursor: { drag: { x: true, y: false }, sync: { key: this._sync.key, setSeries: false } },
      hooks: {
        setSelect: [
          (u: uPlot) => {
            if (u.select.width > 2) {
              const lo = u.posToVal(u.select.left, 'x');
              const hi = u.posToVal(u.select.left + u.select.width, 'x');
              this.applyZoom([lo, hi], true);
            }
          }
        ],
        setSeries: [
          (u: uPlot, idx: number | null) => {
            if (idx === null || idx < 1 || (idx - 1) % PER_LINE !== 0) {
              return;
            }
            const line = this._lines[(idx - 1) / PER_LINE];
            const show = u.series[idx].show !== false;
            this._showAux(idx, show);
            if (line) {
              this._sync.toggle(this, line.id, show);
            }
          }
        ]
      }
    };
  }

  private _formatX(v: number): string {
    if (this._settings.x === 'wall_time') {
      return new Date(v * 1000).toLocaleString();
    }
    if (this._settings.x === 'relative_time') {
      return formatSeconds(v);
    }
    return String(v);
  }

  private _afterBuild(): void {
    const plot = this._plot!;
    // Only the lines are listed in the legend (their raw lines and band edges follow them).
    const rows = plot.root.querySelectorAll<HTMLElement>('.u-legend .u-series');
    rows.forEach((row, i) => {
      if (i > 0 && (i - 1) % PER_LINE !== 0) {
        row.style.display = 'none';
      } else if (i > 0) {
        const line = this._lines[(i - 1) / PER_LINE];
        row.dataset.line = line?.id ?? '';
        row.title = 'Click to hide or show this line';
      }
    });
    plot.over.addEventListener('dblclick', () => this.resetZoom());
    if (this._zoom) {
      plot.setScale('x', { min: this._zoom[0], max: this._zoom[1] });
    }
  }

  private _showAux(idx: number, show: boolean): void {
    const plot = this._plot;
    if (!plot) {
      return;
    }
    for (let k = 1; k < PER_LINE; k++) {
      if ((plot.series[idx + k].show !== false) !== show) {
        plot.setSeries(idx + k, { show });
      }
    }
  }

  /** Shows or hides the line `id` (from another chart's legend). */
  showLine(id: string, show: boolean): void {
    const i = this._lines.findIndex(l => l.id === id);
    const plot = this._plot;
    if (i < 0 || !plot) {
      return;
    }
    const idx = 1 + i * PER_LINE;
    if ((plot.series[idx].show !== false) !== show) {
      plot.setSeries(idx, { show });
    }
  }

  /** Zooms x to `window` (null: back to all); `user` when this chart is where the user zoomed. */
  applyZoom(window: [number, number] | null, user: boolean): void {
    this._zoom = window;
    this._resetButton.disabled = window === null;
    this.node.dataset.zoomed = String(window !== null);
    const plot = this._plot;
    if (plot) {
      if (window) {
        plot.setScale('x', { min: window[0], max: window[1] });
      } else {
        plot.setData(plot.data, true);
      }
    }
    this.options.onZoom?.(window);
    if (user) {
      this._sync.zoom(this, window);
    }
  }

  resetZoom(): void {
    if (this._zoom !== null) {
      this.applyZoom(null, true);
    }
  }

  /** The chart as CSV: x, then per shown line its raw values (and smoothed ones when smoothing). */
  csv(): string {
    const plot = this._plot;
    const data = plot ? plot.data : this._data();
    const header = [X_LABELS[this._settings.x]];
    const columns: (number | null)[][] = [data[0] as number[]];
    const smoothing = this._settings.smoothing > 0;
    this._lines.forEach((line, i) => {
      const base = 1 + i * PER_LINE;
      if (this._sync.hidden.has(line.id)) {
        return;
      }
      header.push(line.label);
      columns.push((smoothing ? data[base + 1] : data[base]) as Column);
      if (smoothing) {
        header.push(`${line.label} (smoothed ${this._settings.smoothing})`);
        columns.push(data[base] as Column);
      }
    });
    return toCsv(header, columns);
  }

  /** The chart as a PNG data URL: title, plot and legend on the theme's background. */
  png(): string {
    const plot = this._plot;
    const scale = devicePixelRatio || 1;
    const title = this._title.textContent ?? '';
    const shown = this._lines.filter(l => !this._sync.hidden.has(l.id));
    const plotCanvas = plot?.ctx.canvas;
    const pw = plotCanvas?.width ?? Math.round(400 * scale);
    const ph = plotCanvas?.height ?? Math.round(100 * scale);
    const rowH = Math.round(18 * scale);
    const canvas = document.createElement('canvas');
    canvas.width = pw;
    canvas.height = ph + rowH * (2 + shown.length);
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = themeValue(this.node, '--jp-layout-color0', '#fff');
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const ink = themeValue(this.node, '--jp-ui-font-color1', '#222');
    const family = themeValue(this.node, '--jp-ui-font-family', 'sans-serif');
    ctx.fillStyle = ink;
    ctx.font = `bold ${Math.round(13 * scale)}px ${family}`;
    ctx.fillText(title, 6 * scale, rowH * 0.8);
    if (plotCanvas) {
      ctx.drawImage(plotCanvas, 0, rowH);
    }
    ctx.font = `${Math.round(12 * scale)}px ${family}`;
    shown.forEach((line, i) => {
      const y = rowH * (1.8 + i) + ph;
      ctx.fillStyle = line.colour;
      ctx.fillRect(6 * scale, y - 9 * scale, 14 * scale, 4 * scale);
      ctx.fillStyle = ink;
      ctx.fillText(line.label, 26 * scale, y);
    });
    return canvas.toDataURL('image/png');
  }

  private _fileName(ext: string): string {
    const base = (this._title.textContent || 'chart').replace(/[^\w.-]+/g, '_').slice(0, 80);
    return `${base}.${ext}`;
  }

  downloadPng(): void {
    download(this.png(), this._fileName('png'));
  }

  downloadCsv(): void {
    download(`data:text/csv;charset=utf-8,${encodeURIComponent(this.csv())}`, this._fileName('csv'));
  }

  private _destroyPlot(): void {
    this._plot?.destroy();
    this._plot = null;
    this._signature = '';
  }

  destroy(): void {
    this._resize.disconnect();
    this._theme.disconnect();
    this._destroyPlot();
    this._sync.charts.delete(this);
    if (this._ownSync) {
      this._sync.hidden.clear();
    }
    this.node.remove();
  }
}

/** Saves `url` as `name` through a temporary link (the browser's download). */
export function download(url: string, name: string): void {
  const a = el('a', { href: url, download: name });
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  document.body.dataset.mlwsLastDownload = name;
}

export interface IChartControlsOptions {
  settings: IChartSettings;
  onChange: (settings: IChartSettings) => void;
  /** A metric search box (placeholder text), when the view has one. */
  search?: { value: string; onChange: (text: string) => void };
  /** A group-by choice: the keys offered ("params.x", "tags.y") and the current one. */
  group?: { keys: string[]; value: string | null; onChange: (key: string | null) => void };
}

/** The view-wide controls: smoothing slider, x axis, log y, and optionally search and group-by. */
export class ChartControls {
  readonly node: HTMLElement;
  private _settings: IChartSettings;
  private _slider: HTMLInputElement;
  private _readout: HTMLSpanElement;
  private _x: HTMLSelectElement;
  private _log: HTMLInputElement;
  private _group: HTMLSelectElement | null = null;

  constructor(
    host: HTMLElement,
    readonly options: IChartControlsOptions
  ) {
    this._settings = { ...options.settings };
    this._slider = el('input', {
      type: 'range',
      min: '0',
      max: '0.99',
      step: '0.01',
      class: 'mlws-chart-smoothing',
      'aria-label': 'Smoothing'
    });
    this._readout = el('span', { class: 'mlws-chart-readout', 'aria-hidden': 'true' });
    this._slider.addEventListener('input', () => this._set({ smoothing: Number(this._slider.value) }));
    this._x = el('select', { 'aria-label': 'X axis' });
    for (const axis of X_AXES) {
      this._x.append(el('option', { value: axis }, X_LABELS[axis].replace(' (s)', '')));
    }
    this._x.addEventListener('change', () => this._set({ x: this._x.value as XAxis }));
    this._log = el('input', { type: 'checkbox', 'aria-label': 'Log scale y' });
    this._log.addEventListener('change', () => this._set({ logY: this._log.checked }));
    const parts: Node[] = [];
    if (options.search) {
      const box = el('input', {
        type: 'search',
        class: 'mlws-chart-search',
        placeholder: 'Search metrics',
        'aria-label': 'Search metrics'
      });
      box.value = options.search.value;
      box.addEventListener('input', () => options.search!.onChange(box.value));
      parts.push(box);
    }
    parts.push(
      el('label', { class: 'mlws-chart-control' }, 'Smoothing ', this._slider, this._readout),
      el('label', { class: 'mlws-chart-control' }, 'X axis ', this._x),
      el('label', { class: 'mlws-chart-control' }, this._log, ' log y')
    );
    if (options.group) {
      this._group = el('select', { 'aria-label': 'Group runs by' });
      parts.push(el('label', { class: 'mlws-chart-control' }, 'Group by ', this._group));
      this._group.addEventListener('change', () => options.group!.onChange(this._group!.value || null));
      this.setGroupKeys(options.group.keys, options.group.value);
    }
    this.node = el('div', { class: 'mlws-chart-controls', role: 'toolbar', 'aria-label': 'Chart settings' }, ...parts);
    host.append(this.node);
    this.setSettings(this._settings);
  }

  get settings(): IChartSettings {
    return this._settings;
  }

  /** Shows `settings` (no change event). */
  setSettings(settings: IChartSettings): void {
    this._settings = { ...settings };
    this._slider.value = String(settings.smoothing);
    this._readout.textContent = settings.smoothing.toFixed(2);
    this._x.value = settings.x;
    this._log.checked = settings.logY;
  }

  setGroupKeys(keys: string[], value: string | null): void {
    const select = this._group;
    if (!select) {
      return;
    }
    select.replaceChildren(el('option', { value: '' }, 'none'), ...keys.map(k => el('option', { value: k }, k)));
    select.value = value && keys.includes(value) ? value : '';
  }

  private _set(change: Partial<IChartSettings>): void {
    this._settings = { ...this._settings, ...change, smoothing: clampSmoothing(change.smoothing ?? this._settings.smoothing) };
    this._readout.textContent = this._settings.smoothing.toFixed(2);
    this.options.onChange(this._settings);
  }

  destroy(): void {
    this.node.remove();
  }
}
