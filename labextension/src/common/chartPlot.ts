/**
 * The uPlot options of a chart (chartCore.ts's `ChartView`): themed axes
 * (colours read when uPlot draws, so a theme switch only needs a redraw), the
 * x axis of the chosen kind, the y axis linear or log, and per line its four
 * series (line, faint raw line, band edges) with the band between the edges,
 * or, in the compact layout of a chart of many lines, the line alone (100
 * faint lines and bands under 100 lines are noise, and four times the drawing).
 * The legend's values follow the cursor only while a chart has at most
 * `LIVE_LEGEND_LINES` lines. The y axis records its tick labels in the
 * figure's `data-y-ticks` (what the browser tests read).
 */
import uPlot from 'uplot';

import { formatValue, IChartSettings, STEP_INCREMENTS, themeValue, withAlpha } from './chartDom';
import { formatSeconds, ILineData, X_LABELS } from './chartMath';

/** Past this many lines a chart's legend lists them without following the cursor. */
export const LIVE_LEGEND_LINES = 20;

export interface IPlotContext {
  node: HTMLElement;
  settings: IChartSettings;
  logY: boolean;
  lines: ILineData[];
  hidden: ReadonlySet<string>;
  width: number;
  height: number;
  syncKey: string;
  /** Series per line: 4 (line, raw, band edges) or 1 (the line). */
  perLine: number;
  /** A window dragged on the chart (x values). */
  onSelect: (window: [number, number]) => void;
  /** A line's series (index of its first series) shown or hidden from the legend. */
  onShowLine: (idx: number, show: boolean) => void;
}

/** An x value as the legend shows it, for the axis kind. */
export function formatX(axis: IChartSettings['x'], v: number): string {
  if (axis === 'wall_time') {
    return new Date(v * 1000).toLocaleString();
  }
  if (axis === 'relative_time') {
    return formatSeconds(v);
  }
  return String(v);
}

export function plotOptions(c: IPlotContext): uPlot.Options {
  const node = c.node;
  const xAxis = c.settings.x;
  const font = `12px ${themeValue(node, '--jp-ui-font-family', 'sans-serif')}`;
  const ink = () => themeValue(node, '--jp-ui-font-color1', '#222');
  const axis = (): uPlot.Axis => ({
    stroke: ink,
    font,
    labelFont: font,
    grid: { stroke: () => themeValue(node, '--jp-border-color2', '#e0e0e0'), width: 1 },
    ticks: { stroke: () => themeValue(node, '--jp-border-color1', '#bdbdbd'), width: 1 }
  });
  // The y axis is as wide as its longest tick label (uPlot's measuring recipe).
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
      node.dataset.yTicks = labels.join('|');
      return labels;
    }
  };
  const series: uPlot.Series[] = [{ label: X_LABELS[xAxis], value: (_u, v) => (v === null ? '–' : formatX(xAxis, v)) }];
  const bands: uPlot.Band[] = [];
  const perLine = c.perLine;
  c.lines.forEach((line, i) => {
    const base = 1 + i * perLine;
    const show = !c.hidden.has(line.id);
    const common = { spanGaps: true, show, points: { show: false } };
    // A line of a many-line chart is one pixel wide: fainter lines suit 100 overlapping runs, and a
    // software-drawn canvas strokes 1 px lines several times faster than 1.5 px (bench_ui).
    const width = perLine === 1 ? 1 : 1.5;
    series.push({ ...common, label: line.label, stroke: line.colour, width, value: (_u, v) => formatValue(v) });
    if (perLine === 1) {
      return;
    }
    series.push(
      { ...common, label: `${line.label} (raw)`, stroke: withAlpha(line.colour, 0.28), width: 1 },
      { ...common, label: `${line.label} (max)`, stroke: 'transparent', width: 1 },
      { ...common, label: `${line.label} (min)`, stroke: 'transparent', width: 1 }
    );
    bands.push({ series: [base + 2, base + 3], fill: withAlpha(line.colour, 0.15) });
  });
  return {
    width: c.width,
    height: c.height,
    scales: { x: { time: xAxis === 'wall_time' }, y: c.logY ? { distr: 3, log: 10 } : {} },
    axes: [xAxisOptions, yAxis],
    series,
    bands,
    legend: { show: true, live: c.lines.length <= LIVE_LEGEND_LINES },
    cursor: { drag: { x: true, y: false }, sync: { key: c.syncKey, setSeries: false } },
    hooks: {
      setSelect: [
        (u: uPlot) => {
          if (u.select.width > 2) {
            const lo = u.posToVal(u.select.left, 'x');
            const hi = u.posToVal(u.select.left + u.select.width, 'x');
            c.onSelect([lo, hi]);
          }
        }
      ],
      setSeries: [
        (u: uPlot, idx: number | null) => {
          if (idx !== null && idx >= 1 && (idx - 1) % perLine === 0) {
            c.onShowLine(idx, u.series[idx].show !== false);
          }
        }
      ]
    }
  };
}

/** Lists only the lines in a built plot's legend (their raw lines and band edges follow them),
 * each row marked with its line's id (`data-line`). */
export function markLegend(plot: uPlot, lines: ILineData[], perLine: number): void {
  const rows = plot.root.querySelectorAll<HTMLElement>('.u-legend .u-series');
  rows.forEach((row, i) => {
    if (i > 0 && (i - 1) % perLine !== 0) {
      row.style.display = 'none';
    } else if (i > 0) {
      row.dataset.line = lines[(i - 1) / perLine]?.id ?? '';
      row.title = 'Click to hide or show this line';
    }
  });
}
