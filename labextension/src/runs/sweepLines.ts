import uPlot from 'uplot';

/**
 * The line charts of a sweep, drawn by uPlot: the objective of every trial by
 * step, and the best value so far by trial. Plain DOM like sweepParallel.ts,
 * shared by the run view's Sweep section and the `SweepDetails` widget.
 * Decisions:
 * - A trial stopped by the early-termination policy is a dashed grey line
 *   with an ✕ at its last point (drawn on the canvas after each redraw), and
 *   its legend label says "stopped".
 * - The chart is built again only when the set of lines changes (a new trial,
 *   a trial stopped); new points replace the data in place.
 * - Axis colours are the theme's variables, read at draw time (a canvas takes
 *   no `var(...)`); a theme switch redraws.
 * - The legend is shown up to `LEGEND_MAX` lines; past that, the trials table
 *   names them.
 */

export interface ISweepLine {
  label: string;
  x: number[];
  y: (number | null)[];
  stopped?: boolean;
  /** Drawn thicker (the best trial). */
  emphasis?: boolean;
}

export interface ISweepLinesOptions {
  /** The x axis' label ("step", "trials ended"). */
  xLabel: string;
  height?: number;
  /** Mark every point (few points: the best-so-far line). */
  points?: boolean;
  /** A step line (the best so far holds until the next better trial). */
  stepped?: boolean;
}

const PALETTE = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#ff7f0e', '#d62728'];
const STOPPED_FALLBACK = '#9e9e9e';
const LEGEND_MAX = 10;
/** Whole-number ticks for steps and trial counts. */
const WHOLE = Array.from({ length: 16 }, (_, e) => [1, 2, 5].map(m => m * 10 ** e)).flat();

function theme(host: HTMLElement, name: string, fallback: string): string {
  return getComputedStyle(host).getPropertyValue(name).trim() || fallback;
}

function labelOf(line: ISweepLine): string {
  return line.stopped ? `${line.label} (stopped)` : line.label;
}

function tableOf(lines: ISweepLine[]): uPlot.AlignedData {
  if (lines.length === 1) {
    return [lines[0].x, lines[0].y] as uPlot.AlignedData;
  }
  return uPlot.join(lines.map(l => [l.x, l.y] as uPlot.AlignedData));
}

/** One uPlot chart of sweep lines in `host`; `update()` feeds it, `destroy()` removes it. */
export class SweepLines {
  constructor(
    private readonly host: HTMLElement,
    private readonly options: ISweepLinesOptions
  ) {
    this.empty = document.createElement('div');
    this.empty.className = 'jp-mlws-muted mlws-w-empty';
    this.empty.textContent = 'No points yet.';
    host.append(this.empty);
    this.resize = new ResizeObserver(() => {
      const width = this.width();
      if (this.plot && Math.abs(width - this.plot.width) > 4) {
        this.plot.setSize({ width, height: this.height() });
      }
    });
    this.resize.observe(host);
    this.theme = new MutationObserver(() => this.plot?.redraw(false));
    this.theme.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light'] });
  }

  update(all: ISweepLine[]): void {
    const lines = all.filter(l => l.x.length > 0);
    this.lines = lines;
    this.host.dataset.series = String(lines.length);
    this.host.dataset.stopped = String(lines.filter(l => l.stopped).length);
    this.host.dataset.points = String(lines.reduce((n, l) => n + l.x.length, 0));
    this.empty.hidden = lines.length > 0;
    if (lines.length === 0) {
      this.destroyPlot();
      return;
    }
    const signature = lines.map(l => `${labelOf(l)}|${l.emphasis ? 1 : 0}`).join('\u0000');
    if (this.plot && signature === this.signature) {
      this.plot.setData(tableOf(lines));
      return;
    }
    this.destroyPlot();
    this.signature = signature;
    this.plot = new uPlot(this.build(lines), tableOf(lines), this.host);
  }

  destroy(): void {
    this.resize.disconnect();
    this.theme.disconnect();
    this.destroyPlot();
  }

  private width(): number {
    return Math.max(240, this.host.clientWidth || 600);
  }

  private height(): number {
    return this.options.height ?? 220;
  }

  private build(lines: ISweepLine[]): uPlot.Options {
    const host = this.host;
    const font = `11px ${theme(host, '--jp-ui-font-family', 'sans-serif')}`;
    const axis = (): uPlot.Axis => ({
      stroke: () => theme(host, '--jp-ui-font-color1', '#222'),
      font,
      labelFont: `bold ${font}`,
      grid: { stroke: () => theme(host, '--jp-border-color2', '#e0e0e0'), width: 1 },
      ticks: { stroke: () => theme(host, '--jp-border-color1', '#bdbdbd'), width: 1 }
    });
    const stopped = () => theme(host, '--jp-ui-font-color3', STOPPED_FALLBACK);
    const stepped = this.options.stepped ? uPlot.paths.stepped?.({ align: 1 }) : undefined;
    let colour = 0;
    return {
      width: this.width(),
      height: this.height(),
      scales: { x: { time: false } },
      legend: { show: lines.length <= LEGEND_MAX },
      cursor: { drag: { x: false, y: false } },
      axes: [
        { ...axis(), label: this.options.xLabel, labelSize: 20, incrs: WHOLE },
        { ...axis(), size: 56 }
      ],
      series: [
        { label: this.options.xLabel },
        ...lines.map(line => ({
          label: labelOf(line),
          stroke: line.stopped ? stopped : PALETTE[colour++ % PALETTE.length],
          width: line.emphasis ? 2.5 : 1.5,
          dash: line.stopped ? [5, 4] : undefined,
          spanGaps: true,
          paths: stepped,
          points: { show: this.options.points === true, size: 6 }
        }))
      ],
      hooks: { draw: [u => this.markStopped(u, stopped())] }
    };
  }

  /** An ✕ at the last point of each stopped line. */
  private markStopped(u: uPlot, colour: string): void {
    const ctx = u.ctx;
    const r = 4 * uPlot.pxRatio;
    this.lines.forEach((line, i) => {
      if (!line.stopped) {
        return;
      }
      const ys = u.data[i + 1];
      let last = ys.length - 1;
      while (last >= 0 && (ys[last] === null || ys[last] === undefined)) {
        last--;
      }
      if (last < 0) {
        return;
      }
      const cx = u.valToPos(u.data[0][last], 'x', true);
      const cy = u.valToPos(ys[last] as number, 'y', true);
      ctx.save();
      ctx.strokeStyle = colour;
      ctx.lineWidth = 2 * uPlot.pxRatio;
      ctx.beginPath();
      ctx.moveTo(cx - r, cy - r);
      ctx.lineTo(cx + r, cy + r);
      ctx.moveTo(cx + r, cy - r);
      ctx.lineTo(cx - r, cy + r);
      ctx.stroke();
      ctx.restore();
    });
  }

  private destroyPlot(): void {
    this.plot?.destroy();
    this.plot = null;
    this.signature = '';
  }

  private lines: ISweepLine[] = [];
  private plot: uPlot | null = null;
  private signature = '';
  private readonly empty: HTMLDivElement;
  private readonly resize: ResizeObserver;
  private readonly theme: MutationObserver;
}
