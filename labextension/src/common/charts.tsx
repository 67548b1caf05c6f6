import * as React from 'react';
import uPlot from 'uplot';

/**
 * Metric charts of the workspace browser, drawn by uPlot (canvas; no DOM per
 * point). Decisions:
 * - Histories come downsampled by the server (`max_points` ≈ the chart's
 *   width in pixels), so a million-point metric costs a few hundred points.
 * - Several series (runs) share one x axis: their columns are joined with
 *   `uPlot.join` and gaps are bridged (`spanGaps`).
 * - Zoom: drag a window on the chart (uPlot's selection); double-click resets.
 *   `onZoom` tells the owner the step window so it can fetch its detail.
 * - Non-finite values ("NaN", "Infinity" as the server sends them) are gaps.
 * - Axes, ticks and grid take their colours from JupyterLab's theme variables,
 *   read each time uPlot draws (a canvas cannot use `var(...)`); a theme switch
 *   (JupyterLab sets `data-jp-theme-name` on the body) redraws the chart.
 */

/** One line of a chart: aligned x (steps) and y columns. */
export interface IChartSeries {
  label: string;
  x: number[];
  y: (number | null)[];
}

/** A fixed palette readable on light and dark themes. */
export const SERIES_COLOURS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf'
];

/** Metric keys sorted, the server's own `system/*` metrics after the run's. */
export function sortMetricKeys(keys: Iterable<string>): string[] {
  const system = (k: string) => (k.startsWith('system/') ? 1 : 0);
  return [...keys].sort((a, b) => system(a) - system(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** A server value (number or "NaN"/"Infinity") as a number, or null for a gap. */
export function toNumber(value: number | string): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A theme variable's value where the chart is (read at draw time). */
function themeValue(node: HTMLElement, name: string, fallback: string): string {
  return getComputedStyle(node).getPropertyValue(name).trim() || fallback;
}

/** Tick spacings for steps: whole numbers only (1, 2, 5, 10, 20, 50, ...), never "0.2". */
export const STEP_INCREMENTS = Array.from({ length: 16 }, (_, e) => [1, 2, 5].map(m => m * 10 ** e)).flat();

/** The axes: tick labels in the theme's text colour, ticks and grid in its border colours. */
function themedAxes(node: HTMLElement): uPlot.Axis[] {
  const font = `12px ${themeValue(node, '--jp-ui-font-family', 'sans-serif')}`;
  const ink = () => themeValue(node, '--jp-ui-font-color1', '#000');
  const common = (): uPlot.Axis => ({
    stroke: ink,
    font,
    labelFont: `bold ${font}`,
    grid: { stroke: () => themeValue(node, '--jp-border-color2', '#e0e0e0'), width: 1 },
    ticks: { stroke: () => themeValue(node, '--jp-border-color1', '#bdbdbd'), width: 1 }
  });
  // The y axis is as wide as its longest tick label (uPlot's measuring recipe).
  const fitLabels: uPlot.Axis.Size = (u, values, axisIdx, cycleNum) => {
    const axis = u.axes[axisIdx];
    if (cycleNum > 1) {
      return (axis as unknown as { _size: number })._size;
    }
    const longest = (values ?? []).reduce((a, v) => (v.length > a.length ? v : a), '');
    u.ctx.font = axis.font?.[0] ?? font;
    const text = longest ? u.ctx.measureText(longest).width / devicePixelRatio : 0;
    return Math.ceil((axis.ticks?.size ?? 10) + (axis.gap ?? 5) + text + 4);
  };
  return [
    { ...common(), label: 'step', labelSize: 24, incrs: STEP_INCREMENTS },
    { ...common(), size: fitLabels }
  ];
}

/** Redraws a chart when the JupyterLab theme changes; returns the observer to disconnect. */
function redrawOnThemeChange(chart: uPlot): MutationObserver {
  const observer = new MutationObserver(() => chart.redraw(false));
  observer.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light'] });
  return observer;
}

function aligned(series: IChartSeries[]): uPlot.AlignedData {
  if (series.length === 1) {
    return [series[0].x, series[0].y] as uPlot.AlignedData;
  }
  const tables = series.map(s => [s.x, s.y] as uPlot.AlignedData);
  return uPlot.join(tables);
}

export interface IMetricChartProps {
  title: string;
  /** The figure's accessible name; default "Chart of <title>". */
  ariaLabel?: string;
  series: IChartSeries[];
  height?: number;
  /** Called with the step window the user zoomed to, or null when zoom is reset. */
  onZoom?: (window: [number, number] | null) => void;
  /** Reports the drawable width once known (for `max_points`). */
  onWidth?: (width: number) => void;
}

/** A uPlot line chart; keeps one uPlot instance and feeds it new data in place. */
export function MetricChart(props: IMetricChartProps): JSX.Element {
  const { title, series, height = 200 } = props;
  const host = React.useRef<HTMLDivElement>(null);
  const plot = React.useRef<uPlot | null>(null);
  const zoomed = React.useRef(false);
  const onZoom = React.useRef(props.onZoom);
  onZoom.current = props.onZoom;
  const labels = series.map(s => s.label).join('\u0000');

  // (Re)build the chart when the set of series changes.
  React.useEffect(() => {
    const node = host.current;
    if (!node) {
      return;
    }
    const width = Math.max(200, node.clientWidth || 400);
    props.onWidth?.(width);
    const options: uPlot.Options = {
      width,
      height,
      scales: { x: { time: false } },
      legend: { show: true },
      cursor: { drag: { x: true, y: false } },
      axes: themedAxes(node),
      series: [
        { label: 'step' },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: SERIES_COLOURS[i % SERIES_COLOURS.length],
          width: 1.5,
          spanGaps: true
        }))
      ],
      hooks: {
        setSelect: [
          (u: uPlot) => {
            if (u.select.width > 2) {
              const lo = u.posToVal(u.select.left, 'x');
              const hi = u.posToVal(u.select.left + u.select.width, 'x');
              zoomed.current = true;
              onZoom.current?.([lo, hi]);
            }
          }
        ]
      }
    };
    const chart = new uPlot(options, aligned(series), node);
    plot.current = chart;
    const reset = () => {
      if (zoomed.current) {
        zoomed.current = false;
        onZoom.current?.(null);
      }
    };
    chart.over.addEventListener('dblclick', reset);
    const observer = new ResizeObserver(() => {
      const w = Math.max(200, node.clientWidth);
      if (Math.abs(w - chart.width) > 4) {
        chart.setSize({ width: w, height });
      }
    });
    observer.observe(node);
    const theme = redrawOnThemeChange(chart);
    return () => {
      theme.disconnect();
      observer.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [labels, height]);

  // New points: replace the data in place, keeping the zoom while zoomed.
  React.useEffect(() => {
    plot.current?.setData(aligned(series), !zoomed.current);
  }, [series]);

  return (
    <figure
      className="jp-mlws-chart"
      aria-label={props.ariaLabel ?? `Chart of ${title}`}
      data-points={Math.max(0, ...series.map(s => s.x.length))}
    >
      <figcaption>{title}</figcaption>
      <div ref={host} className="jp-mlws-chart-canvas" />
    </figure>
  );
}
