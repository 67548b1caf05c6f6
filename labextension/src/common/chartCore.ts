import uPlot from 'uplot';

import { DEFAULT_SETTINGS, download, el, IChartSettings } from './chartDom';
import { chartPng, linesCsv } from './chartExport';
import { ChartHeader } from './chartHeader';
import { InViewDrawer } from './chartInView';
import { markLegend, plotOptions } from './chartPlot';
import { clampSmoothing, drawnColumns, FULL_LAYOUT, ILineData } from './chartMath';

/** Past this many lines a chart draws each line alone: no faint raw line, no band (chartPlot.ts). */
export const COMPACT_LINES = 10;
import { ChartSync } from './chartSync';

export { ChartControls } from './chartControls';
export type { IChartControlsOptions } from './chartControls';
export { DEFAULT_SETTINGS, download, el, formatValue, STEP_INCREMENTS, themeValue, withAlpha } from './chartDom';
export type { IChartSettings } from './chartDom';
export { ChartSync } from './chartSync';

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
 *   and calls `setData` (no rebuild). A chart of more than `COMPACT_LINES`
 *   lines draws each line alone (the compact layout): 100 faint lines and
 *   bands under 100 lines are noise, and four times the drawing (measured:
 *   bench_ui's Charts view).
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
 * - A chart out of view (scrolled away, or in a hidden tab) takes new data and
 *   smoothing without drawing them, and draws once it comes into view
 *   (chartInView.ts); `currentData()` and the exports bring it up to date
 *   first. A new chart is built (with a canvas) at once either way.
 */

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
  private _header: ChartHeader;
  private _resize: ResizeObserver;
  private _theme: MutationObserver;
  private _sync: ChartSync;
  private _ownSync: boolean;
  private _empty: HTMLElement;
  private _drawer: InViewDrawer;

  constructor(
    readonly host: HTMLElement,
    readonly options: IChartViewOptions
  ) {
    this._ownSync = !options.sync;
    this._sync = options.sync ?? new ChartSync();
    this._sync.charts.add(this);
    this._header = new ChartHeader({
      title: options.title,
      onLog: () => this.setLogOverride(!this.logY),
      onResetZoom: () => this.resetZoom(),
      onPng: () => this.downloadPng(),
      onCsv: () => this.downloadCsv(),
      onPin: options.onPin,
      pinned: options.pinned
    });
    this.plotHost = el('div', { class: 'mlws-chart-plot' });
    this._empty = el('div', { class: 'mlws-chart-empty' }, 'No points yet.');
    const name = options.title ? `Chart of ${options.title}` : undefined;
    this.node = el('figure', { class: 'mlws-chart', 'aria-label': name }, this._header.node, this._empty, this.plotHost);
    (this.node as unknown as { mlwsChart: ChartView }).mlwsChart = this;
    host.append(this.node);
    this._resize = new ResizeObserver(() => {
      const w = this.width();
      if (this._plot && Math.abs(w - this._plot.width) > 4) {
        this._plot.setSize({ width: w, height: this.height });
      }
    });
    this._resize.observe(this.plotHost);
    this._drawer = new InViewDrawer(this.node, rescale => this._draw(rescale));
    this._theme = new MutationObserver(() => this._plot?.redraw(false));
    this._theme.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light'] });
  }

  get height(): number {
    return this.options.height ?? 220;
  }

  get pinned(): boolean {
    return this._header.pinned;
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

  /** Series per line: the full layout, or the line alone in a chart of many lines. */
  get perLine(): number {
    return this._lines.length > COMPACT_LINES ? 1 : FULL_LAYOUT;
  }

  get zoomWindow(): [number, number] | null {
    return this._zoom;
  }

  width(): number {
    return Math.max(200, this.plotHost.clientWidth || this.host.clientWidth || 480);
  }

  setTitle(title: string, note = ''): void {
    this._header.setTitle(title, note);
  }

  setPinned(pinned: boolean, notify: boolean): void {
    this._header.setPinned(pinned, notify);
  }

  setLogOverride(log: boolean | null): void {
    this._logOverride = log;
    this._render(true);
  }

  /** New view settings; a smoothing change alone only recomputes the data. */
  setSettings(settings: Partial<IChartSettings>): void {
    const before = this._settings;
    this._settings = { ...before, ...settings, smoothing: clampSmoothing(settings.smoothing ?? before.smoothing) };
    const after = this._settings;
    if (before.x === after.x && before.logY === after.logY && before.smoothing === after.smoothing) {
      return;
    }
    const rebuild = before.x !== after.x || before.logY !== after.logY;
    if (before.x !== after.x) {
      this._zoom = null;
    }
    // Smoothing alone keeps the axes where they are (no rescale, no new ticks): only the lines move.
    this._render(rebuild, !rebuild);
  }

  /** New lines (data); the chart is rebuilt only when the set of lines changed. */
  setLines(lines: ILineData[]): void {
    this._lines = lines;
    this._render(false);
  }

  /** The aligned data uPlot draws: x, then per line [line, raw, upper, lower]. */
  private _data(): uPlot.AlignedData {
    return drawnColumns(this._lines, this._settings.smoothing, this.logY, this.perLine) as uPlot.AlignedData;
  }

  private _render(rebuild: boolean, keepScales = false): void {
    const lines = this._lines;
    const points = lines.reduce((n, l) => n + l.y.length, 0);
    this.node.dataset.points = String(points);
    this.node.dataset.lines = String(lines.length);
    this.node.dataset.smoothing = String(this._settings.smoothing);
    this.node.dataset.x = this._settings.x;
    this.node.dataset.logY = String(this.logY);
    this._header.setLog(this.logY);
    if (!lines.length || !points) {
      this._destroyPlot();
      this._empty.hidden = false;
      return;
    }
    this._empty.hidden = true;
    const signature = [this._settings.x, this.logY, ...lines.map(l => `${l.id}\u0001${l.label}\u0001${l.colour}`)].join('\u0000');
    if (this._plot && !rebuild && signature === this._signature) {
      // New data for the same lines: drawn now in view, else neither computed nor drawn until the
      // chart comes into view (see the class comment).
      this._drawer.request(this._zoom === null && !keepScales);
      return;
    }
    this._destroyPlot();
    this._drawer.clear();
    this._signature = signature;
    this._plot = new uPlot(this._options(), this._data(), this.plotHost);
    this._afterBuild();
    this.options.onWidth?.(this._plot.width);
  }

  /** The data uPlot draws, brought up to date first if it changed while out of view. */
  currentData(): uPlot.AlignedData | null {
    this._drawer.flush();
    return this._plot?.data ?? null;
  }

  /** Draws the current data, the axes following it or (`rescale` false) kept where they are. */
  private _draw(rescale: boolean): void {
    const plot = this._plot;
    if (!plot) {
      return;
    }
    plot.setData(this._data(), rescale);
    if (!rescale) {
      // setData without a rescale only swaps the data: draw the new lines (axes unchanged).
      plot.redraw(true, false);
    }
    if (this._zoom) {
      plot.setScale('x', { min: this._zoom[0], max: this._zoom[1] });
    }
  }

  private _options(): uPlot.Options {
    return plotOptions({
      node: this.node,
      settings: this._settings,
      logY: this.logY,
      lines: this._lines,
      hidden: this._sync.hidden,
      width: this.width(),
      height: this.height,
      syncKey: this._sync.key,
      perLine: this.perLine,
      onSelect: window => this.applyZoom(window, true),
      onShowLine: (idx, show) => {
        const line = this._lines[(idx - 1) / this.perLine];
        this._showAux(idx, show);
        if (line) {
          this._sync.toggle(this, line.id, show);
        }
      }
    });
  }

  private _afterBuild(): void {
    const plot = this._plot!;
    markLegend(plot, this._lines, this.perLine);
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
    for (let k = 1; k < this.perLine; k++) {
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
    const idx = 1 + i * this.perLine;
    if ((plot.series[idx].show !== false) !== show) {
      plot.setSeries(idx, { show });
    }
  }

  /** Zooms x to `window` (null: back to all); `user` when this chart is where the user zoomed. */
  applyZoom(window: [number, number] | null, user: boolean): void {
    this._zoom = window;
    this._header.setZoomed(window !== null);
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
    return linesCsv(this._lines, this._sync.hidden, this._settings);
  }

  /** The chart as a PNG data URL: title, plot and legend on the theme's background. */
  png(): string {
    this._drawer.flush();
    const shown = this._lines.filter(l => !this._sync.hidden.has(l.id));
    return chartPng(this.node, this._header.title, shown, this._plot?.ctx.canvas ?? null);
  }

  private _fileName(ext: string): string {
    const base = (this._header.title || 'chart').replace(/[^\w.-]+/g, '_').slice(0, 80);
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
    this._drawer.disconnect();
    this._destroyPlot();
    this._sync.charts.delete(this);
    if (this._ownSync) {
      this._sync.hidden.clear();
    }
    this.node.remove();
  }
}

