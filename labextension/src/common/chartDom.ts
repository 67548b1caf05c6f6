/** What the chart modules share: the view settings, theme colours, number formats, DOM helpers. */
import { XAxis } from './chartMath';

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

/** Saves `url` as `name` through a temporary link (the browser's download). */
export function download(url: string, name: string): void {
  const a = el('a', { href: url, download: name });
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  document.body.dataset.mlwsLastDownload = name;
}

