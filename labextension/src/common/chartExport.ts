/**
 * A chart's exports (chartCore.ts's PNG and CSV buttons). The CSV holds x and,
 * per shown line, its raw values and, while smoothing, its smoothed values;
 * the PNG draws the title, the plot canvas (axes included: uPlot draws them
 * on its canvas) and the legend onto one canvas with the theme's background.
 */
import { IChartSettings, themeValue } from './chartDom';
import { Column, drawnColumns, FULL_LAYOUT, ILineData, toCsv, X_LABELS } from './chartMath';

/** A chart's lines as CSV text: x, then per shown line its raw and (while smoothing) smoothed values. */
export function linesCsv(lines: ILineData[], hidden: ReadonlySet<string>, settings: IChartSettings): string {
  const data = drawnColumns(lines, settings.smoothing, false, FULL_LAYOUT);
  const PER_LINE = FULL_LAYOUT;
  const header = [X_LABELS[settings.x]];
  const columns: (number | null)[][] = [data[0] as number[]];
  const smoothing = settings.smoothing > 0;
  lines.forEach((line, i) => {
    const base = 1 + i * PER_LINE;
    if (hidden.has(line.id)) {
      return;
    }
    header.push(line.label);
    columns.push((smoothing ? data[base + 1] : data[base]) as Column);
    if (smoothing) {
      header.push(`${line.label} (smoothed ${settings.smoothing})`);
      columns.push(data[base] as Column);
    }
  });
  return toCsv(header, columns);
}

/** A PNG data URL of a chart: `title`, the plot canvas, then a legend row per shown line. */
export function chartPng(node: Element, title: string, shown: ILineData[], plotCanvas: HTMLCanvasElement | null): string {
  const scale = devicePixelRatio || 1;
  const pw = plotCanvas?.width ?? Math.round(400 * scale);
  const ph = plotCanvas?.height ?? Math.round(100 * scale);
  const rowH = Math.round(18 * scale);
  const canvas = document.createElement('canvas');
  canvas.width = pw;
  canvas.height = ph + rowH * (2 + shown.length);
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = themeValue(node, '--jp-layout-color0', '#fff');
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const ink = themeValue(node, '--jp-ui-font-color1', '#222');
  const family = themeValue(node, '--jp-ui-font-family', 'sans-serif');
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
